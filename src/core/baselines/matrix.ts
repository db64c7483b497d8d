/**
 * Sparse-matrix layouts the logistic-regression solvers need. Arrays are allocated on SharedArrayBuffer so that
 * worker threads read the same memory instead of receiving a copy each.
 */
import type { CsrMatrix } from '../sparse';

/** Column-compressed copy of a CSR matrix with one extra, all-ones column (index nCols) for the intercept. */
export interface CscWithBias {
  readonly nRows: number;
  /** columns including the intercept column */
  readonly nCols: number;
  readonly colPtr: Int32Array;
  readonly rowIdx: Int32Array;
  readonly values: Float32Array;
}

export function sharedInt32(n: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(Math.max(1, n) * 4), 0, n);
}

export function sharedFloat32(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(Math.max(1, n) * 4), 0, n);
}

export function sharedFloat64(n: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(Math.max(1, n) * 8), 0, n);
}

export function isShared(a: ArrayBufferView): boolean {
  return a.buffer instanceof SharedArrayBuffer;
}

/** Checks the CSR invariants the solvers rely on; a broken matrix would otherwise read out of bounds silently. */
export function validateCsr(X: CsrMatrix, what = 'matrix'): void {
  const { nRows, nCols, indptr, indices, data } = X;
  if (indptr.length !== nRows + 1) throw new Error(`${what}: indptr has length ${indptr.length}, expected ${nRows + 1}`);
  if (indptr[0] !== 0) throw new Error(`${what}: indptr[0] is ${indptr[0]}, expected 0`);
  const nnz = indptr[nRows];
  if (indices.length < nnz || data.length < nnz) throw new Error(`${what}: indptr announces ${nnz} values but indices/data hold ${indices.length}/${data.length}`);
  for (let i = 0; i < nRows; i++) {
    if (indptr[i + 1] < indptr[i]) throw new Error(`${what}: indptr decreases at row ${i}`);
  }
  for (let k = 0; k < nnz; k++) {
    const j = indices[k];
    if (j < 0 || j >= nCols) throw new Error(`${what}: column index ${j} at position ${k} outside 0..${nCols - 1}`);
    if (!Number.isFinite(data[k])) throw new Error(`${what}: non-finite value at position ${k}`);
  }
}

/**
 * The CSR matrix with its arrays on shared memory (the same object when they already are). float64 values are
 * narrowed to float32, the storage precision all solvers use.
 */
export function shareCsr(X: CsrMatrix): CsrMatrix {
  if (isShared(X.indptr) && isShared(X.indices) && isShared(X.data) && X.data instanceof Float32Array) return X;
  const nnz = X.indptr[X.nRows];
  const indptr = sharedInt32(X.nRows + 1);
  indptr.set(X.indptr.subarray(0, X.nRows + 1));
  const indices = sharedInt32(nnz);
  indices.set(X.indices.subarray(0, nnz));
  const data = sharedFloat32(nnz);
  data.set(X.data.subarray(0, nnz));
  return { nRows: X.nRows, nCols: X.nCols, indptr, indices, data };
}

/** Rows `rows` of X (in that order) as a new CSR on shared memory. */
export function selectRows(X: CsrMatrix, rows: ArrayLike<number>): CsrMatrix {
  const n = rows.length;
  const indptr = sharedInt32(n + 1);
  let nnz = 0;
  for (let r = 0; r < n; r++) {
    const i = rows[r];
    if (i < 0 || i >= X.nRows || !Number.isInteger(i)) throw new Error(`row ${i} outside 0..${X.nRows - 1}`);
    nnz += X.indptr[i + 1] - X.indptr[i];
    indptr[r + 1] = nnz;
  }
  const indices = sharedInt32(nnz);
  const data = sharedFloat32(nnz);
  for (let r = 0; r < n; r++) {
    const i = rows[r];
    const a = X.indptr[i], b = X.indptr[i + 1];
    indices.set(X.indices.subarray(a, b), indptr[r]);
    data.set(X.data.subarray(a, b), indptr[r]);
  }
  return { nRows: n, nCols: X.nCols, indptr, indices, data };
}

/** Transposes X into column order and appends the intercept column of `interceptScaling` values. */
export function cscWithBias(X: CsrMatrix, interceptScaling = 1): CscWithBias {
  const { nRows, nCols, indptr, indices, data } = X;
  const nnz = indptr[nRows];
  const cols = nCols + 1;
  const colPtr = sharedInt32(cols + 1);
  for (let k = 0; k < nnz; k++) colPtr[indices[k] + 1]++;
  colPtr[nCols + 1] = nRows;
  for (let j = 0; j < cols; j++) colPtr[j + 1] += colPtr[j];
  const rowIdx = sharedInt32(nnz + nRows);
  const values = sharedFloat32(nnz + nRows);
  const next = new Int32Array(colPtr.subarray(0, cols));
  for (let i = 0; i < nRows; i++) {
    for (let k = indptr[i]; k < indptr[i + 1]; k++) {
      const pos = next[indices[k]]++;
      rowIdx[pos] = i;
      values[pos] = data[k];
    }
  }
  const base = colPtr[nCols];
  for (let i = 0; i < nRows; i++) {
    rowIdx[base + i] = i;
    values[base + i] = interceptScaling;
  }
  return { nRows, nCols: cols, colPtr, rowIdx, values };
}

