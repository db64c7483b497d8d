import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { prepareFinetuneGrid, type FinetuneGridInput } from '../../../src/core/finetune/prepare';
import { expandPreset } from '../../../src/core/presets/grid';
import { PRESETS, presetById } from '../../../src/core/presets/presets';
import type { Preset } from '../../../src/core/presets/schema';
import { protocolChoicesOf } from '../../../src/core/protocols/choices';
import { effectivePrecision, protocolElements, type ProtocolSubject } from '../../../src/core/protocols/protocol';
import { PUBLISHED, PUBLISHED_T_95, SCBERT_FEW_SHOT_ORDER } from '../../../src/core/protocols/published';
import { presetProtocol, runProtocol } from '../../../src/core/protocols/report';
import { HARD_CELLS, addClassPairMetrics, classPairMetrics } from '../../../src/core/results/class-pair';
import { buildResultsModel } from '../../../src/core/results/model';
import { paperTable } from '../../../src/core/results/paper';
import type { RunMetrics, RunRecord } from '../../../src/core/runs/schema';
import { RunStore } from '../../../src/core/runs/store';
import { fewShotStreamSubset, pythonRound } from '../../../src/core/splits';
import { publishedCiHalfWidth, studentTTest, welchTTest } from '../../../src/core/stats';
import { MT19937 } from '../../../src/core/random/mt19937';
import { PROJECT_ROOT, h5adPath, runPythonJson, tempDir } from '../../helpers/shared';

type Req = Record<string, unknown> & { kind: string };
const reference = (reqs: Req[]) => runPythonJson<Record<string, unknown>[]>('protocol_reference.py', [], JSON.stringify(reqs));

function elementOf(s: ProtocolSubject, name: string) {
  const e = protocolElements(s).find(x => x.element === name);
  assert.ok(e, `element ${name}`);
  return e;
}

const scbert = (over: Partial<ProtocolSubject> = {}): ProtocolSubject => ({ model: 'scbert', ablation: 'none', fraction: 1, choices: {}, hasCheckpoint: true, ...over });
const scgpt = (over: Partial<ProtocolSubject> = {}): ProtocolSubject => ({ model: 'scgpt', ablation: 'none', fraction: 1, choices: {}, hasCheckpoint: true, ...over });

describe('protocols: scBERT few-shot stream (dist_finetune_fewshot.py)', () => {
  // a training split in shuffled order, as StratifiedShuffleSplit returns it; sizes with x.5 products test round()
  const sizes = [997, 30, 54760];
  const seeds = [0, 2021, 4042];
  const trains = sizes.map(n => new MT19937(7).permutation(n + 13).slice(0, n));
  const reqs: Req[] = [];
  for (const train of trains) for (const seed of seeds) reqs.push({ kind: 'few_shot_stream', train, seed, order: [...SCBERT_FEW_SHOT_ORDER] });
  let expected: Record<string, number[]>[] = [];
  before(() => { expected = reference(reqs) as Record<string, number[]>[]; });

  it('per seed one np.random.seed, the fractions 1.0, 0.75, 0.5, 0.25, 0.1 drawn in turn: index-exact against numpy', () => {
    let k = 0;
    for (const train of trains) {
      for (const seed of seeds) {
        const want = expected[k++];
        for (const f of SCBERT_FEW_SHOT_ORDER) {
          assert.deepStrictEqual(fewShotStreamSubset(train, f, seed, SCBERT_FEW_SHOT_ORDER), want[String(f)], `n ${train.length}, seed ${seed}, fraction ${f}`);
        }
      }
    }
  });

  it('differs from reseeding per fraction (the deviation the stream removes)', () => {
    const train = trains[0];
    const reseeded = new MT19937(2021).choice(train.length, pythonRound(train.length * 0.5), false).map(i => train[i]);
    assert.notDeepStrictEqual(fewShotStreamSubset(train, 0.5, 2021, SCBERT_FEW_SHOT_ORDER), reseeded);
  });

  it('the published order and Python round() (halves to even)', () => {
    assert.deepStrictEqual([...SCBERT_FEW_SHOT_ORDER], [1.0, 0.75, 0.5, 0.25, 0.1]);
    assert.deepStrictEqual([2.5, 3.5, 7.5, 0.5, 1.49, 5476.000000000001].map(pythonRound), [2, 4, 8, 0, 1, 5476]);
    assert.throws(() => fewShotStreamSubset(trains[0], 0.3, 0, SCBERT_FEW_SHOT_ORDER), /not one of the published few-shot fractions/);
  });
});

