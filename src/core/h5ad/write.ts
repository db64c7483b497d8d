/**
 * The .h5ad writer: anndata >= 0.8 encoding, X (and layers) streamed in row blocks, atomic output.
 *
 * Encoding. Every group and dataset carries `encoding-type`/`encoding-version` as anndata >= 0.8 writes them:
 * root `anndata` 0.1.0; X and layers `csr_matrix` 0.1.0 with an int64 `shape` attribute; obs/var `dataframe`
 * 0.2.0 (`_index`, `column-order`); columns `categorical` 0.2.0 (codes int8/int16/int32 by the number of
 * categories, -1 = missing; categories a string-array; `ordered`), `string-array` 0.2.0, `array` 0.2.0,
 * `nullable-integer` / `nullable-boolean` 0.1.0 (values + mask); obsm entries dense `array` 0.2.0; uns a `dict`
 * 0.1.0 of `string` / `numeric-scalar` 0.2.0 scalars, arrays and nested dicts. No raw is written.
 *
 * Booleans. anndata stores booleans as numpy bool, which HDF5 knows as an enum {FALSE: 0, TRUE: 1} over int8,
 * and h5wasm cannot create enum types. A plain uint8 is not enough: anndata 0.8 hands the categorical `ordered`
 * attribute to pandas, which rejects anything but a real bool (`np.uint8(0)` fails with "'ordered' must either
 * be 'True' or 'False'"); pandas also rejects a uint8 `mask` for nullable columns. Other encodings were weighed
 * and dropped: leaving `ordered` out fails in every anndata (it is read without a default); a string or int8
 * fails the same pandas check; the 0.7-era dataframe encoding (codes with a reference to `__categories`) reads
 * `ordered` leniently but is a legacy format. So the writer writes every boolean (the `ordered` attribute,
 * boolean columns, nullable masks and values, boolean uns scalars) as a stand-in type of the same encoded size,
 * and after closing the file rewrites each stand-in's datatype message into the real bool enum and fixes the
 * object header checksum (write-bool-enum.ts). The result is byte-for-byte the type h5py writes for numpy bool:
 * anndata 0.8 and >= 0.9 read `ordered` as bool, boolean columns as bool, nullable columns as pandas
 * BooleanArray/IntegerArray, and any HDF5 reader (h5py, h5wasm) sees an ordinary bool enum.
 *
 * Streaming. X's `data` and `indices` are chunked datasets with an unlimited maximum size, grown as row blocks
 * are appended, so the number of rows need not be known in advance (cells get filtered). Only whole chunks are
 * written; the rest of a block waits in memory for the next one (rewriting a partly filled chunk made streaming
 * 4x slower). Memory holds one block, one chunk and the row pointers (8 bytes per row); collecting all blocks
 * and writing at the end would need the whole matrix in memory (and in the 2 GiB WASM heap). `indptr` is written at finish (int32 while the number of
 * stored values fits, else int64). gzip (optional) applies to the numeric datasets; HDF5 cannot compress
 * variable-length strings, so string columns are stored uncompressed, as anndata does.
 *
 * Atomic output. Everything goes to `.<name>.tmp-<pid>-<random>.h5ad` in the target's folder and is renamed
 * onto the target only after the file is complete and closed; `abort()` or any error removes the temp file.
 * The writer refuses a target that exists (unless `overwrite`) and never writes over a path in `protect`.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { loadH5Wasm, H5Wasm } from './h5wasm';
import { describeHdf5Error } from './read-hdf5';
import { Column, DataFrame, H5adError } from './types';
import { CsrMatrix } from '../sparse';
import { BOOL_PLACEHOLDER_DTYPE, boolPlaceholderData, patchBoolPlaceholders } from './write-bool-enum';

type H5File = InstanceType<H5Wasm['File']>;
type H5Group = InstanceType<H5Wasm['Group']>;
type H5Dataset = InstanceType<H5Wasm['Dataset']>;

/** Row-major dense matrix (obsm entries). */
export interface DenseMatrix {
  nRows: number;
  nCols: number;
  data: Float32Array | Float64Array;
}

