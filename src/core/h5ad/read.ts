/**
 * Reading .h5ad files of every anndata generation with h5wasm. Opening checks that the file is HDF5 and
 * AnnData and says what it is otherwise; everything else is read lazily, X in row blocks (read-matrix.ts),
 * obs/var in any of the three dataframe encodings (read-dataframe.ts).
 */
import * as fs from 'fs';
import { PROVENANCE_KEY } from './types';
import type { CsrMatrix } from '../sparse';
import { fileKind } from '../safe-read';
import { loadH5Wasm } from './h5wasm';
import { legacyCategoryKeys, readDataFrame, summarizeColumn } from './read-dataframe';
import { H5Context, H5T, NumericArray, describeHdf5Error, dtypeName, toFloat64 } from './read-hdf5';
import { MatrixLocation, locateMatrix, readMatrixAll, readMatrixRows } from './read-matrix';
import { AnnDataEncoding, AnnDataReader, DataFrame, DatasetSummary, H5adError, MatrixInfo, ReadAllOptions } from './types';

export interface ObsmInfo {
  name: string;
  shape: number[];
  dtype: string;
  encoding: 'array' | 'csr' | 'csc' | 'dataframe' | 'compound-member';
}

const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Opens an .h5ad for reading. Throws H5adError naming the file when it cannot be read as AnnData. */
export async function openH5ad(path: string): Promise<AnnDataReader> {
  checkH5adFile(path);
  const h5 = await loadH5Wasm();
  let file: InstanceType<typeof h5.File>;
  try {
    file = new h5.File(path, 'r');
  } catch (e) {
    throw new H5adError(path, describeHdf5Error(e));
  }
  try {
    return new H5adReader(new H5Context(h5, file, path));
  } catch (e) {
    file.close();
    throw e;
  }
}

/**
 * Cheap checks before HDF5 sees the file, so that the common mistakes get plain answers. The HDF5 superblock
 * may follow a user block of 512 * 2^k bytes, hence the signature search at those offsets.
 */
export function checkH5adFile(path: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(path);
  } catch {
    throw new H5adError(path, 'file not found');
  }
  if (stat.isDirectory()) throw new H5adError(path, 'is a folder, not an .h5ad file (a zarr store? this reader reads HDF5 .h5ad only)');
  if (!stat.isFile()) {
    throw new H5adError(path, `is ${fileKind(stat)}, not an .h5ad file: only regular files are read`);
  }
  if (stat.size === 0) throw new H5adError(path, 'the file is empty');
  const fd = fs.openSync(path, 'r');
  try {
    const buf = Buffer.alloc(8);
    for (let offset = 0; offset + 8 <= stat.size; offset = offset === 0 ? 512 : offset * 2) {
      if (fs.readSync(fd, buf, 0, 8, offset) === 8 && buf.equals(HDF5_SIGNATURE)) return;
    }
  } finally {
    fs.closeSync(fd);
  }
  throw new H5adError(path, 'not an HDF5 file (no HDF5 signature): an .h5ad file must be written by anndata (AnnData.write_h5ad)');
}

class H5adReader implements AnnDataReader {
  readonly path: string;
  readonly encoding: AnnDataEncoding;
  private readonly nObs: number;
  private readonly nVars: number;
  private readonly matrices = new Map<string, MatrixLocation | null>();
  private obsFrame?: DataFrame;
  private varFrame?: DataFrame;
  private rawVarFrame?: DataFrame | null;
  private closed = false;

  constructor(private readonly ctx: H5Context) {
    this.path = ctx.path;
    const root = ctx.file;
    const keys = ctx.guard('the top-level group', () => root.keys());
    this.encoding = detectEncoding(ctx, keys);
    this.nObs = this.frameLength('obs');
    this.nVars = this.frameLength('var');
    const x = this.matrix('X');
    if (x && (x.info.shape[0] !== this.nObs || x.info.shape[1] !== this.nVars)) {
      ctx.fail(`X is ${x.info.shape.join(' x ')} but obs has ${this.nObs} rows and var ${this.nVars}`);
    }
  }

