/**
 * Limited-memory BFGS (Nocedal & Wright, Numerical Optimization, 2nd ed., Alg. 7.4/7.5) with a strong-Wolfe line
 * search (Alg. 3.5/3.6, cubic interpolation). The defaults follow what scikit-learn's lbfgs solver asks of
 * scipy's L-BFGS-B: 10 correction pairs, stop when max|g| <= gtol or the relative decrease of f in one iteration
 * falls below 2.2e-9, at most `maxIter` iterations and 20 function evaluations per line search; first step of
 * length 1/||g||, later steps start at 1.
 */
import { SolverCancelled } from './l1-binary';

/** Writes the gradient at x into g and returns f(x). */
export type Objective = (x: Float64Array, g: Float64Array) => Promise<number> | number;

export interface LbfgsOptions {
  maxIter: number;
  gtol: number;
  ftolRel?: number;
  memory?: number;
  maxLineSearch?: number;
  shouldStop?: () => boolean;
  onIteration?: (iter: number, f: number) => void;
}

export interface LbfgsResult {
  x: Float64Array;
  f: number;
  iter: number;
  evaluations: number;
  converged: boolean;
  /** why it stopped */
  reason: 'gtol' | 'ftol' | 'maxIter' | 'lineSearch';
}

const C1 = 1e-3;
const C2 = 0.9;

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]);
    if (v > m) m = v;
  }
  return m;
}

/** Minimiser of the cubic through (a, fa, da) and (b, fb, db), kept inside the middle 80% of [a, b]. */
function cubicStep(a: number, fa: number, da: number, b: number, fb: number, db: number): number {
  const lo = Math.min(a, b), hi = Math.max(a, b);
  const margin = 0.1 * (hi - lo);
  const d1 = da + db - (3 * (fa - fb)) / (a - b);
  const disc = d1 * d1 - da * db;
  let t = NaN;
  if (disc >= 0) {
    const d2 = Math.sign(b - a) * Math.sqrt(disc);
    t = b - ((b - a) * (db + d2 - d1)) / (db - da + 2 * d2);
  }
  if (!Number.isFinite(t)) t = 0.5 * (lo + hi);
  return Math.min(Math.max(t, lo + margin), hi - margin);
}