/**
 * What uns may hold. Numbers: integral values become int64 scalars, others float64; plain number arrays become
 * float64 arrays (typed arrays keep their type); booleans become numpy bools.
 */
export type UnsValue =
  | string
  | number
  | boolean
  | string[]
  | number[]
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint8Array
  | UnsDict;
export interface UnsDict {
  [key: string]: UnsValue;
}

export interface H5adWriterOptions {
  nVars: number;
  /** gzip level (1-9) or 'gzip' (level 4); numeric datasets only. */
  compression?: 'gzip' | number;
  /** replace an existing file at the target (never one listed in `protect`). */
  overwrite?: boolean;
  /** paths that must never be written (the inputs). */
  protect?: string[];
  /** stored dtype of X and layer values (default float32). */
  valueType?: 'float32' | 'float64';
  /** elements per chunk of the streamed X/layer datasets (default 262,144: 1 MiB of float32) */
  streamChunk?: number;
}

export interface H5adParts {
  obs: DataFrame;
  var: DataFrame;
  obsm?: Record<string, DenseMatrix>;
  uns?: UnsDict;
}

/** Default elements per chunk of the streamed 1-D datasets: 1 MiB of float32. */
const STREAM_CHUNK = 1 << 18;

interface StreamedCsr {
  group: H5Group;
  data: H5Dataset;
  indices: H5Dataset;
  /** row pointers so far, as float64 (exact to 2^53) */
  indptr: Float64Array;
  nRows: number;
  nnz: number;
  /** stored values already in the datasets: always a whole number of chunks until finish */
  flushed: number;
  /** values and indices past `flushed`, held until they fill a chunk (fewer than one chunk) */
  pendingData: Float32Array | Float64Array;
  pendingIndices: Int32Array;
}

export class H5adWriter {
  private file: H5File | null;
  private readonly matrices = new Map<string, StreamedCsr>();
  private boolCount = 0;
  private done = false;

  private constructor(
    readonly outPath: string,
    private readonly tempPath: string,
    file: H5File,
    private readonly options: H5adWriterOptions,
  ) {
    this.file = file;
  }

  static async create(outPath: string, options: H5adWriterOptions): Promise<H5adWriter> {
    const target = path.resolve(outPath);
    checkTarget(target, options);
    if (!Number.isInteger(options.nVars) || options.nVars < 0) {
      throw new H5adError(target, `number of variables must be a non-negative integer, got ${options.nVars}`);
    }
    const h5 = await loadH5Wasm();
    const tempPath = path.join(path.dirname(target),
      `.${path.basename(target, '.h5ad')}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}.h5ad`);
    removeStaleTemps(target);
    try {
      // Created by Node first, so a folder that refuses files gets its system error, not an HDF5 stack.
      fs.closeSync(fs.openSync(tempPath, 'wx'));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      throw new H5adError(target, `cannot create a file in the output folder ${path.dirname(target)} (${code}: ${fsReason(code)})`);
    }
    let file: H5File;
    try {
      file = new h5.File(tempPath, 'w');
    } catch (e) {
      fs.rmSync(tempPath, { force: true });
      throw new H5adError(target, `cannot create the output file: ${describeHdf5Error(e)}`);
    }
    const writer = new H5adWriter(target, tempPath, file, options);
    try {
      writer.matrices.set('X', writer.createStreamed(file, 'X'));
    } catch (e) {
      writer.abort();
      throw e;
    }
    return writer;
  }

  /** Rows written to X so far. */
  get nRows(): number {
    return this.matrices.get('X')!.nRows;
  }

  /** Appends a row block to X (indptr local to the block, starting at 0). */
  appendRows(block: CsrMatrix): void {
    this.guard(() => this.append(this.matrices.get('X')!, block, 'X'));
  }

  /** Appends a row block to layer `name`; every layer must end with as many rows as X. */
  addLayerRows(name: string, block: CsrMatrix): void {
    this.guard(() => {
      if (!/^[^/]+$/.test(name)) throw new H5adError(this.outPath, `layer name '${name}' must be non-empty and contain no '/'`);
      let m = this.matrices.get(`layers/${name}`);
      if (!m) {
        const file = this.file!;
        const layers = (file.get('layers') as H5Group | null) ?? this.dictGroup(file, 'layers');
        m = this.createStreamed(layers, name);
        this.matrices.set(`layers/${name}`, m);
      }
      this.append(m, block, `layer '${name}'`);
    });
  }

