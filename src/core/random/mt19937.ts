/**
 * numpy's legacy `RandomState` (MT19937) reproduced draw for draw, so that splits, few-shot subsets and
 * scGPT's random tie-breaking in binning match what the published Python code produced for the same seed.
 *
 * Matching numpy matters more than speed or elegance here: every method consumes the 32-bit stream in exactly
 * the order numpy's legacy code does (e.g. `randomSample` takes two words, bounded integers use masked
 * rejection, `shuffle` walks from the end). Verified index-for-index against numpy 1.24 in test/unit/random.
 */

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;
const MAX_SEED = 0xffffffff;

export class MT19937 {
  private readonly mt = new Uint32Array(N);
  private pos = N;
  /** Legacy gauss caches the second value of each polar-method pair, like numpy's `has_gauss`. */
  private gaussCache: number | undefined;

  /** Same as `np.random.seed(seed)` / `np.random.RandomState(seed)` for an integer seed in [0, 2**32 - 1]. */
  constructor(seed: number) {
    this.seed(seed);
  }

  seed(seed: number): void {
    if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
      throw new RangeError(`Seed must be an integer between 0 and 2**32 - 1, got ${seed}`);
    }
    const mt = this.mt;
    mt[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
    this.pos = N;
    this.gaussCache = undefined;
  }

