/** `scwb embedding RUN_DIR`: the UMAP layout as CSV with an obs column, the same layout as the panel's (umap.json). */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { main } from '../../../src/cli/main';
import { parseCsv } from '../../../src/core/results/csv';
import { runUmap } from '../../../src/core/embedding/umap';
import { runPythonJson, tempDir } from '../../helpers/shared';

function capture() {
  const io = { stdout: '', stderr: '', out(t: string) { io.stdout += t; }, err(t: string) { io.stderr += t; } };
  return io;
}

describe('scwb embedding', () => {
  let dir = '';
  let runDir = '';
  let dataset = '';
  let labels: number[] = [];
  before(() => {
    dir = tempDir('scwb-cli-emb-');
    runDir = path.join(dir, 'run');
    fs.mkdirSync(runDir);
    dataset = path.join(dir, 'cells.h5ad');
    // embeddings.json names the dataset (the probe worker writes it so); there is no run.json here.
    labels = runPythonJson<{ labels: number[] }>('embedding_reference.py', ['clusters', runDir, '80', '12', '3', '2', dataset]).labels;
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes row,obs_name,umap1,umap2,COLUMN for every cell, atomically, and caches the layout', async () => {
    const out = path.join(dir, 'umap.csv');
    const io = capture();
    assert.strictEqual(await main(['embedding', runDir, '--color', 'cell_type', '--n-neighbors', '10', '--out', out], io), 0, io.stderr);
    assert.match(io.stderr, /80 cells, 12-dimensional, UMAP n_neighbors 10, min_dist 0\.1, seed 0 -> /);
    const rows = parseCsv(fs.readFileSync(out, 'utf8'));
    assert.deepStrictEqual(rows[0], ['row', 'obs_name', 'umap1', 'umap2', 'cell_type']);
    assert.strictEqual(rows.length, 81);
    assert.deepStrictEqual(rows.slice(1).map(r => r[4]), labels.map(l => `type_${l}`));
    assert.deepStrictEqual(rows.slice(1).map(r => r[1]), labels.map((_, i) => `cell${i}`));
    // The same layout as the core computes (read back from umap.json), to the last digit.
    const { layout, fromCache } = await runUmap(runDir, { params: { nNeighbors: 10 } });
    assert.strictEqual(fromCache, true);
    assert.deepStrictEqual(rows.slice(1).map(r => [Number(r[2]), Number(r[3])]), layout.x.map((x, i) => [x, layout.y[i]]));
    assert.deepStrictEqual(fs.readdirSync(dir).filter(f => f.includes('.tmp-')), []);
  });

  it('refuses an unknown column, a folder without embeddings and unknown options, naming what is wrong', async () => {
    let io = capture();
    assert.strictEqual(await main(['embedding', runDir, '--color', 'nope', '--no-cache'], io), 1);
    assert.match(io.stderr, /obs has no column 'nope'/);
    io = capture();
    assert.strictEqual(await main(['embedding', dir], io), 1);
    assert.match(io.stderr, /embeddings\.npy: file not found/);
    io = capture();
    assert.strictEqual(await main(['embedding', runDir, '--colour', 'x'], io), 2);
    assert.match(io.stderr, /unknown option --colour/);
  });
});
