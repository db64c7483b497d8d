/**
 * The worker's ONNX export run by our annotator (onnxruntime-node in a worker thread) against the same model in
 * torch (Debian's torch 1.13, test/python/annotate_reference.py): probabilities within 1e-5 and the same predicted
 * class; the output .h5ad read back by anndata; the input unchanged; clear errors for unusable inputs.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { AnnotateError, AnnotateResult, PREDICTED_COLUMN, annotateTask, readSidecar } from '../../../src/core/annotate/annotate';
import { sha256File } from '../../../src/core/hash';
import { runTask } from '../../../src/core/workers/run-task';
import { RunStore } from '../../../src/core/runs/store';
import { PROJECT_ROOT, runPythonJson, tempDir } from '../../helpers/shared';
import { spawnSync } from 'child_process';

interface Made { run: string; query: string; classes: string[] }
interface TorchRef { probabilities: number[][]; predicted: number[] }
interface ReadBack {
  nObs: number; varNames: string[]; obsNames: string[]; predicted: string[]; categories: string[]; probabilities: number[][];
  X: number[][]; obsColumns: string[]; nCounts: number[];
}

describe('annotate: ONNX export + onnxruntime-node vs torch', () => {
  let dir: string;
  let made: Made;
  const BATCH = 16;

  before(() => {
    dir = tempDir('scwb-annotate-');
    made = runPythonJson<Made>('annotate_reference.py', ['make', dir, '40']);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('predictions and probabilities equal torch within 1e-5; output read by anndata; input untouched', async () => {
    const model = path.join(made.run, 'model.onnx');
    const before = await sha256File(made.query);
    const out = path.join(dir, 'annotated.h5ad');
    const res = await runTask<AnnotateResult>('annotate/annotate', 'annotateTask',
      { model, dataset: made.query, out, labelColumn: 'cell_type', batchSize: BATCH });
    assert.strictEqual(await sha256File(made.query), before, 'the input is unchanged');
    const ref = runPythonJson<TorchRef>('annotate_reference.py', ['torch', made.run, made.query, String(BATCH)]);
    assert.strictEqual(res.nCells, 40);
    assert.deepStrictEqual(res.classes, made.classes);
    assert.strictEqual(res.genesMatched, 11);
    assert.strictEqual(res.genesMissing, 1);
    const back = runPythonJson<ReadBack>('annotate_reference.py', ['read', out]);
    assert.strictEqual(back.nObs, 40);
    assert.deepStrictEqual(back.categories, made.classes);
    let maxDiff = 0;
    for (let i = 0; i < 40; i++) {
      for (let k = 0; k < made.classes.length; k++) maxDiff = Math.max(maxDiff, Math.abs(back.probabilities[i][k] - ref.probabilities[i][k]));
      const sorted = [...ref.probabilities[i]].sort((a, b) => b - a);
      // an argmax between two probabilities closer than float32 resolution may go either way
      if (sorted[0] - sorted[1] > 1e-6) assert.strictEqual(back.predicted[i], made.classes[ref.predicted[i]], `cell ${i}`);
      const sum = back.probabilities[i].reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-5, `cell ${i}: probabilities sum to ${sum}`);
    }
    assert.ok(maxDiff <= 1e-5, `max |p_onnx - p_torch| = ${maxDiff}`);
    // the rest of the dataset is carried over
    const input = runPythonJson<ReadBack>('annotate_reference.py', ['read', made.query]);
    assert.deepStrictEqual(back.X, input.X);
    assert.deepStrictEqual(back.varNames, input.varNames);
    assert.deepStrictEqual(back.obsNames, input.obsNames);
    assert.deepStrictEqual(back.obsColumns, ['cell_type', 'n_counts', PREDICTED_COLUMN]);
    assert.deepStrictEqual(back.nCounts, Array.from({ length: 40 }, (_, i) => i));
    // metrics over the labelled cells (one label is a class the model does not know)
    assert.ok(res.metrics);
    assert.strictEqual(res.metrics.nLabelled, 40);
    assert.strictEqual(res.metrics.unknownLabels, 1);
    const truth = res.labelled!.trueLabels;
    const correct = back.predicted.filter((p, i) => p === truth[i]).length;
    assert.strictEqual(res.metrics.accuracy, correct / 40);
    const counts = Object.fromEntries(made.classes.map(c => [c, back.predicted.filter(p => p === c).length]));
    assert.deepStrictEqual(res.counts, counts);
  });

  it('refuses an existing output, a missing sidecar, a dataset without the model genes, and a missing label column', async () => {
    const model = path.join(made.run, 'model.onnx');
    const out = path.join(dir, 'exists.h5ad');
    fs.writeFileSync(out, 'keep me');
    await assert.rejects(annotateTask({ model, dataset: made.query, out }), /exists/);
    assert.strictEqual(fs.readFileSync(out, 'utf8'), 'keep me');
    const lone = path.join(dir, 'lone.onnx');
    fs.copyFileSync(model, lone);
    assert.throws(() => readSidecar(lone), (e: Error) => e instanceof AnnotateError && e.message.includes('lone.onnx.json') && e.message.includes('export-onnx'));
    await assert.rejects(annotateTask({ model, dataset: made.query, out: path.join(dir, 'x.h5ad'), labelColumn: 'nope' }),
      (e: Error) => e.message.includes(made.query) && e.message.includes("no column 'nope'"));
    assert.ok(!fs.existsSync(path.join(dir, 'x.h5ad')));
    // a sidecar that does not describe the tokens is refused with the field named
    const side = JSON.parse(fs.readFileSync(`${model}.json`, 'utf8')) as Record<string, unknown>;
    const g = path.join(dir, 'gpt.onnx');
    fs.copyFileSync(model, g);
    fs.writeFileSync(`${g}.json`, JSON.stringify({ ...side, model: 'scgpt' }));
    await assert.rejects(annotateTask({ model: g, dataset: made.query, out: path.join(dir, 'y.h5ad') }), /gpt\.onnx\.json: 'scgpt\.geneIds' must give a token id/);
    // a model whose genes the dataset does not have
    const other = path.join(dir, 'other.onnx');
    fs.copyFileSync(model, other);
    fs.writeFileSync(`${other}.json`, JSON.stringify({ ...side, genes: (side.genes as string[]).map(x => `Z${x}`) }));
    await assert.rejects(annotateTask({ model: other, dataset: made.query, out: path.join(dir, 'z.h5ad') }), /none of its 12 var names/);
  });

  it('scwb annotate writes the output and records the labelled annotation as a run with metrics', async () => {
    const model = path.join(made.run, 'model.onnx');
    const out = path.join(dir, 'cli.h5ad');
    const storeDir = path.join(dir, 'store');
    const r = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'scwb.js'), 'annotate', model, made.query, out, '--store', storeDir, '--batch', '8'],
      { encoding: 'utf8' });
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(r.stdout, /40 cells annotated \(11 of 12 model genes/);
    assert.match(r.stderr, /1 of the model's genes are not in/);
    const back = runPythonJson<ReadBack>('annotate_reference.py', ['read', out]);
    const store = new RunStore(storeDir);
    const [rec] = await store.list();
    assert.strictEqual(rec.status, 'completed');
    assert.strictEqual(rec.labelColumn, 'cell_type', 'the label column of the model (in run.json) is used by default');
    const metrics = (await store.readMetrics(rec.id))!;
    const truth = (await store.readPredictions(rec.id))!;
    assert.deepStrictEqual(truth.map(p => p.predictedLabel), back.predicted);
    assert.strictEqual(metrics.accuracy, back.predicted.filter((p, i) => p === truth[i].trueLabel).length / 40);
    assert.strictEqual(rec.summary?.accuracy, metrics.accuracy);
    assert.strictEqual((rec.parameters.annotate as { model: string }).model, model);
    // a second run onto the same output is refused, the first output kept
    const again = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'scwb.js'), 'annotate', model, made.query, out], { encoding: 'utf8' });
    assert.strictEqual(again.status, 1);
    assert.match(again.stderr, /cli\.h5ad: the output file already exists/);
  });

  it('a scGPT model (per-cell binning and gene sampling drawn as numpy does): equal to torch within 1e-5', async () => {
    const gdir = path.join(dir, 'scgpt');
    fs.mkdirSync(gdir);
    const g = runPythonJson<Made>('annotate_reference.py', ['make', gdir, '40', 'scgpt']);
    const model = path.join(g.run, 'model.onnx');
    const side = readSidecar(model);
    assert.strictEqual(side.scgpt?.binHere, true);
    assert.strictEqual(side.scgpt?.maxSeqLen, 6, 'cells with more than 5 genes are sampled');
    const out = path.join(gdir, 'annotated.h5ad');
    const res = await runTask<AnnotateResult>('annotate/annotate', 'annotateTask', { model, dataset: g.query, out, batchSize: BATCH });
    assert.strictEqual(res.nCells, 40);
    const ref = runPythonJson<TorchRef>('annotate_reference.py', ['torch', g.run, g.query, String(BATCH)]);
    const back = runPythonJson<ReadBack>('annotate_reference.py', ['read', out]);
    let maxDiff = 0;
    for (let i = 0; i < 40; i++) {
      for (let k = 0; k < g.classes.length; k++) maxDiff = Math.max(maxDiff, Math.abs(back.probabilities[i][k] - ref.probabilities[i][k]));
      const sorted = [...ref.probabilities[i]].sort((a, b) => b - a);
      if (sorted[0] - sorted[1] > 1e-6) assert.strictEqual(back.predicted[i], g.classes[ref.predicted[i]], `cell ${i}`);
    }
    assert.ok(maxDiff <= 1e-5, `max |p_onnx - p_torch| = ${maxDiff}`);
  });
});
