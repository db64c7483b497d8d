/**
 * Multinomial (softmax) log-loss and its gradient over a range of CSR rows. Parameters are laid out feature-major,
 * `W[j * K + k]` for feature j and class k, with the intercepts as feature row `nCols`, so the K values a stored
 * matrix entry touches are contiguous.
 */
import type { CsrMatrix } from '../sparse';

export interface SoftmaxRows {
  X: CsrMatrix;
  labels: Int32Array;
  /** per-row loss weight (class weights); null = 1 */
  rowWeight: Float64Array | null;
  nClasses: number;
}

/**
 * Returns sum_i rowWeight_i * (-log softmax(z_i)[y_i]) over rows [start, end), z_i = W'x_i + b, and writes the
 * gradient of that sum to `grad` (overwritten). The regulariser is the caller's.
 */
export function softmaxLossGrad(p: SoftmaxRows, start: number, end: number, W: Float64Array, grad: Float64Array): number {
  const { X, labels, rowWeight } = p;
  const K = p.nClasses;
  const { indptr, indices, data } = X;
  const biasOff = X.nCols * K;
  const z = new Float64Array(K);
  const { scores, gradient } = kernelsFor(K);
  grad.fill(0);
  let loss = 0;
  for (let i = start; i < end; i++) {
    const a = indptr[i], b = indptr[i + 1];
    scores(indices, data, a, b, W, biasOff, z);
    let zmax = z[0];
    for (let k = 1; k < K; k++) if (z[k] > zmax) zmax = z[k];
    let sum = 0;
    for (let k = 0; k < K; k++) {
      z[k] = Math.exp(z[k] - zmax);
      sum += z[k];
    }
    const y = labels[i];
    const sw = rowWeight ? rowWeight[i] : 1;
    // z[y] holds exp(z_y - zmax) here
    loss += sw * (Math.log(sum) - Math.log(z[y]));
    const inv = sw / sum;
    for (let k = 0; k < K; k++) z[k] *= inv;
    z[y] -= sw;
    for (let k = 0; k < K; k++) grad[biasOff + k] += z[k];
    gradient(indices, data, a, b, grad, z);
  }
  return loss;
}

type Values = Float32Array | Float64Array;
/** z[k] = W[biasOff + k] + sum over the row's stored values v * W[j*K + k] */
type ScoresKernel = (indices: Int32Array, data: Values, a: number, b: number, W: Float64Array, biasOff: number, z: Float64Array) => void;
/** grad[j*K + k] += v * r[k] over the row's stored values */
type GradientKernel = (indices: Int32Array, data: Values, a: number, b: number, grad: Float64Array, r: Float64Array) => void;

const kernelCache = new Map<number, { scores: ScoresKernel; gradient: GradientKernel }>();
const MAX_UNROLLED = 32;

/**
 * The per-row kernels, generated for the number of classes. Why: each stored value touches K weights; with the K
 * sums (or residuals) in named locals V8 keeps them in registers and walks the row once, where a loop over a small
 * array loads and stores memory for every value and class. Measured on 6,400 x 16,906 rows, 11 classes: about
 * 2x faster than a generic loop. The generated code is plain arithmetic on the arguments, nothing else.
 */
export function kernelsFor(K: number): { scores: ScoresKernel; gradient: GradientKernel } {
  const cached = kernelCache.get(K);
  if (cached) return cached;
  if (!Number.isInteger(K) || K < 1) throw new Error(`number of classes must be a positive integer, got ${K}`);
  const ks = Array.from({ length: K }, (_, k) => k);
  const kernels = K > MAX_UNROLLED ? { scores: genericScores(K), gradient: genericGradient(K) } : {
    scores: new Function('indices', 'data', 'a', 'b', 'W', 'biasOff', 'z', [
      ks.map(k => `let z${k} = W[biasOff + ${k}];`).join(' '),
      'for (let t = a; t < b; t++) {',
      `  const o = indices[t] * ${K}; const v = data[t];`,
      ks.map(k => `  z${k} += v * W[o + ${k}];`).join('\n'),
      '}',
      ks.map(k => `z[${k}] = z${k};`).join(' '),
    ].join('\n')) as ScoresKernel,
    gradient: new Function('indices', 'data', 'a', 'b', 'grad', 'r', [
      ks.map(k => `const r${k} = r[${k}];`).join(' '),
      'for (let t = a; t < b; t++) {',
      `  const o = indices[t] * ${K}; const v = data[t];`,
      ks.map(k => `  grad[o + ${k}] += v * r${k};`).join('\n'),
      '}',
    ].join('\n')) as GradientKernel,
  };
  kernelCache.set(K, kernels);
  return kernels;
}

function genericScores(K: number): ScoresKernel {
  return (indices, data, a, b, W, biasOff, z) => {
    for (let k = 0; k < K; k++) z[k] = W[biasOff + k];
    for (let t = a; t < b; t++) {
      const o = indices[t] * K;
      const v = data[t];
      for (let k = 0; k < K; k++) z[k] += v * W[o + k];
    }
  };
}

function genericGradient(K: number): GradientKernel {
  return (indices, data, a, b, grad, r) => {
    for (let t = a; t < b; t++) {
      const o = indices[t] * K;
      const v = data[t];
      for (let k = 0; k < K; k++) grad[o + k] += v * r[k];
    }
  };
}

/** Row ranges with about equal numbers of stored values, so threads finish together. */
export function balancedRowChunks(X: CsrMatrix, parts: number): Array<[number, number]> {
  // a row costs its stored values plus the per-row softmax over the classes, roughly ROW_COST values' worth
  const ROW_COST = 8;
  const total = X.indptr[X.nRows] + ROW_COST * X.nRows;
  const out: Array<[number, number]> = [];
  let start = 0;
  for (let c = 1; c <= parts; c++) {
    let end = start;
    const target = (total * c) / parts;
    while (end < X.nRows && X.indptr[end] + ROW_COST * end < target) end++;
    if (c === parts) end = X.nRows;
    out.push([start, end]);
    start = end;
  }
  return out;
}
