/**
 * Statistics over seeds (mean +- 95% CI, Welch and paired t-tests) with numpy/scipy semantics, so the numbers a
 * user sees agree with what the published analysis scripts print.
 *
 * Sums use numpy's pairwise summation order, so means and standard deviations match numpy to the last bit.
 * The Student t distribution comes from the regularized incomplete beta function (continued fraction, modified
 * Lentz) and its quantile from safeguarded Newton iteration on that CDF.
 */

/** A sum in the exact order numpy's `add.reduce` uses for a contiguous float64 array (pairwise, blocks of 8). */
export function numpySum(values: ArrayLike<number>): number {
  return pairwise(values, 0, values.length);
}

const PAIRWISE_BLOCK = 128;

function pairwise(a: ArrayLike<number>, start: number, n: number): number {
  if (n < 8) {
    let res = -0;
    for (let i = 0; i < n; i++) res += a[start + i];
    return res;
  }
  if (n <= PAIRWISE_BLOCK) {
    const r = [a[start], a[start + 1], a[start + 2], a[start + 3], a[start + 4], a[start + 5], a[start + 6], a[start + 7]];
    const whole = n - (n % 8);
    for (let i = 8; i < whole; i += 8) {
      for (let j = 0; j < 8; j++) r[j] += a[start + i + j];
    }
    let res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (let i = whole; i < n; i++) res += a[start + i];
    return res;
  }
  let half = Math.floor(n / 2);
  half -= half % 8;
  return pairwise(a, start, half) + pairwise(a, start + half, n - half);
}

/** `np.mean`. */
export function mean(values: ArrayLike<number>): number {
  if (values.length === 0) return NaN;
  return numpySum(values) / values.length;
}

/** `np.var(values, ddof=ddof)`. */
export function variance(values: ArrayLike<number>, ddof = 1): number {
  const n = values.length;
  if (n - ddof <= 0) return NaN;
  const m = mean(values);
  const sq = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const d = values[i] - m;
    sq[i] = d * d;
  }
  return numpySum(sq) / (n - ddof);
}

/** `np.std(values, ddof=ddof)`; the sample standard deviation by default. */
export function std(values: ArrayLike<number>, ddof = 1): number {
  return Math.sqrt(variance(values, ddof));
}

export interface SeedSummary {
  n: number;
  mean: number;
  /** Sample standard deviation (ddof = 1). */
  std: number;
  /** Half-width of the 95% (or requested) confidence interval: t_{(1+level)/2, n-1} * std / sqrt(n). */
  ciHalfWidth: number;
  level: number;
}

/**
 * Mean +- CI over seeds as `scipy.stats.t.interval(level, n-1, loc=mean, scale=sem)` gives it.
 * With one value the spread is undefined: std and half-width are NaN.
 */
export function summarizeSeeds(values: ArrayLike<number>, level = 0.95): SeedSummary {
  const n = values.length;
  if (n === 0) throw new RangeError('summarizeSeeds: no values');
  if (!(level > 0 && level < 1)) throw new RangeError(`confidence level must be in (0, 1), got ${level}`);
  const s = n > 1 ? std(values, 1) : NaN;
  const half = n > 1 ? studentTQuantile((1 + level) / 2, n - 1) * (s / Math.sqrt(n)) : NaN;
  return { n, mean: mean(values), std: s, ciHalfWidth: half, level };
}

export interface TTestResult {
  statistic: number;
  df: number;
  /** Two-sided p-value. */
  pValue: number;
}

/** `scipy.stats.ttest_ind(a, b, equal_var=False)` (Welch's t-test, Welch-Satterthwaite df). */
export function welchTTest(a: ArrayLike<number>, b: ArrayLike<number>): TTestResult {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 < 2 || n2 < 2) throw new RangeError(`Welch's t-test needs at least 2 values per group, got ${n1} and ${n2}`);
  const vn1 = variance(a, 1) / n1;
  const vn2 = variance(b, 1) / n2;
  let df = (vn1 + vn2) ** 2 / (vn1 ** 2 / (n1 - 1) + vn2 ** 2 / (n2 - 1));
  if (Number.isNaN(df)) df = 1; // both variances zero: scipy's convention
  const statistic = (mean(a) - mean(b)) / Math.sqrt(vn1 + vn2);
  return { statistic, df, pValue: twoSidedP(statistic, df) };
}

