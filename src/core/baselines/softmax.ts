/**
 * Multinomial (softmax) log-loss and its gradient, in two passes that each split cleanly over threads:
 *
 * 1. rows (CSR): scores z_i = W'x_i + b, the loss, and the residuals r_i = s_i (softmax(z_i) - e_{y_i}) into an
 *    nRows x K buffer;
 * 2. features (a CSC per block of rows, with the all-ones intercept column last): grad_j = sum_i x_ij r_i.
 *
 * Why two passes: a single pass over rows has to scatter-add every stored value's K products into the gradient
 * (a load and a store each, and a private gradient per thread to sum afterwards); by columns each feature's K sums
 * stay in registers and each thread writes its own features of the one shared gradient. Measured on 13,600 x
 * 16,906 rows, 11 classes: about 20% faster per evaluation, and no reduction step. The column pass walks one block
 * of rows at a time (RESID_BLOCK_BYTES of residuals, which stay in the core's cache): at 54,760 rows its gathers
 * took 15-20% less time than over whole columns. Each gradient entry is summed in row order whatever the thread
 * count or block size.
 *
 * With the WebAssembly kernels (wasm.ts; the default where they cover the class count), both passes read the
 * row-blocked CSC alone: the scores of a block of rows are summed column by column into that block's residual rows,
 * two classes per SIMD operation, which made each pass about 2x faster than the JavaScript kernels (bench/RESULTS.md).
 *
 * Parameters are laid out feature-major, `W[j * K + k]` for feature j and class k, with the intercepts as feature
 * row `nCols`, so the K values a stored matrix entry touches are contiguous.
 */
import type { CsrMatrix } from '../sparse';
import type { RowBlockedCsc } from './matrix';
import { softmaxKernels, type WasmHandle } from './wasm';

/** residuals of one block of rows; about half a core's L2 cache */
export const RESID_BLOCK_BYTES = 1 << 19;

export function residualBlockRows(K: number): number {
  return Math.max(64, Math.floor(RESID_BLOCK_BYTES / (8 * K)));
}

/** Per-row data of the softmax objective besides the matrix. */
export interface SoftmaxLabels {
  labels: Int32Array;
  /** per-row loss weight (class weights); null = 1 */
  rowWeight: Float64Array | null;
  nClasses: number;
}

export interface SoftmaxRows extends SoftmaxLabels {
  X: CsrMatrix;
}

/**
 * Turns the scores z in buf[o, o + K) into the residuals r = sw (softmax(z) - e_y) in place and returns the row's
 * loss sw * (-log softmax(z)[y]).
 */
function softmaxRow(buf: Float64Array, o: number, K: number, y: number, sw: number): number {
  let zmax = buf[o];
  for (let k = 1; k < K; k++) if (buf[o + k] > zmax) zmax = buf[o + k];
  let sum = 0;
  for (let k = 0; k < K; k++) {
    const e = Math.exp(buf[o + k] - zmax);
    buf[o + k] = e;
    sum += e;
  }
  // buf[o + y] holds exp(z_y - zmax) here
  const loss = sw * (Math.log(sum) - Math.log(buf[o + y]));
  const inv = sw / sum;
  for (let k = 0; k < K; k++) buf[o + k] *= inv;
  buf[o + y] -= sw;
  return loss;
}

/**
 * Returns sum_i rowWeight_i * (-log softmax(z_i)[y_i]) over rows [start, end), z_i = W'x_i + b, and writes
 * r_i = rowWeight_i * (softmax(z_i) - e_{y_i}) to resid[i * K ...]. The regulariser is the caller's.
 */
export function softmaxResiduals(p: SoftmaxRows, start: number, end: number, W: Float64Array, resid: Float64Array): number {
  const { X, labels, rowWeight } = p;
  const K = p.nClasses;
  const { indptr, indices, data } = X;
  const biasOff = X.nCols * K;
  const { scores } = kernelsFor(K);
  let loss = 0;
  for (let i = start; i < end; i++) {
    scores(indices, data, indptr[i], indptr[i + 1], W, biasOff, resid, i * K);
    loss += softmaxRow(resid, i * K, K, labels[i], rowWeight ? rowWeight[i] : 1);
  }
  return loss;
}

