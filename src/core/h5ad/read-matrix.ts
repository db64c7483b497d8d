/**
 * X, layers and raw/X: where they are, what they are, and reading row blocks of them as CSR.
 *
 * Sparse matrices are groups holding data/indices/indptr. anndata >= 0.7 marks them with `encoding-type`
 * (csr_matrix, csc_matrix) and a `shape` attribute; anndata <= 0.6 used `h5sparse_format` (csr, csc) and
 * `h5sparse_shape`. Dense matrices are plain 2-D datasets.
 *
 * Every read is a hyperslab of bounded size, so files far larger than the 2 GiB WASM heap can be streamed.
 */
import type { CsrMatrix } from '../sparse';
import { H5Context, H5Dataset, MAX_ELEMENTS_PER_READ, NumericArray, dtypeName, isNumericType, typedArrayFor } from './read-hdf5';
import type { MatrixInfo } from './types';

export interface MatrixLocation {
  /** where it is in the file, for messages */
  path: string;
  info: MatrixInfo;
  dense?: H5Dataset;
  sparse?: { data: H5Dataset; indices: H5Dataset; indptr: H5Dataset };
}

/** null when nothing is at `path`; an H5adError when something is there that is not a matrix this reader knows. */
export function locateMatrix(ctx: H5Context, path: string): MatrixLocation | null {
  const node = ctx.get(path);
  if (node === null) return null;
  if (ctx.isDataset(node)) {
    const meta = ctx.metadata(node);
    const shape = meta.shape ?? [];
    const encoding = ctx.attrString(node, 'encoding-type');
    if (encoding !== undefined && encoding !== 'array') {
      ctx.fail(`'${path}' has encoding-type '${encoding}', which this reader does not know as a matrix (known: array, csr_matrix, csc_matrix)`);
    }
    if (!isNumericType(meta)) ctx.fail(`'${path}' holds ${dtypeName(meta)} values, not numbers`);
    if (shape.length !== 2) ctx.fail(`'${path}' is a ${shape.length}-D array, expected a 2-D matrix`);
    return {
      path, dense: node,
      info: { encoding: 'dense', dtype: dtypeName(meta), shape: [shape[0], shape[1]], nnz: shape[0] * shape[1], compression: ctx.filterNames(node) },
    };
  }
  if (!ctx.isGroup(node)) ctx.fail(`'${path}' is neither a dataset nor a group`);
  const encodingType = ctx.attrString(node, 'encoding-type');
  const legacyFormat = ctx.attrString(node, 'h5sparse_format');
  let encoding: 'csr' | 'csc';
  if (encodingType === 'csr_matrix' || (encodingType === undefined && legacyFormat === 'csr')) encoding = 'csr';
  else if (encodingType === 'csc_matrix' || (encodingType === undefined && legacyFormat === 'csc')) encoding = 'csc';
  else if (encodingType !== undefined) {
    return ctx.fail(`'${path}' has encoding-type '${encodingType}', which this reader does not know as a matrix (known: array, csr_matrix, csc_matrix)`);
  } else {
    return ctx.fail(`'${path}' is a group without encoding-type or h5sparse_format: not a matrix this reader knows`);
  }
  const shape = ctx.attrNumbers(node, encodingType ? 'shape' : 'h5sparse_shape');
  if (!shape || shape.length !== 2) ctx.fail(`the sparse matrix '${path}' has no valid shape attribute`);
  const part = (name: string) => ctx.dataset(`${path}/${name}`) ?? ctx.fail(`the sparse matrix '${path}' has no '${name}' dataset`);
  const data = part('data');
  const indices = part('indices');
  const indptr = part('indptr');
  const nnz = ctx.shape(data)[0] ?? 0;
  const major = encoding === 'csr' ? shape[0] : shape[1];
  if (ctx.shape(indptr)[0] !== major + 1) ctx.fail(`the sparse matrix '${path}' has ${ctx.shape(indptr)[0]} indptr entries for ${major} ${encoding === 'csr' ? 'rows' : 'columns'}`);
  if (ctx.shape(indices)[0] !== nnz) ctx.fail(`the sparse matrix '${path}' has ${ctx.shape(indices)[0]} indices for ${nnz} values`);
  const meta = ctx.metadata(data);
  if (!isNumericType(meta)) ctx.fail(`'${path}/data' holds ${dtypeName(meta)} values, not numbers`);
  return {
    path, sparse: { data, indices, indptr },
    info: { encoding, dtype: dtypeName(meta), shape: [shape[0], shape[1]], nnz, compression: ctx.filterNames(data) },
  };
}