describe('protocols: published statistics (collate_final_results_finetune.ipynb)', () => {
  const a = [0.773265, 0.771658, 0.738568, 0.77385, 0.730972, 0.780278, 0.767348, 0.788824, 0.759313, 0.780862];
  const b = [0.7, 0.71, 0.69, 0.72, 0.705, 0.698, 0.711, 0.702, 0.699, 0.707];
  const c = [0.61, 0.64, 0.7, 0.55, 0.66];
  let ref: Record<string, number>[] = [];
  before(() => { ref = reference([{ kind: 'published_stats', a, b }, { kind: 'published_stats', a: c, b }]) as Record<string, number>[]; });

  it('Student\'s t-test equals scipy ttest_ind (equal variances); Welch stays scipy\'s equal_var=False', () => {
    for (const [i, [x, y]] of [[a, b], [c, b]].entries()) {
      const t = studentTTest(x, y);
      assert.ok(Math.abs(t.statistic - ref[i].student_t) < 1e-9 * Math.abs(ref[i].student_t), `t ${t.statistic} vs ${ref[i].student_t}`);
      assert.ok(Math.abs(t.pValue - ref[i].student_p) <= 1e-9 * ref[i].student_p + 1e-15, `p ${t.pValue} vs ${ref[i].student_p}`);
      const w = welchTTest(x, y);
      assert.ok(Math.abs(w.pValue - ref[i].welch_p) <= 1e-9 * ref[i].welch_p + 1e-15);
      assert.notStrictEqual(t.pValue, w.pValue);
    }
  });

  it('CI = np.std (ddof 0) / sqrt(n) x 2.262', () => {
    assert.strictEqual(PUBLISHED_T_95, 2.262);
    assert.ok(Math.abs(publishedCiHalfWidth(a) - ref[0].ci_a) < 1e-15);
    assert.ok(Math.abs(publishedCiHalfWidth(c) - ref[1].ci_a) < 1e-15);
  });
});

