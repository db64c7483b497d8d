import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { main } from '../../../src/cli/main';
import { probeRequestFromArgs, pretrainRequestFromArgs, pretrainResumeFromArgs } from '../../../src/cli/commands/benchmark';
import {
  encoderFromPath, preparePretrainRun, prepareProbeGrid, probeModelRef, PROBE_BASELINE, type ProbeInput,
} from '../../../src/core/benchmark/prepare';
import { finalizeFinetuneRun, finalizeFinetuneRuns } from '../../../src/core/finetune/finalize';
import { workerInvocation } from '../../../src/core/finetune/invocation';
import { labelValues } from '../../../src/core/h5ad/labels';
import { openH5ad } from '../../../src/core/h5ad/read';
import { classificationReport } from '../../../src/core/metrics';
import { buildResultsModel } from '../../../src/core/results/model';
import { liveText, foldLive, emptyLive } from '../../../src/core/runs/live';
import {
  PretrainParametersSchema, ProbeParametersSchema, RunEventSchema, RunRecordSchema, type RunRecord,
} from '../../../src/core/runs/schema';
import { PREDICTIONS_FILE, RunStore } from '../../../src/core/runs/store';
import { randomSplit } from '../../../src/core/splits';
import type { TaskContext } from '../../../src/core/workers/task';
import { h5adPath, runPythonJson, tempDir } from '../../helpers/shared';

const PBMC = h5adPath('scanpy_pbmc68k_reduced_2025.h5ad');

