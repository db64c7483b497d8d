/**
 * The reader against Debian's anndata 0.8 (test/python/h5ad_read_reference.py) on every real file in
 * ../shared/data/h5ad and on a file written here by anndata with what the real files lack (CSC X, integer
 * values, nullable columns, a plain string column). anndata 0.8 reads all the real files, old ones included.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { openH5ad } from '../../../src/core/h5ad/read';
import type { AnnDataReader, Column, DataFrame } from '../../../src/core/h5ad/types';
import type { CsrMatrix } from '../../../src/core/sparse';
import { H5AD_DIR, runPythonJson, tempDir } from '../../helpers/shared';

type RefColumn =
  | { kind: 'categorical'; categories: string[]; codes: number[]; ordered: boolean }
  | { kind: 'numeric'; dtype: string; values: (number | null)[] }
  | { kind: 'boolean'; values: number[] }
  | { kind: 'string'; values: string[] }
  | { kind: 'nullable-integer'; values: number[]; mask: number[] }
  | { kind: 'nullable-boolean'; values: boolean[]; mask: number[] };
interface RefFrame { index: string[]; columns: Record<string, RefColumn> }
interface RefMatrix {
  shape: [number, number]; format: 'dense' | 'csr' | 'csc'; dtype: string; sum: number; nnz: number; stored: number;
  rowSums: number[]; rows: number[]; denseRows: number[][];
}
interface RefFile {
  shape: [number, number]; obs: RefFrame; var: RefFrame; X: RefMatrix | null; layers: Record<string, RefMatrix>;
  raw: { shape: [number, number]; var: RefFrame; X: RefMatrix } | null;
  obsm: Record<string, { shape: number[]; kind: 'matrix' | 'dataframe'; sum?: number; firstRow?: number[] }>;
  uns: string[];
}

const REAL_FILES = fs.readdirSync(H5AD_DIR).filter(f => f.endsWith('.h5ad')).sort();

function close(a: number, b: number, what: string): void {
  assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b)), `${what}: ${a} vs ${b}`);
}

function compareColumn(ours: Column, ref: RefColumn, what: string): void {
  assert.strictEqual(ours.kind, ref.kind, `${what}: kind`);
  if (ours.kind === 'categorical' && ref.kind === 'categorical') {
    assert.deepStrictEqual(ours.categories, ref.categories, `${what}: categories`);
    assert.deepStrictEqual(Array.from(ours.codes), ref.codes, `${what}: codes`);
    assert.strictEqual(ours.ordered, ref.ordered, `${what}: ordered`);
  } else if (ours.kind === 'numeric' && ref.kind === 'numeric') {
    assert.deepStrictEqual(Array.from(ours.values, v => (Number.isNaN(v) ? null : v)), ref.values, `${what}: values`);
    assert.strictEqual(ours.dtype, ref.dtype, `${what}: dtype`);
  } else if (ours.kind === 'boolean' && ref.kind === 'boolean') {
    assert.deepStrictEqual(Array.from(ours.values), ref.values, `${what}: values`);
  } else if (ours.kind === 'string' && ref.kind === 'string') {
    assert.deepStrictEqual(ours.values, ref.values, `${what}: values`);
  } else if (ours.kind === 'nullable-integer' && ref.kind === 'nullable-integer') {
    assert.deepStrictEqual(Array.from(ours.mask), ref.mask, `${what}: mask`);
    assert.deepStrictEqual(Array.from(ours.values).map((v, i) => (ref.mask[i] ? 0 : v)), ref.values, `${what}: values`);
  } else if (ours.kind === 'nullable-boolean' && ref.kind === 'nullable-boolean') {
    assert.deepStrictEqual(Array.from(ours.mask), ref.mask, `${what}: mask`);
    assert.deepStrictEqual(Array.from(ours.values).map((v, i) => !ref.mask[i] && v === 1), ref.values, `${what}: values`);
  }
}

function compareFrame(ours: DataFrame, ref: RefFrame, what: string): void {
  assert.deepStrictEqual(ours.index, ref.index, `${what}: index`);
  assert.deepStrictEqual(ours.columns.map(c => c.name), Object.keys(ref.columns), `${what}: column names`);
  for (const c of ours.columns) compareColumn(c, ref.columns[c.name], `${what}.${c.name}`);
}

/** Reads the matrix in blocks of `block` rows and checks sums, non-zeros, row sums and whole rows. */
function compareMatrix(reader: AnnDataReader, matrix: string | undefined, ref: RefMatrix, what: string, block = 97): CsrMatrix {
  const blocks: CsrMatrix[] = [];
  for (let r = 0; r < ref.shape[0]; r += block) blocks.push(reader.readRows(r, Math.min(ref.shape[0], r + block), matrix));
  const all = reader.readAllRows(matrix, { blockRows: block });
  assert.strictEqual(all.nRows, ref.shape[0], `${what}: rows`);
  assert.strictEqual(all.nCols, ref.shape[1], `${what}: cols`);
  let row = 0;
  let sum = 0;
  let nnz = 0;
  for (const b of blocks) {
    for (let r = 0; r < b.nRows; r++, row++) {
      let rowSum = 0;
      for (let k = b.indptr[r]; k < b.indptr[r + 1]; k++) {
        rowSum += b.data[k];
        if (b.data[k] !== 0) nnz++;
        assert.ok(b.indices[k] >= 0 && b.indices[k] < ref.shape[1], `${what}: column index in range`);
      }
      close(rowSum, ref.rowSums[row], `${what}: sum of row ${row}`);
      sum += rowSum;
      // The whole-matrix read holds the same row.
      const a0 = all.indptr[row];
      assert.strictEqual(all.indptr[row + 1] - a0, b.indptr[r + 1] - b.indptr[r], `${what}: row ${row} length in readAllRows`);
    }
  }
  close(sum, ref.sum, `${what}: sum`);
  assert.strictEqual(nnz, ref.nnz, `${what}: non-zeros`);
  ref.rows.forEach((r, i) => {
    const one = reader.readRows(r, r + 1, matrix);
    const dense = new Array<number>(ref.shape[1]).fill(0);
    for (let k = 0; k < one.indptr[1]; k++) dense[one.indices[k]] += one.data[k];
    assert.deepStrictEqual(dense, ref.denseRows[i], `${what}: row ${r}`);
  });
  return all;
}

