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
 */
export function remapColumns(block: CsrMatrix, colMap: Int32Array, nOut: number): CsrBlock {
  if (colMap.length !== block.nCols) throw new Error(`column map has ${colMap.length} entries for ${block.nCols} columns`);
  const acc = new Float64Array(nOut);
  const touched = new Int32Array(nOut);
  const seen = new Uint8Array(nOut);
  const indptr = new Int32Array(block.nRows + 1);
  // Upper bound: every stored value kept.
  let indices = new Int32Array(block.indptr[block.nRows]);
  let data = new Float64Array(indices.length);
  let nnz = 0;
  for (let r = 0; r < block.nRows; r++) {
    let nTouched = 0;
    for (let k = block.indptr[r]; k < block.indptr[r + 1]; k++) {
      const c = colMap[block.indices[k]];
      if (c < 0) continue;
      if (!seen[c]) {
        seen[c] = 1;
        touched[nTouched++] = c;
      }
      acc[c] += block.data[k];
    }
    const cols = touched.subarray(0, nTouched).sort();
    for (let i = 0; i < nTouched; i++) {
      const c = cols[i];
      const v = acc[c];
      acc[c] = 0;
      seen[c] = 0;
      if (v === 0) continue;
      indices[nnz] = c;
      data[nnz] = v;
      nnz++;
    }
    indptr[r + 1] = nnz;
  }
  indices = indices.slice(0, nnz);
  data = data.slice(0, nnz);
  return { nRows: block.nRows, nCols: nOut, indptr, indices, data };
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
  const logDivisor = logBase === undefined ? 1 : Math.log(logBase);
  for (let r = 0; r < block.nRows; r++) {
    const s = block.indptr[r];
    const e = block.indptr[r + 1];
    let scale = 1;
    if (targetSum !== null) {
      let total = 0;
      for (let k = s; k < e; k++) total += block.data[k];
      scale = total === 0 ? 1 : total / targetSum;
    }
    for (let k = s; k < e; k++) {
      const v = targetSum === null ? block.data[k] : block.data[k] / scale;
      data[k] = logBase === undefined ? Math.log1p(v) : Math.log1p(v) / logDivisor;
    }
  }
  return { ...block, data };
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