  /** Writes obs, var, obsm and uns, closes the file and moves it onto the target. */
  async finish(parts: H5adParts): Promise<void> {
    this.guard(() => {
      const file = this.file!;
      const nObs = this.nRows;
      for (const [key, m] of this.matrices) {
        if (m.nRows !== nObs) {
          throw new H5adError(this.outPath, `${key} has ${m.nRows} rows but X has ${nObs}`);
        }
        this.closeStreamed(m);
      }
      checkFrame(this.outPath, 'obs', parts.obs, nObs);
      checkFrame(this.outPath, 'var', parts.var, this.options.nVars);
      setEncoding(file, 'anndata', '0.1.0');
      this.writeFrame(file, 'obs', parts.obs);
      this.writeFrame(file, 'var', parts.var);
      const obsm = this.dictGroup(file, 'obsm');
      for (const [name, m] of Object.entries(parts.obsm ?? {})) {
        if (m.nRows !== nObs || m.data.length !== m.nRows * m.nCols) {
          throw new H5adError(this.outPath, `obsm '${name}' is ${m.nRows} x ${m.nCols} (${m.data.length} values) but X has ${nObs} rows`);
        }
        const ds = obsm.create_dataset({
          name, data: m.data, shape: [m.nRows, m.nCols], dtype: m.data instanceof Float32Array ? '<f4' : '<d',
          ...this.compressionFor([Math.max(1, Math.min(m.nRows, Math.ceil(STREAM_CHUNK / Math.max(1, m.nCols)))), Math.max(1, m.nCols)]),
        });
        setEncoding(ds, 'array', '0.2.0');
      }
      if (!file.get('layers')) this.dictGroup(file, 'layers');
      for (const name of ['varm', 'obsp', 'varp']) this.dictGroup(file, name);
      const uns = this.dictGroup(file, 'uns');
      this.writeDict(uns, parts.uns ?? {}, 'uns');
      file.close();
      this.file = null;
      patchBoolPlaceholders(this.tempPath, this.boolCount);
      // The target may have appeared while writing: check again right before the rename.
      checkTarget(this.outPath, this.options);
      fs.renameSync(this.tempPath, this.outPath);
      this.done = true;
    });
  }

  /** Discards everything written; the target is left untouched. Safe to call more than once. */
  abort(): void {
    if (this.file) {
      try { this.file.close(); } catch { /* the file is removed anyway */ }
      this.file = null;
    }
    if (!this.done) fs.rmSync(this.tempPath, { force: true });
    this.done = true;
  }

  /** Runs a step; on any error the temp file is removed and the writer is closed. */
  private guard(step: () => void): void {
    if (this.done || !this.file) throw new H5adError(this.outPath, 'the writer is already finished or aborted');
    try {
      step();
    } catch (e) {
      this.abort();
      if (e instanceof H5adError) throw e;
      throw new H5adError(this.outPath, `write failed: ${describeHdf5Error(e)}`);
    }
  }

  private compressionFor(chunks: number[]): { chunks?: number[]; compression?: 'gzip' | number; compression_opts?: number } {
    const c = this.options.compression;
    if (c === undefined) return {};
    return { chunks, compression: 'gzip', compression_opts: c === 'gzip' ? 4 : c };
  }

  private get chunk(): number {
    return this.options.streamChunk ?? STREAM_CHUNK;
  }

  private get valueDtype(): string {
    return this.options.valueType === 'float64' ? '<d' : '<f4';
  }