function compareFile(reader: AnnDataReader, ref: RefFile): void {
  const s = reader.summary();
  assert.deepStrictEqual([s.nObs, s.nVars], ref.shape, 'shape');
  compareFrame(reader.obs(), ref.obs, 'obs');
  compareFrame(reader.var(), ref.var, 'var');
  if (ref.X === null) {
    assert.strictEqual(s.X, null);
  } else {
    assert.ok(s.X);
    assert.strictEqual(s.X.encoding, ref.X.format, 'X encoding');
    assert.strictEqual(s.X.dtype, ref.X.dtype, 'X dtype');
    if (ref.X.format !== 'dense') assert.strictEqual(s.X.nnz, ref.X.stored, 'X stored values');
    compareMatrix(reader, undefined, ref.X, 'X');
  }
  assert.deepStrictEqual(Object.keys(s.layers).sort(), Object.keys(ref.layers).sort(), 'layer names');
  for (const [name, m] of Object.entries(ref.layers)) {
    assert.strictEqual(s.layers[name].encoding, m.format, `layer ${name} encoding`);
    compareMatrix(reader, `layers/${name}`, m, `layers/${name}`);
  }
  if (ref.raw === null) {
    assert.strictEqual(s.raw, null);
  } else {
    assert.ok(s.raw && s.raw.X);
    assert.strictEqual(s.raw.nVars, ref.raw.shape[1]);
    compareFrame(reader.rawVar()!, ref.raw.var, 'raw.var');
    compareMatrix(reader, 'raw/X', ref.raw.X, 'raw/X');
  }
  assert.deepStrictEqual(s.obsm.map(o => o.name).sort(), Object.keys(ref.obsm).sort(), 'obsm names');
  for (const [name, o] of Object.entries(ref.obsm)) {
    assert.deepStrictEqual(s.obsm.find(x => x.name === name)!.shape, o.shape, `obsm ${name} shape`);
    if (o.kind !== 'matrix') continue;
    const m = reader.readObsm(name);
    assert.deepStrictEqual(m.shape, o.shape);
    let total = 0;
    for (const v of m.data) total += v;
    close(total, o.sum!, `obsm ${name} sum`);
    assert.deepStrictEqual(Array.from(m.data.subarray(0, o.shape[1] ?? 1)), o.firstRow, `obsm ${name} first row`);
  }
  assert.deepStrictEqual([...s.uns].sort(), ref.uns, 'uns keys');
}

