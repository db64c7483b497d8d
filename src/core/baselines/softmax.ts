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
 * Adds nothing to the regulariser; returns sum_i rowWeight_i * (-log softmax(z_i)[y_i]) over rows [start, end) and
 * writes the gradient of that sum to `grad` (overwritten).
 */
export function softmaxLossGrad(p: SoftmaxRows, start: number, end: number, W: Float64Array, grad: Float64Array): number {
  const { X, labels, rowWeight } = p;
  const K = p.nClasses;
  const { indptr, indices, data } = X;
  const biasOff = X.nCols * K;
  const z = new Float64Array(K);
  grad.fill(0);
  let loss = 0;
  for (let i = start; i < end; i++) {
    for (let k = 0; k < K; k++) z[k] = W[biasOff + k];
    const a = indptr[i], b = indptr[i + 1];
    for (let t = a; t < b; t++) {
      const off = indices[t] * K;
      const v = data[t];
      for (let k = 0; k < K; k++) z[k] += v * W[off + k];
    }
    let zmax = z[0];
    for (let k = 1; k < K; k++) if (z[k] > zmax) zmax = z[k];
    let sum = 0;
    for (let k = 0; k < K; k++) {
      z[k] = Math.exp(z[k] - zmax);
      sum += z[k];
    }
    const y = labels[i];
    const sw = rowWeight ? rowWeight[i] : 1;
    // z[y] now holds exp(z_y - zmax)
    loss += sw * (Math.log(sum) - Math.log(z[y]));
    const inv = sw / sum;
    for (let k = 0; k < K; k++) z[k] *= inv;
    z[y] -= sw;
    for (let k = 0; k < K; k++) grad[biasOff + k] += z[k];
    for (let t = a; t < b; t++) {
      const off = indices[t] * K;
      const v = data[t];
      for (let k = 0; k < K; k++) grad[off + k] += v * z[k];
    }
  }
  return loss;
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