/** Values array for a matrix: float64 stays float64, everything else (float32, integer counts) is float32. */
function valuesArrayFor(ctx: H5Context, ds: H5Dataset, n: number): Float32Array | Float64Array {
  return typedArrayFor(ctx.metadata(ds)) === Float64Array ? new Float64Array(n) : new Float32Array(n);
}

/** Rows [start, end) as CSR with a local indptr. */
export function readMatrixRows(ctx: H5Context, m: MatrixLocation, start: number, end: number): CsrMatrix {
  const [nRows, nCols] = m.info.shape;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > nRows || start > end) {
    throw new RangeError(`rows [${start}, ${end}) are outside ${m.path}'s ${nRows} rows`);
  }
  if (m.dense) return readDenseRows(ctx, m.dense, start, end, nCols);
  if (m.info.encoding === 'csr') return readCsrRows(ctx, m, start, end);
  return readCscRows(ctx, m, start, end);
}

/** Row pointers [start, end] as plain numbers (int64 indptr of large files included). */
function readIndptr(ctx: H5Context, indptr: H5Dataset, start: number, end: number): Float64Array {
  const out = new Float64Array(end - start + 1);
  ctx.readNumericInto(indptr, start, end + 1, out, 0);
  return out;
}

function readCsrRows(ctx: H5Context, m: MatrixLocation, start: number, end: number): CsrMatrix {
  const { data, indices, indptr } = m.sparse!;
  const ptr = readIndptr(ctx, indptr, start, end);
  const lo = ptr[0];
  const hi = ptr[ptr.length - 1];
  checkIndptr(ctx, m, ptr, start);
  const nnz = hi - lo;
  const localPtr = new Int32Array(ptr.length);
  for (let i = 0; i < ptr.length; i++) localPtr[i] = ptr[i] - lo;
  const outIndices = new Int32Array(nnz);
  const outData = valuesArrayFor(ctx, data, nnz);
  ctx.readNumericInto(indices, lo, hi, outIndices, 0);
  ctx.readNumericInto(data, lo, hi, outData, 0);
  checkColumnIndices(ctx, m, localPtr, outIndices, start, 0, end - start);
  return { nRows: end - start, nCols: m.info.shape[1], indptr: localPtr, indices: outIndices, data: outData };
}

/**
 * Every stored column index of rows [r0, r1) (local row numbers; `firstRow` is local row 0's row in the file)
 * lies in 0..nCols-1. The one check every reader of X goes through, so no reader drops or misplaces a value
 * another reader would refuse.
 */
function checkColumnIndices(ctx: H5Context, m: MatrixLocation, indptr: Int32Array, indices: Int32Array, firstRow: number, r0: number, r1: number): void {
  const nCols = m.info.shape[1];
  for (let r = r0; r < r1; r++) {
    for (let k = indptr[r]; k < indptr[r + 1]; k++) {
      const j = indices[k];
      if (j < 0 || j >= nCols) {
        ctx.fail(`'${m.path}/indices' holds column index ${j} in row ${firstRow + r}, outside 0..${nCols - 1} (${nCols} columns): the sparse matrix is corrupt`);
      }
    }
  }
}

function checkIndptr(ctx: H5Context, m: MatrixLocation, ptr: Float64Array, first: number): void {
  for (let i = 1; i < ptr.length; i++) {
    if (ptr[i] < ptr[i - 1]) ctx.fail(`'${m.path}/indptr' decreases at position ${first + i}: the sparse matrix is corrupt`);
  }
  if (ptr[0] < 0 || ptr[ptr.length - 1] > m.info.nnz) ctx.fail(`'${m.path}/indptr' points outside its ${m.info.nnz} stored values: the sparse matrix is corrupt`);
  if (ptr[ptr.length - 1] - ptr[0] > 0x7fffffff) ctx.fail(`rows of '${m.path}' hold more than 2^31 values: read fewer rows at a time`);
}