  /** Rows of obs/var from the index dataset's length, without reading the columns. */
  private frameLength(name: 'obs' | 'var'): number {
    const node = this.ctx.get(name);
    if (this.ctx.isDataset(node)) return this.ctx.shape(node)[0] ?? 0;
    if (this.ctx.isGroup(node)) {
      const indexName = this.ctx.attrString(node, '_index') ?? '_index';
      const index = this.ctx.dataset(`${name}/${indexName}`);
      if (!index) this.ctx.fail(`the dataframe '${name}' has no index dataset '${indexName}'`);
      return this.ctx.shape(index)[0] ?? 0;
    }
    return this.ctx.fail(`'${name}' is missing: not an AnnData file`);
  }

  /** A matrix by its reader name: 'X', 'layers/<name>', 'raw/X'. */
  private matrix(name: string): MatrixLocation | null {
    if (!this.matrices.has(name)) {
      const path = name === 'raw/X' && this.encoding === 'anndata<=0.6' ? 'raw.X' : name;
      this.matrices.set(name, locateMatrix(this.ctx, path));
    }
    return this.matrices.get(name)!;
  }

  private requireMatrix(name = 'X'): MatrixLocation {
    this.checkOpen();
    const m = this.matrix(name);
    if (m) return m;
    if (name === 'X') this.ctx.fail('the file has no X (no expression matrix): it holds only annotations');
    return this.ctx.fail(`the file has no matrix '${name}'`);
  }

  private checkOpen(): void {
    if (this.closed) throw new Error(`${this.path} is closed`);
  }

  obs(): DataFrame {
    this.checkOpen();
    return (this.obsFrame ??= readDataFrame(this.ctx, 'obs'));
  }

  var(): DataFrame {
    this.checkOpen();
    return (this.varFrame ??= readDataFrame(this.ctx, 'var'));
  }

  rawVar(): DataFrame | null {
    this.checkOpen();
    if (this.rawVarFrame === undefined) {
      const path = this.encoding === 'anndata<=0.6' ? 'raw.var' : 'raw/var';
      this.rawVarFrame = this.ctx.get(path) ? readDataFrame(this.ctx, path) : null;
    }
    return this.rawVarFrame;
  }

  readRows(start: number, end: number, matrix?: string): CsrMatrix {
    return readMatrixRows(this.ctx, this.requireMatrix(matrix ?? 'X'), start, end);
  }

  /** The whole matrix (or its first maxRows rows) as one CSR, read in blocks of blockRows. */
  readAllRows(matrix?: string, opts: ReadAllOptions = {}): CsrMatrix {
    return readMatrixAll(this.ctx, this.requireMatrix(matrix ?? 'X'), opts);
  }

  matrixInfo(matrix?: string): MatrixInfo | null {
    this.checkOpen();
    return this.matrix(matrix ?? 'X')?.info ?? null;
  }

  layerNames(): string[] {
    const g = this.ctx.group('layers');
    return g ? this.ctx.guard('layers', () => g.keys()) : [];
  }

