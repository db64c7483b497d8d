/**
 * The .h5ad writer, checked by reading its files back with Debian's anndata 0.8 and h5py
 * (test/python/h5ad_write_read.py), never with our own reader.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { H5adWriter, writeH5ad, UnsDict } from '../../../src/core/h5ad/write';
import { lookup3 } from '../../../src/core/h5ad/write-bool-enum';
import { DataFrame, H5adError } from '../../../src/core/h5ad/types';
import { CsrMatrix } from '../../../src/core/sparse';
import { runPythonJson, tempDir } from '../../helpers/shared';

interface PyColumn {
  kind: string;
  dtype?: string;
  values?: (number | string | boolean | null)[];
  categories?: string[];
  codes?: number[];
  ordered?: boolean;
}
interface PyFrame { index: string[]; columns: Record<string, PyColumn>; order: string[] }
interface PyAnnData {
  anndata: string;
  shape: [number, number];
  x_is_csr: boolean;
  x_dtype: string;
  x_compression: string | null;
  shape_attr_dtype: string;
  nnz: number;
  obs: PyFrame;
  var: PyFrame;
  layers: string[];
  obsm: Record<string, { shape: number[]; dtype: string; values: number[][] }>;
  uns: Record<string, unknown>;
  encodings: Record<string, string | null>;
  ordered_attr_dtypes: Record<string, string>;
  X?: number[][];
  layer_values?: Record<string, number[][]>;
}

function readBack(file: string): PyAnnData {
  return runPythonJson<PyAnnData>('h5ad_write_read.py', [file, '--dense']);
}

/** Deterministic small CSR with some empty rows; values are exact in float32. */
function makeCsr(nRows: number, nCols: number, seed: number): { csr: CsrMatrix; dense: number[][] } {
  const dense: number[][] = [];
  const indptr = new Int32Array(nRows + 1);
  const indices: number[] = [];
  const data: number[] = [];
  let s = seed;
  const next = (): number => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648; };
  for (let r = 0; r < nRows; r++) {
    const row = new Array<number>(nCols).fill(0);
    if (r % 4 !== 3) {
      for (let c = 0; c < nCols; c++) {
        if (next() < 0.3) {
          row[c] = Math.round(next() * 40) / 4 + 0.25;
          indices.push(c);
          data.push(row[c]);
        }
      }
    }
    dense.push(row);
    indptr[r + 1] = indices.length;
  }
  return { csr: { nRows, nCols, indptr, indices: Int32Array.from(indices), data: Float32Array.from(data) }, dense };
}

function sliceRows(m: CsrMatrix, start: number, end: number): CsrMatrix {
  const a = m.indptr[start];
  const b = m.indptr[end];
  return {
    nRows: end - start, nCols: m.nCols,
    indptr: Int32Array.from(m.indptr.subarray(start, end + 1), v => v - a),
    indices: m.indices.slice(a, b), data: m.data.slice(a, b),
  };
}

function obsFrame(n: number): DataFrame {
  const codes = Int32Array.from({ length: n }, (_, i) => (i % 5 === 4 ? -1 : i % 3));
  return {
    index: Array.from({ length: n }, (_, i) => `cell-${i}`),
    indexName: '_index',
    columns: [
      { kind: 'categorical', name: 'cell_type', categories: ['T cell', 'B cell', 'NK'], codes, ordered: false },
      { kind: 'categorical', name: 'grade', categories: ['low', 'mid', 'high'], codes: Int32Array.from({ length: n }, (_, i) => i % 3), ordered: true },
      { kind: 'string', name: 'barcode', values: Array.from({ length: n }, (_, i) => `AAAC-${i}-é`) },
      { kind: 'numeric', name: 'n_counts', dtype: 'float32', values: Float64Array.from({ length: n }, (_, i) => i * 1.5) },
      { kind: 'numeric', name: 'n_genes', dtype: 'int64', values: Float64Array.from({ length: n }, (_, i) => i * 7) },
      { kind: 'boolean', name: 'is_doublet', values: Uint8Array.from({ length: n }, (_, i) => (i % 2)) },
      { kind: 'nullable-integer', name: 'age', values: Float64Array.from({ length: n }, (_, i) => 20 + i), mask: Uint8Array.from({ length: n }, (_, i) => (i % 4 === 0 ? 1 : 0)) },
      { kind: 'nullable-boolean', name: 'qc_pass', values: Uint8Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0)), mask: Uint8Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 1 : 0)) },
    ],
  };
}