/** `scipy.stats.ttest_ind(a, b)` (equal variances: Student's t-test, pooled variance, df = n1 + n2 - 2). */
export function studentTTest(a: ArrayLike<number>, b: ArrayLike<number>): TTestResult {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 < 2 || n2 < 2) throw new RangeError(`Student's t-test needs at least 2 values per group, got ${n1} and ${n2}`);
  const df = n1 + n2 - 2;
  const pooled = ((n1 - 1) * variance(a, 1) + (n2 - 1) * variance(b, 1)) / df;
  const statistic = (mean(a) - mean(b)) / Math.sqrt(pooled * (1 / n1 + 1 / n2));
  return { statistic, df, pValue: twoSidedP(statistic, df) };
}

/**
 * The deep-dive paper's CI half-width: `np.std(x) / np.sqrt(n) * t` with np.std's ddof 0 and the t quantile the
 * notebook hard-codes (2.262 = t_{0.975, 9}, right for n = 10 only).
 */
export function publishedCiHalfWidth(values: ArrayLike<number>, t = 2.262): number {
  const n = values.length;
  if (n === 0) throw new RangeError('publishedCiHalfWidth: no values');
  return (std(values, 0) / Math.sqrt(n)) * t;
}

/** `scipy.stats.ttest_rel(a, b)`: paired t-test on a - b, df = n - 1. */
export function pairedTTest(a: ArrayLike<number>, b: ArrayLike<number>): TTestResult {
  const n = a.length;
  if (n !== b.length) throw new RangeError(`paired t-test needs equal lengths, got ${n} and ${b.length}`);
  if (n < 2) throw new RangeError(`paired t-test needs at least 2 pairs, got ${n}`);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = a[i] - b[i];
  const df = n - 1;
  const statistic = mean(d) / Math.sqrt(variance(d, 1) / n);
  return { statistic, df, pValue: twoSidedP(statistic, df) };
}

function twoSidedP(t: number, df: number): number {
  if (Number.isNaN(t)) return NaN;
  return 2 * studentTCdf(-Math.abs(t), df);
}

// ---------------------------------------------------------------------------------------------------------------
// Student t distribution

/** P(T <= t) for Student's t with `df` degrees of freedom (df > 0, may be fractional). */
export function studentTCdf(t: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`degrees of freedom must be positive, got ${df}`);
  if (Number.isNaN(t)) return NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  if (df === Infinity) return normalCdf(t);
  const t2 = t * t;
  let tail: number;
  if (Number.isFinite(t2)) {
    // x = df / (df + t^2), 1 - x and both logs computed separately so no tail loses digits (a ln x with
    // a = df / 2 would amplify the rounding of x when df is large).
    const ratio = t2 / df;
    tail = 0.5 * regularizedBeta(1 / (1 + ratio), ratio / (1 + ratio), df / 2, 0.5, -Math.log1p(ratio), -Math.log1p(1 / ratio)).lower;
  } else {
    // |t| > 1e154: x underflows, but I_x(a, 1/2) = x^a / (a B(a, 1/2)) to relative O(x); work in logs.
    const a = df / 2;
    tail = 0.5 * Math.exp(a * (Math.log(df) - 2 * Math.log(Math.abs(t))) - logBeta(a, 0.5)) / a;
  }
  return t < 0 ? tail : 1 - tail;
}

/** The upper tail P(T > t), accurate far into the tail. */
export function studentTSf(t: number, df: number): number {
  return studentTCdf(-t, df);
}

/** Density of Student's t. */
export function studentTPdf(t: number, df: number): number {
  if (df === Infinity) return Math.exp(-0.5 * t * t) / Math.sqrt(2 * Math.PI);
  const logNorm = -logBeta(0.5, df / 2) - 0.5 * Math.log(df);
  return Math.exp(logNorm - ((df + 1) / 2) * Math.log1p((t * t) / df));
}

/** `scipy.stats.t.ppf(p, df)`. */
export function studentTQuantile(p: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`degrees of freedom must be positive, got ${df}`);
  if (Number.isNaN(p) || p < 0 || p > 1) return NaN;
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  if (p === 0.5) return 0;
  // Solve the smaller tail, then mirror: sf(t) = q with t > 0.
  const q = p < 0.5 ? p : 1 - p;
  const sign = p < 0.5 ? -1 : 1;
  let lo = 0;
  let hi = 1;
  while (studentTSf(hi, df) > q) {
    lo = hi;
    hi *= 16;
    if (!Number.isFinite(hi)) return sign * Infinity;
  }
  let t = (lo + hi) / 2;
  for (let iter = 0; iter < 400; iter++) {
    const f = studentTSf(t, df) - q;
    if (f === 0) break;
    if (f > 0) lo = t; else hi = t;
    const step = f / studentTPdf(t, df);
    let next = t + step;
    if (!(next > lo && next < hi) || !Number.isFinite(next)) {
      // Newton left the bracket: bisect (geometrically when the bracket spans orders of magnitude).
      next = lo > 0 && hi / lo > 4 ? Math.sqrt(lo) * Math.sqrt(hi) : lo + (hi - lo) / 2;
    }
    if (Math.abs(next - t) <= 4 * Number.EPSILON * Math.abs(next)) { t = next; break; }
    t = next;
  }
  return sign * t;
}