  private createStreamed(parent: H5Group, name: string): StreamedCsr {
    const group = parent.create_group(name);
    setEncoding(group, 'csr_matrix', '0.1.0');
    const common = {
      shape: [0], maxshape: [null], chunks: [this.chunk],
      ...(this.options.compression === undefined ? {} : {
        compression: 'gzip' as const, compression_opts: this.options.compression === 'gzip' ? 4 : this.options.compression,
      }),
    };
    const data = group.create_dataset({
      name: 'data', data: this.options.valueType === 'float64' ? new Float64Array(0) : new Float32Array(0),
      dtype: this.valueDtype, ...common,
    });
    const indices = group.create_dataset({ name: 'indices', data: new Int32Array(0), dtype: '<i4', ...common });
    const indptr = new Float64Array(1024);
    const pendingData = this.options.valueType === 'float64' ? new Float64Array(this.chunk) : new Float32Array(this.chunk);
    return { group, data, indices, indptr, nRows: 0, nnz: 0, flushed: 0, pendingData, pendingIndices: new Int32Array(this.chunk) };
  }

  private append(m: StreamedCsr, block: CsrMatrix, what: string): void {
    const nVars = this.options.nVars;
    if (block.nCols !== nVars) {
      throw new H5adError(this.outPath, `${what}: row block has ${block.nCols} columns, expected ${nVars}`);
    }
    const nnz = block.indptr[block.nRows];
    if (block.indptr[0] !== 0 || block.indices.length < nnz || block.data.length < nnz) {
      throw new H5adError(this.outPath, `${what}: row block is not a valid CSR (indptr must start at 0 and fit indices/data)`);
    }
    for (let i = 0; i < nnz; i++) {
      const j = block.indices[i];
      if (j < 0 || j >= nVars) throw new H5adError(this.outPath, `${what}: column index ${j} outside 0..${nVars - 1}`);
    }
    if (m.indptr.length < m.nRows + block.nRows + 1) {
      let size = m.indptr.length;
      while (size < m.nRows + block.nRows + 1) size *= 2;
      const grown = new Float64Array(size);
      grown.set(m.indptr.subarray(0, m.nRows + 1));
      m.indptr = grown;
    }
    for (let r = 1; r <= block.nRows; r++) m.indptr[m.nRows + r] = m.nnz + block.indptr[r];
    if (nnz > 0) this.stream(m, block.data.subarray(0, nnz), block.indices.subarray(0, nnz), false);
    m.nRows += block.nRows;
  }

  /**
   * Writes whole chunks only (the rest waits in `pending`): a slice that ends inside a chunk would make HDF5
   * read that chunk back and rewrite it on the next append, which more than doubles the time of a streamed write.
   */
  private stream(m: StreamedCsr, data: Float32Array | Float64Array, indices: Int32Array, final: boolean): void {
    const pending = m.nnz - m.flushed;
    const available = pending + data.length;
    const toWrite = final ? available : Math.floor(available / this.chunk) * this.chunk;
    if (toWrite > 0) {
      const values = this.options.valueType === 'float64' ? new Float64Array(toWrite) : new Float32Array(toWrite);
      const cols = new Int32Array(toWrite);
      values.set(m.pendingData.subarray(0, pending));
      cols.set(m.pendingIndices.subarray(0, pending));
      const fromBlock = toWrite - pending;
      values.set(data.subarray(0, fromBlock), pending);
      cols.set(indices.subarray(0, fromBlock), pending);
      m.data.resize([m.flushed + toWrite]);
      m.data.write_slice([[m.flushed, m.flushed + toWrite]], values);
      m.indices.resize([m.flushed + toWrite]);
      m.indices.write_slice([[m.flushed, m.flushed + toWrite]], cols);
      m.flushed += toWrite;
      m.pendingData.set(data.subarray(fromBlock));
      m.pendingIndices.set(indices.subarray(fromBlock));
    } else {
      m.pendingData.set(data, pending);
      m.pendingIndices.set(indices, pending);
    }
    m.nnz += data.length;
  }