export async function lbfgs(fun: Objective, x0: Float64Array, opts: LbfgsOptions): Promise<LbfgsResult> {
  const n = x0.length;
  const m = opts.memory ?? 10;
  const ftolRel = opts.ftolRel ?? 2.220446049250313e-9;
  const maxLs = opts.maxLineSearch ?? 20;
  const x = Float64Array.from(x0);
  const g = new Float64Array(n);
  const d = new Float64Array(n);
  const xTrial = new Float64Array(n);
  const gTrial = new Float64Array(n);
  const sHist: Float64Array[] = [];
  const yHist: Float64Array[] = [];
  const rho: number[] = [];
  /** s.y and y.y of each pair */
  const sy: number[] = [];
  const yy: number[] = [];
  let spareS: Float64Array | undefined;
  let spareY: Float64Array | undefined;
  const alpha = new Float64Array(m);
  let evaluations = 0;

  const evalAt = async (step: number): Promise<[number, number]> => {
    for (let i = 0; i < n; i++) xTrial[i] = x[i] + step * d[i];
    const f = await fun(xTrial, gTrial);
    evaluations++;
    return [f, dot(gTrial, d)];
  };

  let f = await fun(x, g);
  evaluations++;
  if (maxAbs(g) <= opts.gtol) return { x, f, iter: 0, evaluations, converged: true, reason: 'gtol' };

  let iter = 0;
  while (iter < opts.maxIter) {
    if (opts.shouldStop?.()) throw new SolverCancelled();
    // Two-loop recursion: d = -H g. Each pass over d applies one pair's update and takes the dot product the
    // next pair needs (the same sums in the same order as separate passes), so d is read about half as often.
    const h = sHist.length;
    for (let i = 0; i < n; i++) d[i] = -g[i];
    let next = h > 0 ? dot(sHist[h - 1], d) : 0;
    for (let k = h - 1; k >= 0; k--) {
      const a = rho[k] * next;
      alpha[k] = a;
      const yk = yHist[k];
      if (k > 0) {
        const sPrev = sHist[k - 1];
        let acc = 0;
        for (let i = 0; i < n; i++) {
          const v = d[i] - a * yk[i];
          d[i] = v;
          acc += sPrev[i] * v;
        }
        next = acc;
      } else {
        for (let i = 0; i < n; i++) d[i] -= a * yk[i];
      }
    }
    if (h > 0) {
      const gamma = sy[h - 1] / yy[h - 1];
      const y0 = yHist[0];
      let acc = 0;
      for (let i = 0; i < n; i++) {
        const v = d[i] * gamma;
        d[i] = v;
        acc += y0[i] * v;
      }
      next = acc;
    }
    for (let k = 0; k < h; k++) {
      const c = alpha[k] - rho[k] * next;
      const sk = sHist[k];
      if (k + 1 < h) {
        const yNext = yHist[k + 1];
        let acc = 0;
        for (let i = 0; i < n; i++) {
          const v = d[i] + c * sk[i];
          d[i] = v;
          acc += yNext[i] * v;
        }
        next = acc;
      } else {
        for (let i = 0; i < n; i++) d[i] += c * sk[i];
      }
    }
    let dphi0 = dot(g, d);
    if (!(dphi0 < 0)) {
      // Not a descent direction (curvature pairs went stale): restart from steepest descent.
      sHist.length = 0; yHist.length = 0; rho.length = 0; sy.length = 0; yy.length = 0;
      for (let i = 0; i < n; i++) d[i] = -g[i];
      dphi0 = dot(g, d);
    }
    const first = h === 0 ? Math.min(1, 1 / Math.sqrt(-dphi0)) : 1;

    // Strong-Wolfe line search; on success xTrial/gTrial hold the accepted point.
    let step = NaN;
    let fNew = NaN;
    {
      let aPrev = 0, fPrev = f, dPrev = dphi0;
      let a = first;
      let evals = 0;
      let lo = NaN, flo = NaN, dlo = NaN, hi = NaN, fhi = NaN, dhi = NaN;
      let zooming = false;
      while (evals < maxLs) {
        if (zooming) a = cubicStep(lo, flo, dlo, hi, fhi, dhi);
        const [fa, da] = await evalAt(a);
        evals++;
        if (!zooming) {
          if (fa > f + C1 * a * dphi0 || (evals > 1 && fa >= fPrev) || !Number.isFinite(fa)) {
            lo = aPrev; flo = fPrev; dlo = dPrev; hi = a; fhi = fa; dhi = da;
            if (!Number.isFinite(fa)) { fhi = Infinity; dhi = NaN; }
            zooming = true;
            continue;
          }
          if (Math.abs(da) <= -C2 * dphi0) { step = a; fNew = fa; break; }
          if (da >= 0) {
            lo = a; flo = fa; dlo = da; hi = aPrev; fhi = fPrev; dhi = dPrev;
            zooming = true;
            continue;
          }
          aPrev = a; fPrev = fa; dPrev = da;
          a *= 2.5;
          continue;
        }
        if (fa > f + C1 * a * dphi0 || fa >= flo || !Number.isFinite(fa)) {
          hi = a; fhi = Number.isFinite(fa) ? fa : Infinity; dhi = da;
        } else {
          if (Math.abs(da) <= -C2 * dphi0) { step = a; fNew = fa; break; }
          if (da * (hi - lo) >= 0) { hi = lo; fhi = flo; dhi = dlo; }
          lo = a; flo = fa; dlo = da;
        }
        if (Math.abs(hi - lo) < 1e-16 * Math.max(1, Math.abs(lo))) break;
      }
      if (Number.isNaN(step) && lo > 0 && flo < f) {
        // Wolfe not met within the budget but lo decreased f: take it (re-evaluated for its gradient).
        const [fa] = await evalAt(lo);
        step = lo; fNew = fa;
      }
    }
    if (Number.isNaN(step)) return { x, f, iter, evaluations, converged: false, reason: 'lineSearch' };

    // arrays of a pair that left the memory (or was not taken) are reused
    const s = spareS ?? new Float64Array(n);
    const y = spareY ?? new Float64Array(n);
    spareS = s; spareY = y;
    for (let i = 0; i < n; i++) {
      s[i] = xTrial[i] - x[i];
      y[i] = gTrial[i] - g[i];
    }
    const syNew = dot(s, y);
    const yyNew = dot(y, y);
    if (syNew > 2.220446049250313e-16 * yyNew) {
      spareS = undefined; spareY = undefined;
      if (sHist.length === m) {
        spareS = sHist.shift(); spareY = yHist.shift();
        rho.shift(); sy.shift(); yy.shift();
      }
      sHist.push(s); yHist.push(y); rho.push(1 / syNew); sy.push(syNew); yy.push(yyNew);
    }
    const fOld = f;
    x.set(xTrial);
    g.set(gTrial);
    f = fNew;
    iter++;
    opts.onIteration?.(iter, f);
    if (maxAbs(g) <= opts.gtol) return { x, f, iter, evaluations, converged: true, reason: 'gtol' };
    if ((fOld - f) <= ftolRel * Math.max(Math.abs(fOld), Math.abs(f), 1)) return { x, f, iter, evaluations, converged: true, reason: 'ftol' };
  }
  return { x, f, iter, evaluations, converged: false, reason: 'maxIter' };
}