function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** Complementary error function via the incomplete gamma relation erfc(x) = Q(1/2, x^2) for x >= 0. */
function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  return upperGammaRegularized(0.5, x * x);
}

function upperGammaRegularized(a: number, x: number): number {
  if (x === 0) return 1;
  const logFront = a * Math.log(x) - x - logGamma(a);
  if (x < a + 1) {
    // Series for the lower part.
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 10000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-17) break;
    }
    return 1 - Math.exp(logFront) * sum;
  }
  // Continued fraction for the upper part (modified Lentz).
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(logFront) * h;
}

// ---------------------------------------------------------------------------------------------------------------
// Gamma and beta functions

const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** ln Gamma(x) for x > 0. */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`logGamma needs x > 0, got ${x}`);
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  if (x >= 10) return (x - 0.5) * Math.log(x) - x + HALF_LOG_2PI + stirlingCorrection(x);
  const z = x - 1;
  let sum = LANCZOS[0];
  for (let i = 1; i < LANCZOS.length; i++) sum += LANCZOS[i] / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return HALF_LOG_2PI + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** ln Gamma(x) - [(x - 1/2) ln x - x + ln sqrt(2 pi)] for x >= 10 (asymptotic series, error < 1e-17). */
function stirlingCorrection(x: number): number {
  const x2 = 1 / (x * x);
  return (1 / x) * (1 / 12 - x2 * (1 / 360 - x2 * (1 / 1260 - x2 * (1 / 1680 - x2 * (1 / 1188)))));
}

/** ln B(a, b), stable when one argument is large (the difference of two huge ln Gammas is done analytically). */
export function logBeta(a: number, b: number): number {
  const small = Math.min(a, b);
  const large = Math.max(a, b);
  if (large < 10) return logGamma(a) + logGamma(b) - logGamma(a + b);
  if (small >= 10) {
    const sum = small + large;
    return HALF_LOG_2PI - 0.5 * Math.log(large) + (small - 0.5) * Math.log(small / sum)
      + large * Math.log1p(-small / sum) // = large * ln(large / sum)
      + stirlingCorrection(small) + stirlingCorrection(large) - stirlingCorrection(small + large);
  }
  // ln Gamma(large) - ln Gamma(large + small), expanded so the large terms cancel exactly.
  const ratio = -(large + small - 0.5) * Math.log1p(small / large) - small * Math.log(large) + small
    + stirlingCorrection(large) - stirlingCorrection(large + small);
  return logGamma(small) + ratio;
}

/**
 * Regularized incomplete beta I_x(a, b) (`lower`) and 1 - I_x(a, b) (`upper`), with y = 1 - x passed in so
 * callers keep full precision near x = 1 (likewise ln x and ln y when the caller has them more exactly). The side the continued fraction converges on is computed directly and
 * the other as its complement, so whichever is small is accurate to relative precision.
 */
export function regularizedBeta(x: number, y: number, a: number, b: number,
  logX = Math.log(x), logY = Math.log(y)): { lower: number; upper: number } {
  if (x <= 0) return { lower: 0, upper: 1 };
  if (y <= 0) return { lower: 1, upper: 0 };
  const logFront = a * logX + b * logY - logBeta(a, b);
  if (x < (a + 1) / (a + b + 2)) {
    const lower = (Math.exp(logFront) * betaContinuedFraction(x, y, a, b)) / a;
    return { lower, upper: 1 - lower };
  }
  const upper = (Math.exp(logFront) * betaContinuedFraction(y, x, b, a)) / b;
  return { lower: 1 - upper, upper };
}

/** The continued fraction for I_x(a, b); y = 1 - x lets the first term avoid cancelling when x is near 1. */
function betaContinuedFraction(x: number, y: number, a: number, b: number): number {
  const tiny = 1e-300;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  // 1 - (a + b) x / (a + 1), rewritten with y = 1 - x: no cancellation when a is large and x near 1.
  let d = (1 - b + qab * y) / qap;
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 100000; m++) {
    const m2 = 2 * m;
    // Even step: m (b - m) x / ((a + 2m - 1)(a + 2m)).
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    // Odd step: -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)).
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) return h;
  }
  throw new Error(`incomplete beta continued fraction did not converge (x=${x}, a=${a}, b=${b})`);
}
