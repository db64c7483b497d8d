import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { finalizeFinetuneRun, finalizeFinetuneRuns } from '../../../src/core/finetune/finalize';
import { WORKER_PYTHONPATH, workerInvocation } from '../../../src/core/finetune/invocation';
import { finetuneModelRef, prepareFinetuneGrid, type FinetuneGridInput } from '../../../src/core/finetune/prepare';
import { labelValues } from '../../../src/core/h5ad/labels';
import { openH5ad } from '../../../src/core/h5ad/read';
import { classificationReport } from '../../../src/core/metrics';
import { runBaselineGrid } from '../../../src/core/runs/baseline';
import { FinetuneParametersSchema, RunEventSchema } from '../../../src/core/runs/schema';
import { PREDICTIONS_FILE, RunStore } from '../../../src/core/runs/store';
import type { TaskContext } from '../../../src/core/workers/task';
import { PROJECT_ROOT, h5adPath, runPythonJson, tempDir } from '../../helpers/shared';

const PBMC = h5adPath('scanpy_pbmc68k_reduced_2025.h5ad');

function ctx(): TaskContext {
  return { progress: () => undefined, cancelled: false };
}

interface PyRows { test: number[]; classes: string[]; runs: { train: number[]; validation: number[] | null }[] }

function reference(runs: { model: string; fraction: number; seed: number; stratified: boolean; draw?: string }[]): PyRows {
  return runPythonJson<PyRows>('finetune_split_reference.py', [], JSON.stringify({
    dataset: PBMC, label: 'bulk_labels', testSize: 0.2, splitSeed: 2022, runs,
  }));
}

