/**
 * The in-memory shapes of what an .h5ad holds, shared by the reader, the writer, the recipes and the views.
 * They do not depend on the on-disk encoding (anndata <= 0.6, 0.7, >= 0.8): the reader maps all to these.
 */
import type { CsrMatrix } from '../sparse';

export type Column =
  | { kind: 'categorical'; name: string; categories: string[]; /** -1 = missing */ codes: Int32Array; ordered: boolean }
  | { kind: 'string'; name: string; values: string[] }
  | { kind: 'numeric'; name: string; dtype: string; values: Float64Array }
  | { kind: 'boolean'; name: string; values: Uint8Array }
  | { kind: 'nullable-integer'; name: string; values: Float64Array; /** 1 = missing */ mask: Uint8Array }
  | { kind: 'nullable-boolean'; name: string; values: Uint8Array; /** 1 = missing */ mask: Uint8Array };

export type ColumnKind = Column['kind'];

export interface DataFrame {
  /** obs_names / var_names */
  index: string[];
  /** the index column's name on disk (`_index` for anndata >= 0.7, `index` for older files) */
  indexName: string;
  columns: Column[];
}

export type MatrixEncoding = 'dense' | 'csr' | 'csc';

export interface MatrixInfo {
  encoding: MatrixEncoding;
  /** numpy-style dtype of the stored values: float32, float64, int32, int64, uint16... */
  dtype: string;
  shape: [number, number];
  /** stored values for sparse matrices; rows*cols for dense */
  nnz: number;
  /** filter names on the values dataset: gzip, lzf, ... (empty when uncompressed) */
  compression: string[];
}

export interface ColumnSummary {
  name: string;
  kind: ColumnKind;
  dtype?: string;
  nCategories?: number;
  /** the first categories (at most 50), for display */
  categories?: string[];
  nMissing?: number;
}

export type AnnDataEncoding = 'anndata<=0.6' | 'anndata-0.7' | 'anndata>=0.8';

export interface DatasetSummary {
  path: string;
  fileSize: number;
  encoding: AnnDataEncoding;
  nObs: number;
  nVars: number;
  /** null when the file has no X */
  X: MatrixInfo | null;
  layers: Record<string, MatrixInfo>;
  raw: { nVars: number; X: MatrixInfo | null; var: ColumnSummary[] } | null;
  obs: ColumnSummary[];
  var: ColumnSummary[];
  /** `encoding`: array, csr, csc, dataframe, or compound-member (anndata <= 0.6 kept all of obsm in one compound dataset) */
  obsm: { name: string; shape: number[]; dtype: string; encoding?: string }[];
  uns: string[];
  /** set when the file is an output of scWorkbench's Preprocess (read from uns[PROVENANCE_KEY]) */
  provenance?: { recipe: string; inputFile: string; inputSha256: string; toolVersion: string };
}

/** The uns key under which Preprocess records how a file was made. */
export const PROVENANCE_KEY = 'scwb_preprocess';

/** A problem with an input file, named together with the file. Shown as is to users. */
export class H5adError extends Error {
  constructor(readonly file: string, readonly problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'H5adError';
  }
}

export interface ReadAllOptions {
  blockRows?: number;
  maxRows?: number;
  onBlock?: (rowsDone: number) => void;
}

/** The reader's contract: everything is read lazily; X (or a layer) is read in row blocks. */
export interface AnnDataReader {
  readonly path: string;
  summary(): DatasetSummary;
  obs(): DataFrame;
  var(): DataFrame;
  /** raw/var when the file has raw */
  rawVar(): DataFrame | null;
  /**
   * Rows [start, end) of X (`matrix` undefined), a layer (`layers/<name>`) or `raw/X`, as CSR with a local indptr.
   * Dense and CSC storage are converted; values keep float32 unless the file stores float64.
   */
  readRows(start: number, end: number, matrix?: string): CsrMatrix;
  /**
   * The whole matrix (or its first `maxRows` rows) as one CSR, read in blocks of `blockRows` rows (default 4096);
   * `onBlock` hears the rows done so far.
   */
  readAllRows(matrix?: string, opts?: ReadAllOptions): CsrMatrix;
  /** An obsm entry (an embedding) as a dense row-major array. */
  readObsm(name: string): { shape: number[]; data: Float32Array | Float64Array };
  close(): void;
}