function varFrame(n: number): DataFrame {
  return {
    index: Array.from({ length: n }, (_, i) => `GENE${i}`),
    indexName: '_index',
    columns: [{ kind: 'string', name: 'gene_ids', values: Array.from({ length: n }, (_, i) => `ENSG${String(i).padStart(11, '0')}`) }],
  };
}

const UNS: UnsDict = {
  recipe: 'bin-expression',
  version: '0.1.0',
  params: { n_bins: 51, target_sum: 10000.5, log: true, genes: ['CD3D', 'MS4A1'], weights: [0.5, 1.25, 2], nested: { empty_list: [], deep: 'x' } },
  input_hash: 'sha256:abc',
  counts: new Int32Array([1, 2, 3]),
};

describe('h5ad writer (read back by anndata 0.8)', () => {
  let dir: string;
  beforeEach(() => { dir = tempDir('scwb-h5ad-write-'); });
  afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

  it('computes HDF5 lookup3 checksums like the HDF5 library (known values)', () => {
    // Reference values of Jenkins' hashlittle with initval 0, from lookup3.c's self-test.
    assert.strictEqual(lookup3(new Uint8Array(0)), 0xdeadbeef);
    assert.strictEqual(lookup3(Buffer.from('Four score and seven years ago', 'latin1')), 0x17770551);
  });

  it('writes every column kind, layers, obsm and nested uns that anndata reads back exactly', async () => {
    const nObs = 10;
    const nVars = 7;
    const { csr, dense } = makeCsr(nObs, nVars, 1);
    const { csr: binned, dense: binnedDense } = makeCsr(nObs, nVars, 2);
    const obsmData = Float32Array.from({ length: nObs * 2 }, (_, i) => i / 8);
    const out = path.join(dir, 'all.h5ad');
    const obs = obsFrame(nObs);
    await writeH5ad(out, { X: csr, obs, var: varFrame(nVars), layers: { binned }, obsm: { X_pca: { nRows: nObs, nCols: 2, data: obsmData } }, uns: UNS });
    assert.deepStrictEqual(fs.readdirSync(dir), ['all.h5ad'], 'only the output remains (no temp file)');

    const py = readBack(out);
    assert.deepStrictEqual(py.shape, [nObs, nVars]);
    assert.ok(py.x_is_csr);
    assert.strictEqual(py.x_dtype, 'float32');
    assert.strictEqual(py.shape_attr_dtype, 'int64');
    assert.deepStrictEqual(py.X, dense);
    assert.deepStrictEqual(py.layers, ['binned']);
    assert.deepStrictEqual(py.layer_values!.binned, binnedDense);

    assert.deepStrictEqual(py.obs.index, obs.index);
    assert.deepStrictEqual(py.obs.order, obs.columns.map(c => c.name));
    const cellType = py.obs.columns.cell_type;
    assert.strictEqual(cellType.kind, 'categorical');
    assert.deepStrictEqual(cellType.categories, ['T cell', 'B cell', 'NK']);
    assert.deepStrictEqual(cellType.codes, Array.from((obs.columns[0] as { codes: Int32Array }).codes));
    assert.strictEqual(cellType.ordered, false);
    assert.strictEqual(py.obs.columns.grade.ordered, true);
    assert.deepStrictEqual(py.ordered_attr_dtypes, { 'obs/cell_type': 'bool', 'obs/grade': 'bool' });
    assert.deepStrictEqual(py.obs.columns.barcode, { kind: 'string', values: Array.from({ length: nObs }, (_, i) => `AAAC-${i}-é`) });
    assert.deepStrictEqual(py.obs.columns.n_counts, { kind: 'numeric', dtype: 'float32', values: Array.from({ length: nObs }, (_, i) => i * 1.5) });
    assert.deepStrictEqual(py.obs.columns.n_genes, { kind: 'numeric', dtype: 'int64', values: Array.from({ length: nObs }, (_, i) => i * 7) });
    assert.deepStrictEqual(py.obs.columns.is_doublet, { kind: 'boolean', values: Array.from({ length: nObs }, (_, i) => i % 2 === 1) });
    assert.deepStrictEqual(py.obs.columns.age, {
      kind: 'nullable-integer', dtype: 'Int64', values: Array.from({ length: nObs }, (_, i) => (i % 4 === 0 ? null : 20 + i)),
    });
    assert.deepStrictEqual(py.obs.columns.qc_pass, {
      kind: 'nullable-boolean', values: Array.from({ length: nObs }, (_, i) => (i % 5 === 0 ? null : i % 3 === 0)),
    });
    assert.deepStrictEqual(py.var.index, varFrame(nVars).index);
    assert.deepStrictEqual(py.var.columns.gene_ids.values, (varFrame(nVars).columns[0] as { values: string[] }).values);

    assert.deepStrictEqual(py.obsm.X_pca.shape, [nObs, 2]);
    assert.strictEqual(py.obsm.X_pca.dtype, 'float32');
    assert.deepStrictEqual(py.obsm.X_pca.values.flat(), Array.from(obsmData));

    assert.deepStrictEqual(py.uns, {
      recipe: 'bin-expression',
      version: '0.1.0',
      params: {
        n_bins: { int: 51, dtype: 'int64' },
        target_sum: { float: 10000.5, dtype: 'float64' },
        log: { bool: true },
        genes: { array: ['CD3D', 'MS4A1'], dtype: 'object' },
        weights: { array: [0.5, 1.25, 2], dtype: 'float64' },
        nested: { empty_list: { array: [], dtype: 'object' }, deep: 'x' },
      },
      input_hash: 'sha256:abc',
      counts: { array: [1, 2, 3], dtype: 'int32' },
    });
    assert.strictEqual(py.encodings['/'], 'anndata');
    assert.strictEqual(py.encodings.X, 'csr_matrix');
    assert.strictEqual(py.encodings.obs, 'dataframe');
    assert.strictEqual(py.encodings['obs/age'], 'nullable-integer');
    assert.strictEqual(py.encodings['obs/qc_pass'], 'nullable-boolean');
    assert.strictEqual(py.encodings['uns/params'], 'dict');
    assert.strictEqual(py.encodings['uns/params/n_bins'], 'numeric-scalar');
  });

  it('streams X and a layer in several row blocks, with gzip', async () => {
    const nObs = 23;
    const nVars = 9;
    const { csr, dense } = makeCsr(nObs, nVars, 3);
    const out = path.join(dir, 'streamed.h5ad');
    const w = await H5adWriter.create(out, { nVars, compression: 'gzip', streamChunk: 16 });
    for (const [a, b] of [[0, 5], [5, 5], [5, 17], [17, 23]]) {
      w.appendRows(sliceRows(csr, a, b));
      w.addLayerRows('counts', sliceRows(csr, a, b));
    }
    assert.strictEqual(w.nRows, nObs);
    await w.finish({ obs: obsFrame(nObs), var: varFrame(nVars) });
    const py = readBack(out);
    assert.deepStrictEqual(py.shape, [nObs, nVars]);
    assert.strictEqual(py.x_compression, 'gzip');
    assert.strictEqual(py.nnz, csr.indptr[nObs]);
    assert.deepStrictEqual(py.X, dense);
    assert.deepStrictEqual(py.layer_values!.counts, dense);
    assert.deepStrictEqual(py.obs.columns.cell_type.categories, ['T cell', 'B cell', 'NK']);
  });

  it('streams across many chunk boundaries (small chunks) with exact values', async () => {
    const nObs = 40;
    const nVars = 11;
    const { csr, dense } = makeCsr(nObs, nVars, 8);
    const out = path.join(dir, 'chunks.h5ad');
    const w = await H5adWriter.create(out, { nVars, streamChunk: 7 });
    for (let a = 0; a < nObs; a += 3) w.appendRows(sliceRows(csr, a, Math.min(nObs, a + 3)));
    await w.finish({ obs: obsFrame(nObs), var: varFrame(nVars) });
    const py = readBack(out);
    assert.ok(csr.indptr[nObs] > 10 * 7, 'the data spans many chunks');
    assert.strictEqual(py.nnz, csr.indptr[nObs]);
    assert.deepStrictEqual(py.X, dense);
  });

  it('writes an empty (0-row) AnnData that anndata reads', async () => {
    const out = path.join(dir, 'empty.h5ad');
    const w = await H5adWriter.create(out, { nVars: 3 });
    await w.finish({ obs: { index: [], indexName: '_index', columns: [] }, var: varFrame(3) });
    const py = readBack(out);
    assert.deepStrictEqual(py.shape, [0, 3]);
    assert.deepStrictEqual(py.var.index, ['GENE0', 'GENE1', 'GENE2']);
  });

  it('abort() leaves neither output nor temp file', async () => {
    const out = path.join(dir, 'aborted.h5ad');
    const w = await H5adWriter.create(out, { nVars: 4 });
    w.appendRows(makeCsr(3, 4, 4).csr);
    assert.strictEqual(fs.readdirSync(dir).length, 1, 'the temp file exists while writing');
    assert.ok(fs.readdirSync(dir)[0].startsWith('.aborted.tmp-'));
    w.abort();
    assert.deepStrictEqual(fs.readdirSync(dir), []);
  });

  it('an error mid-way (bad block, mismatched obs) removes the temp file and names the output', async () => {
    const out = path.join(dir, 'bad.h5ad');
    const w = await H5adWriter.create(out, { nVars: 4 });
    w.appendRows(makeCsr(3, 4, 5).csr);
    assert.throws(() => w.appendRows(makeCsr(2, 5, 6).csr), (e: unknown) => e instanceof H5adError && e.file === out && /5 columns, expected 4/.test(e.message));
    assert.deepStrictEqual(fs.readdirSync(dir), []);

    const w2 = await H5adWriter.create(out, { nVars: 4 });
    w2.appendRows(makeCsr(3, 4, 5).csr);
    await assert.rejects(w2.finish({ obs: obsFrame(2), var: varFrame(4) }), /obs has 2 rows, expected 3/);
    assert.deepStrictEqual(fs.readdirSync(dir), []);
  });

  it('refuses to overwrite an existing or protected file', async () => {
    const input = path.join(dir, 'input.h5ad');
    fs.writeFileSync(input, 'original');
    await assert.rejects(H5adWriter.create(input, { nVars: 2 }), /already exists/);
    await assert.rejects(H5adWriter.create(input, { nVars: 2, overwrite: true, protect: [path.join(dir, '.', 'input.h5ad')] }), /input file/);
    assert.strictEqual(fs.readFileSync(input, 'utf8'), 'original');
    assert.deepStrictEqual(fs.readdirSync(dir), ['input.h5ad']);

    // overwrite: true replaces an unprotected file only when the new one is complete
    const { csr } = makeCsr(2, 2, 7);
    await writeH5ad(input, { X: csr, obs: obsFrame(2), var: varFrame(2) }, { overwrite: true });
    assert.deepStrictEqual(readBack(input).shape, [2, 2]);
  });
});
