/**
 * Binary L1-regularised logistic regression by newGLMNET (Yuan, Ho & Lin, "An improved GLMNET for L1-regularized
 * logistic regression", JMLR 2012), the method liblinear uses for `penalty='l1', solver='liblinear'`.
 *
 *   minimise  ||w||_1 + sum_i C_i log(1 + exp(-y_i w.x_i))
 *
 * where the intercept is the last coordinate of w on an all-ones feature, so it is penalised too (liblinear's
 * intercept_scaling=1). C_i is Cp for positives and Cn for negatives.
 *
 * Outer loop: a quadratic model of the loss around w (gradient + diagonal-free Hessian X'DX applied through
 * xTd = X d), minimised with the L1 term by cyclic coordinate descent in random order (inner loop); then a
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

const MAX_INNER_ITER = 1000;
const MAX_LINE_SEARCH = 20;
/** keeps the Hessian diagonal positive for columns that only hold zeros among the active rows */
const HESSIAN_FLOOR = 1e-12;
const ARMIJO = 0.01;

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

export function solveL1Binary(p: L1BinaryProblem, hooks: SolverHooks = {}): L1BinaryResult {
  const { csc, labels, positive, Cp, Cn, eps, maxNewtonIter } = p;
  const { colPtr, rowIdx, values } = csc;
  const l = csc.nRows;
  const n = csc.nCols;
  const rand = xorshift(p.seed);

  const isPos = new Uint8Array(l);
  const cost = new Float64Array(l);
  for (let i = 0; i < l; i++) {
    isPos[i] = labels[i] === positive ? 1 : 0;
    cost[i] = isPos[i] ? Cp : Cn;
  }
  const w = new Float64Array(n);
  const wpd = new Float64Array(n);
  const grad = new Float64Array(n);
  const hdiag = new Float64Array(n);
  const index = new Int32Array(n);
  /** margin w.x_i */
  const margin = new Float64Array(l);
  /** d(loss)/d(margin) and its derivative */
  const resid = new Float64Array(l);
  const curv = new Float64Array(l);
  const xTd = new Float64Array(l);

  const lossAt = (step: Float64Array | null): number => {
    let s = 0;
    for (let i = 0; i < l; i++) {
      const m = step ? margin[i] + step[i] : margin[i];
      s += cost[i] * softplus(isPos[i] ? -m : m);
    }
    return s;
  };

  let wNorm = 0;
  let loss = lossAt(null);
  let gnormInit = -1;
  let gmaxOld = Infinity;
  let innerEps = 1;
  let newtonIter = 0;
  let converged = false;

  while (newtonIter < maxNewtonIter) {
    if (hooks.shouldStop?.()) throw new SolverCancelled();
    for (let i = 0; i < l; i++) {
      const prob = 1 / (1 + Math.exp(-margin[i]));
      resid[i] = cost[i] * (prob - isPos[i]);
      curv[i] = cost[i] * prob * (1 - prob);
    }

    // Gradient and Hessian diagonal of the loss; outer-level shrinking of zero weights well inside the L1 kink.
    let activeSize = n;
    let gmaxNew = 0;
    let gnorm = 0;
    for (let j = 0; j < n; j++) index[j] = j;
    for (let s = 0; s < activeSize; s++) {
      const j = index[s];
      let g = 0;
      let h = HESSIAN_FLOOR;
      for (let k = colPtr[j], e = colPtr[j + 1]; k < e; k++) {
        const i = rowIdx[k];
        const v = values[k];
        g += v * resid[i];
        h += v * v * curv[i];
      }
      grad[j] = g;
      hdiag[j] = h;
      const gp = g + 1, gn = g - 1;
      let violation = 0;
      if (w[j] === 0) {
        if (gp < 0) violation = -gp;
        else if (gn > 0) violation = gn;
        else if (gp > gmaxOld / l && gn < -gmaxOld / l) {
          activeSize--;
          index[s] = index[activeSize];
          index[activeSize] = j;
          s--;
          continue;
        }
      } else if (w[j] > 0) violation = Math.abs(gp);
      else violation = Math.abs(gn);
      if (violation > gmaxNew) gmaxNew = violation;
      gnorm += violation;
    }
    if (newtonIter === 0) gnormInit = gnorm;
    if (gnorm <= eps * gnormInit) {
      converged = true;
      break;
    }

    // Inner coordinate descent on  g.d + 0.5 d'X'DXd + ||w + d||_1  (wpd = w + d).
    xTd.fill(0);
    let qpActive = activeSize;
    let qpGmaxOld = Infinity;
    let innerIter = 0;
    while (innerIter < MAX_INNER_ITER) {
      let qpGmaxNew = 0;
      let qpGnorm = 0;
      for (let s = 0; s < qpActive; s++) {
        const t = s + (rand() % (qpActive - s));
        const tmp = index[t];
        index[t] = index[s];
        index[s] = tmp;
      }
      for (let s = 0; s < qpActive; s++) {
        const j = index[s];
        const h = hdiag[j];
        let g = grad[j] + (wpd[j] - w[j]) * HESSIAN_FLOOR;
        for (let k = colPtr[j], e = colPtr[j + 1]; k < e; k++) {
          const i = rowIdx[k];
          g += values[k] * curv[i] * xTd[i];
        }
        const gp = g + 1, gn = g - 1;
        const wj = wpd[j];
        let violation = 0;
        if (wj === 0) {
          if (gp < 0) violation = -gp;
          else if (gn > 0) violation = gn;
          else if (gp > qpGmaxOld / l && gn < -qpGmaxOld / l) {
            qpActive--;
            index[s] = index[qpActive];
            index[qpActive] = j;
            s--;
            continue;
          }
        } else if (wj > 0) violation = Math.abs(gp);
        else violation = Math.abs(gn);
        if (violation > qpGmaxNew) qpGmaxNew = violation;
        qpGnorm += violation;

        let z: number;
        if (gp < h * wj) z = -gp / h;
        else if (gn > h * wj) z = -gn / h;
        else z = -wj;
        if (Math.abs(z) < 1e-12) continue;
        z = Math.min(Math.max(z, -10), 10);
        wpd[j] = wj + z;
        for (let k = colPtr[j], e = colPtr[j + 1]; k < e; k++) xTd[rowIdx[k]] += z * values[k];
      }
      innerIter++;
      if (qpGnorm <= innerEps * gnormInit) {
        if (qpActive === activeSize) break;
        // Converged on the shrunk set: check the whole active set once more before stopping.
        qpActive = activeSize;
        qpGmaxOld = Infinity;
        continue;
      }
      qpGmaxOld = qpGmaxNew;
    }

    // Backtracking (halving) line search with the Armijo rule on the true objective.
    let delta = 0;
    let wNormNew = 0;
    for (let j = 0; j < n; j++) {
      delta += grad[j] * (wpd[j] - w[j]);
      wNormNew += Math.abs(wpd[j]);
    }
    delta += wNormNew - wNorm;
    let accepted = false;
    for (let ls = 0; ls < MAX_LINE_SEARCH; ls++) {
      const lossNew = lossAt(xTd);
      if (wNormNew - wNorm + lossNew - loss <= ARMIJO * delta) {
        for (let i = 0; i < l; i++) margin[i] += xTd[i];
        w.set(wpd);
        wNorm = wNormNew;
        loss = lossNew;
        accepted = true;
        break;
      }
      wNormNew = 0;
      for (let j = 0; j < n; j++) {
        wpd[j] = 0.5 * (w[j] + wpd[j]);
        wNormNew += Math.abs(wpd[j]);
      }
      delta *= 0.5;
      for (let i = 0; i < l; i++) xTd[i] *= 0.5;
    }
    if (innerIter === 1) innerEps *= 0.25;
    newtonIter++;
    gmaxOld = gmaxNew;
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