describe('protocols: the results table of a paper preset', () => {
  const acc = { ft: [0.773265, 0.771658, 0.738568, 0.77385, 0.730972, 0.780278, 0.767348, 0.788824, 0.759313, 0.780862], lr: [0.7, 0.71, 0.69, 0.72, 0.705, 0.698, 0.711, 0.702, 0.699, 0.707] };
  let n = 0;
  const record = (label: string, family: string, seed: number, a: number, deviations?: string[]): RunRecord => ({
    schemaVersion: 1, id: `20250101T000000${String(n++).padStart(3, '0')}Z-000000`, kind: family === 'LR' ? 'baseline' : 'finetune', name: '', note: '',
    experiment: 'Zheng68K Table 1', dataset: { path: '/data/z.h5ad', sha256: 'a'.repeat(64) }, labelColumn: 'celltype',
    split: { kind: 'stratified', testSize: 0.2, seed: 2022 }, seed, fraction: 1, stratifiedFewShot: false,
    model: { family, label, variant: '' }, parameters: {}, codeVersion: '0', createdAt: '2025-01-01T00:00:00.000Z', startedAt: null, endedAt: null,
    status: 'completed', error: null, owner: null, summary: { accuracy: a, macroF1: a, weightedF1: a, nTrain: 1, nTest: 1 },
    ...(deviations ? { protocol: { preset: 'scbert-table1', deviations } } : {}),
  });
  const runs = [
    ...acc.ft.map((a, i) => record('scBERT', 'scBERT', i, a, i < 2 ? ['precision'] : [])),
    ...acc.lr.map((a, i) => record('LR L1 C=0.1', 'LR', i, a)),
  ];
  let ref: Record<string, number> = {};
  before(() => { ref = reference([{ kind: 'published_stats', a: acc.ft, b: acc.lr }])[0] as Record<string, number>; });

  it('published statistics: Student p-values and the 2.262 CI; the footnote says so and names the deviations', () => {
    const exp = buildResultsModel(runs, [], { statistics: () => 'published' }).experiments[0];
    const ft = exp.rows.find(r => r.family === 'scBERT')!;
    assert.strictEqual(exp.statistics, 'published');
    assert.ok(Math.abs(ft.accuracy.ciHalfWidth - ref.ci_a) < 1e-15);
    assert.ok(Math.abs(ft.vsReference!.pAccuracy - ref.student_p) <= 1e-9 * ref.student_p);
    const foot = paperTable(exp).footnote;
    assert.match(foot, /np\.std \(ddof 0\) \/ sqrt\(n\) x 2\.262/);
    assert.match(foot, /Student's t-test/);
    assert.match(foot, /Deviations from the published protocol: precision \(2 runs\)/);
    const welch = buildResultsModel(runs, []).experiments[0];
    assert.strictEqual(welch.statistics, 'welch');
    assert.ok(Math.abs(welch.rows.find(r => r.family === 'scBERT')!.vsReference!.pAccuracy - ref.welch_p) <= 1e-9 * ref.welch_p);
    assert.match(paperTable(welch).footnote, /Welch's t-test/);
  });
});

describe('protocols: the element table against the published values', () => {
  it('scBERT: fp32, Adam eps 1e-8, head dropout 0, best accuracy kept (few-shot too), 1/count over the dataset, shuffled, 10 epochs, batch 32, lr 1e-4', () => {
    const want: Record<string, unknown> = { precision: 'fp32', adamEps: 1e-8, headDropout: 0, keep: 'best-accuracy', classWeights: 'dataset', shuffle: true, epochs: 10, batchSize: 32, lr: 1e-4 };
    for (const fraction of [1, 0.1]) {
      for (const [name, value] of Object.entries(want)) {
        const e = elementOf(scbert({ fraction }), name);
        assert.deepStrictEqual([e.published, e.ours, e.deviation], [value, value, false], `${name} at fraction ${fraction}`);
      }
    }
    assert.match(elementOf(scbert({ fraction: 0.1 }), 'keep').source, /dist_finetune_fewshot\.py/);
    assert.strictEqual(elementOf(scbert({ split: { kind: 'stratified', testSize: 0.2, seed: 2022 } }), 'split').deviation, false);
    assert.strictEqual(elementOf(scbert({ split: { kind: 'stratified', testSize: 0.2, seed: 1 } }), 'split').deviation, true);
  });

  it('scGPT: fp16 with a GradScaler (fp32 on a CPU), Adam eps 1e-4, best loss kept, no class weights, no reshuffling, 20 epochs (30 without pre-training), U(-0.1, 0.1) embeddings', () => {
    const want: Record<string, unknown> = { precision: 'fp16', adamEps: 1e-4, keep: 'best-loss', classWeights: 'none', shuffle: false, epochs: 20, batchSize: 32, lr: 1e-4 };
    for (const [name, value] of Object.entries(want)) {
      const e = elementOf(scgpt(), name);
      assert.deepStrictEqual([e.published, e.ours, e.deviation], [value, value, false], name);
    }
    assert.deepStrictEqual([elementOf(scgpt({ device: 'cpu' }), 'precision').published, elementOf(scgpt({ device: 'cpu' }), 'precision').ours], ['fp32', 'fp32']);
    for (const ablation of ['no-pretraining', 'frozen-embeddings'] as const) {
      assert.strictEqual(elementOf(scgpt({ ablation }), 'epochs').published, 30);
      assert.deepStrictEqual([elementOf(scgpt({ ablation }), 'geneEmbInit').published, elementOf(scgpt({ ablation }), 'geneEmbInit').deviation], ['uniform', false]);
      assert.strictEqual(elementOf(scgpt({ ablation, choices: { geneEmbInit: 'normal' } }), 'geneEmbInit').deviation, true);
    }
    const frozen = elementOf(scgpt({ ablation: 'frozen-embeddings' }), 'initialisation');
    assert.strictEqual(frozen.published, 'random weights, gene/value embeddings frozen');
    assert.match(frozen.source, /nopretrain_freeze\.py/);
    assert.strictEqual(frozen.deviation, false, 'the checkpoint folder gives the vocabulary; its weights are never loaded');
    const v = elementOf(scgpt(), 'validation');
    assert.deepStrictEqual([v.deviation, typeof v.documented], [false, 'string'], 'the seeded validation split is a documented difference');
  });

  it('scBERT ablations: no pre-training keeps the gene2vec table; no-gene2vec needs a checkpoint pre-trained without it', () => {
    const np = elementOf(scbert({ ablation: 'no-pretraining', hasCheckpoint: false }), 'initialisation');
    assert.deepStrictEqual([np.published, np.deviation], ['random weights, gene2vec position table', true]);
    assert.match(np.source, /dist_finetune_nopretraining\.py/);
    assert.strictEqual(elementOf(scbert({ ablation: 'no-pretraining', hasCheckpoint: false, choices: { gene2vec: '/g2v.npy' } }), 'initialisation').deviation, false);
    assert.strictEqual(elementOf(scbert({ ablation: 'no-pretraining', hasCheckpoint: true }), 'initialisation').deviation, false);
    assert.match(elementOf(scbert({ ablation: 'no-gene2vec' }), 'initialisation').source, /nog2v_explore\.ipynb/);
  });

  it('a choice that differs is a deviation: bf16, legacy amp, eps, dropout, keep, weights, shuffle, few-shot draw', () => {
    assert.deepStrictEqual(protocolElements(scbert({ choices: { precision: 'bf16' } })).filter(e => e.deviation).map(e => e.element), ['precision']);
    assert.strictEqual(elementOf(scbert({ amp: true }), 'precision').ours, 'bf16');
    assert.strictEqual(elementOf(scbert({ amp: false }), 'precision').deviation, false);
    assert.strictEqual(elementOf(scgpt({ choices: { precision: 'bf16' } }), 'precision').deviation, true);
    assert.strictEqual(elementOf(scgpt({ choices: { precision: 'fp16' } }), 'precision').deviation, false);
    for (const [k, v] of [['adamEps', 1e-6], ['headDropout', 0.1], ['keep', 'last'], ['classWeights', 'train'], ['shuffle', false]] as const) {
      assert.strictEqual(elementOf(scbert({ choices: { [k]: v } }), k).deviation, true, k);
    }
    assert.strictEqual(elementOf(scbert({ fraction: 0.5, fewShotDraw: 'reseed' }), 'fewShotDraw').deviation, true);
    assert.strictEqual(elementOf(scbert({ fraction: 0.5, fewShotDraw: 'stream' }), 'fewShotDraw').deviation, false);
    assert.strictEqual(elementOf(scbert({ fraction: 1, fewShotDraw: 'all' }), 'fewShotDraw').deviation, false);
    assert.strictEqual(elementOf(scbert({ fraction: 1, fewShotRun: true, fewShotDraw: 'all' }), 'fewShotDraw').deviation, true);
    // the worker's resolved values win over what run.json asked for; an auto-device scGPT run the worker put on a CPU is published fp32
    assert.strictEqual(elementOf(scgpt({ device: 'auto', resolved: { precision: 'fp32' } }), 'precision').deviation, false);
    assert.strictEqual(elementOf(scgpt({ device: 'cuda', choices: { precision: 'fp32' }, resolved: { precision: 'fp32' } }), 'precision').deviation, true);
    assert.strictEqual(elementOf(scbert({ resolved: { precision: 'bf16' } }), 'precision').deviation, true);
    assert.deepStrictEqual([effectivePrecision('scbert', 'published', undefined, 'cuda'), effectivePrecision('scgpt', 'published', undefined, 'cuda'), effectivePrecision('scgpt', null, undefined, 'cpu')], ['fp32', 'fp16', 'fp32']);
    assert.deepStrictEqual(PUBLISHED.scbert.precision, 'fp32');
  });
});

describe('protocols: presets', () => {
  it('every paper preset is the published protocol before anything runs; Table 1 has n = 10 (seed 2021 twice)', () => {
    for (const p of PRESETS.filter(x => x.publishedExperiment)) {
      const r = presetProtocol(p);
      assert.deepStrictEqual(r.deviations, [], `${p.id}: ${JSON.stringify(r.elements.filter(e => e.deviation))}`);
      assert.ok(r.elements.length > 10, p.id);
    }
    const t1 = presetProtocol(presetById('scbert-table1'));
    assert.strictEqual(t1.elements.find(e => e.element === 'n')!.ours, 10);
    const seeds = presetById('scbert-table1').grids.filter(g => g.models[0].kind === 'finetune').flatMap(g => g.seeds);
    assert.strictEqual(seeds.filter(s => s === 2021).length, 2);
    for (const id of ['scbert-table1', 'scbert-table2', 'scbert-figure2']) assert.strictEqual(presetById(id).statistics, 'published', id);
  });

  it('bf16, Welch or a missing few-shot run show up as deviations', () => {
    const p = presetById('scbert-table1');
    const m = p.grids[0].models[0];
    if (m.kind === 'finetune') m.precision = 'bf16';
    p.statistics = 'welch';
    p.grids[1].seeds = [0, 2021];
    assert.deepStrictEqual(presetProtocol(p).deviations.sort(), ['n', 'precision', 'statistics']);
  });
});

describe('protocols: each paper preset prepared on demo data records zero deviations', () => {
  const PBMC = h5adPath('scanpy_pbmc68k_reduced_2025.h5ad');
  let root: string;
  let files: { reference: string; query: string };
  let ckpt: { scbert: string; scgpt: string };
  before(() => {
    root = tempDir('scwb-protocols-');
    files = runPythonJson<{ reference: string; query: string }>('results_make_refquery.py', [PBMC, root, '300']);
    ckpt = { scbert: path.join(root, 'scbert.pth'), scgpt: path.join(root, 'scGPT_human') };
    fs.writeFileSync(ckpt.scbert, 'not read by src/core');
    fs.mkdirSync(ckpt.scgpt);
    for (const f of ['best_model.pt', 'vocab.json', 'args.json']) fs.writeFileSync(path.join(ckpt.scgpt, f), '{}');
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  function bind(p: Preset): Preset {
    for (const g of p.grids) {
      for (const d of g.datasets) {
        d.labelColumn = 'bulk_labels';
        if (d.split.kind === 'reference-query') { d.path = files.reference; d.queryPath = files.query; } else d.path = PBMC;
      }
      for (const m of g.models) {
        if (m.kind === 'finetune') m.checkpoint = ckpt[m.model];
        if (m.kind === 'probe') m.encoderPath = ckpt.scgpt;
      }
    }
    return p;
  }

  for (const preset of PRESETS.filter(x => x.publishedExperiment && x.grids.some(g => g.models.some(m => m.kind === 'finetune')))) {
    it(preset.id, async () => {
      const items = expandPreset(bind(presetById(preset.id)));
      const seen = new Set<string>();
      let prepared = 0;
      // largest fractions first: the demo reference file is too small for a stratified 10% hold-out at 0.1
      for (const item of items.slice().sort((x, y) => y.spec.fraction - x.spec.fraction)) {
        const s = item.spec;
        if (s.kind !== 'finetune') continue;
        // one run per distinct protocol: model, ablation, few-shot draw (scBERT: fraction and few-shot-run flag)
        const key = `${s.model}|${s.ablation}|${s.model === 'scbert' ? s.fraction : ''}|${!!s.fewShotRun}|${s.datasetPath}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const input: FinetuneGridInput = {
          datasetPath: s.datasetPath, labelColumn: s.labelColumn,
          ...(s.split.kind === 'reference-query' ? { queryPath: s.split.queryPath } : { split: { ...s.split, seed: s.split.kind === 'stratified' ? s.split.seed : s.seed } }),
          model: s.model, checkpoint: s.checkpoint, ablation: s.ablation, fractions: [s.fraction], seeds: [s.seed],
          stratifiedFewShot: s.stratifiedFewShot, epochs: s.epochs, batchSize: s.batchSize, amp: s.amp, maxSeqLen: s.maxSeqLen,
          device: 'cuda', experiment: s.experiment, storeRoot: root, protocol: protocolChoicesOf(s), fewShotRun: s.fewShotRun, preset: preset.id,
        };
        const plan = await prepareFinetuneGrid(input, { progress: () => undefined, cancelled: false });
        const run = await new RunStore(root).get(plan.runs[0].id);
        assert.deepStrictEqual(run.protocol?.deviations, [], `${item.label}`);
        const report = runProtocol(run);
        assert.deepStrictEqual(report.deviations, [], `${item.label}: ${JSON.stringify(report.elements.filter(e => e.deviation))}`);
        assert.strictEqual(report.preset, preset.id);
        // what the worker records when it runs the published protocol (docs/worker.md resolvedProtocol)
        const resolved = s.model === 'scbert'
          ? { precision: 'fp32', adamEps: 1e-8, headDropout: 0.0, keep: 'best-accuracy', classWeights: 'dataset', shuffle: true, geneEmbInit: null, gene2vec: null }
          : { precision: 'fp16', adamEps: 1e-4, headDropout: null, keep: 'best-loss', classWeights: 'none', shuffle: false, geneEmbInit: 'uniform', gene2vec: null };
        const ran = await new RunStore(root).update(run.id, { resolvedProtocol: resolved });
        assert.deepStrictEqual(runProtocol(ran).deviations, [], `${item.label} with the worker's resolvedProtocol`);
        assert.deepStrictEqual(runProtocol({ ...ran, resolvedProtocol: { ...resolved, shuffle: !resolved.shuffle } }).deviations, ['shuffle']);
        prepared++;
      }
      assert.ok(prepared > 0);
    });
  }

  it('a run made with bf16 records the deviation in run.json and scwb protocol reports it', async () => {
    const plan = await prepareFinetuneGrid({
      datasetPath: PBMC, labelColumn: 'bulk_labels', model: 'scbert', checkpoint: ckpt.scbert, storeRoot: root,
      protocol: { precision: 'bf16', headDropout: null }, experiment: 'bf16',
    }, { progress: () => undefined, cancelled: false });
    const run = await new RunStore(root).get(plan.runs[0].id);
    assert.deepStrictEqual(run.protocol?.deviations, ['precision']);
    assert.strictEqual((run.parameters.finetune as Record<string, unknown>).precision, 'bf16');
    assert.ok(!('headDropout' in (run.parameters.finetune as Record<string, unknown>)), 'null is the published value and is not written');
    assert.ok(!('amp' in (run.parameters.finetune as Record<string, unknown>)), 'no legacy amp unless asked');
    assert.deepStrictEqual(runProtocol(run).deviations, ['precision']);
  });

  it('refuses a protocol option of the other model, and a gene2vec file that is not there, before any run exists', async () => {
    const base = { datasetPath: PBMC, labelColumn: 'bulk_labels', storeRoot: path.join(root, 'refused') } as const;
    const ctx = { progress: () => undefined, cancelled: false };
    await assert.rejects(prepareFinetuneGrid({ ...base, model: 'scgpt', checkpoint: ckpt.scgpt, protocol: { headDropout: 0.1 } }, ctx), /headDropout is a scBERT setting/);
    await assert.rejects(prepareFinetuneGrid({ ...base, model: 'scbert', checkpoint: ckpt.scbert, protocol: { geneEmbInit: 'normal' } }, ctx), /geneEmbInit is a scGPT setting/);
    await assert.rejects(prepareFinetuneGrid({ ...base, model: 'scbert', checkpoint: null, protocol: { gene2vec: path.join(root, 'nope.npy') } }, ctx), /nope\.npy: no such file/);
    await assert.rejects(prepareFinetuneGrid({ ...base, model: 'scbert', checkpoint: ckpt.scbert, protocol: { precision: 'fp8' as never } }, ctx), /protocol option precision/);
    assert.ok(!fs.existsSync(base.storeRoot));
  });
});

describe('scwb protocol', () => {
  const scwb = (args: string[]) => spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'scwb.js'), ...args], { encoding: 'utf8' });

  it('PRESET --json: the documented shape, exit 0 for the published protocol', () => {
    const r = scwb(['protocol', 'scbert-figure2', '--json']);
    assert.strictEqual(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { preset: string; elements: Record<string, unknown>[]; deviations: string[] };
    assert.strictEqual(j.preset, 'scbert-figure2');
    assert.deepStrictEqual(j.deviations, []);
    for (const e of j.elements) for (const k of ['element', 'ours', 'published', 'source', 'deviation']) assert.ok(k in e, `${k} in ${JSON.stringify(e)}`);
    assert.ok(j.elements.some(e => e.element === 'fewShotDraw' && e.ours === 'stream'));
    assert.match(scwb(['protocol', 'no-such-thing']).stderr, /neither a preset/);
  });

  it('RUN: scwb finetune --precision bf16 --adam-eps 1e-6 records both; scwb protocol RUN --json lists them and exits 1', () => {
    const dir = tempDir('scwb-protocol-cli-');
    try {
      const ckpt = path.join(dir, 'c.pth');
      fs.writeFileSync(ckpt, 'x');
      const store = path.join(dir, 'runs');
      const prep = scwb(['finetune', h5adPath('scanpy_pbmc68k_reduced_2025.h5ad'), '--model', 'scbert', '--checkpoint', ckpt, '--label', 'bulk_labels',
        '--precision', 'bf16', '--adam-eps', '1e-6', '--store', store, '--prepare-only']);
      assert.strictEqual(prep.status, 0, prep.stderr);
      const id = fs.readdirSync(store).find(f => fs.existsSync(path.join(store, f, 'run.json')))!;
      const r = scwb(['protocol', id, '--store', store, '--json']);
      assert.strictEqual(r.status, 1);
      const j = JSON.parse(r.stdout) as { run: string; deviations: string[] };
      assert.deepStrictEqual([j.run, j.deviations], [id, ['precision', 'adamEps']]);
      const text = scwb(['protocol', path.join(store, id)]);
      assert.match(text.stdout, /DEVIATES\s+precision\s+ours bf16; published fp32/);
      assert.match(scwb(['finetune', 'x.h5ad', '--model', 'scbert', '--checkpoint', ckpt, '--label', 'l', '--precision', 'fp8']).stderr, /--precision must be one of published, fp32, bf16, fp16/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('results: hard cells (per-class-pair metrics of collate_final_results_finetune.ipynb)', () => {
  const classes = ['B cells', HARD_CELLS[0], HARD_CELLS[1], 'NK', 'Monocytes'].sort();
  const cases = [0, 1, 2].map(seed => {
    const g = new MT19937(seed + 11);
    const truth = Array.from({ length: 400 }, () => classes[g.randint(0, classes.length)]);
    // mostly right, confusions concentrated on the pair
    const pred = truth.map(t => (g.randomSample() < 0.7 ? t : g.randomSample() < 0.6 ? HARD_CELLS[g.randint(0, 2)] : classes[g.randint(0, classes.length)]));
    return { truth, pred };
  });
  const metricsOf = (truth: string[], pred: string[]): RunMetrics => {
    const confusion = classes.map(() => classes.map(() => 0));
    truth.forEach((t, i) => { confusion[classes.indexOf(t)][classes.indexOf(pred[i])]++; });
    return {
      schemaVersion: 1, accuracy: 0, macroF1: 0, weightedF1: 0, classes, nTest: truth.length, confusion,
      perClass: classes.map(name => ({ name, precision: 0, recall: 0, f1: 0, support: 0 })),
    };
  };
  let ref: { accuracy: number; f1: number }[] = [];
  before(() => { ref = reference(cases.map(c => ({ kind: 'hard_cells', truth: c.truth, pred: c.pred, pair: HARD_CELLS }))) as { accuracy: number; f1: number }[]; });

  it('accuracy over the pair\'s true cells and macro-F1 over all cells on the two labels equal sklearn', () => {
    cases.forEach((c, i) => {
      const m = classPairMetrics(metricsOf(c.truth, c.pred), HARD_CELLS)!;
      assert.ok(Math.abs(m.accuracy - ref[i].accuracy) < 1e-12, `${m.accuracy} vs ${ref[i].accuracy}`);
      assert.ok(Math.abs(m.f1 - ref[i].f1) < 1e-12, `${m.f1} vs ${ref[i].f1}`);
    });
    assert.strictEqual(classPairMetrics(metricsOf(cases[0].truth, cases[0].pred), ['B cells', 'absent']), null);
  });

  it('an optional pair of columns in the results table, explained in the footnote', () => {
    const runs: RunRecord[] = cases.map((_, i) => ({
      schemaVersion: 1, id: `20250101T000000${i}00Z-000000`, kind: 'finetune', name: '', note: '', experiment: 'Zheng68K Table 1',
      dataset: { path: '/z.h5ad', sha256: 'a'.repeat(64) }, labelColumn: 'celltype', split: { kind: 'stratified', testSize: 0.2, seed: 2022 },
      seed: i, fraction: 1, stratifiedFewShot: false, model: { family: 'scBERT', label: 'scBERT', variant: '' }, parameters: {}, codeVersion: '0',
      createdAt: '2025-01-01T00:00:00.000Z', startedAt: null, endedAt: null, status: 'completed', error: null, owner: null,
      summary: { accuracy: 0.7, macroF1: 0.6, weightedF1: 0.7, nTrain: 1, nTest: 1 },
    }));
    const model = buildResultsModel(runs, [], { statistics: () => 'published' });
    const byId = new Map(runs.map((r, i) => [r.id, metricsOf(cases[i].truth, cases[i].pred)]));
    addClassPairMetrics(model, HARD_CELLS, id => byId.get(id));
    const row = model.experiments[0].rows[0];
    assert.ok(Math.abs(row.classPair!.accuracy.mean - ref.reduce((s, r) => s + r.accuracy, 0) / 3) < 1e-12);
    assert.ok(Math.abs(row.classPair!.f1.ciHalfWidth - publishedCiHalfWidth(ref.map(r => r.f1))) < 1e-12);
    const table = paperTable(model.experiments[0]);
    assert.ok(table.headings.includes('Pair accuracy') && table.headings.includes('Pair macro-F1'));
    assert.match(table.footnote, /CD8\+ Cytotoxic T vs CD8\+\/CD45RA\+ Naive Cytotoxic/);
    assert.ok(!paperTable(buildResultsModel(runs, []).experiments[0]).headings.includes('Pair accuracy'), 'only when asked for');
  });
});
