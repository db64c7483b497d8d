/**
 * Pure operations on CSR row blocks, the building blocks of every recipe. A block never grows into a dense
 * cells x genes matrix: the largest dense buffer is one row of output genes.
 */
import type { CsrMatrix } from '../sparse';
import { H5adError } from '../h5ad/types';

/** A CSR block whose values are float64 (intermediate results keep full precision until written). */
export interface CsrBlock extends CsrMatrix {
  readonly data: Float64Array;
}

/**
 * Moves each stored value to column `colMap[c]` (-1 drops it). Values that land on the same output column are
 * summed, which is how duplicate gene names in the data are merged into one reference column. Output rows have
 * ascending indices and no explicit zeros, whatever the input's order.
 *
 * Each row is scattered into a bitmap over the output columns plus a value accumulator; walking the bitmap's
 * words in order then yields the row's columns already sorted, at a cost of nOut / 32 word reads per row, far
 * less than sorting the row (scBERT maps 20,000 data genes onto a shuffled 16,906-gene reference). A map that
 * keeps the columns' order (a selection) needs neither on rows stored in ascending order: they are copied.
 */
export function remapColumns(block: CsrMatrix, colMap: Int32Array, nOut: number): CsrBlock {
  if (colMap.length !== block.nCols) throw new Error(`column map has ${colMap.length} entries for ${block.nCols} columns`);
  const inPtr = block.indptr;
  const inIdx = block.indices;
  const inData = block.data;
  const orderKeeping = keepsOrder(colMap);
  const words = new Int32Array((nOut + 31) >>> 5);
  const acc = new Float64Array(nOut);
  const indptr = new Int32Array(block.nRows + 1);
  // Upper bound: every stored value kept.
  const indices = new Int32Array(inPtr[block.nRows]);
  const data = new Float64Array(indices.length);
  let nnz = 0;
  for (let r = 0; r < block.nRows; r++) {
    const s = inPtr[r];
    const e = inPtr[r + 1];
    if (orderKeeping) {
      // Copy while the row's input columns ascend; a row stored out of order falls through to the bitmap.
      const rowStart = nnz;
      let last = -1;
      let k = s;
      for (; k < e; k++) {
        const col = inIdx[k];
        if (col <= last) break;
        last = col;
        const c = colMap[col];
        const v = inData[k];
        if (c < 0 || v === 0) continue;
        indices[nnz] = c;
        data[nnz] = v;
        nnz++;
      }
      if (k === e) {
        indptr[r + 1] = nnz;
        continue;
      }
      nnz = rowStart;
    }
    let lo = words.length;
    let hi = -1;
    for (let k = s; k < e; k++) {
      const c = colMap[inIdx[k]];
      if (c < 0) continue;
      const w = c >>> 5;
      const bit = 1 << (c & 31);
      if (words[w] & bit) acc[c] += inData[k];
      else {
        words[w] |= bit;
        acc[c] = inData[k];
        if (w < lo) lo = w;
        if (w > hi) hi = w;
      }
    }
    for (let w = lo; w <= hi; w++) {
      let bits = words[w];
      if (bits === 0) continue;
      words[w] = 0;
      const base = w << 5;
      while (bits !== 0) {
        const lowest = bits & -bits;
        bits ^= lowest;
        const c = base + 31 - Math.clz32(lowest);
        const v = acc[c];
        if (v === 0) continue;
        indices[nnz] = c;
        data[nnz] = v;
        nnz++;
      }
    }
    indptr[r + 1] = nnz;
  }
  return { nRows: block.nRows, nCols: nOut, indptr, indices: indices.subarray(0, nnz), data: data.subarray(0, nnz) };
}

/** Whether the kept columns (>= 0) map to strictly increasing outputs: then sorted rows stay sorted and unmerged. */
function keepsOrder(colMap: Int32Array): boolean {
  let last = -1;
  for (let c = 0; c < colMap.length; c++) {
    const o = colMap[c];
    if (o < 0) continue;
    if (o <= last) return false;
    last = o;
  }
  return true;
}

