/**
 * The UMAP layout of embeddings.npy: it keeps neighbourhoods (sklearn's trustworthiness of our layout), the same
 * seed gives the same layout, umap.json caches it by file hash and parameters, large inputs are subsampled
 * deterministically, and the points are coloured by the dataset's obs columns. Runs through the worker-thread task.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { readNpyInFolder } from '../../../src/core/embedding/npy';
import type { EmbeddingPlotData } from '../../../src/core/embedding/tasks';
import { DEFAULT_UMAP_PARAMS, UMAP_FILE, layoutMatrix, runUmap, subsampleRows } from '../../../src/core/embedding/umap';
import { runTask } from '../../../src/core/workers/run-task';
import { runPythonJson, tempDir } from '../../helpers/shared';

const N = 300;
const D = 32;
const K = 4;

function trustworthiness(npy: string, rows: number[], x: number[], y: number[], k = 10): number {
  const Y = x.map((v, i) => [v, y[i]]);
  return runPythonJson<{ trustworthiness: number }>('embedding_reference.py', ['trust'], JSON.stringify({ X: npy, rows, Y, k })).trustworthiness;
}

describe('embedding: UMAP layout', () => {
  let dir = '';
  let runDir = '';
  let dataset = '';
  let labels: number[] = [];
  before(() => {
    dir = tempDir('scwb-umap-');
    runDir = path.join(dir, 'run');
    fs.mkdirSync(runDir);
    dataset = path.join(dir, 'clusters.h5ad');
    labels = runPythonJson<{ labels: number[] }>('embedding_reference.py', ['clusters', runDir, String(N), String(D), String(K), '3', dataset]).labels;
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('lays out well-separated clusters keeping neighbourhoods (trustworthiness > 0.9), in a worker thread with progress', async () => {
    const progress: number[] = [];
    const data = await runTask<EmbeddingPlotData>('embedding/tasks', 'embeddingPlot',
      { runDir, datasetPath: dataset, labelColumn: 'cell_type', writeCache: true }, { onProgress: f => progress.push(f) });
    const { layout } = data;
    assert.strictEqual(data.fromCache, false);
    assert.deepStrictEqual([layout.rows, layout.dim], [N, D]);
    assert.deepStrictEqual(layout.indices, Array.from({ length: N }, (_, i) => i));
    assert.deepStrictEqual(layout.params, DEFAULT_UMAP_PARAMS);
    assert.strictEqual(layout.nNeighborsUsed, 15);
    assert.ok(progress.length >= 3 && progress.every(f => Number.isNaN(f) || (f >= 0 && f <= 1)) && progress.some(f => f > 0.5), `progress ${progress.join(',')}`);
    const t = trustworthiness(path.join(runDir, 'embeddings.npy'), layout.indices, layout.x, layout.y);
    assert.ok(t > 0.9, `trustworthiness ${t}`);
    // Each cluster's points are closer to their own centroid in the layout than to any other cluster's.
    const cx = new Array(K).fill(0); const cy = new Array(K).fill(0); const cn = new Array(K).fill(0);
    layout.indices.forEach((r, i) => { cx[labels[r]] += layout.x[i]; cy[labels[r]] += layout.y[i]; cn[labels[r]]++; });
    for (let c = 0; c < K; c++) { cx[c] /= cn[c]; cy[c] /= cn[c]; }
    const wrong = layout.indices.filter((r, i) => {
      const d = cx.map((_, c) => Math.hypot(layout.x[i] - cx[c], layout.y[i] - cy[c]));
      return d.indexOf(Math.min(...d)) !== labels[r];
    }).length;
    assert.strictEqual(wrong, 0);
    // Coloured by the run's label column, categorical: the codes are the clusters python drew.
    assert.strictEqual(data.datasetProblem, null);
    assert.deepStrictEqual(data.columns.map(c => [c.name, c.scale]), [['cell_type', 'categorical'], ['donor', 'categorical'], ['n_counts', 'numeric']]);
    const colors = data.colors!;
    assert.strictEqual(colors.scale, 'categorical');
    if (colors.scale !== 'categorical') return;
    assert.deepStrictEqual(colors.categories, ['type_0', 'type_1', 'type_2', 'type_3']);
    assert.deepStrictEqual(colors.codes, labels);
    // The cache is written, and read back the next time (same layout).
    const cached = JSON.parse(fs.readFileSync(path.join(runDir, UMAP_FILE), 'utf8'));
    assert.deepStrictEqual(cached.x, layout.x);
    const again = await runTask<EmbeddingPlotData>('embedding/tasks', 'embeddingPlot', { runDir, datasetPath: dataset, column: 'n_counts', writeCache: true });
    assert.strictEqual(again.fromCache, true);
    assert.deepStrictEqual(again.layout, layout);
    assert.strictEqual(again.colors?.scale, 'numeric');
    if (again.colors?.scale === 'numeric') {
      assert.strictEqual(again.colors.values.length, N);
      assert.ok(again.colors.min >= 0 && again.colors.max <= 1000 && again.colors.min < again.colors.max);
    }
  });

  it('gives the same layout for the same seed, another for another seed', async () => {
    const m = await readNpyInFolder(path.join(runDir, 'embeddings.npy'), runDir);
    const rows = Array.from({ length: 120 }, (_, i) => i * 2);
    const p = { ...DEFAULT_UMAP_PARAMS, seed: 11 };
    const a = layoutMatrix(m, rows, p);
    const b = layoutMatrix(m, rows, p);
    assert.deepStrictEqual(a, b);
    const c = layoutMatrix(m, rows, { ...p, seed: 12 });
    assert.notDeepStrictEqual(c.x, a.x);
  });

  it('recomputes when the parameters or the file change, and writes nothing when asked not to', async () => {
    const first = await runUmap(runDir, { params: { nNeighbors: 10 }, writeCache: false });
    assert.strictEqual(first.fromCache, false);
    assert.strictEqual(first.layout.params.nNeighbors, 10);
    // The cache on disk still holds the default parameters' layout (writeCache false wrote nothing).
    assert.strictEqual(JSON.parse(fs.readFileSync(path.join(runDir, UMAP_FILE), 'utf8')).params.nNeighbors, 15);
    const sub = path.join(dir, 'changed');
    fs.mkdirSync(sub);
    runPythonJson('embedding_reference.py', ['clusters', sub, '60', '8', '3', '5']);
    fs.copyFileSync(path.join(runDir, UMAP_FILE), path.join(sub, UMAP_FILE));
    const other = await runUmap(sub);
    assert.strictEqual(other.fromCache, false);
    assert.strictEqual(other.layout.rows, 60);
    const leftovers = fs.readdirSync(sub).filter(f => f.includes('.tmp-'));
    assert.deepStrictEqual(leftovers, []);
  });

  it('subsamples deterministically above maxCells and says which rows it laid out', async () => {
    const rows = subsampleRows(1000, 100, 0);
    assert.strictEqual(rows.length, 100);
    assert.strictEqual(new Set(rows).size, 100);
    assert.ok(rows.every((r, i) => r >= 0 && r < 1000 && (i === 0 || rows[i - 1] < r)));
    assert.deepStrictEqual(subsampleRows(1000, 100, 0), rows);
    assert.notDeepStrictEqual(subsampleRows(1000, 100, 1), rows);
    assert.deepStrictEqual(subsampleRows(50, 100, 0), Array.from({ length: 50 }, (_, i) => i));
    const sub = await runUmap(runDir, { params: { maxCells: 100 }, writeCache: false });
    assert.deepStrictEqual(sub.layout.indices, subsampleRows(N, 100, 0));
    assert.strictEqual(sub.layout.x.length, 100);
  });

  it('reports a dataset whose cells do not match the embeddings instead of colouring wrongly', async () => {
    const sub = path.join(dir, 'mismatch');
    fs.mkdirSync(sub);
    runPythonJson('embedding_reference.py', ['clusters', sub, '40', '8', '2', '9']);
    const data = await runTask<EmbeddingPlotData>('embedding/tasks', 'embeddingPlot', { runDir: sub, datasetPath: dataset, writeCache: false });
    assert.strictEqual(data.colors, null);
    assert.match(data.datasetProblem!, /clusters\.h5ad: has 300 cells but .*embeddings\.npy has 40 rows/);
  });
});