/**
 * The same for the row blocks [b0, b1) of a row-blocked CSC in a wasm arena, with the WebAssembly kernels: each
 * block's scores are summed column by column into its rows of `resid` (which stay in the core's cache), the
 * intercept column first and then the features in order, the order in which softmaxResiduals sums a row whose
 * column indices ascend, so both give the same bits on such a matrix.
 */
export function softmaxResidualsWasm(
  csc: RowBlockedCsc, rows: SoftmaxLabels, wasm: WasmHandle, b0: number, b1: number, W: Float64Array, resid: Float64Array,
): number {
  const { labels, rowWeight } = rows;
  const K = rows.nClasses;
  const { scores } = softmaxKernels(wasm, K);
  const stride = csc.nCols + 1;
  const bias = csc.nCols - 1;
  const cp = csc.colPtr.byteOffset, ri = csc.rowIdx.byteOffset, va = csc.values.byteOffset;
  let loss = 0;
  for (let b = b0; b < b1; b++) {
    const r0 = b * csc.blockRows;
    const r1 = Math.min(csc.nRows, r0 + csc.blockRows);
    resid.fill(0, r0 * K, r1 * K);
    scores(cp, b * stride, ri, va, W.byteOffset, resid.byteOffset, bias, bias + 1);
    scores(cp, b * stride, ri, va, W.byteOffset, resid.byteOffset, 0, bias);
    for (let i = r0; i < r1; i++) loss += softmaxRow(resid, i * K, K, labels[i], rowWeight ? rowWeight[i] : 1);
  }
  return loss;
}

/**
 * grad[j * K + k] = sum_i x_ij resid[i * K + k] for columns [colStart, colEnd) (overwritten), with the WebAssembly
 * kernel when `wasm` is given (the CSC and both buffers then live in its arena).
 */
export function residualGradient(
  csc: RowBlockedCsc, K: number, colStart: number, colEnd: number, resid: Float64Array, grad: Float64Array, wasm?: WasmHandle | null,
): void {
  if (wasm) {
    const kernel = softmaxKernels(wasm, K).grad;
    const stride = csc.nCols + 1;
    for (let b = 0; b < csc.nBlocks; b++) {
      kernel(csc.colPtr.byteOffset, b * stride, csc.rowIdx.byteOffset, csc.values.byteOffset, resid.byteOffset, grad.byteOffset, colStart, colEnd, b === 0 ? 1 : 0);
    }
    return;
  }
  const { columns } = kernelsFor(K);
  for (let b = 0; b < csc.nBlocks; b++) {
    columns(csc.colPtr, b * (csc.nCols + 1), csc.rowIdx, csc.values, colStart, colEnd, resid, grad, b === 0);
  }
}

type Values = Float32Array | Float64Array;
/** z[zo + k] = W[biasOff + k] + sum over the row's stored values v * W[j*K + k] */
type ScoresKernel = (indices: Int32Array, data: Values, a: number, b: number, W: Float64Array, biasOff: number, z: Float64Array, zo: number) => void;
/** grad[j*K + k] (= 0 first) += sum over column j's stored values v * r[i*K + k], for j in [j0, j1), column j's
 * entries being [colPtr[base + j], colPtr[base + j + 1]) */
type ColumnsKernel = (colPtr: Int32Array, base: number, rowIdx: Int32Array, values: Values, j0: number, j1: number, r: Float64Array, grad: Float64Array, first: boolean) => void;
interface Kernels {
  scores: ScoresKernel;
  columns: ColumnsKernel;
}

const kernelCache = new Map<number, Kernels>();
const MAX_UNROLLED = 32;

