/**
 * Binary L1-regularised logistic regression by newGLMNET (Yuan, Ho & Lin, "An improved GLMNET for L1-regularized
 * logistic regression", JMLR 2012), the method liblinear uses for `penalty='l1', solver='liblinear'`.
 *
 *   minimise  ||w||_1 + sum_i C_i log(1 + exp(-y_i w.x_i))
 *
 * where the intercept is the last coordinate of w on an all-ones feature, so it is penalised too (liblinear's
 * intercept_scaling=1). C_i is Cp for positives and Cn for negatives.
 *
 * Outer loop: a quadratic model of the loss around w (gradient, and the Hessian X'DX applied through the kept
 * product X d), minimised with the L1 term by coordinate descent in random order (inner loop); then a
 * backtracking line search on the true objective. Features whose subgradient is comfortably inside [-1, 1] at w_j = 0
 * are shrunk away from the inner loop, which is what makes L1 on wide data cheap. The stopping rule and the tolerances
 * are liblinear's, so both stop at the same accuracy: the L1 norm of the minimum-norm subgradient must fall to
 * eps * (its value at w = 0).
 */
import type { CscWithBias } from './matrix';

export interface L1BinaryProblem {
  csc: CscWithBias;
  /** class code of every row */
  labels: Int32Array;
  /** rows with this code are the positives */
  positive: number;
  /** loss weight of positive rows and of the rest */
  Cp: number;
  Cn: number;
  /** relative tolerance on the subgradient norm (liblinear: tol * max(min(#pos, #neg), 1) / #rows) */
  eps: number;
  maxNewtonIter: number;
  seed: number;
}

export interface L1BinaryResult {
  /** nCols of the CSC, the intercept last */
  w: Float64Array;
  newtonIter: number;
  objective: number;
  converged: boolean;
}

export interface SolverHooks {
  /** polled once per outer iteration; returning true aborts with CancelledError */
  shouldStop?: () => boolean;
  onIteration?: (iter: number) => void;
}

export class SolverCancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

export const MAX_INNER_ITER = 1000;
export const MAX_LINE_SEARCH = 20;
/** keeps the Hessian diagonal positive for columns that only hold zeros among the active rows */
export const HESSIAN_FLOOR = 1e-12;
export const ARMIJO = 0.01;