/** Dense rows, read in row pieces of bounded size, keeping the non-zero entries. */
function readDenseRows(ctx: H5Context, ds: H5Dataset, start: number, end: number, nCols: number): CsrMatrix {
  const rowsPerRead = Math.max(1, Math.floor(MAX_ELEMENTS_PER_READ / Math.max(1, nCols)));
  const indptr = new Int32Array(end - start + 1);
  let indices = new Int32Array(0);
  let data: Float32Array | Float64Array = valuesArrayFor(ctx, ds, 0);
  let nnz = 0;
  for (let r0 = start; r0 < end; r0 += rowsPerRead) {
    const r1 = Math.min(end, r0 + rowsPerRead);
    const block = ctx.readSlice(ds, r0, r1) as NumericArray;
    let blockNnz = 0;
    for (let i = 0; i < block.length; i++) if (Number(block[i]) !== 0) blockNnz++;
    if (nnz + blockNnz > indices.length) {
      const cap = Math.max(nnz + blockNnz, Math.ceil(indices.length * 1.5));
      const grownIdx = new Int32Array(cap); grownIdx.set(indices.subarray(0, nnz)); indices = grownIdx;
      const grownData = data instanceof Float64Array ? new Float64Array(cap) : new Float32Array(cap);
      grownData.set(data.subarray(0, nnz)); data = grownData;
    }
    for (let r = r0; r < r1; r++) {
      const base = (r - r0) * nCols;
      for (let c = 0; c < nCols; c++) {
        const v = Number(block[base + c]);
        if (v !== 0) { indices[nnz] = c; data[nnz] = v; nnz++; }
      }
      indptr[r - start + 1] = nnz;
    }
  }
  return { nRows: end - start, nCols, indptr, indices: indices.slice(0, nnz), data: data.slice(0, nnz) };
}

/**
 * CSC stores the matrix column by column, so rows [start, end) are spread over every column. This reads all
 * columns' indices in bounded pieces (one pass over the stored values, O(nnz) per call whatever the block size),
 * keeps the entries whose row falls in the block, then reads only the values it needs, a piece at a time.
 * Columns are visited in order, so the CSR produced has sorted column indices. Reading a whole CSC matrix
 * in k row blocks costs k passes: callers streaming CSC should use large blocks.
 */
function readCscRows(ctx: H5Context, m: MatrixLocation, start: number, end: number): CsrMatrix {
  const { data, indices, indptr } = m.sparse!;
  const [, nCols] = m.info.shape;
  const nRows = end - start;
  const colPtr = readIndptr(ctx, indptr, 0, nCols);
  checkIndptr(ctx, m, colPtr, 0);
  let rows = new Int32Array(1024);
  let cols = new Int32Array(1024);
  let positions = new Float64Array(1024);
  let n = 0;
  const total = colPtr[nCols] - colPtr[0];
  const rowBuf = new Int32Array(Math.min(total, MAX_ELEMENTS_PER_READ));
  let col = 0;
  for (let lo = colPtr[0]; lo < colPtr[nCols]; lo += MAX_ELEMENTS_PER_READ) {
    const hi = Math.min(colPtr[nCols], lo + MAX_ELEMENTS_PER_READ);
    ctx.readNumericInto(indices, lo, hi, rowBuf, 0);
    for (let k = lo; k < hi; k++) {
      while (colPtr[col + 1] <= k) col++;
      const r = rowBuf[k - lo];
      if (r < 0 || r >= m.info.shape[0]) {
        ctx.fail(`'${m.path}/indices' holds row index ${r} in column ${col}, outside 0..${m.info.shape[0] - 1} (${m.info.shape[0]} rows): the sparse matrix is corrupt`);
      }
      if (r < start || r >= end) continue;
      if (n === rows.length) {
        rows = grow(rows); cols = grow(cols);
        const p = new Float64Array(positions.length * 2); p.set(positions); positions = p;
      }
      rows[n] = r; cols[n] = col; positions[n] = k; n++;
    }
  }
  const values = gatherValues(ctx, data, positions.subarray(0, n));
  // Counting sort by row; a stable pass keeps columns ascending inside each row.
  const outPtr = new Int32Array(nRows + 1);
  for (let i = 0; i < n; i++) outPtr[rows[i] - start + 1]++;
  for (let r = 0; r < nRows; r++) outPtr[r + 1] += outPtr[r];
  const fill = outPtr.slice(0, nRows);
  const outIdx = new Int32Array(n);
  const outData = values instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const at = fill[rows[i] - start]++;
    outIdx[at] = cols[i];
    outData[at] = values[i];
  }
  return { nRows, nCols, indptr: outPtr, indices: outIdx, data: outData };
}