function ctx(): TaskContext {
  return { progress: () => undefined, cancelled: false };
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

async function pbmcLabels(): Promise<string[]> {
  const r = await openH5ad(PBMC);
  try {
    return labelValues(r.obs(), 'bulk_labels', PBMC).map(String);
  } finally {
    r.close();
  }
}

describe('benchmark: run.json schemas of pre-training and probe runs (docs/worker-benchmark.md)', () => {
  it('parameters.pretrain and parameters.probe accept the contract\'s examples and refuse unknown values', () => {
    const pretrain = {
      model: 'benchmark', structure: 'cnn', checkpoint: null, vocab: null, valueMode: 'bins', nBins: 51, maxSeqLen: 511, maskRatio: 0.4,
      mvc: true, weightedSampling: true, pooling: 'mean', epochs: 10, batchSize: 128, lr: 0.0002, warmupSteps: 10000,
      config: { dim: 256, depth: 6, heads: 8, dropout: 0.15 }, valueLayer: null, device: 'auto', nproc: 1, amp: true, logEvery: 10,
    };
    assert.deepStrictEqual(PretrainParametersSchema.parse(pretrain), pretrain);
    assert.strictEqual(PretrainParametersSchema.safeParse({ ...pretrain, structure: 'rnn' }).success, false);
    assert.strictEqual(PretrainParametersSchema.safeParse({ ...pretrain, maskRatio: 1 }).success, false);
    const probe = {
      encoder: { model: 'benchmark', path: '/abs/encoder.pt' }, method: 'knn', classes: ['a', 'b'], pooling: 'cls', k: 10, epochs: 50,
      lr: 0.005, batchSize: 64, evalEvery: 5, select: 'best-test', writeEmbeddings: false, valueLayer: null, device: 'cpu',
    };
    assert.deepStrictEqual(ProbeParametersSchema.parse(probe), probe);
    assert.strictEqual(ProbeParametersSchema.safeParse({ ...probe, method: 'svm' }).success, false);
    assert.strictEqual(ProbeParametersSchema.safeParse({ ...probe, classes: ['a'] }).success, false);
  });

  it('a pre-training run needs no label column; every other kind does; split kind random; validation accuracy may be null', () => {
    const base = {
      schemaVersion: 1, id: 'x', name: 'n', experiment: 'e', dataset: { path: '/d.h5ad', sha256: 'a'.repeat(64) },
      split: { kind: 'random', testSize: 0.05, seed: 3 }, seed: 3, fraction: 1, model: { family: 'f', label: 'l' },
      parameters: {}, codeVersion: '1', createdAt: 't', status: 'queued',
    };
    assert.strictEqual(RunRecordSchema.safeParse({ ...base, kind: 'pretrain', labelColumn: '' }).success, true);
    const probe = RunRecordSchema.safeParse({ ...base, kind: 'probe', labelColumn: '' });
    assert.strictEqual(probe.success, false);
    assert.match(JSON.stringify(probe.error?.issues), /labelColumn/);
    assert.strictEqual(RunRecordSchema.safeParse({ ...base, kind: 'probe', labelColumn: 'cell_type' }).success, true);
    assert.strictEqual(RunRecordSchema.safeParse({ ...base, kind: 'other', labelColumn: 'c' }).success, false);
    const v = RunEventSchema.parse({ type: 'validation', time: 't', epoch: 1, step: 4, loss: 0.25, accuracy: null, best: true });
    assert.strictEqual(v.type === 'validation' && v.accuracy, null);
    const live = foldLive(emptyLive(), [
      RunEventSchema.parse({ type: 'train', time: 't', epoch: 1, step: 4, loss: 0.3, lr: 1e-4, cellsPerSec: 50, gpuMemoryMiB: null }), v,
    ]);
    assert.strictEqual(liveText(live, 10), 'epoch 1/10 · loss 0.300 · 50 cells/s · val loss 0.250');
  });

  it('the worker invocation names the sub-command; probes take no --resume', () => {
    const inv = workerInvocation({ python: 'py', runDirs: ['/s/a', '/s/b'], command: 'probe', device: 'cpu' });
    assert.deepStrictEqual(inv.args, ['-m', 'scwb_worker', 'probe', '--run-dir', '/s/a', '--run-dir', '/s/b', '--device', 'cpu']);
    assert.deepStrictEqual(workerInvocation({ python: 'py', runDirs: ['/s/a'], command: 'pretrain', resume: true, nproc: 2 }).args,
      ['-m', 'scwb_worker', 'pretrain', '--run-dir', '/s/a', '--resume', '--nproc', '2']);
    assert.throws(() => workerInvocation({ python: 'py', runDirs: ['/s/a'], command: 'probe', resume: true }), /do not resume/);
  });
});

describe('benchmark: the random split (kind random) equals scikit-learn', () => {
  it('randomSplit = train_test_split(shuffle=True, random_state) without stratify = ShuffleSplit, index for index', () => {
    const cases = [
      { n: 700, test_size: 0.3, seed: 0 }, { n: 700, test_size: 0.3, seed: 2022 }, { n: 101, test_size: 0.3, seed: 1_234_567_890 },
      { n: 10, test_size: 0.05, seed: 7 }, { n: 2638, test_size: 0.05, seed: 4_000_000_000 },
    ];
    const requests = cases.flatMap(c => [{ kind: 'tts', ...c }, { kind: 'ss', ...c }]);
    const ref = runPythonJson<unknown[]>('splits_reference.py', [], JSON.stringify(requests));
    cases.forEach((c, i) => {
      const ours = randomSplit(c.n, c.test_size, c.seed);
      assert.deepStrictEqual(ours, ref[2 * i], `train_test_split n=${c.n} test=${c.test_size} seed=${c.seed}`);
      assert.deepStrictEqual([ours], ref[2 * i + 1], `ShuffleSplit n=${c.n} seed=${c.seed}`);
    });
  });
});

describe('benchmark: prepare, finalize and results', function () {
  let root: string;
  let ckpt: string;
  let encoderPath: string;
  const store = () => new RunStore(root);

  before(() => {
    root = tempDir('scwb-bench-');
    ckpt = tempDir('scwb-bench-ckpt-');
    encoderPath = path.join(ckpt, 'encoder.pt');
    fs.writeFileSync(encoderPath, 'not read by src/core');
  });
  after(() => {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(ckpt, { recursive: true, force: true });
  });

  it('preparePretrainRun: run.json kind pretrain with the defaults of the contract; split.json train + held-out validation, test []', async () => {
    const plan = await preparePretrainRun({ datasetPath: PBMC, structure: 'linear', seed: 11, epochs: 2, storeRoot: root }, ctx());
    const run = readJson<RunRecord>(path.join(plan.run.runDir, 'run.json'));
    assert.strictEqual(run.kind, 'pretrain');
    assert.strictEqual(run.labelColumn, '');
    assert.strictEqual(run.status, 'queued');
    assert.deepStrictEqual(run.split, { kind: 'random', testSize: 0.05, seed: 11 });
    assert.strictEqual(run.model.label, 'Linear encoder');
    assert.strictEqual(plan.experiment, 'scanpy_pbmc68k_reduced_2025 pre-train');
    const p = PretrainParametersSchema.parse(run.parameters.pretrain);
    assert.deepStrictEqual({ ...p }, {
      model: 'benchmark', structure: 'linear', checkpoint: null, vocab: null, valueMode: 'log1p', nBins: 51, maxSeqLen: 511, maskRatio: 0.4,
      mvc: false, weightedSampling: false, pooling: 'cls', epochs: 2, batchSize: 128, lr: 0.0002, warmupSteps: 10000, config: null,
      valueLayer: null, device: 'auto', nproc: 1, amp: true, logEvery: 10,
    });
    const split = readJson<{ train: number[]; validation: number[]; test: number[] }>(path.join(plan.run.runDir, 'split.json'));
    const ref = runPythonJson<unknown[]>('splits_reference.py', [], JSON.stringify([{ kind: 'tts', n: 700, test_size: 0.05, seed: 11 }]));
    assert.deepStrictEqual({ train: split.train, test: split.validation }, ref[0]);
    assert.deepStrictEqual(split.test, []);
    const transformer = await preparePretrainRun({ datasetPath: PBMC, storeRoot: root }, ctx());
    assert.strictEqual((transformer.run && readJson<RunRecord>(path.join(transformer.run.runDir, 'run.json')).parameters.pretrain as { maxSeqLen: number }).maxSeqLen, 512);
    await assert.rejects(preparePretrainRun({ datasetPath: PBMC, model: 'scgpt', storeRoot: root }, ctx()), /needs its published checkpoint/);
    // scBERT without a checkpoint: pre-training from scratch without gene2vec with dist_pretrain.py's settings
    const scratch = await preparePretrainRun({ datasetPath: PBMC, model: 'scbert', storeRoot: root }, ctx());
    const scratchRec = readJson<RunRecord>(path.join(scratch.run.runDir, 'run.json'));
    assert.deepStrictEqual(scratchRec.model, { family: 'scBERT', label: 'scBERT (from scratch, no gene2vec)', variant: 'from scratch, no gene2vec' });
    const sp = scratchRec.parameters.pretrain as { checkpoint: unknown; epochs: number; batchSize: number; lr: number };
    assert.deepStrictEqual([sp.checkpoint, sp.epochs, sp.batchSize, sp.lr], [null, 100, 3, 1e-4]);
    await assert.rejects(preparePretrainRun({ datasetPath: PBMC, validationFraction: 0, storeRoot: root }, ctx()), /validation fraction/);
  });

  it('finalize: a completed pre-training run needs encoder.pt; without it the run fails naming the file', async () => {
    const a = await preparePretrainRun({ datasetPath: PBMC, storeRoot: root, experiment: 'fin' }, ctx());
    const b = await preparePretrainRun({ datasetPath: PBMC, storeRoot: root, experiment: 'fin' }, ctx());
    for (const id of [a.run.id, b.run.id]) await store().update(id, { status: 'completed', endedAt: new Date().toISOString() });
    fs.writeFileSync(path.join(a.run.runDir, 'encoder.pt'), 'weights');
    assert.strictEqual((await finalizeFinetuneRun(store(), a.run.id)).status, 'completed');
    const failed = await finalizeFinetuneRun(store(), b.run.id);
    assert.strictEqual(failed.status, 'failed');
    assert.match(failed.error!, /encoder\.pt: missing/);
  });

  it('probes, seeded protocol: stratified 70/30 per seed (= sklearn), one run per (trial, method), LR on raw expression with the same rows', async () => {
    const labels = await pbmcLabels();
    const input: ProbeInput = {
      datasetPath: PBMC, labelColumn: 'bulk_labels', encoder: { model: 'benchmark', path: encoderPath }, trials: 2, storeRoot: root,
      experiment: 'probe seeded',
    };
    const plan = await prepareProbeGrid(input, ctx());
    assert.strictEqual(plan.runs.length, 4);
    assert.deepStrictEqual(plan.runs.map(r => [r.trial, r.method, r.seed]), [[1, 'linear', 0], [1, 'knn', 0], [2, 'linear', 1], [2, 'knn', 1]]);
    assert.deepStrictEqual(plan.runs.map(r => r.writeEmbeddings), [true, false, false, false]);
    const ref = runPythonJson<{ train: number[]; test: number[] }[][]>('splits_reference.py', [], JSON.stringify(
      [0, 1].map(seed => ({ kind: 'sss', labels, test_size: 0.3, seed }))));
    const all = await store().list();
    for (const r of plan.runs) {
      const rec = all.find(x => x.id === r.id)!;
      assert.strictEqual(rec.kind, 'probe');
      assert.deepStrictEqual(rec.split, { kind: 'stratified', testSize: 0.3, seed: r.seed });
      assert.strictEqual(rec.model.label, `encoder ${r.method === 'linear' ? 'linear probe' : 'kNN'}`);
      const p = ProbeParametersSchema.parse(rec.parameters.probe);
      assert.strictEqual(p.select, 'last');
      assert.strictEqual(p.encoder.path, encoderPath);
      assert.deepStrictEqual(p.classes, Array.from(new Set(labels)).sort());
      const split = (await store().readSplit(r.id))!;
      assert.deepStrictEqual({ train: split.train, test: split.test }, ref[r.trial - 1][0]);
      assert.deepStrictEqual(split.validation, []);
    }
    // The raw-expression LR: one completed run per trial, with the trial's split and the same cells.
    assert.strictEqual(plan.baselineRunIds.length, 2);
    for (const [t, id] of plan.baselineRunIds.entries()) {
      const rec = await store().get(id);
      assert.strictEqual(rec.kind, 'baseline');
      assert.strictEqual(rec.status, 'completed');
      assert.strictEqual(rec.experiment, 'probe seeded');
      assert.strictEqual(rec.model.label, `LR L1 C=${'C' in PROBE_BASELINE ? PROBE_BASELINE.C : ''}`);
      const split = (await store().readSplit(id))!;
      assert.deepStrictEqual(split.test, ref[t][0].test);
      assert.deepStrictEqual([...split.train].sort((a, b) => a - b), [...ref[t][0].train].sort((a, b) => a - b));
    }
    // A second grid on the same (encoder, dataset) writes embeddings again only while none completed.
    const again = await prepareProbeGrid({ ...input, baseline: false, trials: 1 }, ctx());
    assert.strictEqual(again.runs[0].writeEmbeddings, true);
    await store().update(plan.runs[0].id, { status: 'completed' });
    fs.writeFileSync(path.join(plan.runs[0].runDir, 'embeddings.npy'), 'x');
    const third = await prepareProbeGrid({ ...input, baseline: false, trials: 1 }, ctx());
    assert.strictEqual(third.runs[0].writeEmbeddings, false);
  });

  it('probes, published protocol: unstratified random 70/30 with a recorded seed per trial (= sklearn for that seed); best-test', async () => {
    const plan = await prepareProbeGrid({
      datasetPath: PBMC, labelColumn: 'bulk_labels', encoder: { model: 'benchmark', path: encoderPath }, protocol: 'published', trials: 3,
      methods: ['knn'], baseline: false, storeRoot: root, experiment: 'probe published',
    }, ctx());
    assert.strictEqual(plan.runs.length, 3);
    const seeds = plan.runs.map(r => r.seed);
    assert.strictEqual(new Set(seeds).size, 3, 'a seed drawn per trial');
    const ref = runPythonJson<{ train: number[]; test: number[] }[]>('splits_reference.py', [], JSON.stringify(
      seeds.map(seed => ({ kind: 'tts', n: 700, test_size: 0.3, seed }))));
    for (const [t, r] of plan.runs.entries()) {
      const rec = await store().get(r.id);
      assert.deepStrictEqual(rec.split, { kind: 'random', testSize: 0.3, seed: seeds[t] });
      assert.strictEqual(ProbeParametersSchema.parse(rec.parameters.probe).select, 'best-test');
      const split = (await store().readSplit(r.id))!;
      assert.deepStrictEqual({ train: split.train, test: split.test }, ref[t]);
    }
    await assert.rejects(prepareProbeGrid({
      datasetPath: PBMC, labelColumn: 'bulk_labels', encoder: { model: 'benchmark', path: encoderPath }, protocol: 'published', seeds: [1],
      storeRoot: root,
    }, ctx()), /draws its seeds/);
    await assert.rejects(prepareProbeGrid({
      datasetPath: PBMC, labelColumn: 'no_such', encoder: { model: 'benchmark', path: encoderPath }, storeRoot: root,
    }, ctx()), /no_such/);
    await assert.rejects(prepareProbeGrid({
      datasetPath: PBMC, labelColumn: 'bulk_labels', encoder: { model: 'benchmark', path: path.join(ckpt, 'missing.pt') }, storeRoot: root,
    }, ctx()), /missing\.pt: no such file/);
  });

  it('finalize: probe metrics from predictions.csv as fine-tune; results rows "<encoder> linear probe" with mean ± std over trials beside LR', async () => {
    const labels = await pbmcLabels();
    const plan = await prepareProbeGrid({
      datasetPath: PBMC, labelColumn: 'bulk_labels', encoder: { model: 'benchmark', path: encoderPath }, encoderName: 'Tiny transformer',
      trials: 3, methods: ['linear'], storeRoot: root, experiment: 'probe results',
    }, ctx());
    // What the worker would write: predictions that get every k-th test cell wrong.
    const wrongEvery = [2, 3, 4];
    for (const [t, r] of plan.runs.entries()) {
      const split = (await store().readSplit(r.id))!;
      const rows = split.test.map((i, j) => ({
        index: i, obsName: `c${i}`, trueLabel: labels[i], predictedLabel: j % wrongEvery[t] === 0 ? (labels[i] === 'Dendritic' ? 'CD14+ Monocyte' : 'Dendritic') : labels[i],
      }));
      await store().writePredictions(r.id, rows);
      await store().update(r.id, { status: 'completed', endedAt: new Date().toISOString() });
    }
    const done = await finalizeFinetuneRuns(store(), { ids: plan.runs.map(r => r.id), workerExitCode: 0 });
    const accs: number[] = [];
    for (const [t, rec] of done.entries()) {
      assert.strictEqual(rec.status, 'completed');
      const split = (await store().readSplit(rec.id))!;
      const yTrue = split.test.map(i => labels[i]);
      const yPred = split.test.map((i, j) => (j % wrongEvery[t] === 0 ? (labels[i] === 'Dendritic' ? 'CD14+ Monocyte' : 'Dendritic') : labels[i]));
      const rep = classificationReport(yTrue, yPred);
      assert.strictEqual(rec.summary!.accuracy, rep.accuracy);
      assert.strictEqual(rec.summary!.macroF1, rep.macro.f1);
      accs.push(rep.accuracy);
      assert.ok(fs.existsSync(path.join(store().runDir(rec.id), 'metrics.json')));
    }
    const model = buildResultsModel(await store().list(), [], { experiment: 'probe results' });
    const exp = model.experiments[0];
    assert.deepStrictEqual(exp.models, ['LR L1 C=0.1', 'Tiny transformer linear probe']);
    assert.strictEqual(exp.probe, true);
    const row = exp.rows.find(r => r.model === 'Tiny transformer linear probe')!;
    assert.strictEqual(row.n, 3);
    const mean = accs.reduce((a, b) => a + b, 0) / 3;
    assert.ok(Math.abs(row.accuracy.mean - mean) < 1e-12);
    const std = Math.sqrt(accs.reduce((a, b) => a + (b - mean) ** 2, 0) / 2);
    assert.ok(Math.abs(row.accuracy.std - std) < 1e-12);
    const npStd = Math.sqrt(accs.reduce((a, b) => a + (b - mean) ** 2, 0) / 3);
    assert.ok(Math.abs(row.accuracy.stdPop - npStd) < 1e-12, 'np.std (ddof 0), the benchmark\'s "± std"');
    assert.ok(row.vsReference && row.vsReference.model === 'LR L1 C=0.1', 'p-values against the raw-expression LR');
    const lr = exp.rows.find(r => r.model === 'LR L1 C=0.1')!;
    assert.strictEqual(lr.n, 3);
    assert.ok(lr.accuracy.mean > 0.5, `LR on raw expression: ${lr.accuracy.mean}`);
    assert.strictEqual(probeModelRef({ model: 'scgpt', path: '/x' }, 'scGPT_human', 'knn').label, 'scGPT_human kNN');
  });

  it('a probe whose predictions.csv is missing fails naming the file', async () => {
    const plan = await prepareProbeGrid({
      datasetPath: PBMC, labelColumn: 'bulk_labels', encoder: { model: 'benchmark', path: encoderPath }, trials: 1, methods: ['knn'],
      baseline: false, storeRoot: root, experiment: 'probe missing',
    }, ctx());
    await store().update(plan.runs[0].id, { status: 'completed' });
    const rec = await finalizeFinetuneRun(store(), plan.runs[0].id);
    assert.strictEqual(rec.status, 'failed');
    assert.ok(rec.error!.includes(PREDICTIONS_FILE), rec.error!);
  });

  it('encoderFromPath: a pre-training run\'s encoder.pt is its model (scGPT continued -> scgpt), a folder scGPT, a .pth scBERT', async () => {
    const plan = await preparePretrainRun({ datasetPath: PBMC, storeRoot: root, experiment: 'enc' }, ctx());
    const enc = path.join(plan.run.runDir, 'encoder.pt');
    fs.writeFileSync(enc, 'w');
    assert.deepStrictEqual(encoderFromPath(enc), { model: 'benchmark', path: enc });
    assert.deepStrictEqual(encoderFromPath(ckpt), { model: 'scgpt', path: ckpt });
    const pth = path.join(ckpt, 'panglao.pth');
    fs.writeFileSync(pth, 'w');
    assert.deepStrictEqual(encoderFromPath(pth), { model: 'scbert', path: pth });
    assert.throws(() => encoderFromPath(path.join(ckpt, 'nope.pt')), /no such file/);
  });

  it('scwb pretrain / probe: flags become the prepare input; --prepare-only creates the runs and prints them', async () => {
    const pre = pretrainRequestFromArgs(['d.h5ad', '--structure', 'cnn', '--mvc', '--epochs', '3', '--store', 'st'], '/w');
    assert.strictEqual(pre.input.datasetPath, '/w/d.h5ad');
    assert.strictEqual(pre.input.structure, 'cnn');
    assert.strictEqual(pre.input.mvc, true);
    assert.strictEqual(pre.input.epochs, 3);
    assert.strictEqual(pre.input.storeRoot, '/w/st');
    assert.throws(() => pretrainRequestFromArgs(['d.h5ad', '--structure', 'rnn']), /--structure must be one of/);
    assert.deepStrictEqual(pretrainResumeFromArgs(['--resume', 'r/a', '--nproc', '2'], '/w').dirs, ['/w/r/a']);
    assert.throws(() => pretrainResumeFromArgs(['--resume', 'r/a', '--epochs', '2']), /does not apply to --resume/);
    assert.throws(() => probeRequestFromArgs(['d.h5ad', '--label', 'x']), /--encoder PATH is required/);
    assert.throws(() => probeRequestFromArgs(['d.h5ad', '--encoder', encoderPath, '--label', 'x', '--method', 'svm']), /linear and\/or knn/);
    let out = '';
    let err = '';
    const code = await main(['probe', PBMC, '--encoder', encoderPath, '--label', 'bulk_labels', '--trials', '2', '--method', 'knn',
      '--protocol', 'published', '--no-baseline', '--store', root, '--experiment', 'cli probe', '--prepare-only'],
    { out: t => { out += t; }, err: t => { err += t; } });
    assert.strictEqual(code, 0, err);
    const res = JSON.parse(out) as { experiment: string; splits: { kind: string; seed: number }[]; runs: { status: string; model: string }[] };
    assert.strictEqual(res.experiment, 'cli probe');
    assert.deepStrictEqual(res.splits.map(s => s.kind), ['random', 'random']);
    assert.deepStrictEqual(res.runs.map(r => [r.status, r.model]), [['queued', 'encoder kNN'], ['queued', 'encoder kNN']]);
  });
});
