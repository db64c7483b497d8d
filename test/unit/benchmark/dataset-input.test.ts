/**
 * readDatasetInput (the dataset read of every benchmark preparation): size and labels equal anndata's reading of the
 * same file; a missing X matrix, label column or value layer is an error naming the file.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { readDatasetInput } from '../../../src/core/benchmark/dataset-input';
import { h5adPath, PYTHON, tempDir } from '../../helpers/shared';

const PBMC = h5adPath('scanpy_pbmc68k_reduced_2025.h5ad');

const READ = `
import json, sys, anndata
a = anndata.read_h5ad(sys.argv[1])
print(json.dumps({"nObs": a.n_obs, "nVars": a.n_vars, "labels": [str(v) for v in a.obs["bulk_labels"]]}))
`;

const WRITE_NO_X = `
import sys, anndata, pandas as pd
anndata.AnnData(obs=pd.DataFrame(index=["c0", "c1"]), var=pd.DataFrame(index=["g0"])).write_h5ad(sys.argv[1])
`;

describe('benchmark: readDatasetInput', () => {
  it('reads the size and the label of each cell as anndata does', async () => {
    const ref = JSON.parse(execFileSync(PYTHON, ['-c', READ, PBMC], { encoding: 'utf8' })) as { nObs: number; nVars: number; labels: string[] };
    const got = await readDatasetInput(PBMC, { noX: 'no X', labelColumn: 'bulk_labels' });
    assert.deepStrictEqual({ nObs: got.nObs, nVars: got.nVars, labels: got.labels.map(String) }, ref);
    const sizeOnly = await readDatasetInput(PBMC, { noX: 'no X', valueLayer: null });
    assert.deepStrictEqual(sizeOnly, { nObs: ref.nObs, nVars: ref.nVars, labels: [] });
  });

  it('names the file and the problem: no X matrix, no such label column, no such layer', async () => {
    const dir = tempDir('scwb-dataset-input-');
    try {
      const noX = path.join(dir, 'no-x.h5ad');
      execFileSync(PYTHON, ['-c', WRITE_NO_X, noX]);
      await assert.rejects(readDatasetInput(noX, { noX: 'the file has no X matrix to embed' }),
        (e: Error) => e.message.includes(noX) && e.message.includes('the file has no X matrix to embed'));
      await assert.rejects(readDatasetInput(PBMC, { noX: 'no X', labelColumn: 'no_such_column' }),
        (e: Error) => e.message.includes(PBMC) && e.message.includes('no_such_column'));
      await assert.rejects(readDatasetInput(PBMC, { noX: 'no X', valueLayer: 'X_binned' }),
        (e: Error) => e.message.includes(PBMC) && e.message.includes("the file has no layer 'X_binned'"));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
