/**
 * Compressed sparse row matrix. Row blocks read from a file carry a local indptr (starting at 0).
 * `data` keeps the on-disk float width where possible; integer counts are stored as float32.
 */
export interface CsrMatrix {
  readonly nRows: number;
  readonly nCols: number;
  /** length nRows + 1, indptr[0] === 0 */
  readonly indptr: Int32Array;
  /** column index of each stored value, sorted within a row is NOT guaranteed unless `sortedIndices` */
  readonly indices: Int32Array;
  readonly data: Float32Array | Float64Array;
}

export function csrNnz(m: CsrMatrix): number {
  return m.indptr[m.nRows];
}

/** Empty CSR with the given shape. */
export function emptyCsr(nRows: number, nCols: number): CsrMatrix {
  return { nRows, nCols, indptr: new Int32Array(nRows + 1), indices: new Int32Array(0), data: new Float32Array(0) };
}
