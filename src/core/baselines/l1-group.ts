/**
 * One-vs-rest L1 logistic regression for G binary problems at once, on WebAssembly kernels: the newGLMNET of
 * l1-binary.ts (same objective, tolerances, shrinking, stopping rule and line search, per problem), with the G
 * problems stepping together so that every pass over a column of the matrix serves all of them.
 *
 * Why: the single-problem solver spends most of its time in coordinate sweeps that wait on cache misses: each
 * stored value (i, v) of a column fetches row i's entries of the per-row arrays, one cache line per array, and the
 * one-vs-rest fit repeats that for every class over the same matrix. Here row i's values of all G problems sit
 * side by side (scripts/wasm-kernels.mjs), so one fetch serves G problems, and the SIMD kernels do the G
 * multiply-adds two at a time.
 *
 * How the problems step together: each keeps its own state (weights, active sets, tolerances, Newton count). A
 * Newton step is three phases run for all unfinished problems: (1) the gradient pass over the union of their
 * candidate columns; (2) coordinate-descent sweeps over the union of the active sets of the problems still in their
 * inner loop, in one shared random order (each problem sees a random order of its own active set, as in
 * liblinear); a problem whose inner loop has met its own stopping rule sits out the remaining sweeps; (3) each
 * problem's line search. A problem that has converged drops out. Each problem therefore takes exactly the steps
 * of the single-problem algorithm; only the coordinate order differs.
 */
import {
  ARMIJO, HESSIAN_FLOOR, MAX_INNER_ITER, MAX_LINE_SEARCH, SolverCancelled, newtonStep, softplus, violation, xorshift,
  type L1BinaryResult, type SolverHooks,
} from './l1-binary';
import type { CscWithBias } from './matrix';
import { l1Kernels, type WasmHandle } from './wasm';

export interface L1GroupMember {
  /** rows with this code are the positives */
  positive: number;
  Cp: number;
  Cn: number;
  /** relative tolerance on the subgradient norm (as L1BinaryProblem.eps) */
  eps: number;
}

/** Arrays in the arena the kernels work on, sized for G = members.length (l1GroupScratchSizes). */
export interface L1GroupScratch {
  /** per row: [dloss_0..dloss_G-1, d2loss_0..d2loss_G-1] (2 l G) */
  rc: Float64Array;
  /** per row: [curv_0..curv_G-1, dxd_0..dxd_G-1] (2 l G) */
  qp: Float64Array;
  /** per row: (X d)_k (l G) */
  xd: Float64Array;
  /** per feature j, problem k at j*G + k (n G each) */
  grad: Float64Array;
  hdiag: Float64Array;
  /** column lists (n) and G-vectors handed to the kernels */
  cols: Int32Array;
  vecA: Float64Array;
  vecB: Float64Array;
}

export interface L1GroupProblem {
  /** the matrix with its intercept column, in the arena's memory */
  csc: CscWithBias;
  labels: Int32Array;
  members: L1GroupMember[];
  maxNewtonIter: number;
  seed: number;
  wasm: WasmHandle;
  scratch: L1GroupScratch;
}

/** Byte sizes of L1GroupScratch's arrays in the order l1GroupScratch takes them. */
export function l1GroupScratchSizes(l: number, n: number, G: number): number[] {
  return [16 * l * G, 16 * l * G, 8 * l * G, 8 * n * G, 8 * n * G, 4 * n, 8 * G, 8 * G];
}

export function l1GroupScratch(alloc: { float64(n: number): Float64Array; int32(n: number): Int32Array }, l: number, n: number, G: number): L1GroupScratch {
  return {
    rc: alloc.float64(2 * l * G), qp: alloc.float64(2 * l * G), xd: alloc.float64(l * G),
    grad: alloc.float64(n * G), hdiag: alloc.float64(n * G), cols: alloc.int32(n),
    vecA: alloc.float64(G), vecB: alloc.float64(G),
  };
}

/** Per-problem scalars of the outer loop. */
interface Outer {
  wNorm: number;
  loss: number;
  gnormInit: number;
  gmaxOld: number;
  innerEps: number;
  newtonIter: number;
  converged: boolean;
  done: boolean;
  /** candidates of the gradient pass (all n columns, or the active set of the last pass) */
  candidates: number;
  /** after this step's gradient pass: the active set's size and the largest violation */
  activeSize: number;
  gmaxNow: number;
  /** in this step's inner loop */
  inner: boolean;
  innerIter: number;
  qpActive: number;
  qpGmaxOld: number;
  sweepGmax: number;
  sweepGnorm: number;
}