  /**
   * `np.random.RandomState([k0, k1, ...])`: the reference MT19937 `init_by_array` over the keys (each an integer in
   * [0, 2**32 - 1]), as numpy's legacy seeding does for a sequence.
   */
  seedArray(keys: readonly number[]): void {
    if (!keys.length) throw new RangeError('Seed must be non-empty');
    for (const k of keys) {
      if (!Number.isInteger(k) || k < 0 || k > MAX_SEED) throw new RangeError(`Seed must be between 0 and 2**32 - 1, got ${k}`);
    }
    this.seed(19650218);
    const mt = this.mt;
    let i = 1;
    let j = 0;
    for (let k = Math.max(N, keys.length); k > 0; k--) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = ((mt[i] ^ Math.imul(prev, 1664525)) + keys[j] + j) >>> 0;
      i++; j++;
      if (i >= N) { mt[0] = mt[N - 1]; i = 1; }
      if (j >= keys.length) j = 0;
    }
    for (let k = N - 1; k > 0; k--) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = ((mt[i] ^ Math.imul(prev, 1566083941)) - i) >>> 0;
      i++;
      if (i >= N) { mt[0] = mt[N - 1]; i = 1; }
    }
    mt[0] = 0x80000000;
    this.pos = N;
    this.gaussCache = undefined;
  }

  private twist(): void {
    const mt = this.mt;
    let i = 0;
    for (; i < N - M; i++) {
      const y = (mt[i] & UPPER_MASK) | (mt[i + 1] & LOWER_MASK);
      mt[i] = mt[i + M] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    for (; i < N - 1; i++) {
      const y = (mt[i] & UPPER_MASK) | (mt[i + 1] & LOWER_MASK);
      mt[i] = mt[i + M - N] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    const y = (mt[N - 1] & UPPER_MASK) | (mt[0] & LOWER_MASK);
    mt[N - 1] = mt[M - 1] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    this.pos = 0;
  }

  /** Next raw 32-bit word, as an unsigned number in [0, 2**32). */
  nextUint32(): number {
    if (this.pos >= N) this.twist();
    let y = this.mt[this.pos++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** `random_sample()` / `rand()`: a double in [0, 1) built from 27 + 26 bits of two consecutive words. */
  randomSample(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** `rand(n)` / `random_sample(n)`. */
  rand(n: number): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.randomSample();
    return out;
  }

  /** `uniform(low, high)`. */
  uniform(low = 0, high = 1): number {
    return low + (high - low) * this.randomSample();
  }

  /**
   * A uniform integer in [0, max] by masked rejection (numpy's `random_interval`, used by legacy shuffle).
   * Ranges above 2**32 - 1 draw 64-bit words (high word first), as numpy does.
   */
  interval(max: number): number {
    if (!Number.isSafeInteger(max) || max < 0) throw new RangeError(`interval max must be a non-negative safe integer, got ${max}`);
    if (max === 0) return 0;
    if (max <= MAX_SEED) {
      const mask = maskFor32(max);
      let v: number;
      do { v = (this.nextUint32() & mask) >>> 0; } while (v > max);
      return v;
    }
    return this.masked64(max);
  }

  /**
   * Legacy `randint(low, high)` (high exclusive; `high` omitted means [0, low)) for the default int64 dtype:
   * range `high - low - 1` is drawn with masked rejection on 32-bit words when it fits, 64-bit otherwise.
   */
  randint(low: number, high?: number): number {
    if (high === undefined) { high = low; low = 0; }
    if (!Number.isSafeInteger(low) || !Number.isSafeInteger(high)) throw new RangeError('randint bounds must be safe integers');
    if (high <= low) throw new RangeError(`randint: low >= high (${low} >= ${high})`);
    const rng = high - low - 1;
    if (rng === 0) return low;
    if (rng === MAX_SEED) return low + this.nextUint32();
    if (rng < MAX_SEED) {
      const mask = maskFor32(rng);
      let v: number;
      do { v = (this.nextUint32() & mask) >>> 0; } while (v > rng);
      return low + v;
    }
    return low + this.masked64(rng);
  }

  /** `randint(low, high, size=n)`. */
  randintArray(low: number, high: number, n: number): number[] {
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = this.randint(low, high);
    return out;
  }

  private masked64(max: number): number {
    // max > 2**32 - 1 but within 2**53: a mask of the right width; BigInt keeps the 64-bit arithmetic exact.
    const bigMax = BigInt(max);
    let mask = bigMax;
    for (let s = 1n; s <= 32n; s <<= 1n) mask |= mask >> s;
    for (;;) {
      const hi = BigInt(this.nextUint32());
      const lo = BigInt(this.nextUint32());
      const v = ((hi << 32n) | lo) & mask;
      if (v <= bigMax) return Number(v);
    }
  }

  /** In-place legacy `shuffle`: Fisher-Yates from the last element down, j = interval(i). */
  shuffle<T>(items: { length: number; [i: number]: T }): void {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.interval(i);
      const t = items[i];
      items[i] = items[j];
      items[j] = t;
    }
  }

  /** `permutation(n)`: a shuffled `arange(n)`. */
  permutation(n: number): number[] {
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = i;
    this.shuffle(out);
    return out;
  }

  /**
   * `choice(n, m, replace)` with uniform probabilities. Without replacement numpy's legacy code permutes the
   * whole population and keeps the first m (so it consumes n - 1 draws whatever m is); with replacement it is
   * `randint(0, n, m)`.
   */
  choice(n: number, m: number, replace = true): number[] {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`choice: population must be a positive integer, got ${n}`);
    if (!Number.isInteger(m) || m < 0) throw new RangeError(`choice: size must be a non-negative integer, got ${m}`);
    if (replace) return this.randintArray(0, n, m);
    if (m > n) throw new RangeError(`choice: cannot take a larger sample (${m}) than population (${n}) when replace=false`);
    return this.permutation(n).slice(0, m);
  }

  /** Legacy `standard_normal()` (`randn`): Marsaglia polar method, second value of each pair cached. */
  standardNormal(): number {
    if (this.gaussCache !== undefined) {
      const g = this.gaussCache;
      this.gaussCache = undefined;
      return g;
    }
    let x1: number, x2: number, r2: number;
    do {
      x1 = 2 * this.randomSample() - 1;
      x2 = 2 * this.randomSample() - 1;
      r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1 || r2 === 0);
    const f = Math.sqrt((-2 * Math.log(r2)) / r2);
    this.gaussCache = f * x1;
    return f * x2;
  }

  /** `randn(n)`. */
  randn(n: number): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.standardNormal();
    return out;
  }
}

function maskFor32(max: number): number {
  let mask = max >>> 0;
  mask |= mask >>> 1;
  mask |= mask >>> 2;
  mask |= mask >>> 4;
  mask |= mask >>> 8;
  mask |= mask >>> 16;
  return mask >>> 0;
}