describe('fine-tune: prepareFinetuneGrid', () => {
  let root: string;
  let ckptDir: string;
  let scbertCkpt: string;
  const store = () => new RunStore(root);
  const base = (over: Partial<FinetuneGridInput>): FinetuneGridInput => ({
    datasetPath: PBMC, labelColumn: 'bulk_labels', model: 'scbert', checkpoint: scbertCkpt, storeRoot: root, ...over,
  });

  before(() => {
    root = tempDir('scwb-finetune-');
    ckptDir = tempDir('scwb-ckpt-');
    scbertCkpt = path.join(ckptDir, 'panglao_pretrain.pth');
    fs.writeFileSync(scbertCkpt, 'not read by src/core');
    fs.mkdirSync(path.join(ckptDir, 'scGPT_human'));
    for (const f of ['best_model.pt', 'vocab.json', 'args.json']) fs.writeFileSync(path.join(ckptDir, 'scGPT_human', f), '{}');
  });
  after(() => {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(ckptDir, { recursive: true, force: true });
  });

  it('scBERT: the published rows (few-shot stream below 1.0, the whole training split at 1.0), the LR baseline\'s test rows; validation = test; an experiment of its own', async () => {
    const fractions = [0.5, 1];
    const seeds = [0, 2021];
    const lr = await runBaselineGrid({
      datasetPath: PBMC, labelColumn: 'bulk_labels', split: { kind: 'stratified', testSize: 0.2, seed: 2022 },
      model: { penalty: 'l2', C: 1 }, fractions, seeds, storeRoot: root, experiment: 'pbmc with LR',
    }, ctx());
    const plan = await prepareFinetuneGrid(base({ fractions, seeds }), ctx());
    // not the LR baseline's experiment (its name would then hold scBERT rows): the results borrow the LR rows
    assert.strictEqual(plan.experiment, 'scanpy_pbmc68k_reduced_2025 fine-tune');
    const other = await prepareFinetuneGrid(base({ split: { kind: 'stratified', testSize: 0.3, seed: 2022 }, checkpoint: null }), ctx());
    assert.strictEqual(other.experiment, 'scanpy_pbmc68k_reduced_2025 fine-tune');
    for (const r of other.runs) await store().delete(r.id);
    {
      assert.deepStrictEqual(plan.runs.map(r => [r.fraction, r.seed]), lr.runs.map(r => [r.fraction, r.seed]));
      const py = reference(plan.runs.map(r => ({ model: 'scbert', fraction: r.fraction, seed: r.seed, stratified: false, draw: r.fraction < 1 ? 'stream' : 'all' })));
      const pyLr = reference(plan.runs.map(r => ({ model: 'scbert', fraction: r.fraction, seed: r.seed, stratified: false })));
      for (let k = 0; k < plan.runs.length; k++) {
        const ours = (await store().readSplit(plan.runs[k].id))!;
        const theirs = (await store().readSplit(lr.runs[k].id))!;
        assert.deepStrictEqual(theirs.train, pyLr.runs[k].train, 'LR: np.random.seed(k) + choice');
        assert.deepStrictEqual(ours.test, theirs.test, `test rows of run ${k}`);
        assert.deepStrictEqual(ours.validation, ours.test, 'scBERT validates on the test set, as published');
        assert.deepStrictEqual(ours.train, py.runs[k].train, plan.runs[k].fraction < 1 ? 'the few-shot script\'s stream' : 'the whole training split');
        const rec = await store().get(plan.runs[k].id);
        assert.strictEqual(rec.protocol?.fewShotDraw, plan.runs[k].fraction < 1 ? 'stream' : 'all');
        assert.deepStrictEqual(rec.protocol?.deviations, []);
        assert.deepStrictEqual(ours.test, py.test, 'StratifiedShuffleSplit(0.2, 2022)');
        assert.strictEqual(plan.runs[k].nTrain, ours.train.length);
      }
      assert.deepStrictEqual(plan.classes, py.classes);
    }
  });

  it('scGPT: stratified few-shot subsets, then a 10% stratified validation hold-out seeded by the run\'s seed', async () => {
    const plan = await prepareFinetuneGrid(base({
      model: 'scgpt', checkpoint: path.join(ckptDir, 'scGPT_human'), fractions: [0.5, 1], seeds: [1, 2], experiment: 'gpt',
    }), ctx());
    const py = reference(plan.runs.map(r => ({ model: 'scgpt', fraction: r.fraction, seed: r.seed, stratified: true })));
    for (let k = 0; k < plan.runs.length; k++) {
      const split = (await store().readSplit(plan.runs[k].id))!;
      assert.deepStrictEqual(split.train, py.runs[k].train, `train rows of run ${k}`);
      assert.deepStrictEqual(split.validation, py.runs[k].validation, `validation rows of run ${k}`);
      assert.deepStrictEqual(split.test, py.test);
      assert.strictEqual(new Set([...split.train, ...split.validation!]).size, split.train.length + split.validation!.length);
    }
    const record = await store().get(plan.runs[0].id);
    assert.strictEqual(record.kind, 'finetune');
    assert.strictEqual(record.status, 'queued');
    assert.strictEqual(record.stratifiedFewShot, true);
    assert.deepStrictEqual(record.model, { family: 'scGPT', label: 'scGPT', variant: '' });
    const p = FinetuneParametersSchema.parse(record.parameters.finetune);
    assert.strictEqual(p.checkpoint, path.join(ckptDir, 'scGPT_human'));
    assert.deepStrictEqual([p.epochs, p.batchSize, p.lr, p.maxSeqLen, p.device, p.nproc], [20, 32, 1e-4, 3001, 'auto', 1]);
    assert.deepStrictEqual(p.classes, py.classes);
  });

  it('reference/query: trains on all reference rows and tests on all query rows; scBERT validates on the test cells', async () => {
    const dir = tempDir('scwb-finetune-rq-');
    try {
      const files = runPythonJson<{ reference: string; query: string }>('results_make_refquery.py', [PBMC, dir, '300']);
      const plan = await prepareFinetuneGrid(base({ datasetPath: files.reference, queryPath: files.query, experiment: 'rq' }), ctx());
      const split = (await store().readSplit(plan.runs[0].id))!;
      const record = await store().get(plan.runs[0].id);
      assert.deepStrictEqual(record.split, { kind: 'reference-query', queryPath: path.resolve(files.query) });
      assert.strictEqual(record.query?.nObs, 400);
      assert.deepStrictEqual(split.test, Array.from({ length: 400 }, (_, i) => i));
      assert.deepStrictEqual(split.train.slice().sort((a, b) => a - b), Array.from({ length: 300 }, (_, i) => i), 'every reference row, in np.random.choice order');
      assert.deepStrictEqual(split.validation, split.test, 'docs/worker.md: validation equal to test means the query\'s test cells');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('run.json carries the worker\'s parameters; no checkpoint means the no-pre-training ablation', async () => {
    const plan = await prepareFinetuneGrid(base({ checkpoint: null, epochs: 2, batchSize: 8, device: 'cpu', experiment: 'rand' }), ctx());
    assert.strictEqual(plan.runs.length, 1);
    const r = await store().get(plan.runs[0].id);
    assert.deepStrictEqual(r.model, { family: 'scBERT', label: 'scBERT no pre-training', variant: 'no pretraining' });
    const p = FinetuneParametersSchema.parse(r.parameters.finetune);
    assert.deepStrictEqual([p.model, p.checkpoint, p.ablation, p.epochs, p.batchSize, p.device], ['scbert', null, 'no-pretraining', 2, 8, 'cpu']);
    assert.strictEqual(p.maxSeqLen, undefined, 'scBERT\'s length follows its gene count');
    assert.match(r.dataset.sha256, /^[0-9a-f]{64}$/);
    assert.strictEqual(r.dataset.nObs, 700);
  });

  it('names variants as the published numbers do', () => {
    assert.deepStrictEqual(finetuneModelRef('scbert', 'no-gene2vec'), { family: 'scBERT', label: 'scBERT no gene2vec', variant: 'no gene2vec' });
    assert.deepStrictEqual(finetuneModelRef('scgpt', 'no-pretraining'), { family: 'scGPT', label: 'scGPT no pre-training', variant: 'no pretrain' });
    assert.deepStrictEqual(finetuneModelRef('scgpt', 'frozen-embeddings').variant, 'no pretrain freeze');
  });

  it('refuses bad input with a message naming what is wrong, and creates no run', async () => {
    const before = (await store().list()).length;
    await assert.rejects(prepareFinetuneGrid(base({ labelColumn: 'no_such_column' }), ctx()), (e: Error) => e.message.includes(PBMC) && e.message.includes('no_such_column'));
    await assert.rejects(prepareFinetuneGrid(base({ checkpoint: path.join(ckptDir, 'missing.pth') }), ctx()), /missing\.pth: no such file/);
    await assert.rejects(prepareFinetuneGrid(base({ model: 'scgpt', checkpoint: scbertCkpt }), ctx()), /scGPT checkpoint is a model folder/);
    await assert.rejects(prepareFinetuneGrid(base({ model: 'scgpt', checkpoint: null, ablation: 'no-gene2vec' }), ctx()), /no-gene2vec ablation is scBERT's/);
    await assert.rejects(prepareFinetuneGrid(base({ fractions: [1.5] }), ctx()), /fraction 1.5 is not in \(0, 1\]/);
    await assert.rejects(prepareFinetuneGrid(base({ epochs: 0 }), ctx()), /epochs must be a positive integer/);
    await assert.rejects(prepareFinetuneGrid(base({ valueLayer: 'X_binned' }), ctx()), /no layer 'X_binned'/);
    assert.strictEqual((await store().list()).length, before);
  });
});

describe('fine-tune: FinetuneParametersSchema and the new events', () => {
  it('accepts docs/worker.md\'s example and refuses a wrong field', () => {
    const doc = fs.readFileSync(path.join(PROJECT_ROOT, 'docs', 'worker.md'), 'utf8');
    const block = /```json\n([\s\S]*?)\n```/.exec(doc)![1]
      .replace(/"scbert" \| "scgpt"/, '"scbert"').replace(/"\/abs[^|]*\| "\/abs[^|]*\| null/, '"/abs/x.pth"')
      .replace(/"none" \| [^,]*"frozen-embeddings"/, '"none"').replace(/"cpu" \| "cuda" \| "auto"/, '"cpu"')
      .replace(/"\.\.\."/, '"NK"');
    const p = FinetuneParametersSchema.parse(JSON.parse(block));
    assert.deepStrictEqual(p.classes, ['B cell', 'CD4 T', 'NK']);
    assert.strictEqual(FinetuneParametersSchema.safeParse({ ...p, ablation: 'no-pretrain' }).success, false);
    assert.strictEqual(FinetuneParametersSchema.safeParse({ ...p, batchSize: 0 }).success, false);
  });

  it('validates train and validation events as docs/worker.md writes them', () => {
    const t = '2026-12-03T07:30:00.123Z';
    assert.ok(RunEventSchema.safeParse({ type: 'train', time: t, epoch: 1, step: 10, loss: 2.3, lr: 1e-4, cellsPerSec: 120.5, gpuMemoryMiB: null }).success);
    assert.ok(RunEventSchema.safeParse({ type: 'validation', time: t, epoch: 1, step: 10, loss: 1.9, accuracy: 0.4, best: true }).success);
    assert.ok(!RunEventSchema.safeParse({ type: 'train', time: t, epoch: 0, step: 10, loss: 2.3, lr: 1e-4, cellsPerSec: 1, gpuMemoryMiB: null }).success, 'epochs count from 1');
    assert.ok(!RunEventSchema.safeParse({ type: 'validation', time: t, epoch: 1, step: 1, loss: 1, accuracy: 0.4 }).success, 'best is required');
  });
});

describe('fine-tune: workerInvocation', () => {
  it('is an argument array with the bundled package on PYTHONPATH', () => {
    const inv = workerInvocation({ python: '/opt/py env/bin/python', runDirs: ['/s/runs/a b', '/s/runs/c;rm -rf x'], resume: true, nproc: 2, device: 'cuda', baseEnv: { PYTHONPATH: '/site' } });
    assert.strictEqual(inv.command, '/opt/py env/bin/python');
    assert.deepStrictEqual(inv.args, ['-m', 'scwb_worker', 'finetune', '--run-dir', '/s/runs/a b', '--run-dir', '/s/runs/c;rm -rf x', '--resume', '--nproc', '2', '--device', 'cuda']);
    assert.deepStrictEqual(inv.env, { PYTHONPATH: `${WORKER_PYTHONPATH}${path.delimiter}/site`, PYTHONUNBUFFERED: '1' });
    assert.strictEqual(WORKER_PYTHONPATH, path.join(PROJECT_ROOT, 'resources', 'worker'));
    assert.strictEqual(inv.cwd, '/s/runs');
    const plain = workerInvocation({ python: 'python3', runDirs: ['/r/x'], device: 'auto', baseEnv: {} });
    assert.deepStrictEqual(plain.args, ['-m', 'scwb_worker', 'finetune', '--run-dir', '/r/x']);
    assert.deepStrictEqual(plain.env.PYTHONPATH, WORKER_PYTHONPATH);
    assert.throws(() => workerInvocation({ python: 'python3', runDirs: [] }), /no run folder/);
  });
});

describe('fine-tune: finalizeFinetuneRun', () => {
  let root: string;
  const store = () => new RunStore(root);
  before(() => { root = tempDir('scwb-finalize-'); });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  async function completedRun(predict: (truth: string, i: number) => string): Promise<{ id: string; truth: string[]; pred: string[] }> {
    const plan = await prepareFinetuneGrid({ datasetPath: PBMC, labelColumn: 'bulk_labels', model: 'scbert', checkpoint: null, storeRoot: root }, ctx());
    const id = plan.runs[0].id;
    const split = (await store().readSplit(id))!;
    const run = await store().get(id);
    // Labels of the test rows as the worker would write them (predictions.csv), some predicted wrong.
    const reader = await openH5ad(PBMC);
    const labels = labelValues(reader.obs(), 'bulk_labels', PBMC).map(String);
    const names = reader.obs().index;
    reader.close();
    const truth = split.test.map(i => labels[i]);
    const pred = truth.map(predict);
    await store().writePredictions(id, split.test.map((i, t) => ({ index: i, obsName: names[i], trueLabel: truth[t], predictedLabel: pred[t] })));
    await store().update(id, { status: 'completed', endedAt: new Date().toISOString() });
    assert.strictEqual(run.status, 'queued');
    return { id, truth, pred };
  }

  it('writes metrics.json equal to classificationReport of predictions.csv, the summary and metric events, once', async () => {
    const classes = ['CD14+ Monocyte', 'CD19+ B', 'CD56+ NK'];
    const { id, truth, pred } = await completedRun((t, i) => (i % 3 === 0 ? classes[i % classes.length] : t));
    const done = await finalizeFinetuneRun(store(), id);
    const report = classificationReport(truth, pred);
    const m = (await store().readMetrics(id))!;
    assert.strictEqual(m.accuracy, report.accuracy);
    assert.strictEqual(m.macroF1, report.macro.f1);
    assert.deepStrictEqual(m.confusion, report.confusion);
    assert.deepStrictEqual(m.classes, report.labels.map(String));
    assert.ok(report.accuracy < 1 && report.accuracy > 0.5);
    assert.deepStrictEqual(done.summary, { accuracy: m.accuracy, macroF1: m.macroF1, weightedF1: m.weightedF1, nTrain: 560, nTest: 140 });
    assert.strictEqual(done.status, 'completed');
    const again = await finalizeFinetuneRun(store(), id);
    assert.deepStrictEqual(again, done);
    const metricEvents = (await store().readEvents(id)).filter(e => e.type === 'metric');
    assert.deepStrictEqual(metricEvents.map(e => e.type === 'metric' && e.name), ['accuracy', 'macroF1', 'weightedF1'], 'finalizing twice appends nothing');
  });

  it('fails a run whose predictions.csv is malformed, naming the file', async () => {
    const { id } = await completedRun(t => t);
    const file = store().file(id, PREDICTIONS_FILE);
    fs.writeFileSync(file, 'index,obs_name,true_label,predicted_label\nx,a,b,c\n');
    const r = await finalizeFinetuneRun(store(), id);
    assert.strictEqual(r.status, 'failed');
    assert.ok(r.error?.includes(file), r.error ?? '');
    assert.strictEqual(await store().readMetrics(id), null);
    const events = await store().readEvents(id);
    assert.ok(events.some(e => e.type === 'status' && e.status === 'failed'));
  });

  it('fails a completed run that wrote fewer predictions than split.json\'s test rows', async () => {
    const { id } = await completedRun(t => t);
    const rows = (await store().readPredictions(id))!;
    await store().writePredictions(id, rows.slice(1));
    const r = await finalizeFinetuneRun(store(), id);
    assert.strictEqual(r.status, 'failed');
    assert.match(r.error ?? '', /139 rows, but split\.json has 140 test cells/);
  });

  it('settles runs a worker never started once it has exited', async () => {
    const plan = await prepareFinetuneGrid({ datasetPath: PBMC, labelColumn: 'bulk_labels', model: 'scbert', checkpoint: null, storeRoot: root, seeds: [0, 1] }, ctx());
    const ids = plan.runs.map(r => r.id);
    const failed = await finalizeFinetuneRuns(store(), { ids: [ids[0]], workerExitCode: 1 });
    assert.strictEqual(failed[0].status, 'failed');
    assert.match(failed[0].error ?? '', /exited \(status 1\) before it started this run/);
    const cancelled = await finalizeFinetuneRuns(store(), { ids: [ids[1]], workerExitCode: 130 });
    assert.strictEqual(cancelled[0].status, 'cancelled');
  });
});