  private closeStreamed(m: StreamedCsr): void {
    this.stream(m, m.pendingData.subarray(0, 0), m.pendingIndices.subarray(0, 0), true);
    const ptr = m.indptr.subarray(0, m.nRows + 1);
    const wide = m.nnz > 0x7fffffff;
    const data = wide ? BigInt64Array.from(ptr, v => BigInt(v)) : Int32Array.from(ptr);
    m.group.create_dataset({
      name: 'indptr', data, dtype: wide ? '<q' : '<i4',
      ...this.compressionFor([Math.max(1, Math.min(ptr.length, STREAM_CHUNK))]),
    });
    m.group.create_attribute('shape', new BigInt64Array([BigInt(m.nRows), BigInt(this.options.nVars)]), [2], '<q');
  }

  private dictGroup(parent: H5Group, name: string): H5Group {
    const g = parent.create_group(name);
    setEncoding(g, 'dict', '0.1.0');
    return g;
  }

  private boolDataset(parent: H5Group, name: string, values: Uint8Array, shape: number[]): H5Dataset {
    this.boolCount++;
    return parent.create_dataset({
      name, data: boolPlaceholderData(values) as never, shape, dtype: BOOL_PLACEHOLDER_DTYPE,
      ...(shape.length > 0 && values.length > 0 ? this.compressionFor([Math.min(values.length, STREAM_CHUNK)]) : {}),
    });
  }

  private numericDataset(parent: H5Group, name: string, values: ArrayLike<number>, dtype: string): H5Dataset {
    const spec = NUMERIC_DTYPES[dtype];
    if (!spec) throw new H5adError(this.outPath, `'${name}': unsupported numeric dtype '${dtype}'`);
    const data = spec.convert(values);
    return parent.create_dataset({
      name, data, shape: [values.length], dtype: spec.h5,
      ...(values.length > 0 ? this.compressionFor([Math.min(values.length, STREAM_CHUNK)]) : {}),
    });
  }

  private writeFrame(parent: H5Group, name: string, frame: DataFrame): void {
    const g = parent.create_group(name);
    setEncoding(g, 'dataframe', '0.2.0');
    const names = frame.columns.map(c => c.name);
    const indexName = frame.indexName && frame.indexName !== '' && !names.includes(frame.indexName) ? frame.indexName : '_index';
    g.create_attribute('_index', indexName);
    g.create_attribute('column-order', names.length > 0 ? names : new Float64Array(0), [names.length]);
    const index = g.create_dataset({ name: indexName, data: frame.index, shape: [frame.index.length], dtype: 'S' });
    setEncoding(index, 'string-array', '0.2.0');
    for (const column of frame.columns) this.writeColumn(g, column, `${name}/${column.name}`);
  }

  private writeColumn(g: H5Group, column: Column, where: string): void {
    switch (column.kind) {
      case 'categorical': {
        const c = g.create_group(column.name);
        // The stand-in goes first so it sits in the group's first object header chunk (see write-bool-enum.ts).
        this.boolCount++;
        c.create_attribute('ordered', boolPlaceholderData(new Uint8Array([column.ordered ? 1 : 0])) as never, [], BOOL_PLACEHOLDER_DTYPE);
        setEncoding(c, 'categorical', '0.2.0');
        const n = column.categories.length;
        for (const code of column.codes) {
          if (code < -1 || code >= n) throw new H5adError(this.outPath, `${where}: category code ${code} outside -1..${n - 1}`);
        }
        const codeType = n < 128 ? 'int8' : n < 32768 ? 'int16' : 'int32';
        setEncoding(this.numericDataset(c, 'codes', column.codes, codeType), 'array', '0.2.0');
        const cats = c.create_dataset({ name: 'categories', data: column.categories, shape: [n], dtype: 'S' });
        setEncoding(cats, 'string-array', '0.2.0');
        return;
      }
      case 'string': {
        const ds = g.create_dataset({ name: column.name, data: column.values, shape: [column.values.length], dtype: 'S' });
        setEncoding(ds, 'string-array', '0.2.0');
        return;
      }
      case 'numeric':
        setEncoding(this.numericDataset(g, column.name, column.values, column.dtype), 'array', '0.2.0');
        return;
      case 'boolean':
        setEncoding(this.boolDataset(g, column.name, column.values, [column.values.length]), 'array', '0.2.0');
        return;
      case 'nullable-integer': {
        const c = g.create_group(column.name);
        setEncoding(c, 'nullable-integer', '0.1.0');
        const values = Float64Array.from(column.values, (v, i) => (column.mask[i] ? 0 : v));
        this.numericDataset(c, 'values', values, 'int64');
        this.boolDataset(c, 'mask', column.mask, [column.mask.length]);
        return;
      }
      case 'nullable-boolean': {
        const c = g.create_group(column.name);
        setEncoding(c, 'nullable-boolean', '0.1.0');
        const values = Uint8Array.from(column.values, (v, i) => (column.mask[i] || !v ? 0 : 1));
        this.boolDataset(c, 'values', values, [values.length]);
        this.boolDataset(c, 'mask', column.mask, [column.mask.length]);
        return;
      }
    }
  }