  obsmInfo(): ObsmInfo[] {
    this.checkOpen();
    const node = this.ctx.get('obsm');
    if (this.ctx.isDataset(node)) {
      // anndata <= 0.6: one compound dataset with an array member per embedding.
      const meta = this.ctx.metadata(node);
      const n = this.ctx.shape(node)[0] ?? 0;
      return (meta.compound_type?.members ?? []).map(m => ({
        name: m.name,
        shape: [n, ...(m.type === H5T.ARRAY ? m.array_type?.shape ?? [] : [])],
        dtype: dtypeName(m),
        encoding: 'compound-member' as const,
      }));
    }
    if (!this.ctx.isGroup(node)) return [];
    const out: ObsmInfo[] = [];
    for (const name of this.ctx.guard('obsm', () => node.keys())) {
      const child = this.ctx.get(`obsm/${name}`);
      if (this.ctx.isDataset(child)) {
        out.push({ name, shape: this.ctx.shape(child), dtype: dtypeName(this.ctx.metadata(child)), encoding: 'array' });
      } else if (this.ctx.isGroup(child)) {
        const enc = this.ctx.attrString(child, 'encoding-type');
        if (enc === 'dataframe') {
          const index = this.ctx.attrString(child, '_index') ?? '_index';
          const rows = this.ctx.dataset(`obsm/${name}/${index}`);
          out.push({ name, shape: [rows ? this.ctx.shape(rows)[0] : this.nObs, this.ctx.attrStrings(child, 'column-order').length], dtype: 'dataframe', encoding: 'dataframe' });
        } else {
          const m = locateMatrix(this.ctx, `obsm/${name}`);
          if (m) out.push({ name, shape: m.info.shape, dtype: m.info.dtype, encoding: m.info.encoding as 'csr' | 'csc' });
        }
      }
    }
    return out;
  }

  /** An embedding (obsm entry) as a dense row-major array. */
  readObsm(name: string): { shape: number[]; data: Float32Array | Float64Array } {
    const info = this.obsmInfo().find(o => o.name === name);
    if (!info) return this.ctx.fail(`obsm has no '${name}' (it has: ${this.obsmInfo().map(o => o.name).join(', ') || 'nothing'})`);
    if (info.encoding === 'dataframe') return this.ctx.fail(`obsm/${name} is a dataframe, not a numeric embedding`);
    if (info.encoding === 'compound-member') {
      const member = this.ctx.readCompoundMembers(this.ctx.dataset('obsm')!).get(name);
      if (!member || Array.isArray(member.values)) return this.ctx.fail(`obsm/${name} holds ${info.dtype} values, not numbers`);
      const data = info.dtype === 'float64' ? member.values : Float32Array.from(member.values);
      return { shape: info.shape, data };
    }
    if (info.encoding === 'array') {
      const ds = this.ctx.dataset(`obsm/${name}`)!;
      const raw = this.ctx.readAll(ds) as NumericArray;
      if (!ArrayBuffer.isView(raw)) this.ctx.fail(`obsm/${name} holds ${info.dtype} values, not numbers`);
      const data = raw instanceof Float32Array || raw instanceof Float64Array ? raw : Float32Array.from(toFloat64(raw));
      return { shape: info.shape, data };
    }
    const m = readMatrixAll(this.ctx, locateMatrix(this.ctx, `obsm/${name}`)!);
    const data = m.data instanceof Float64Array ? new Float64Array(m.nRows * m.nCols) : new Float32Array(m.nRows * m.nCols);
    for (let r = 0; r < m.nRows; r++) for (let k = m.indptr[r]; k < m.indptr[r + 1]; k++) data[r * m.nCols + m.indices[k]] = m.data[k];
    return { shape: [m.nRows, m.nCols], data };
  }

  unsKeys(): string[] {
    const g = this.ctx.group('uns');
    if (!g) return [];
    const keys = this.ctx.guard('uns', () => g.keys());
    if (this.encoding !== 'anndata<=0.6') return keys;
    // anndata <= 0.6 kept categories in uns/<column>_categories; they belong to obs/var, not to uns.
    const frames = [this.obs(), this.var()];
    const legacy = legacyCategoryKeys(frames);
    return keys.filter(k => !legacy.has(k));
  }