/** log(1 + exp(x)) without overflow */
export function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/** Small deterministic generator for the coordinate order (xorshift32). */
export function xorshift(seed: number): () => number {
  let s = (seed >>> 0) || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/**
 * How far coordinate j is from optimal (the minimum-norm subgradient of the loss gradient g plus |w_j|), or -1 where
 * w_j = 0 and g sits comfortably inside the kink (|g| < 1 - bound): the coordinate can be shrunk away.
 */
export function violation(g: number, wj: number, bound: number): number {
  const gp = g + 1, gn = g - 1;
  if (wj === 0) {
    if (gp < 0) return -gp;
    if (gn > 0) return gn;
    return gp > bound && gn < -bound ? -1 : 0;
  }
  return wj > 0 ? Math.abs(gp) : Math.abs(gn);
}

/** The move of w_j that minimises g z + h z^2 / 2 + |w_j + z|, clamped to [-10, 10]; 0 where it is below 1e-12. */
export function newtonStep(g: number, h: number, wj: number): number {
  const gp = g + 1, gn = g - 1;
  let z: number;
  if (gp < h * wj) z = -gp / h;
  else if (gn > h * wj) z = -gn / h;
  else z = -wj;
  if (Math.abs(z) < 1e-12) return 0;
  return Math.min(Math.max(z, -10), 10);
}

/** Arrays of one solve. Rows: margin = w.x_i; rc holds per-row pairs [d loss/d margin, d2 loss/d margin2]
 * interleaved so the gradient pass fetches both with one cache line; curv = d2 loss/d margin2 again, xd = (X d)_i
 * and dxd = curv * xd for the inner loop, whose gradient then gathers one compact array. Features: w, wpd = w + d
 * (the inner loop's iterate), grad, hdiag, and index, a permutation whose prefixes are the active sets. */
interface State {
  colPtr: Int32Array;
  rowIdx: Int32Array;
  values: Float32Array;
  l: number;
  n: number;
  isPos: Uint8Array;
  cost: Float64Array;
  margin: Float64Array;
  rc: Float64Array;
  curv: Float64Array;
  xd: Float64Array;
  dxd: Float64Array;
  w: Float64Array;
  wpd: Float64Array;
  grad: Float64Array;
  hdiag: Float64Array;
  index: Int32Array;
}

/** Violation statistics of one pass: the largest and the sum (L1 norm of the minimum-norm subgradient). */
interface Pass {
  size: number;
  gmax: number;
  gnorm: number;
}

// Each loop of newGLMNET lives in its own small function: V8 then optimises each one as soon as it is hot, where
// one large function kept falling back to the interpreter whenever a branch it had not seen yet was taken. The
// column loops are unrolled with separate sums: V8 re-checks every typed array's map and reloads its length and
// data pointer on each loop iteration, so handling four entries per iteration pays that once per four; and a
// single running sum makes every entry wait for the previous addition. Measured on 13,600 x 16,906 rows: the
// inner loop's gathers and updates 25-35% faster than one entry per iteration.

function refreshCurvature(st: State): void {
  const { l, margin, cost, isPos, rc, curv } = st;
  for (let i = 0; i < l; i++) {
    const prob = 1 / (1 + Math.exp(-margin[i]));
    const c = cost[i] * prob * (1 - prob);
    rc[2 * i] = cost[i] * (prob - isPos[i]);
    rc[2 * i + 1] = c;
    curv[i] = c;
  }
}

/** sum over column entries k in [a, e) of values[k] * q[rowIdx[k]] */
function columnDot(rowIdx: Int32Array, values: Float32Array, q: Float64Array, a: number, e: number): number {
  let s0 = -0, s1 = -0, s2 = -0, s3 = -0;
  let k = a;
  for (; k + 3 < e; k += 4) {
    s0 += values[k] * q[rowIdx[k]];
    s1 += values[k + 1] * q[rowIdx[k + 1]];
    s2 += values[k + 2] * q[rowIdx[k + 2]];
    s3 += values[k + 3] * q[rowIdx[k + 3]];
  }
  for (; k < e; k++) s0 += values[k] * q[rowIdx[k]];
  return (s0 + s1) + (s2 + s3);
}

/** q[rowIdx[k]] += z * values[k] * scale[rowIdx[k]] over column entries k in [a, e) */
function columnAxpy(rowIdx: Int32Array, values: Float32Array, z: number, scale: Float64Array, q: Float64Array, a: number, e: number): void {
  let k = a;
  for (; k + 3 < e; k += 4) {
    const i0 = rowIdx[k], i1 = rowIdx[k + 1], i2 = rowIdx[k + 2], i3 = rowIdx[k + 3];
    q[i0] += z * values[k] * scale[i0];
    q[i1] += z * values[k + 1] * scale[i1];
    q[i2] += z * values[k + 2] * scale[i2];
    q[i3] += z * values[k + 3] * scale[i3];
  }
  for (; k < e; k++) {
    const i = rowIdx[k];
    q[i] += z * values[k] * scale[i];
  }
}

function columnAxpyPlain(rowIdx: Int32Array, values: Float32Array, z: number, q: Float64Array, a: number, e: number): void {
  let k = a;
  for (; k + 3 < e; k += 4) {
    q[rowIdx[k]] += z * values[k];
    q[rowIdx[k + 1]] += z * values[k + 1];
    q[rowIdx[k + 2]] += z * values[k + 2];
    q[rowIdx[k + 3]] += z * values[k + 3];
  }
  for (; k < e; k++) q[rowIdx[k]] += z * values[k];
}

/**
 * Gradient and Hessian diagonal of the loss over the candidates index[0, size). Zero weights well inside the L1
 * kink (|g| < 1 - gmaxOld/l) move behind the returned size.
 */
function gradientPass(st: State, size: number, gmaxOld: number): Pass {
  const { colPtr, rowIdx, values, rc, grad, hdiag, index, w, l } = st;
  let active = size;
  let gmax = 0;
  let gnorm = 0;
  const bound = gmaxOld / l;
  for (let s = 0; s < active; s++) {
    const j = index[s];
    let g0 = -0, g1 = -0, h0 = -0, h1 = -0;
    let k = colPtr[j];
    const e = colPtr[j + 1];
    for (; k + 1 < e; k += 2) {
      const i0 = 2 * rowIdx[k], i1 = 2 * rowIdx[k + 1];
      const v0 = values[k], v1 = values[k + 1];
      g0 += v0 * rc[i0];
      h0 += v0 * v0 * rc[i0 + 1];
      g1 += v1 * rc[i1];
      h1 += v1 * v1 * rc[i1 + 1];
    }
    if (k < e) {
      const i0 = 2 * rowIdx[k];
      const v0 = values[k];
      g0 += v0 * rc[i0];
      h0 += v0 * v0 * rc[i0 + 1];
    }
    const g = g0 + g1;
    grad[j] = g;
    hdiag[j] = HESSIAN_FLOOR + (h0 + h1);
    const v = violation(g, w[j], bound);
    if (v < 0) {
      active--;
      index[s] = index[active];
      index[active] = j;
      s--;
      continue;
    }
    if (v > gmax) gmax = v;
    gnorm += v;
  }
  return { size: active, gmax, gnorm };
}

function shuffle(index: Int32Array, size: number, rand: () => number): void {
  for (let s = 0; s < size; s++) {
    const t = s + (rand() % (size - s));
    const tmp = index[t];
    index[t] = index[s];
    index[s] = tmp;
  }
}

/**
 * One coordinate-descent sweep over index[0, size) on  g.d + 0.5 d'X'DXd + ||w + d||_1, updating wpd and D X d,
 * with inner-level shrinking against qpGmaxOld.
 */
function coordinateSweep(st: State, size: number, qpGmaxOld: number): Pass {
  const { colPtr, rowIdx, values, curv, dxd, grad, hdiag, index, w, wpd, l } = st;
  let active = size;
  let gmax = 0;
  let gnorm = 0;
  const bound = qpGmaxOld / l;
  for (let s = 0; s < active; s++) {
    const j = index[s];
    const h = hdiag[j];
    const wj = wpd[j];
    const a = colPtr[j], e = colPtr[j + 1];
    const g = grad[j] + (wj - w[j]) * HESSIAN_FLOOR + columnDot(rowIdx, values, dxd, a, e);
    const v = violation(g, wj, bound);
    if (v < 0) {
      active--;
      index[s] = index[active];
      index[active] = j;
      s--;
      continue;
    }
    if (v > gmax) gmax = v;
    gnorm += v;
    const z = newtonStep(g, h, wj);
    if (z === 0) continue;
    wpd[j] = wj + z;
    columnAxpy(rowIdx, values, z, curv, dxd, a, e);
  }
  return { size: active, gmax, gnorm };
}

/** X d from the coordinates the inner loop moved (d = wpd - w), once per Newton step. */
function directionProduct(st: State): void {
  const { colPtr, rowIdx, values, xd, w, wpd, n } = st;
  xd.fill(0);
  for (let j = 0; j < n; j++) {
    const d = wpd[j] - w[j];
    if (d !== 0) columnAxpyPlain(rowIdx, values, d, xd, colPtr[j], colPtr[j + 1]);
  }
}

/** Loss at margin (+ X d when withStep). */
function lossAt(st: State, withStep: boolean): number {
  const { l, margin, xd, cost, isPos } = st;
  let s = 0;
  for (let i = 0; i < l; i++) {
    const m = withStep ? margin[i] + xd[i] : margin[i];
    s += cost[i] * softplus(isPos[i] ? -m : m);
  }
  return s;
}

function l1Norm(a: Float64Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += Math.abs(a[j]);
  return s;
}

/** Halves the step: wpd = (w + wpd) / 2, X d /= 2. */
function halveStep(st: State): void {
  const { w, wpd, xd, l, n } = st;
  for (let j = 0; j < n; j++) wpd[j] = 0.5 * (w[j] + wpd[j]);
  for (let i = 0; i < l; i++) xd[i] *= 0.5;
}

export function solveL1Binary(p: L1BinaryProblem, hooks: SolverHooks = {}): L1BinaryResult {
  const { csc, labels, positive, Cp, Cn, eps, maxNewtonIter } = p;
  const l = csc.nRows;
  const n = csc.nCols;
  const rand = xorshift(p.seed);
  const st: State = {
    colPtr: csc.colPtr, rowIdx: csc.rowIdx, values: csc.values, l, n,
    isPos: new Uint8Array(l), cost: new Float64Array(l), margin: new Float64Array(l),
    rc: new Float64Array(2 * l), curv: new Float64Array(l), xd: new Float64Array(l), dxd: new Float64Array(l),
    w: new Float64Array(n), wpd: new Float64Array(n), grad: new Float64Array(n), hdiag: new Float64Array(n),
    index: new Int32Array(n),
  };
  const { isPos, cost, margin, xd, dxd, w, wpd, grad, index } = st;
  for (let i = 0; i < l; i++) {
    isPos[i] = labels[i] === positive ? 1 : 0;
    cost[i] = isPos[i] ? Cp : Cn;
  }
  for (let j = 0; j < n; j++) index[j] = j;

  let wNorm = 0;
  let loss = lossAt(st, false);
  let gnormInit = -1;
  let gmaxOld = Infinity;
  let innerEps = 1;
  let newtonIter = 0;
  let converged = false;
  // Candidates for the gradient pass. liblinear re-examines every feature each iteration; we drop the shrunk ones
  // until the candidates look converged and only then re-examine all, which saves most passes over the matrix
  // and stops under the same condition.
  let outerSize = n;

  while (newtonIter < maxNewtonIter) {
    if (hooks.shouldStop?.()) throw new SolverCancelled();
    refreshCurvature(st);
    const outer = gradientPass(st, outerSize, gmaxOld);
    if (newtonIter === 0) gnormInit = outer.gnorm;
    if (outer.gnorm <= eps * gnormInit) {
      if (outerSize === n) {
        converged = true;
        break;
      }
      outerSize = n;
      for (let j = 0; j < n; j++) index[j] = j;
      gmaxOld = Infinity;
      continue;
    }
    const activeSize = outer.size;
    outerSize = activeSize;

    // Inner coordinate descent (wpd = w + d), with its own shrinking and a final check of the whole active set.
    dxd.fill(0);
    let qpActive = activeSize;
    let qpGmaxOld = Infinity;
    let innerIter = 0;
    while (innerIter < MAX_INNER_ITER) {
      shuffle(index, qpActive, rand);
      const sweep = coordinateSweep(st, qpActive, qpGmaxOld);
      qpActive = sweep.size;
      innerIter++;
      if (sweep.gnorm <= innerEps * gnormInit) {
        if (qpActive === activeSize) break;
        qpActive = activeSize;
        qpGmaxOld = Infinity;
        continue;
      }
      qpGmaxOld = sweep.gmax;
    }

    // Backtracking (halving) line search with the Armijo rule on the true objective.
    directionProduct(st);
    let delta = 0;
    for (let j = 0; j < n; j++) delta += grad[j] * (wpd[j] - w[j]);
    let wNormNew = l1Norm(wpd);
    delta += wNormNew - wNorm;
    let accepted = false;
    for (let ls = 0; ls < MAX_LINE_SEARCH; ls++) {
      const lossNew = lossAt(st, true);
      if (wNormNew - wNorm + lossNew - loss <= ARMIJO * delta) {
        for (let i = 0; i < l; i++) margin[i] += xd[i];
        w.set(wpd);
        wNorm = wNormNew;
        loss = lossNew;
        accepted = true;
        break;
      }
      halveStep(st);
      wNormNew = l1Norm(wpd);
      delta *= 0.5;
    }
    if (innerIter === 1) innerEps *= 0.25;
    newtonIter++;
    gmaxOld = outer.gmax;
    hooks.onIteration?.(newtonIter);
    if (!accepted) {
      // No decrease along the Newton direction: w is optimal to machine precision for this problem.
      wpd.set(w);
      break;
    }
  }
  return { w, newtonIter, objective: wNorm + loss, converged };
}

/** ||w||_1 + sum_i C_i log(1 + exp(-y_i w.x_i)) for a weight vector over the CSC's columns (intercept last). */
export function l1Objective(csc: CscWithBias, labels: Int32Array, positive: number, Cp: number, Cn: number, w: ArrayLike<number>): number {
  const margin = new Float64Array(csc.nRows);
  let norm = 0;
  for (let j = 0; j < csc.nCols; j++) {
    const wj = w[j];
    if (wj === 0) continue;
    norm += Math.abs(wj);
    for (let k = csc.colPtr[j]; k < csc.colPtr[j + 1]; k++) margin[csc.rowIdx[k]] += wj * csc.values[k];
  }
  let loss = 0;
  for (let i = 0; i < csc.nRows; i++) {
    const pos = labels[i] === positive;
    loss += (pos ? Cp : Cn) * softplus(pos ? -margin[i] : margin[i]);
  }
  return norm + loss;
}