/** Keeps the rows whose flag is set, in order. */
export function selectRows(block: CsrBlock, keep: Uint8Array): CsrBlock {
  let nRows = 0;
  let nnz = 0;
  for (let r = 0; r < block.nRows; r++) {
    if (keep[r]) {
      nRows++;
      nnz += block.indptr[r + 1] - block.indptr[r];
    }
  }
  const indptr = new Int32Array(nRows + 1);
  const indices = new Int32Array(nnz);
  const data = new Float64Array(nnz);
  let row = 0;
  let at = 0;
  for (let r = 0; r < block.nRows; r++) {
    if (!keep[r]) continue;
    const s = block.indptr[r];
    const e = block.indptr[r + 1];
    indices.set(block.indices.subarray(s, e), at);
    data.set(block.data.subarray(s, e), at);
    at += e - s;
    indptr[++row] = at;
  }
  return { nRows, nCols: block.nCols, indptr, indices, data };
}

/** Sum of each row's values. */
export function rowSums(block: CsrBlock): Float64Array {
  const out = new Float64Array(block.nRows);
  for (let r = 0; r < block.nRows; r++) {
    let s = 0;
    for (let k = block.indptr[r]; k < block.indptr[r + 1]; k++) s += block.data[k];
    out[r] = s;
  }
  return out;
}

/** Number of values > 0 in each row (scanpy counts expressed genes as X > 0). */
export function rowPositives(block: CsrBlock): Int32Array {
  const out = new Int32Array(block.nRows);
  for (let r = 0; r < block.nRows; r++) {
    let n = 0;
    for (let k = block.indptr[r]; k < block.indptr[r + 1]; k++) if (block.data[k] > 0) n++;
    out[r] = n;
  }
  return out;
}

/**
 * scanpy's normalize_total(target_sum) followed by log1p, per row: x / (total / targetSum), then
 * log(1 + x) / log(base) (base e when `logBase` is undefined). A row with total 0 stays zero.
 */
export function normalizeLog(block: CsrBlock, targetSum: number | null, logBase: number | undefined): CsrBlock {
  const data = new Float64Array(block.data.length);
  const logs = new RowLogs(targetSum, logBase);
  for (let r = 0; r < block.nRows; r++) logs.row(block.data, block.indptr[r], block.indptr[r + 1], data, block.indptr[r]);
  return { ...block, data };
}

/** Counts below this are looked up per row instead of recomputing the logarithm. */
const SMALL_COUNTS = 256;

/**
 * One row of normalize_total + log1p: x / (total / targetSum), then log1p, divided by log(base). Raw counts
 * repeat a handful of small integers within a row, and equal x give equal results, so the result for each
 * small integer x is computed once per row and reused (the logarithm is most of the cost otherwise).
 */
class RowLogs {
  private readonly logDivisor: number;
  private readonly known = new Float64Array(SMALL_COUNTS);
  /** the row number for which `known[x]` holds x's result */
  private readonly knownIn = new Float64Array(SMALL_COUNTS).fill(-1);
  private rowNumber = 0;

  constructor(private readonly targetSum: number | null, private readonly logBase: number | undefined) {
    this.logDivisor = logBase === undefined ? 1 : Math.log(logBase);
  }

  /** Writes the results for in[s..e) to out[at..]. */
  row(values: ArrayLike<number>, s: number, e: number, out: Float32Array | Float64Array, at: number): void {
    const targetSum = this.targetSum;
    const logBase = this.logBase;
    const logDivisor = this.logDivisor;
    const known = this.known;
    const knownIn = this.knownIn;
    const rowNumber = this.rowNumber++;
    let scale = 1;
    if (targetSum !== null) {
      let total = 0;
      for (let k = s; k < e; k++) total += values[k];
      scale = total === 0 ? 1 : total / targetSum;
    }
    for (let k = s; k < e; k++) {
      const x = values[k];
      const small = x > 0 && x < SMALL_COUNTS && (x | 0) === x;
      if (small && knownIn[x] === rowNumber) {
        out[at++] = known[x];
        continue;
      }
      const v = targetSum === null ? x : x / scale;
      const y = logBase === undefined ? Math.log1p(v) : Math.log1p(v) / logDivisor;
      if (small) {
        known[x] = y;
        knownIn[x] = rowNumber;
      }
      out[at++] = y;
    }
  }
}

/**
 * The kept rows, normalised and logged as `normalizeLog`, rounded to float32 as written to X: the same values
 * as toFloat32(normalizeLog(selectRows(block, keep), targetSum, logBase)) in one pass and one output buffer.
 */