  /**
   * The string scalars of a uns dict (e.g. the provenance a preprocessing run wrote); other entries are skipped.
   * Empty when the key is absent or not a dict.
   */
  unsStrings(key: string): Record<string, string> {
    const g = this.ctx.group(`uns/${key}`);
    if (!g) return {};
    const out: Record<string, string> = {};
    for (const name of this.ctx.guard(`uns/${key}`, () => g.keys())) {
      const ds = this.ctx.dataset(`uns/${key}/${name}`);
      if (!ds || ds.shape === null || ds.shape.length !== 0) continue;
      const v = this.ctx.guard(`uns/${key}/${name}`, () => ds.value);
      if (typeof v === 'string') out[name] = v;
    }
    return out;
  }

  summary(): DatasetSummary {
    this.checkOpen();
    const layers: Record<string, MatrixInfo> = {};
    for (const name of this.layerNames()) {
      const m = this.matrix(`layers/${name}`);
      if (m) layers[name] = m.info;
    }
    const rawVar = this.rawVar();
    const rawX = this.matrix('raw/X');
    return {
      path: this.path,
      fileSize: fs.statSync(this.path).size,
      encoding: this.encoding,
      nObs: this.nObs,
      nVars: this.nVars,
      X: this.matrix('X')?.info ?? null,
      layers,
      raw: rawVar || rawX ? { nVars: rawVar ? rawVar.index.length : rawX!.info.shape[1], X: rawX?.info ?? null, var: rawVar ? rawVar.columns.map(summarizeColumn) : [] } : null,
      obs: this.obs().columns.map(summarizeColumn),
      var: this.var().columns.map(summarizeColumn),
      obsm: this.obsmInfo(),
      uns: this.unsKeys(),
      provenance: this.provenance(),
    };
  }

  /** What scWorkbench's Preprocess recorded in uns, when this file is one of its outputs. */
  private provenance(): DatasetSummary['provenance'] {
    const p = this.unsStrings(PROVENANCE_KEY);
    return p.recipe && p.input_file ? { recipe: p.recipe, inputFile: p.input_file, inputSha256: p.input_sha256 ?? '', toolVersion: p.tool_version ?? '' } : undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ctx.guard('the file (closing)', () => this.ctx.file.close());
  }
}

/** Which generation of anndata wrote the file; an H5adError saying what the file is when it is not AnnData. */
function detectEncoding(ctx: H5Context, keys: string[]): AnnDataEncoding {
  const root = ctx.file;
  const rootType = ctx.attrString(root, 'encoding-type');
  const has = (k: string) => keys.includes(k);
  if (!has('obs') || !has('var')) {
    if (has('matrix') && ctx.group('matrix') && (ctx.get('matrix/barcodes') || ctx.get('matrix/features'))) {
      ctx.fail('this looks like a 10x Genomics feature-barcode matrix (Cell Ranger .h5), not AnnData: convert it with scanpy.read_10x_h5(path).write_h5ad(...)');
    }
    if (has('matrix') && has('row_attrs') && has('col_attrs')) {
      ctx.fail('this looks like a loom file, not AnnData: convert it with anndata.read_loom(path).write_h5ad(...)');
    }
    const shown = keys.slice(0, 10).join(', ') + (keys.length > 10 ? ', ...' : '');
    ctx.fail(`not an AnnData file: an .h5ad has top-level 'obs' and 'var', this HDF5 file has ${keys.length ? shown : 'nothing at the top level'}`);
  }
  if (rootType !== undefined && rootType !== 'anndata') ctx.fail(`the top-level encoding-type is '${rootType}', expected 'anndata'`);
  if (rootType === 'anndata') return 'anndata>=0.8';
  const obs = ctx.get('obs');
  if (ctx.isDataset(obs)) return 'anndata<=0.6';
  if (ctx.isGroup(obs)) {
    // anndata 0.8 always writes the root attribute; a dataframe 0.2.0 without it is a partial writer: treat as >= 0.8.
    return ctx.attrString(obs, 'encoding-version') === '0.2.0' ? 'anndata>=0.8' : 'anndata-0.7';
  }
  return ctx.fail("'obs' is neither a group nor a dataset: not an AnnData file");
}

