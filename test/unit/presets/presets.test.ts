import * as assert from 'assert';
import { FEW_SHOT_FRACTIONS, PRESETS, PUBLISHED_SEEDS, emptyPreset, presetById } from '../../../src/core/presets/presets';
import {
  ESTIMATE_ASSUMPTIONS, THROUGHPUT, bindingProblems, estimateHours, expandPreset, gridCombinations, publishedTargets, summarizePreset,
} from '../../../src/core/presets/grid';
import { parsePreset, type Preset } from '../../../src/core/presets/schema';
import { loadPublishedNumbers } from '../../../src/core/results/published';
import { QueueSpecSchema } from '../../../src/core/queue/schema';

/** Binds every dataset, checkpoint and encoder of a preset to made-up paths. */
function bound(p: Preset): Preset {
  const q = structuredClone(p);
  for (const g of q.grids) {
    for (const d of g.datasets) {
      d.path = `/data/${d.name}.h5ad`;
      if (d.split.kind === 'reference-query') d.queryPath = `/data/${d.name}_query.h5ad`;
    }
    for (const m of g.models) {
      if (m.kind === 'finetune') m.checkpoint = `/ckpt/${m.model}`;
      if (m.kind === 'probe') m.encoderPath = '/runs/enc/encoder.pt';
    }
  }
  return q;
}