export function solveL1Group(p: L1GroupProblem, hooks: SolverHooks = {}): L1BinaryResult[] {
  const { csc, labels, members, maxNewtonIter, scratch } = p;
  const G = members.length;
  const l = csc.nRows;
  const n = csc.nCols;
  const k2 = 2 * G;
  const kern = l1Kernels(p.wasm, G);
  const { rc, qp, xd, grad, hdiag, cols, vecA, vecB } = scratch;
  const pColPtr = csc.colPtr.byteOffset, pRowIdx = csc.rowIdx.byteOffset, pValues = csc.values.byteOffset;
  const pRc = rc.byteOffset, pQp = qp.byteOffset, pXd = xd.byteOffset, pCols = cols.byteOffset;
  const pA = vecA.byteOffset, pB = vecB.byteOffset;
  const rand = xorshift(p.seed);

  const isPos = new Uint8Array(l * G);
  const cost = new Float64Array(l * G);
  const margin = new Float64Array(l * G);
  const w = new Float64Array(n * G);
  const wpd = new Float64Array(n * G);
  /** per column and problem: 1 while a candidate of the gradient pass / active in the inner loop */
  const cand = new Uint8Array(n * G).fill(1);
  const act = new Uint8Array(n * G);
  for (let i = 0; i < l; i++) {
    for (let k = 0; k < G; k++) {
      const pos = labels[i] === members[k].positive ? 1 : 0;
      isPos[i * G + k] = pos;
      cost[i * G + k] = pos ? members[k].Cp : members[k].Cn;
    }
  }
  const lossOf = (k: number, withStep: boolean): number => {
    let s = 0;
    for (let i = 0, t = k; i < l; i++, t += G) {
      const m = withStep ? margin[t] + xd[t] : margin[t];
      s += cost[t] * softplus(isPos[t] ? -m : m);
    }
    return s;
  };
  const st: Outer[] = members.map((_, k) => ({
    wNorm: 0, loss: lossOf(k, false), gnormInit: -1, gmaxOld: Infinity, innerEps: 1, newtonIter: 0, converged: false,
    done: maxNewtonIter < 1, candidates: n, activeSize: 0, gmaxNow: 0, inner: false, innerIter: 0, qpActive: 0,
    qpGmaxOld: Infinity, sweepGmax: 0, sweepGnorm: 0,
  }));

  /** Columns flagged in `flags` for at least one problem k with want[k], into cols; returns the count. */
  const union = (flags: Uint8Array, want: boolean[]): number => {
    let c = 0;
    for (let j = 0; j < n; j++) {
      const base = j * G;
      for (let k = 0; k < G; k++) {
        if (want[k] && flags[base + k]) {
          cols[c++] = j;
          break;
        }
      }
    }
    return c;
  };

  while (st.some(s => !s.done)) {
    if (hooks.shouldStop?.()) throw new SolverCancelled();

    // (1) Gradient and Hessian diagonal of each unfinished problem's loss at w, over its candidates.
    for (let i = 0; i < l; i++) {
      for (let k = 0; k < G; k++) {
        if (st[k].done) continue;
        const t = i * G + k;
        const prob = 1 / (1 + Math.exp(-margin[t]));
        const c = cost[t] * prob * (1 - prob);
        rc[i * k2 + k] = cost[t] * (prob - isPos[t]);
        rc[i * k2 + G + k] = c;
        qp[i * k2 + k] = c;
      }
    }
    const need = st.map(s => !s.done);
    const ready = new Array<boolean>(G).fill(false);
    while (need.some(Boolean)) {
      const nc = union(cand, need);
      kern.grad(pColPtr, pRowIdx, pValues, pRc, pCols, nc, grad.byteOffset, hdiag.byteOffset);
      for (let k = 0; k < G; k++) {
        if (!need[k]) continue;
        const s = st[k];
        const bound = s.gmaxOld / l;
        const wasAll = s.candidates === n;
        let size = s.candidates, gmax = 0, gnorm = 0;
        for (let c = 0; c < nc; c++) {
          const t = cols[c] * G + k;
          if (!cand[t]) continue;
          const v = violation(grad[t], w[t], bound);
          if (v < 0) {
            cand[t] = 0;
            size--;
            continue;
          }
          if (v > gmax) gmax = v;
          gnorm += v;
        }
        if (s.newtonIter === 0) s.gnormInit = gnorm;
        if (gnorm <= members[k].eps * s.gnormInit) {
          if (wasAll) {
            s.converged = true;
            s.done = true;
            need[k] = false;
          } else {
            // the shrunk candidates look converged: re-examine every column before believing it
            for (let j = 0; j < n; j++) cand[j * G + k] = 1;
            s.candidates = n;
            s.gmaxOld = Infinity;
          }
          continue;
        }
        s.candidates = size;
        s.activeSize = size;
        s.gmaxNow = gmax;
        need[k] = false;
        ready[k] = true;
      }
    }
    if (!ready.some(Boolean)) continue;

    // (2) Inner coordinate descent on each ready problem's quadratic model, wpd = w + d.
    for (let i = 0; i < l; i++) for (let k = 0; k < G; k++) qp[i * k2 + G + k] = 0;
    for (let k = 0; k < G; k++) {
      const s = st[k];
      s.inner = ready[k];
      if (!ready[k]) continue;
      for (let j = 0; j < n; j++) act[j * G + k] = cand[j * G + k];
      s.innerIter = 0;
      s.qpActive = s.activeSize;
      s.qpGmaxOld = Infinity;
    }
    const inner = st.map(s => s.inner);
    while (inner.some(Boolean)) {
      if (hooks.shouldStop?.()) throw new SolverCancelled();
      const nc = union(act, inner);
      for (let c = 0; c < nc; c++) {
        const t = c + (rand() % (nc - c));
        const tmp = cols[t];
        cols[t] = cols[c];
        cols[c] = tmp;
      }
      for (const s of st) {
        s.sweepGmax = 0;
        s.sweepGnorm = 0;
      }
      for (let c = 0; c < nc; c++) {
        const j = cols[c];
        kern.dot(pColPtr, pRowIdx, pValues, pQp, j, pA);
        let moved = false;
        for (let k = 0; k < G; k++) {
          vecB[k] = 0;
          const t = j * G + k;
          if (!inner[k] || !act[t]) continue;
          const s = st[k];
          const wj = wpd[t];
          const g = grad[t] + (wj - w[t]) * HESSIAN_FLOOR + vecA[k];
          const v = violation(g, wj, s.qpGmaxOld / l);
          if (v < 0) {
            act[t] = 0;
            s.qpActive--;
            continue;
          }
          if (v > s.sweepGmax) s.sweepGmax = v;
          s.sweepGnorm += v;
          // (the floor is added here, not stored: a later gradient pass for another problem rewrites hdiag's lanes)
          const z = newtonStep(g, hdiag[t] + HESSIAN_FLOOR, wj);
          if (z === 0) continue;
          wpd[t] = wj + z;
          vecB[k] = z;
          moved = true;
        }
        if (moved) kern.axpy(pColPtr, pRowIdx, pValues, pQp, j, pB);
      }
      for (let k = 0; k < G; k++) {
        if (!inner[k]) continue;
        const s = st[k];
        s.innerIter++;
        if (s.sweepGnorm <= s.innerEps * s.gnormInit) {
          if (s.qpActive === s.activeSize) {
            inner[k] = false;
            continue;
          }
          for (let j = 0; j < n; j++) act[j * G + k] = cand[j * G + k];
          s.qpActive = s.activeSize;
          s.qpGmaxOld = Infinity;
        } else {
          s.qpGmaxOld = s.sweepGmax;
        }
        if (s.innerIter >= MAX_INNER_ITER) inner[k] = false;
      }
    }

    // (3) X d of every ready problem, then each one's backtracking line search (Armijo rule on the true objective).
    xd.fill(0);
    const delta = new Float64Array(G);
    const wNormNew = new Float64Array(G);
    for (let j = 0; j < n; j++) {
      let moved = false;
      for (let k = 0; k < G; k++) {
        const t = j * G + k;
        const d = ready[k] ? wpd[t] - w[t] : 0;
        vecA[k] = d;
        if (d !== 0) {
          moved = true;
          delta[k] += grad[t] * d;
        }
        wNormNew[k] += Math.abs(wpd[t]);
      }
      if (moved) kern.xd(pColPtr, pRowIdx, pValues, pXd, j, pA);
    }
    for (let k = 0; k < G; k++) {
      if (!ready[k]) continue;
      const s = st[k];
      let dk = delta[k] + wNormNew[k] - s.wNorm;
      let normNew = wNormNew[k];
      let accepted = false;
      for (let ls = 0; ls < MAX_LINE_SEARCH; ls++) {
        const lossNew = lossOf(k, true);
        if (normNew - s.wNorm + lossNew - s.loss <= ARMIJO * dk) {
          for (let t = k; t < l * G; t += G) margin[t] += xd[t];
          for (let t = k; t < n * G; t += G) w[t] = wpd[t];
          s.wNorm = normNew;
          s.loss = lossNew;
          accepted = true;
          break;
        }
        normNew = 0;
        for (let t = k; t < n * G; t += G) {
          wpd[t] = 0.5 * (w[t] + wpd[t]);
          normNew += Math.abs(wpd[t]);
        }
        for (let t = k; t < l * G; t += G) xd[t] *= 0.5;
        dk *= 0.5;
      }
      if (s.innerIter === 1) s.innerEps *= 0.25;
      s.newtonIter++;
      s.gmaxOld = s.gmaxNow;
      if (!accepted) {
        // no decrease along the Newton direction: w is optimal to machine precision for this problem
        for (let t = k; t < n * G; t += G) wpd[t] = w[t];
        s.done = true;
      }
      if (s.newtonIter >= maxNewtonIter) s.done = true;
    }
    hooks.onIteration?.(st.reduce((a, s) => a + s.newtonIter, 0));
  }

  return st.map((s, k) => {
    const wk = new Float64Array(n);
    for (let j = 0; j < n; j++) wk[j] = w[j * G + k];
    return { w: wk, newtonIter: s.newtonIter, objective: s.wNorm + s.loss, converged: s.converged };
  });
}
