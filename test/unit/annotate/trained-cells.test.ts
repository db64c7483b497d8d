/**
 * An annotation scores only the cells the model was not trained on: when the dataset is the file of the model's
 * own fine-tune run, that run's training rows (split.json) are left out of the metrics (still annotated); when it
 * cannot tell, it says the scores may include them.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { AnnotateResult } from '../../../src/core/annotate/annotate';
import { trainedCells, trainedCellsText } from '../../../src/core/annotate/trained-cells';
import { sha256File } from '../../../src/core/hash';
import { RunStore } from '../../../src/core/runs/store';
import { runTask } from '../../../src/core/workers/run-task';
import { runPythonJson, tempDir } from '../../helpers/shared';

describe('annotate: only cells the model was not trained on are scored', () => {
  let dir: string;
  let made: { run: string; query: string; classes: string[] };
  let store: RunStore;
  let runId: string;
  const trainRows = [0, 2, 4, 6, 8, 10, 12, 14, 16, 18];

  before(async () => {
    dir = tempDir('scwb-annotate-trained-');
    made = runPythonJson('annotate_reference.py', ['make', dir, '40']);
    store = new RunStore(path.join(dir, 'store'));
    const rec = await store.create({
      kind: 'finetune', name: 'trained on query', experiment: 'x', dataset: { path: made.query, sha256: await sha256File(made.query), nObs: 40 },
      labelColumn: 'cell_type', split: { kind: 'stratified', testSize: 0.5, seed: 0 }, seed: 0, fraction: 1,
      model: { family: 'scBERT', label: 'scBERT', variant: '' }, parameters: {}, codeVersion: '0', status: 'completed',
    });
    runId = rec.id;
    await store.writeSplit(runId, { train: trainRows, validation: [1, 3], test: [1, 3, 5] });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('finds the training rows of the model\'s run on this file; another file or an unknown run is said so', async () => {
    const t = await trainedCells(store, runId, made.query);
    assert.deepStrictEqual(t, { kind: 'excluded', rows: trainRows, sourceRun: runId });
    const copy = path.join(dir, 'other.h5ad');
    fs.writeFileSync(copy, 'another file');
    assert.deepStrictEqual(await trainedCells(store, runId, copy), { kind: 'other-file', sourceRun: runId });
    // a file rewritten at the training run's path since is another file: its rows are not the training cells
    const rewritten = path.join(dir, 'rewritten.h5ad');
    fs.writeFileSync(rewritten, 'rewritten since');
    const old = await store.create({ ...(await store.get(runId)), name: 'trained on an earlier version', dataset: { path: rewritten, sha256: (await store.get(runId)).dataset.sha256, nObs: 40 } });
    await store.writeSplit(old.id, { train: trainRows, validation: [1, 3], test: [1, 3, 5] });
    assert.deepStrictEqual(await trainedCells(store, old.id, rewritten), { kind: 'other-file', sourceRun: old.id });
    const missing = await trainedCells(store, 'nope', made.query);
    assert.strictEqual(missing.kind, 'unknown');
    assert.strictEqual(trainedCellsText(missing, 0), 'the scores may include cells the model was trained on: its training run nope is not in this workspace\'s run store');
    assert.strictEqual((await trainedCells(store, null, made.query)).kind, 'unknown');
    assert.match(trainedCellsText(t, 10), /^scored on the cells the model was not trained on \(10 training cells of run .* left out\)$/);
  });

  it('the metrics leave the training rows out (every cell is still annotated)', async () => {
    const model = path.join(made.run, 'model.onnx');
    const all = await runTask<AnnotateResult>('annotate/annotate', 'annotateTask', { model, dataset: made.query, out: path.join(dir, 'all.h5ad'), labelColumn: 'cell_type' });
    const res = await runTask<AnnotateResult>('annotate/annotate', 'annotateTask',
      { model, dataset: made.query, out: path.join(dir, 'held.h5ad'), labelColumn: 'cell_type', excludeRows: trainRows });
    assert.strictEqual(res.nCells, 40);
    assert.ok(res.metrics && all.metrics && res.labelled && all.labelled);
    assert.strictEqual(res.metrics.nLabelled, 30);
    assert.strictEqual(res.metrics.excludedTrained, 10);
    assert.strictEqual(all.metrics.excludedTrained, 0);
    assert.deepStrictEqual(res.labelled.rows, all.labelled.rows.filter(r => !trainRows.includes(r)));
    const kept = all.labelled.rows.map((r, i) => ({ r, ok: all.labelled!.trueLabels[i] === all.labelled!.predicted[i] })).filter(x => !trainRows.includes(x.r));
    assert.strictEqual(res.metrics.accuracy, kept.filter(x => x.ok).length / kept.length);
  });
});