describe('presets: the published experiments', () => {
  it('has every published experiment, each valid under the schema', () => {
    assert.deepStrictEqual(PRESETS.map(p => p.id), ['scbert-table1', 'scbert-table2', 'scbert-figure2', 'scgpt-figure3', 'scgpt-supp-table5', 'benchmark-probes']);
    for (const p of PRESETS) assert.deepStrictEqual(parsePreset(JSON.parse(JSON.stringify(p))), p);
  });

  it('Table 1: n = 10 scBERT runs (the 7 full seeds plus the 3 few-shot runs at 1.0, seed 2021 twice), LR over seeds 0..9, split 80/20 seed 2022', () => {
    const p = presetById('scbert-table1');
    const [ft, fewShot, lr] = p.grids;
    assert.deepStrictEqual(ft.seeds, [1000, 2000, 3000, 4000, 2021, 2022, 2023]);
    assert.deepStrictEqual([fewShot.seeds, fewShot.fractions, fewShot.fewShotRuns, ft.fewShotRuns], [[0, 2021, 4042], [1], true, false]);
    assert.deepStrictEqual(lr.seeds, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepStrictEqual(ft.datasets[0].split, { kind: 'stratified', testSize: 0.2, seed: 2022 });
    assert.deepStrictEqual(lr.models[0], { kind: 'baseline', penalty: 'l1', C: 0.1 });
    assert.strictEqual(summarizePreset(p).runs, 20);
    const labels = expandPreset(bound(p)).map(i => i.label).filter(l => l.includes('seed 2021') && l.includes('scBERT'));
    assert.deepStrictEqual(labels, ['Zheng68K · scBERT · f=1 · seed 2021', 'Zheng68K · scBERT · f=1 (few-shot run) · seed 2021']);
  });

  it('Table 2: full model and the two ablations over the ten published seeds = 30 runs', () => {
    const p = presetById('scbert-table2');
    assert.deepStrictEqual(p.grids[0].ablations, ['none', 'no-gene2vec', 'no-pretraining']);
    assert.deepStrictEqual(p.grids[0].seeds, [...PUBLISHED_SEEDS.scbertAblation]);
    assert.strictEqual(summarizePreset(p).runs, 30);
  });

  it('Figure 2: 5 fractions x 3 seeds for scBERT (2021*k) and LR, plus LR seeds 3..9 at 1.0', () => {
    const p = presetById('scbert-figure2');
    assert.deepStrictEqual(p.grids[0].fractions, FEW_SHOT_FRACTIONS);
    assert.deepStrictEqual(p.grids[0].seeds, [0, 2021, 4042]);
    const s = summarizePreset(p);
    assert.deepStrictEqual(s.perGrid.map(g => g.runs), [15, 15, 7]);
    assert.strictEqual(s.cpuRuns, 22);
    assert.strictEqual(s.gpuRuns, 15);
  });

  it('scGPT Figure 3 and Supp. Table 5: three reference/query datasets, seeds 1..10, stratified few-shot', () => {
    const f3 = summarizePreset(presetById('scgpt-figure3'));
    assert.strictEqual(f3.runs, 2 * 3 * 5 * 10);
    const s5 = presetById('scgpt-supp-table5');
    assert.ok(s5.grids[0].stratifiedFewShot);
    assert.deepStrictEqual(s5.grids[0].datasets.map(d => [d.name, d.labelColumn]), [
      ['ms', 'Factor Value[inferred cell type - authors labels]'], ['myeloid', 'cell_type'], ['pancreas', 'Celltype'],
    ]);
    assert.strictEqual(summarizePreset(s5).runs, 3 * 3 * 10);
  });

  it('the probe preset expands to kind "probe" items with docs/worker-benchmark.md parameters', () => {
    const items = expandPreset(bound(presetById('benchmark-probes')));
    assert.strictEqual(items.length, 3 * 2 * 5);
    const linear = items.find(i => i.spec.kind === 'probe' && i.spec.probe.method === 'linear')!;
    assert.ok(linear.spec.kind === 'probe');
    assert.deepStrictEqual(linear.spec.probe, {
      encoder: { model: 'benchmark', path: '/runs/enc/encoder.pt' }, method: 'linear', pooling: 'cls', k: 10, epochs: 50, lr: 0.005,
      batchSize: 64, evalEvery: 5, select: 'best-test', writeEmbeddings: false, valueLayer: null, device: 'auto',
    });
    assert.deepStrictEqual(linear.spec.split, { kind: 'random', testSize: 0.3 });
    for (const it of items) QueueSpecSchema.parse(it.spec);
  });

  it('shows the published target beside each row, preferring the reproduced experiment', () => {
    const published = loadPublishedNumbers();
    const t1 = publishedTargets(presetById('scbert-table1'), published);
    assert.deepStrictEqual(t1.map(t => [t.model, t.accuracy?.value, t.macroF1?.value]), [['scBERT', 0.7665, 0.6753], ['LR L1 C=0.1', 0.8115, 0.7071]]);
    const t2 = publishedTargets(presetById('scbert-table2'), published);
    assert.deepStrictEqual(t2.map(t => [t.model, t.accuracy?.value]), [['scBERT', 0.7665], ['scBERT no gene2vec', 0.7012], ['scBERT no pre-training', 0.7579]]);
    const s5 = publishedTargets(presetById('scgpt-supp-table5'), published);
    assert.strictEqual(s5.find(t => t.dataset === 'ms' && t.model === 'scGPT no pre-training, frozen embeddings')?.accuracy?.value, 0.461);
    const f2 = publishedTargets(presetById('scbert-figure2'), published);
    assert.strictEqual(f2.find(t => t.model === 'scBERT' && t.fraction === 0.1)?.accuracy?.value, 0.6326);
  });
});

describe('grid: expansion, count and GPU-hour estimate', () => {
  it('crosses dataset x model x ablation x fraction x seed, ablations on fine-tunes only, duplicates once', () => {
    const p = parsePreset({
      id: 'x', title: 'x', source: 'test', experiment: 'e', grids: [{
        datasets: [{ name: 'a', labelColumn: 'y', split: { kind: 'stratified', testSize: 0.2, seed: 1 }, cells: 1000 }],
        models: [{ kind: 'finetune', model: 'scbert' }, { kind: 'finetune', model: 'scgpt' }, { kind: 'baseline', C: 1 }],
        ablations: ['none', 'no-gene2vec'], fractions: [0.5, 1, 1], seeds: [1, 2, 3],
      }],
    });
    const { combos, skipped } = gridCombinations(p.grids[0]);
    // scBERT 2 ablations x 2 fractions x 3 seeds, scGPT only 'none' (no-gene2vec skipped), LR once per fraction x seed
    assert.strictEqual(combos.length, 12 + 6 + 6);
    assert.deepStrictEqual(skipped, [{ grid: 0, reason: 'no-gene2vec is an scBERT ablation (scGPT has no gene2vec embedding)', count: 6 }]);
    assert.strictEqual(summarizePreset(p).runs, 24);
  });

  it('estimates scBERT from 34.7 cells/s (the published fp32): Table 1 by hand', () => {
    const p = presetById('scbert-table1');
    const c = gridCombinations(p.grids[0]).combos[0];
    const test = Math.ceil(68450 * 0.2);
    const train = 68450 - test;
    const expected = (10 * (train / 34.7 + test / (3 * 34.7)) + test / (3 * 34.7)) / 3600;
    assert.ok(Math.abs(estimateHours(c) - expected) < 1e-9, `${estimateHours(c)} vs ${expected}`);
    const s = summarizePreset(p);
    assert.ok(Math.abs(s.gpuHours - 10 * expected) < 1e-6);
    // bf16 (a recorded deviation) is faster
    const bf16 = structuredClone(c);
    if (bf16.model.kind === 'finetune') bf16.model.precision = 'bf16';
    assert.ok(estimateHours(bf16) < estimateHours(c) * (34.7 / 42.9) * 1.001);
    assert.ok(ESTIMATE_ASSUMPTIONS.some(a => a.includes('34.7')));
  });

  it('scGPT throughput follows the sequence length between the anchors; baselines cost no GPU time', () => {
    const p = presetById('scgpt-figure3');
    const combos = p.grids.flatMap((g, i) => gridCombinations(g, i).combos);
    const ft = combos.find(c => c.model.kind === 'finetune' && c.fraction === 1 && c.dataset.name === 'ms')!;
    // 7844 reference cells: 90% train, 10% validation each epoch, 13468 query cells once, 20 epochs, 159 cells/s
    const val = Math.round(7844 * 0.1);
    const expected = (20 * ((7844 - val) / 159 + val / (3 * 159)) + 13468 / (3 * 159)) / 3600;
    assert.ok(Math.abs(estimateHours(ft) - expected) < 1e-9);
    const short = structuredClone(ft);
    if (short.model.kind === 'finetune') short.model.maxSeqLen = THROUGHPUT.scgpt[0].tokens;
    const expectedShort = (20 * ((7844 - val) / 475 + val / (3 * 475)) + 13468 / (3 * 475)) / 3600;
    assert.ok(Math.abs(estimateHours(short) - expectedShort) < 1e-9);
    assert.strictEqual(estimateHours(combos.find(c => c.model.kind === 'baseline')!), 0);
    // the no-pretraining ablations train 30 epochs
    const s5 = presetById('scgpt-supp-table5').grids[0];
    const byAbl = (a: string) => gridCombinations(s5).combos.find(c => c.ablation === a && c.dataset.name === 'ms')!;
    assert.ok(estimateHours(byAbl('no-pretraining')) > estimateHours(byAbl('none')) * 1.4);
  });

  it('refuses to expand until every file is chosen, naming each', () => {
    const p = presetById('scgpt-figure3');
    const problems = bindingProblems(p);
    assert.ok(problems.includes("grid 1 (scGPT few-shot): choose the file of dataset 'ms'"), problems.join('\n'));
    assert.ok(problems.includes("grid 1 (scGPT few-shot): choose the query file of dataset 'pancreas'"));
    assert.ok(problems.some(x => x.includes('scGPT model folder')));
    assert.throws(() => expandPreset(p), /not ready to queue: .*choose the file of dataset 'ms'/);
  });

  it('expands a bound preset to valid queue specs with the published protocol', () => {
    const items = expandPreset(bound(presetById('scgpt-figure3')));
    assert.strictEqual(items.length, 300);
    for (const it of items) QueueSpecSchema.parse(it.spec);
    const ft = items.find(i => i.spec.kind === 'finetune')!;
    assert.ok(ft.spec.kind === 'finetune');
    assert.deepStrictEqual([ft.spec.model, ft.spec.checkpoint, ft.spec.split, ft.spec.stratifiedFewShot, ft.spec.experiment, ft.spec.maxSeqLen],
      ['scgpt', '/ckpt/scgpt', { kind: 'reference-query', queryPath: '/data/ms_query.h5ad' }, true, 'scGPT Figure 3', 3001]);
    const lr = items.find(i => i.spec.kind === 'baseline')!;
    assert.ok(lr.spec.kind === 'baseline');
    assert.deepStrictEqual(lr.spec.model, { penalty: 'l1', cvGrid: [1e-3, 1e-2, 1e-1, 1, 1e1, 1e2, 1e3, 1e4], folds: 5 });
    assert.strictEqual(ft.label, 'ms · scGPT · f=0.1 · seed 1');
  });

  it('the published precision and protocol are left to the worker; a chosen one travels to the queue spec', () => {
    const p = bound(presetById('scbert-figure2'));
    const published = expandPreset(p).find(i => i.spec.kind === 'finetune')!.spec;
    assert.ok(published.kind === 'finetune');
    assert.deepStrictEqual([published.precision, published.amp, published.adamEps, published.fewShotRun], [undefined, undefined, undefined, true]);
    const m = p.grids[0].models[0];
    assert.ok(m.kind === 'finetune');
    assert.strictEqual(m.precision, 'published');
    m.precision = 'bf16';
    m.protocol = { adamEps: 1e-6, keep: 'last', shuffle: null };
    const chosen = expandPreset(p).find(i => i.spec.kind === 'finetune')!.spec;
    assert.ok(chosen.kind === 'finetune');
    assert.deepStrictEqual([chosen.precision, chosen.adamEps, chosen.keep, 'shuffle' in chosen], ['bf16', 1e-6, 'last', false]);
    QueueSpecSchema.parse(chosen);
  });

  it('the no-pretraining ablation needs no checkpoint; a bad grid is reported by field', () => {
    const p = emptyPreset();
    p.grids[0].datasets[0].path = '/d.h5ad';
    p.grids[0].ablations = ['no-pretraining'];
    const items = expandPreset(p);
    assert.strictEqual(items.length, 1);
    assert.ok(items[0].spec.kind === 'finetune' && items[0].spec.checkpoint === null);
    assert.throws(() => parsePreset({ ...p, grids: [{ ...p.grids[0], fractions: [1.5] }] }, 'grid.json'), /grid\.json: grids\.0\.fractions\.0: /);
    assert.throws(() => parsePreset({ ...p, grids: [{ ...p.grids[0], seeds: [] }] }, 'grid.json'), /grids\.0\.seeds/);
    assert.throws(() => parsePreset({ ...p, grids: [{ ...p.grids[0], models: [{ kind: 'baseline', C: 1, cvGrid: [1] }] }] }), /either C or cvGrid/);
  });
});