/**
 * The kernels, generated for the number of classes. Why: each stored value touches K weights; with the K sums in
 * named locals V8 keeps them in registers and walks the row (column) once, where a loop over a small array loads
 * and stores memory for every value and class. Measured on 6,400 x 16,906 rows, 11 classes: about 2x faster than
 * a generic loop. The generated code is plain arithmetic on the arguments, nothing else.
 */
export function kernelsFor(K: number): Kernels {
  const cached = kernelCache.get(K);
  if (cached) return cached;
  if (!Number.isInteger(K) || K < 1) throw new Error(`number of classes must be a positive integer, got ${K}`);
  const ks = Array.from({ length: K }, (_, k) => k);
  const kernels: Kernels = K > MAX_UNROLLED ? { scores: genericScores(K), columns: genericColumns(K) } : {
    scores: new Function('indices', 'data', 'a', 'b', 'W', 'biasOff', 'z', 'zo', [
      ks.map(k => `let z${k} = W[biasOff + ${k}];`).join(' '),
      'for (let t = a; t < b; t++) {',
      `  const o = indices[t] * ${K}; const v = data[t];`,
      ks.map(k => `  z${k} += v * W[o + ${k}];`).join('\n'),
      '}',
      ks.map(k => `z[zo + ${k}] = z${k};`).join(' '),
    ].join('\n')) as ScoresKernel,
    columns: new Function('colPtr', 'base', 'rowIdx', 'values', 'j0', 'j1', 'r', 'grad', 'first', [
      'for (let j = j0; j < j1; j++) {',
      `  const q = j * ${K};`,
      ks.map(k => `  let g${k} = first ? 0 : grad[q + ${k}];`).join(' '),
      '  for (let t = colPtr[base + j], e = colPtr[base + j + 1]; t < e; t++) {',
      `    const o = rowIdx[t] * ${K}; const v = values[t];`,
      ks.map(k => `    g${k} += v * r[o + ${k}];`).join('\n'),
      '  }',
      ks.map(k => `  grad[q + ${k}] = g${k};`).join(' '),
      '}',
    ].join('\n')) as ColumnsKernel,
  };
  kernelCache.set(K, kernels);
  return kernels;
}

function genericScores(K: number): ScoresKernel {
  return (indices, data, a, b, W, biasOff, z, zo) => {
    for (let k = 0; k < K; k++) z[zo + k] = W[biasOff + k];
    for (let t = a; t < b; t++) {
      const o = indices[t] * K;
      const v = data[t];
      for (let k = 0; k < K; k++) z[zo + k] += v * W[o + k];
    }
  };
}

function genericColumns(K: number): ColumnsKernel {
  return (colPtr, base, rowIdx, values, j0, j1, r, grad, first) => {
    for (let j = j0; j < j1; j++) {
      const q = j * K;
      if (first) for (let k = 0; k < K; k++) grad[q + k] = 0;
      for (let t = colPtr[base + j]; t < colPtr[base + j + 1]; t++) {
        const o = rowIdx[t] * K;
        const v = values[t];
        for (let k = 0; k < K; k++) grad[q + k] += v * r[o + k];
      }
    }
  };
}

/**
 * Ranges of [0, n) with about equal cost, cost(i) = offsets[i + 1] - offsets[i] + perItem, so threads finish
 * together (offsets: a CSR indptr or a CSC colPtr).
 */
export function balancedChunks(offsets: Int32Array, n: number, parts: number, perItem: number): Array<[number, number]> {
  const total = offsets[n] - offsets[0] + perItem * n;
  const out: Array<[number, number]> = [];
  let start = 0;
  for (let c = 1; c <= parts; c++) {
    let end = start;
    const target = (total * c) / parts;
    while (end < n && offsets[end] - offsets[0] + perItem * end < target) end++;
    if (c === parts) end = n;
    out.push([start, end]);
    start = end;
  }
  return out;
}
