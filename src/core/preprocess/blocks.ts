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
 * summed, which is how duplicate gene names in the data are merged into one reference column (scbert with
 * `duplicateGenes: "sum"`). Output rows have ascending indices and no explicit zeros, whatever the input's order.
 *
 * Each row is scattered into a bitmap over the output columns plus a value accumulator; walking the bitmap's
 * words in order then yields the row's columns already sorted, at a cost of nOut / 32 word reads per row, far
 * less than sorting the row (scBERT maps 20,000 data genes onto a shuffled 16,906-gene reference). A map that
 * keeps the columns' order (a selection) needs neither on rows stored in ascending order: they are copied.
 */
export function remapColumns(block: CsrMatrix, colMap: Int32Array, nOut: number, scratch?: BlockScratch): CsrBlock {
  if (colMap.length !== block.nCols) throw new Error(`column map has ${colMap.length} entries for ${block.nCols} columns`);
  const inPtr = block.indptr;
  const inIdx = block.indices;
  const inData = block.data;
  const orderKeeping = keepsOrder(colMap);
  const { words, acc } = scratch ? scratch.accumulator(nOut) : newAccumulator(nOut);
  const indptr = new Int32Array(block.nRows + 1);
  // Upper bound: every stored value kept.
  const { indices, data } = scratch ? scratch.values(inPtr[block.nRows] - inPtr[0]) : newValues(inPtr[block.nRows] - inPtr[0]);
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

/**
 * Memory that a pass reuses from block to block for its intermediate blocks: allocating tens of MB per block
 * costs page faults and garbage collection comparable to the arithmetic. A block computed into a scratch is
 * valid until the next block is computed into the same scratch, so it must never reach a sink.
 */
export class BlockScratch {
  private indices = new Int32Array(0);
  private data = new Float64Array(0);
  private words = new Int32Array(0);
  private acc = new Float64Array(0);

  values(n: number): { indices: Int32Array; data: Float64Array } {
    if (this.indices.length < n) {
      const size = Math.ceil(n * 1.25);
      this.indices = new Int32Array(size);
      this.data = new Float64Array(size);
    }
    return { indices: this.indices, data: this.data };
  }

  /** A zeroed bitmap and accumulator over `nOut` columns (remapColumns leaves them zeroed after each row). */
  accumulator(nOut: number): { words: Int32Array; acc: Float64Array } {
    const nWords = (nOut + 31) >>> 5;
    if (this.words.length !== nWords) this.words = new Int32Array(nWords);
    if (this.acc.length !== nOut) this.acc = new Float64Array(nOut);
    return { words: this.words, acc: this.acc };
  }
}

function newValues(n: number): { indices: Int32Array; data: Float64Array } {
  return { indices: new Int32Array(n), data: new Float64Array(n) };
}

function newAccumulator(nOut: number): { words: Int32Array; acc: Float64Array } {
  return { words: new Int32Array((nOut + 31) >>> 5), acc: new Float64Array(nOut) };
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

  private scale = 1;

  /** Writes the results for values[s..e) to out[at..]. */
  row(values: ArrayLike<number>, s: number, e: number, out: Float32Array | Float64Array, at: number): void {
    this.begin(values, s, e);
    for (let k = s; k < e; k++) out[at++] = this.of(values[k]);
  }

  /** Starts the row values[s..e): its total sets the scale. */
  begin(values: ArrayLike<number>, s: number, e: number): void {
    this.rowNumber++;
    this.scale = 1;
    if (this.targetSum !== null) {
      let total = 0;
      for (let k = s; k < e; k++) total += values[k];
      this.scale = total === 0 ? 1 : total / this.targetSum;
    }
  }

  /** The result for one value x of the current row. */
  of(x: number): number {
    const small = x > 0 && x < SMALL_COUNTS && (x | 0) === x;
    if (small && this.knownIn[x] === this.rowNumber) return this.known[x];
    const v = this.targetSum === null ? x : x / this.scale;
    const y = this.logBase === undefined ? Math.log1p(v) : Math.log1p(v) / this.logDivisor;
    if (small) {
      this.known[x] = y;
      this.knownIn[x] = this.rowNumber;
    }
    return y;
  }
}

/**
 * The rows of X as written: the kept rows, normalised and logged as `normalizeLog` (unless `transform` is null),
 * restricted to an order-keeping column selection when one is given, rounded to float32. The same values as
 * toFloat32(remapColumns(normalizeLog(selectRows(block, keep), ...), select.colMap, select.nOut)) (each step
 * only when asked for) in one pass into one fresh output, which a sink may keep. Rows must be sorted, as
 * remapColumns leaves them; the row totals of the normalisation are over all of the block's columns.
 */
export function keptRowsFloat32(
  block: CsrBlock, keep: Uint8Array, transform: { targetSum: number | null; logBase?: number } | null,
  select?: { colMap: Int32Array; nOut: number },
): CsrMatrix {
  const { indptr: inPtr, indices: inIdx, data: inData } = block;
  if (select && (select.colMap.length !== block.nCols || !keepsOrder(select.colMap))) {
    throw new Error('the column selection must keep the order of the block\'s columns');
  }
  const colMap = select?.colMap;
  let nRows = 0;
  // Exact without a selection; an upper bound with one (the output is cut to size at the end).
  let nnz = 0;
  for (let r = 0; r < block.nRows; r++) {
    if (!keep[r]) continue;
    nRows++;
    nnz += inPtr[r + 1] - inPtr[r];
  }
  const indptr = new Int32Array(nRows + 1);
  const indices = new Int32Array(nnz);
  const data = new Float32Array(nnz);
  const logs = transform ? new RowLogs(transform.targetSum, transform.logBase) : null;
  let row = 0;
  let at = 0;
  for (let r = 0; r < block.nRows; r++) {
    if (!keep[r]) continue;
    const s = inPtr[r];
    const e = inPtr[r + 1];
    if (!colMap) {
      indices.set(inIdx.subarray(s, e), at);
      if (logs) logs.row(inData, s, e, data, at);
      else data.set(inData.subarray(s, e), at);
      at += e - s;
    } else {
      // The normalisation's total is over the whole row; only the selected values are transformed.
      logs?.begin(inData, s, e);
      for (let k = s; k < e; k++) {
        const c = colMap[inIdx[k]];
        if (c < 0) continue;
        const v = logs ? logs.of(inData[k]) : inData[k];
        if (v === 0) continue;
        indices[at] = c;
        data[at] = v;
        at++;
      }
    }
    indptr[++row] = at;
  }
  const nOut = select ? select.nOut : block.nCols;
  if (at !== nnz) return { nRows, nCols: nOut, indptr, indices: indices.slice(0, at), data: data.slice(0, at) };
  return { nRows, nCols: nOut, indptr, indices, data };
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

/**
 * What the recipe expects the input values to be: integer counts, normalised values (TPM, FPKM, CPM: any finite
 * non-negative value) or log-normalised values (non-integer).
 */
export type InputExpectation = 'counts' | 'normalized' | 'log-normalized';

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
    /** how to tell the user to switch expectation, e.g. 'set "input": "normalized"' */
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
            'the recipe needs raw counts, normalised (TPM, FPKM, CPM) or log-normalised values, not scaled or centred data');
        }
        if (v > 0) this.positives++;
        if (v > this.maxValue) this.maxValue = v;
        if (!this.nonInteger && v !== Math.floor(v)) {
          this.nonInteger = true;
          if (this.expectation === 'counts') {
            this.fail(`expects raw counts, but the input holds non-integer values (e.g. ${v} at cell ${firstRow + r}, ` +
              `gene ${this.geneNames[c]}); it looks normalised (TPM, FPKM, CPM) or log-transformed already` + (this.hint ? `; ${this.hint}` : ''));
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