export function keepNormalizeLogFloat32(block: CsrBlock, keep: Uint8Array, targetSum: number | null, logBase: number | undefined): CsrMatrix {
  const { indptr: inPtr, indices: inIdx, data: inData } = block;
  let nRows = 0;
  let nnz = 0;
  for (let r = 0; r < block.nRows; r++) {
    if (keep[r]) {
      nRows++;
      nnz += inPtr[r + 1] - inPtr[r];
    }
  }
  const indptr = new Int32Array(nRows + 1);
  const allKept = nRows === block.nRows && inPtr[0] === 0;
  const indices = allKept ? inIdx.subarray(0, nnz) : new Int32Array(nnz);
  const data = new Float32Array(nnz);
  const logs = new RowLogs(targetSum, logBase);
  let row = 0;
  let at = 0;
  for (let r = 0; r < block.nRows; r++) {
    if (!keep[r]) continue;
    const s = inPtr[r];
    const e = inPtr[r + 1];
    if (!allKept) indices.set(inIdx.subarray(s, e), at);
    logs.row(inData, s, e, data, at);
    at += e - s;
    indptr[++row] = at;
  }
  return { nRows, nCols: block.nCols, indptr, indices, data };
}

/** The block's values rounded to float32, as written to X. */
export function toFloat32(block: CsrBlock): CsrMatrix {
  return { nRows: block.nRows, nCols: block.nCols, indptr: block.indptr, indices: block.indices, data: Float32Array.from(block.data) };
}

/** Float64 view of any CSR block (a copy when the values are float32). */
export function toFloat64(block: CsrMatrix): CsrBlock {
  const data = block.data instanceof Float64Array ? block.data : Float64Array.from(block.data);
  return { nRows: block.nRows, nCols: block.nCols, indptr: block.indptr, indices: block.indices, data };
}

/** What the recipe expects the input values to be. */
export type InputExpectation = 'counts' | 'log-normalized';

/**
 * Guards a recipe against input it would process wrongly. Checked per block while streaming (only the columns the
 * recipe uses); `finish()` does the checks that need the whole matrix.
 */
export class InputCheck {
  private nonInteger = false;
  private positives = 0;
  private maxValue = 0;

  constructor(
    private readonly file: string,
    private readonly expectation: InputExpectation,
    private readonly geneNames: readonly string[],
    /** how to tell the user to switch expectation, e.g. 'set "inputIsLogNormalized": true' */
    private readonly hint: string,
  ) {}

  /** `colMap` marks the used source columns (>= 0); `firstRow` is the block's first row in the file. */
  check(block: CsrMatrix, colMap: Int32Array, firstRow: number): void {
    if (this.expectation === 'counts') {
      // Counts pass as long as every used value is a finite non-negative integer; the first one that is not goes
      // through the full check below, which names the problem. (positives and maxValue only serve log-normalised input.)
      const { indices, data } = block;
      const end = block.indptr[block.nRows];
      let k = block.indptr[0];
      for (; k < end; k++) {
        const v = data[k];
        if (v >= 0 && v < Infinity && Math.floor(v) === v) continue;
        if (colMap[indices[k]] >= 0) break;
      }
      if (k === end) return;
    }
    for (let r = 0; r < block.nRows; r++) {
      for (let k = block.indptr[r]; k < block.indptr[r + 1]; k++) {
        const c = block.indices[k];
        if (colMap[c] < 0) continue;
        const v = block.data[k];
        if (!Number.isFinite(v)) this.fail(`holds ${v} at cell ${firstRow + r}, gene ${this.geneNames[c]}; remove or fix non-finite values first`);
        if (v < 0) {
          this.fail(`holds a negative value (${v}) at cell ${firstRow + r}, gene ${this.geneNames[c]}: ` +
            'the recipe needs raw counts or log-normalised values, not scaled or centred data');
        }
        if (v > 0) this.positives++;
        if (v > this.maxValue) this.maxValue = v;
        if (!this.nonInteger && v !== Math.floor(v)) {
          this.nonInteger = true;
          if (this.expectation === 'counts') {
            this.fail(`expects raw counts, but the input holds non-integer values (e.g. ${v} at cell ${firstRow + r}, ` +
              `gene ${this.geneNames[c]}); it looks normalised or log-transformed already` + (this.hint ? `; ${this.hint}` : ''));
          }
        }
      }
    }
  }

  finish(): void {
    if (this.expectation === 'log-normalized' && !this.nonInteger && this.positives > 0) {
      this.fail(`expects log-normalised values, but every value is an integer (max ${this.maxValue}): ` +
        `these look like raw counts` + (this.hint ? `; ${this.hint}` : ''));
    }
  }

  private fail(problem: string): never {
    throw new H5adError(this.file, problem);
  }
}