/**
 * The CSC of each block of `blockRows` consecutive rows (with the intercept column), stored one block after the
 * other: block b's column j holds entries [colPtr[b * (nCols + 1) + j], colPtr[b * (nCols + 1) + j + 1]).
 * Why: a pass over columns that gathers per-row data touches only one block's rows at a time, which then stay in
 * the core's cache (see softmax.ts).
 */
export interface RowBlockedCsc {
  readonly nRows: number;
  /** columns including the intercept column */
  readonly nCols: number;
  readonly blockRows: number;
  readonly nBlocks: number;
  readonly colPtr: Int32Array;
  readonly rowIdx: Int32Array;
  readonly values: Float32Array;
  /** stored values of columns [0, j) over all blocks, at j (nCols + 1 entries), for balancing work by column */
  readonly colOffsets: Int32Array;
}

/** Where a layout's big arrays are allocated: shared memory by default, or a wasm arena (wasm.ts). */
export interface ArrayAllocator {
  int32(n: number): Int32Array;
  float32(n: number): Float32Array;
}

const SHARED: ArrayAllocator = { int32: sharedInt32, float32: sharedFloat32 };

/** The sizes rowBlockedCscWithBias allocates: [colPtr entries, rowIdx/values entries]. */
export function rowBlockedCscSizes(X: CsrMatrix, blockRows: number): { colPtr: number; entries: number } {
  const nBlocks = Math.max(1, Math.ceil(X.nRows / blockRows));
  return { colPtr: nBlocks * (X.nCols + 2), entries: X.indptr[X.nRows] + X.nRows };
}

/** Where each row block's entries start, and the total at the end (nBlocks + 1 offsets), for splitting by blocks. */
export function blockOffsets(csc: RowBlockedCsc): Int32Array {
  const stride = csc.nCols + 1;
  const out = new Int32Array(csc.nBlocks + 1);
  for (let b = 0; b < csc.nBlocks; b++) out[b] = csc.colPtr[b * stride];
  out[csc.nBlocks] = csc.colPtr[csc.nBlocks * stride - 1];
  return out;
}

export function rowBlockedCscWithBias(X: CsrMatrix, blockRows: number, interceptScaling = 1, alloc: ArrayAllocator = SHARED): RowBlockedCsc {
  const { nRows, nCols, indptr, indices, data } = X;
  if (!Number.isInteger(blockRows) || blockRows < 1) throw new Error(`blockRows must be a positive integer, got ${blockRows}`);
  const cols = nCols + 1;
  const stride = cols + 1;
  const nBlocks = Math.max(1, Math.ceil(nRows / blockRows));
  const counts = new Int32Array(nBlocks * cols);
  for (let b = 0; b < nBlocks; b++) {
    const end = Math.min(nRows, (b + 1) * blockRows);
    const base = b * cols;
    for (let k = indptr[b * blockRows]; k < indptr[end]; k++) counts[base + indices[k]]++;
    counts[base + nCols] = end - b * blockRows;
  }
  const colPtr = alloc.int32(nBlocks * stride);
  const colOffsets = sharedInt32(cols + 1);
  let pos = 0;
  for (let b = 0; b < nBlocks; b++) {
    for (let j = 0; j < cols; j++) {
      colPtr[b * stride + j] = pos;
      pos += counts[b * cols + j];
      colOffsets[j + 1] += counts[b * cols + j];
    }
    colPtr[b * stride + cols] = pos;
  }
  for (let j = 0; j < cols; j++) colOffsets[j + 1] += colOffsets[j];
  const rowIdx = alloc.int32(pos);
  const values = alloc.float32(pos);
  const next = new Int32Array(cols);
  for (let b = 0; b < nBlocks; b++) {
    next.set(colPtr.subarray(b * stride, b * stride + cols));
    const end = Math.min(nRows, (b + 1) * blockRows);
    for (let i = b * blockRows; i < end; i++) {
      for (let k = indptr[i]; k < indptr[i + 1]; k++) {
        const at = next[indices[k]]++;
        rowIdx[at] = i;
        values[at] = data[k];
      }
      const at = next[nCols]++;
      rowIdx[at] = i;
      values[at] = interceptScaling;
    }
  }
  return { nRows, nCols: cols, blockRows, nBlocks, colPtr, rowIdx, values, colOffsets };
}
