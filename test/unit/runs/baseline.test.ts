import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { alignGenes, remapColumns, runBaselineGrid, type BaselineGridInput, type BaselineGridResult } from '../../../src/core/runs/baseline';
import { RunStore } from '../../../src/core/runs/store';
import { CancelledError, type TaskContext } from '../../../src/core/workers/task';
import { h5adPath, runPythonJson, tempDir } from '../../helpers/shared';

const PBMC = h5adPath('scanpy_pbmc68k_reduced_2025.h5ad');

interface PyRun {
  train: number[];
  predIndex: number[];
  obsNames: string[];
  trueLabels: string[];
  ours: { accuracy: number; macroF1: number; weightedF1: number; classes: string[]; precision: number[]; recall: number[]; f1: number[]; support: number[]; confusion: number[][] };
  sklearn: { accuracy: number; macroF1: number };
}
interface PyReference { test: number[]; sha256: string; runs: PyRun[]; alignment?: Record<string, number> }

function ctx(): TaskContext & { messages: string[] } {
  const messages: string[] = [];
  return { messages, progress: (_f, m) => { if (m) messages.push(m); }, cancelled: false };
}

function close(actual: number, expected: number, what: string, tol = 1e-12): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected}`);
}

describe('LR baseline runner vs scikit-learn 1.2 (pbmc68k_reduced, bulk_labels)', () => {
  let root: string;
  let result: BaselineGridResult;
  let py: PyReference;
  const store = () => new RunStore(root);

  before(async () => {
    root = tempDir('scwb-baseline-');
    const input: BaselineGridInput = {
      datasetPath: PBMC, labelColumn: 'bulk_labels', split: { kind: 'stratified', testSize: 0.2, seed: 2022 },
      model: { penalty: 'l1', C: 0.1 }, fractions: [0.5, 1], seeds: [0, 1], experiment: 'pbmc grid', storeRoot: root,
    };
    result = await runBaselineGrid(input, ctx());
    py = runPythonJson<PyReference>('results_baseline_reference.py', [], JSON.stringify({
      dataset: PBMC, label: 'bulk_labels', split: input.split, C: 0.1,
      runs: result.runs.map(r => ({ dir: store().runDir(r.id), fraction: r.fraction, seed: r.seed })),
    }));
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('runs one completed run per (fraction, seed), in order, with the dataset hash and protocol recorded', async () => {
    assert.deepStrictEqual(result.runs.map(r => [r.fraction, r.seed, r.status]), [[0.5, 0, 'completed'], [0.5, 1, 'completed'], [1, 0, 'completed'], [1, 1, 'completed']]);
    const runs = await store().list();
    assert.deepStrictEqual(runs.map(r => r.id), result.runs.map(r => r.id));
    for (const r of runs) {
      assert.strictEqual(r.dataset.sha256, py.sha256, 'sha256 equals hashlib.sha256 of the file');
      assert.strictEqual(r.experiment, 'pbmc grid');
      assert.strictEqual(r.kind, 'baseline');
      assert.deepStrictEqual(r.model, { family: 'LR', label: 'LR L1 C=0.1', variant: '' });
      assert.ok(r.startedAt && r.endedAt && r.startedAt <= r.endedAt);
      assert.strictEqual(r.summary!.nTest, 140);
      const events = await store().readEvents(r.id);
      assert.deepStrictEqual(events.filter(e => e.type === 'status').map(e => e.type === 'status' && e.status), ['running', 'completed']);
      assert.ok(events.some(e => e.type === 'metric' && e.name === 'accuracy'));
    }
  });

  it('uses sklearn\'s StratifiedShuffleSplit test rows and np.random.seed(k)+choice training subsets', async () => {
    for (let k = 0; k < result.runs.length; k++) {
      const split = (await store().readSplit(result.runs[k].id))!;
      assert.deepStrictEqual(split.test, py.test);
      assert.deepStrictEqual(split.train, py.runs[k].train, `training subset of run ${k}`);
      assert.deepStrictEqual(py.runs[k].predIndex, py.test, 'predictions.csv lists the test rows in split order');
      assert.strictEqual(result.runs[k].nTrain, py.runs[k].train.length);
    }
  });

  it('writes metrics.json equal to sklearn\'s metrics on our predictions', async () => {
    for (let k = 0; k < result.runs.length; k++) {
      const m = (await store().readMetrics(result.runs[k].id))!;
      const ref = py.runs[k].ours;
      close(m.accuracy, ref.accuracy, 'accuracy');
      close(m.macroF1, ref.macroF1, 'macro F1');
      close(m.weightedF1, ref.weightedF1, 'weighted F1');
      assert.deepStrictEqual(m.classes, ref.classes);
      assert.deepStrictEqual(m.confusion, ref.confusion);
      m.perClass.forEach((c, i) => {
        close(c.precision, ref.precision[i], `precision ${c.name}`);
        close(c.recall, ref.recall[i], `recall ${c.name}`);
        close(c.f1, ref.f1[i], `f1 ${c.name}`);
        assert.strictEqual(c.support, ref.support[i]);
      });
      const run = await store().get(result.runs[k].id);
      assert.strictEqual(run.summary!.accuracy, m.accuracy);
    }
  });

  it('reaches sklearn LogisticRegression(l1, C=0.1, liblinear) accuracy within 0.5 points on the same rows', () => {
    for (let k = 0; k < result.runs.length; k++) {
      const ours = result.runs[k].metrics!.accuracy;
      const theirs = py.runs[k].sklearn.accuracy;
      assert.ok(Math.abs(ours - theirs) <= 0.005 + 1e-12, `run ${k}: accuracy ${ours} vs sklearn ${theirs}`);
    }
  });

  it('cancelling marks the current run and the ones not started cancelled, and throws CancelledError', async () => {
    const c = ctx();
    let fitting = false;
    const cancelling: TaskContext = {
      progress: (f, m) => { c.progress(f, m); if (m && /fitting/.test(m)) fitting = true; },
      get cancelled() { return fitting; },
    };
    const croot = tempDir('scwb-cancel-');
    try {
      await assert.rejects(runBaselineGrid({
        datasetPath: PBMC, labelColumn: 'bulk_labels', split: { kind: 'stratified', testSize: 0.2, seed: 2022 },
        model: { penalty: 'l1', C: 0.1 }, fractions: [1], seeds: [0, 1], storeRoot: croot,
      }, cancelling), (e: Error) => e instanceof CancelledError);
      const runs = await new RunStore(croot).list();
      assert.deepStrictEqual(runs.map(r => r.status), ['cancelled', 'cancelled']);
      assert.match(await new RunStore(croot).readLog(runs[0].id), /cancelled/);
    } finally {
      fs.rmSync(croot, { recursive: true, force: true });
    }
  });
});

describe('LR baseline runner on a reference/query pair', () => {
  let dir: string;
  before(() => { dir = tempDir('scwb-refquery-'); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('aligns query genes to the reference by name (missing -> 0), tests on every query cell, and matches sklearn', async () => {
    const files = runPythonJson<{ reference: string; query: string }>('results_make_refquery.py', [PBMC, dir, '300']);
    const root = path.join(dir, 'store');
    const result = await runBaselineGrid({
      datasetPath: files.reference, labelColumn: 'bulk_labels', split: { kind: 'reference-query', queryPath: files.query },
      model: { penalty: 'l1', C: 0.1 }, fractions: [1], seeds: [0], storeRoot: root, publishedDataset: 'pbmc',
    }, ctx());
    const s = new RunStore(root);
    const py = runPythonJson<PyReference>('results_baseline_reference.py', [], JSON.stringify({
      dataset: files.reference, label: 'bulk_labels', split: { kind: 'reference-query', queryPath: files.query }, C: 0.1,
      runs: [{ dir: s.runDir(result.runs[0].id), fraction: 1, seed: 0 }],
    }));
    const a = result.geneAlignment!;
    assert.deepStrictEqual(
      { referenceGenes: a.referenceGenes, queryGenes: a.queryGenes, matched: a.matched, missingInQuery: a.missingInQuery },
      py.alignment);
    assert.strictEqual(a.droppedFromQuery, 5);
    assert.deepStrictEqual(py.runs[0].predIndex, py.test, 'every query cell, in file order');
    const run = await s.get(result.runs[0].id);
    assert.strictEqual(run.split.kind, 'reference-query');
    assert.strictEqual(run.query?.nObs, 400);
    assert.strictEqual(run.publishedDataset, 'pbmc');
    assert.deepStrictEqual((run.parameters.geneAlignment as Record<string, number>).matched, a.matched);
    const m = (await s.readMetrics(run.id))!;
    for (const c of m.classes) assert.ok((run.parameters.classes as string[]).includes(c), `run.json's parameters.classes holds '${c}'`);
    close(m.accuracy, py.runs[0].ours.accuracy, 'accuracy');
    close(m.macroF1, py.runs[0].ours.macroF1, 'macro F1');
    assert.deepStrictEqual(m.confusion, py.runs[0].ours.confusion);
    assert.ok(Math.abs(m.accuracy - py.runs[0].sklearn.accuracy) <= 0.005 + 1e-12, `accuracy ${m.accuracy} vs sklearn ${py.runs[0].sklearn.accuracy}`);
  });

  it('remaps CSR columns by gene name, keeping the first of repeated names', () => {
    const { map, report } = alignGenes(['A', 'B', 'C', 'D'], ['C', 'X', 'A', 'C']);
    assert.deepStrictEqual(Array.from(map), [2, -1, 0, -1]);
    assert.deepStrictEqual(report, { referenceGenes: 4, queryGenes: 4, matched: 2, missingInQuery: 2, droppedFromQuery: 1, duplicateQueryGenes: 1 });
    const X = { nRows: 2, nCols: 4, indptr: Int32Array.from([0, 3, 4]), indices: Int32Array.from([0, 1, 2, 3]), data: Float32Array.from([1, 2, 3, 4]) };
    const Y = remapColumns(X, map, 4);
    assert.deepStrictEqual([Array.from(Y.indptr), Array.from(Y.indices), Array.from(Y.data)], [[0, 2, 2], [2, 0], [1, 3]]);
  });
});