  private writeDict(g: H5Group, dict: UnsDict, where: string): void {
    for (const [key, value] of Object.entries(dict)) {
      if (!/^[^/]+$/.test(key)) throw new H5adError(this.outPath, `${where}: key '${key}' must be non-empty and contain no '/'`);
      const at = `${where}/${key}`;
      if (typeof value === 'string') {
        setEncoding(g.create_dataset({ name: key, data: value, shape: [], dtype: 'S' }), 'string', '0.2.0');
      } else if (typeof value === 'number') {
        const integral = Number.isSafeInteger(value);
        const ds = g.create_dataset({
          name: key, data: integral ? new BigInt64Array([BigInt(value)]) : new Float64Array([value]),
          shape: [], dtype: integral ? '<q' : '<d',
        });
        setEncoding(ds, 'numeric-scalar', '0.2.0');
      } else if (typeof value === 'boolean') {
        setEncoding(this.boolDataset(g, key, new Uint8Array([value ? 1 : 0]), []), 'numeric-scalar', '0.2.0');
      } else if (Array.isArray(value)) {
        if (value.every((v: unknown) => typeof v === 'string')) {
          const ds = g.create_dataset({ name: key, data: value as string[], shape: [value.length], dtype: 'S' });
          setEncoding(ds, 'string-array', '0.2.0');
        } else if (value.every((v: unknown) => typeof v === 'number')) {
          setEncoding(this.numericDataset(g, key, value as number[], 'float64'), 'array', '0.2.0');
        } else {
          throw new H5adError(this.outPath, `${at}: arrays must hold only strings or only numbers`);
        }
      } else if (value instanceof Float32Array || value instanceof Float64Array || value instanceof Int32Array || value instanceof Uint8Array) {
        const dtype = value instanceof Float32Array ? 'float32' : value instanceof Float64Array ? 'float64' : value instanceof Int32Array ? 'int32' : 'uint8';
        setEncoding(this.numericDataset(g, key, value, dtype), 'array', '0.2.0');
      } else if (value && typeof value === 'object') {
        this.writeDict(this.dictGroup(g, key), value, at);
      } else {
        throw new H5adError(this.outPath, `${at}: unsupported value ${String(value)}`);
      }
    }
  }
}

/** Writes a whole AnnData at once (X and layers in one block each). */
export async function writeH5ad(
  outPath: string,
  content: H5adParts & { X: CsrMatrix; layers?: Record<string, CsrMatrix> },
  options: Omit<H5adWriterOptions, 'nVars'> = {},
): Promise<void> {
  const writer = await H5adWriter.create(outPath, { ...options, nVars: content.X.nCols });
  try {
    writer.appendRows(content.X);
    for (const [name, layer] of Object.entries(content.layers ?? {})) writer.addLayerRows(name, layer);
    await writer.finish(content);
  } finally {
    writer.abort();
  }
}

type NumericArray = Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array | BigInt64Array | BigUint64Array;