describe('h5ad reader vs anndata 0.8', () => {
  const dir = tempDir('scwb-h5ad-read-');
  const modern = path.join(dir, 'modern.h5ad');
  let refs: Record<string, RefFile>;

  before(() => {
    runPythonJson('h5ad_read_make.py', ['modern', modern]);
    refs = runPythonJson<Record<string, RefFile>>('h5ad_read_reference.py', [...REAL_FILES.map(f => path.join(H5AD_DIR, f)), modern]);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const name of REAL_FILES) {
    it(`reads ${name} as anndata does`, async () => {
      const file = path.join(H5AD_DIR, name);
      const reader = await openH5ad(file);
      try {
        compareFile(reader, refs[file]);
      } finally {
        reader.close();
      }
    });
  }

  it('reads CSC X with integer values, CSR/CSC/dense layers and nullable, boolean and string columns', async () => {
    const reader = await openH5ad(modern);
    try {
      compareFile(reader, refs[modern]);
      assert.deepStrictEqual(reader.obs().columns.map(c => c.kind), ['categorical', 'categorical', 'nullable-integer', 'nullable-boolean', 'boolean', 'string', 'numeric', 'numeric']);
      assert.ok(reader.readRows(0, 5).data instanceof Float32Array, 'integer values come as float32');
      assert.ok(reader.readRows(0, 5, 'layers/dense64').data instanceof Float64Array, 'float64 stays float64');
    } finally {
      reader.close();
    }
  });

  it('gives the same rows whatever the block boundaries (dense, CSR, CSC)', async () => {
    const cases: [string, string | undefined, number[]][] = [
      ['scanpy_pbmc68k_reduced_2025.h5ad', undefined, [150, 4096]],
      ['scanpy_pbmc68k_reduced_2025.h5ad', 'raw/X', [13, 300]],
      ['anndata_v0.7.8_adata.h5ad', undefined, [1, 7]],
    ];
    for (const [name, matrix, blocks] of cases) {
      const reader = await openH5ad(path.join(H5AD_DIR, name));
      const whole = reader.readRows(0, reader.summary().nObs, matrix);
      for (const block of blocks) {
        const joined = reader.readAllRows(matrix, { blockRows: block });
        assert.deepStrictEqual(Array.from(joined.indptr), Array.from(whole.indptr), `${name} ${matrix} block ${block}`);
        assert.deepStrictEqual(Array.from(joined.indices), Array.from(whole.indices));
        assert.deepStrictEqual(Array.from(joined.data), Array.from(whole.data));
      }
      reader.close();
    }
    const reader = await openH5ad(modern);
    const whole = reader.readRows(0, 37);
    const parts = [reader.readRows(0, 10), reader.readRows(10, 11), reader.readRows(11, 37)];
    assert.deepStrictEqual(parts.flatMap(p => Array.from(p.data)), Array.from(whole.data));
    assert.deepStrictEqual(parts.flatMap(p => Array.from(p.indices)), Array.from(whole.indices));
    reader.close();
  });
});
