/** Bad input gives an H5adError naming the file and the problem, never a crash, hang or garbage. */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { openH5ad } from '../../../src/core/h5ad/read';
import { H5adError } from '../../../src/core/h5ad/types';
import { h5adPath, runPythonJson, tempDir } from '../../helpers/shared';

function isProblem(file: string, pattern: RegExp): (e: unknown) => boolean {
  return e => {
    assert.ok(e instanceof H5adError, `expected an H5adError, got ${String(e)}`);
    assert.strictEqual(e.file, file);
    assert.match(e.problem, pattern);
    return true;
  };
}

describe('h5ad reader on bad input', () => {
  const dir = tempDir('scwb-h5ad-bad-');
  before(() => runPythonJson('h5ad_read_make.py', ['foo', path.join(dir, 'foo.h5ad'), 'badfilter', path.join(dir, 'badfilter.h5ad')]));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('says a truncated file is truncated', async () => {
    const src = h5adPath('scanpy_pbmc68k_reduced_2025.h5ad');
    const file = path.join(dir, 'half.h5ad');
    const bytes = fs.readFileSync(src);
    fs.writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await assert.rejects(openH5ad(file), isProblem(file, /truncated/));
  });

  it('says a text file is not HDF5', async () => {
    const file = path.join(dir, 'notes.h5ad');
    fs.writeFileSync(file, 'cell,type\nAAAC,T cell\n');
    await assert.rejects(openH5ad(file), isProblem(file, /not an HDF5 file/));
  });

  it('says a missing file is missing', async () => {
    const file = path.join(dir, 'nowhere.h5ad');
    await assert.rejects(openH5ad(file), isProblem(file, /not found/));
  });

  it('recognises a 10x Genomics matrix as not AnnData', async () => {
    const file = h5adPath('10x_v3_filtered_feature_bc_matrix.h5');
    await assert.rejects(openH5ad(file), isProblem(file, /10x Genomics.*not AnnData/));
  });

  it('summarises a file without X and refuses to read its rows', async () => {
    const file = h5adPath('anndata_v0.11.4_adata.h5ad');
    const reader = await openH5ad(file);
    try {
      const s = reader.summary();
      assert.strictEqual(s.X, null);
      assert.deepStrictEqual([s.nObs, s.nVars], [10, 20]);
      assert.throws(() => reader.readRows(0, 1), isProblem(file, /has no X/));
    } finally {
      reader.close();
    }
  });

  it('names an unknown encoding-type', async () => {
    const file = path.join(dir, 'foo.h5ad');
    await assert.rejects(openH5ad(file), isProblem(file, /encoding-type 'foo_matrix'/));
  });

  it('names a compression filter it does not have, and keeps working afterwards', async () => {
    const file = path.join(dir, 'badfilter.h5ad');
    const reader = await openH5ad(file);
    try {
      assert.deepStrictEqual(reader.summary().X?.compression, ['lzf (filter 32750)']);
      assert.throws(() => reader.readRows(0, 20), isProblem(file, /filter 'lzf'.*not available/));
    } finally {
      reader.close();
    }
    // A failed read must not leave h5wasm in a broken state.
    const good = await openH5ad(h5adPath('anndata_v0.7.0_adata.h5ad'));
    assert.strictEqual(good.readRows(0, 30).indptr[30], 228);
    good.close();
  });

  it('rejects row ranges outside the matrix', async () => {
    const reader = await openH5ad(h5adPath('scanpy_t-cells.h5ad'));
    assert.throws(() => reader.readRows(5, 9), RangeError);
    assert.throws(() => reader.readRows(3, 2), RangeError);
    assert.throws(() => reader.readRows(0, 1, 'layers/nope'), /no matrix 'layers\/nope'/);
    reader.close();
  });
});