/** Values at sorted positions of a 1-D dataset: one bounded read per run of nearby positions. */
function gatherValues(ctx: H5Context, ds: H5Dataset, positions: Float64Array): Float32Array | Float64Array {
  const out = valuesArrayFor(ctx, ds, positions.length);
  let i = 0;
  while (i < positions.length) {
    const lo = positions[i];
    let j = i;
    while (j + 1 < positions.length && positions[j + 1] - lo < MAX_ELEMENTS_PER_READ) j++;
    const hi = positions[j] + 1;
    const buf = valuesArrayFor(ctx, ds, hi - lo);
    ctx.readNumericInto(ds, lo, hi, buf, 0);
    for (let k = i; k <= j; k++) out[k] = buf[positions[k] - lo];
    i = j + 1;
  }
  return out;
}

function grow(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

/**
 * Elements per HDF5 call when reading straight into a preallocated output: small enough that the WASM heap
 * (which never shrinks, and adds to the process's peak memory) stays near its initial size, large enough that
 * the per-call cost is negligible.
 */
const BULK_PIECE = 1 << 20;

/**
 * A whole matrix (or rows [0, maxRows)) as one CSR, read in blocks of `blockRows` rows. For CSR storage the
 * output is allocated once from indptr and each block is read straight into it (no per-block copies).
 */
export function readMatrixAll(
  ctx: H5Context, m: MatrixLocation, opts: { blockRows?: number; maxRows?: number; onBlock?: (rowsDone: number) => void } = {},
): CsrMatrix {
  const nRows = Math.min(m.info.shape[0], opts.maxRows ?? Infinity);
  const blockRows = Math.max(1, opts.blockRows ?? 4096);
  if (m.info.encoding === 'csr') {
    const { data, indices, indptr } = m.sparse!;
    const ptr = readIndptr(ctx, indptr, 0, nRows);
    checkIndptr(ctx, m, ptr, 0);
    const base = ptr[0];
    const outPtr = new Int32Array(nRows + 1);
    for (let i = 0; i <= nRows; i++) outPtr[i] = ptr[i] - base;
    const nnz = outPtr[nRows];
    const outIdx = new Int32Array(nnz);
    const outData = valuesArrayFor(ctx, data, nnz);
    for (let r0 = 0; r0 < nRows; r0 += blockRows) {
      const r1 = Math.min(nRows, r0 + blockRows);
      ctx.readNumericInto(indices, ptr[r0], ptr[r1], outIdx, outPtr[r0], BULK_PIECE);
      ctx.readNumericInto(data, ptr[r0], ptr[r1], outData, outPtr[r0], BULK_PIECE);
      checkColumnIndices(ctx, m, outPtr, outIdx, 0, r0, r1);
      opts.onBlock?.(r1);
    }
    return { nRows, nCols: m.info.shape[1], indptr: outPtr, indices: outIdx, data: outData };
  }
  // Dense and CSC: blocks are produced separately, then joined. CSC takes one pass over the file per block,
  // so it is read in one block when that fits comfortably.
  const step = m.info.encoding === 'csc' ? Math.max(blockRows, nRows) : blockRows;
  const blocks: CsrMatrix[] = [];
  for (let r0 = 0; r0 < nRows; r0 += step) {
    const r1 = Math.min(nRows, r0 + step);
    blocks.push(readMatrixRows(ctx, m, r0, r1));
    opts.onBlock?.(r1);
  }
  return concatRows(blocks, nRows, m.info.shape[1]);
}

export function concatRows(blocks: CsrMatrix[], nRows: number, nCols: number): CsrMatrix {
  if (blocks.length === 1) return blocks[0];
  let nnz = 0;
  for (const b of blocks) nnz += b.indptr[b.nRows];
  const f64 = blocks.some(b => b.data instanceof Float64Array);
  const indptr = new Int32Array(nRows + 1);
  const indices = new Int32Array(nnz);
  const data = f64 ? new Float64Array(nnz) : new Float32Array(nnz);
  let row = 0;
  let at = 0;
  for (const b of blocks) {
    for (let i = 1; i <= b.nRows; i++) indptr[row + i] = at + b.indptr[i];
    indices.set(b.indices, at);
    data.set(b.data, at);
    row += b.nRows;
    at += b.indptr[b.nRows];
  }
  return { nRows, nCols, indptr, indices, data };
}