const NUMERIC_DTYPES: Record<string, { h5: string; convert: (v: ArrayLike<number>) => NumericArray }> = {
  float32: { h5: '<f4', convert: v => Float32Array.from(v) },
  float64: { h5: '<d', convert: v => Float64Array.from(v) },
  int8: { h5: '<b', convert: v => Int8Array.from(v) },
  int16: { h5: '<h', convert: v => Int16Array.from(v) },
  int32: { h5: '<i4', convert: v => Int32Array.from(v) },
  int64: { h5: '<q', convert: v => BigInt64Array.from(Array.from(v, x => BigInt(Math.trunc(x)))) },
  uint8: { h5: '<B', convert: v => Uint8Array.from(v) },
  uint16: { h5: '<H', convert: v => Uint16Array.from(v) },
  uint32: { h5: '<I', convert: v => Uint32Array.from(v) },
  uint64: { h5: '<Q', convert: v => BigUint64Array.from(Array.from(v, x => BigInt(Math.trunc(x)))) },
};

function setEncoding(obj: H5Group | H5Dataset, type: string, version: string): void {
  obj.create_attribute('encoding-type', type);
  obj.create_attribute('encoding-version', version);
}

function checkFrame(file: string, what: string, frame: DataFrame, n: number): void {
  if (frame.index.length !== n) throw new H5adError(file, `${what} has ${frame.index.length} rows, expected ${n}`);
  const seen = new Set<string>();
  for (const c of frame.columns) {
    if (!/^[^/]+$/.test(c.name)) throw new H5adError(file, `${what}: column name '${c.name}' must be non-empty and contain no '/'`);
    if (seen.has(c.name)) throw new H5adError(file, `${what}: duplicate column '${c.name}'`);
    seen.add(c.name);
    const len = c.kind === 'categorical' ? c.codes.length : c.values.length;
    if (len !== n) throw new H5adError(file, `${what}/${c.name} has ${len} values, expected ${n}`);
    if ((c.kind === 'nullable-integer' || c.kind === 'nullable-boolean') && c.mask.length !== n) {
      throw new H5adError(file, `${what}/${c.name} mask has ${c.mask.length} values, expected ${n}`);
    }
  }
}

const FS_REASONS: Record<string, string> = {
  EACCES: 'permission denied', EPERM: 'operation not permitted', EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device', EDQUOT: 'disk quota exceeded', ENOENT: 'no such folder', ENOTDIR: 'not a folder',
};

function fsReason(code: string): string {
  return FS_REASONS[code] ?? 'the system refused it';
}

/**
 * Temp files of this target left by a writer that was killed (kill -9, power loss): `.<stem>.tmp-<pid>-<hex>.h5ad`
 * whose pid no longer runs. They are removed before a new write of the same target; returns their paths.
 */
export function removeStaleTemps(target: string, opts: { ownPid?: boolean } = {}): string[] {
  const dir = path.dirname(target);
  const stem = path.basename(target, '.h5ad');
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return removed;
  }
  const prefix = `.${stem}.tmp-`;
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.h5ad')) continue;
    const m = /^(\d+)-[0-9a-f]{8}\.h5ad$/.exec(name.slice(prefix.length));
    if (!m) continue;
    // ownPid: this process's own temps (a worker thread ended before it could remove its file); else dead owners'.
    if (opts.ownPid ? Number(m[1]) !== process.pid : processExists(Number(m[1]))) continue;
    const file = path.join(dir, name);
    try {
      if (!fs.lstatSync(file).isFile()) continue;
      fs.rmSync(file, { force: true });
      removed.push(file);
    } catch {
      // Another process removed it first: nothing to do.
    }
  }
  return removed;
}

function processExists(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function checkTarget(target: string, options: H5adWriterOptions): void {
  const dir = path.dirname(target);
  let dirStat: fs.Stats;
  try {
    dirStat = fs.statSync(dir);
  } catch {
    throw new H5adError(target, `the output folder ${dir} does not exist`);
  }
  if (!dirStat.isDirectory()) throw new H5adError(target, `${dir} is not a folder`);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    throw new H5adError(target, `the output folder ${dir} is not writable`);
  }
  const real = (p: string): string => {
    try { return fs.realpathSync(p); } catch { return path.resolve(p); }
  };
  const resolved = real(target);
  for (const p of options.protect ?? []) {
    if (real(p) === resolved) throw new H5adError(target, 'refusing to write over an input file');
  }
  if (!options.overwrite && fs.existsSync(target)) {
    throw new H5adError(target, 'the output file already exists (choose another name or allow overwriting)');
  }
}

