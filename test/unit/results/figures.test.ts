import * as assert from 'assert';
import { ablationFigure, confusionFigure, fewShotFigure, learningFigure, lossCurve, type LineFigure } from '../../../src/core/results/figures';
import { buildResultsModel, confusionView } from '../../../src/core/results/model';
import { loadPublishedNumbers } from '../../../src/core/results/published';
import { niceTicks, renderSvg } from '../../../src/core/results/svg';
import type { RunEvent, RunRecord } from '../../../src/core/runs/schema';
import { runPythonJson } from '../../helpers/shared';

interface Parsed {
  root: string;
  width: string;
  height: string;
  title: string | null;
  elements: ({ tag: string; class: string } & Record<string, string>)[];
  texts: string[];
}

/** The SVG through Python's xml.etree: throws on malformed XML; lists every classed element. */
function parse(svg: string): Parsed {
  return runPythonJson<Parsed>('svg_inspect.py', [], svg);
}

let counter = 0;
function run(o: { family: string; label: string; variant?: string; fraction: number; seed: number; acc: number; f1: number }): RunRecord {
  counter++;
  return {
    schemaVersion: 1, id: `20250401T000000${String(counter).padStart(3, '0')}Z-000000`, kind: 'baseline', name: '', note: '',
    experiment: 'Fig <2> & "few"', dataset: { path: '/data/Zheng68K.h5ad', sha256: 'a'.repeat(64) },
    labelColumn: 'cell_type', split: { kind: 'stratified', testSize: 0.2, seed: 2022 },
    seed: o.seed, fraction: o.fraction, stratifiedFewShot: false,
    model: { family: o.family, label: o.label, variant: o.variant ?? '' }, parameters: {}, codeVersion: '0.1.0',
    createdAt: '2025-04-01T00:00:00.000Z', startedAt: null, endedAt: null, status: 'completed', error: null, owner: null,
    summary: { accuracy: o.acc, macroF1: o.f1, weightedF1: o.acc, nTrain: 10, nTest: 10 },
  };
}

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

describe('paper figures and their SVG', () => {
  // LR and scBERT at 0.1, 0.25 and 1 (3 seeds each, values known), and an ablation with one seed at 1.
  const runs: RunRecord[] = [];
  const lr: Record<number, number[]> = { 0.1: [0.70, 0.72, 0.74], 0.25: [0.75, 0.76, 0.74], 1: [0.81, 0.80, 0.82] };
  const sb: Record<number, number[]> = { 0.1: [0.60, 0.66, 0.63], 0.25: [0.70, 0.68, 0.69], 1: [0.76, 0.78, 0.77] };
  for (const f of [0.1, 0.25, 1]) {
    lr[f].forEach((acc, s) => runs.push(run({ family: 'LR', label: 'LR L1 C=0.1', fraction: f, seed: s, acc, f1: acc - 0.1 })));
    sb[f].forEach((acc, s) => runs.push(run({ family: 'scBERT', label: 'scBERT', fraction: f, seed: s, acc, f1: acc - 0.1 })));
  }
  runs.push(run({ family: 'scBERT', label: 'scBERT no pretraining', variant: 'no pretraining', fraction: 1, seed: 0, acc: 0.75, f1: 0.67 }));
  const exp = buildResultsModel(runs, loadPublishedNumbers()).experiments[0];

  it('few-shot curves: one band per model over its fractions, points at the means, the published curve beside', () => {
    const fig = fewShotFigure(exp, 'accuracy');
    const p = parse(renderSvg(fig));
    assert.strictEqual(p.title, 'Fig <2> & "few": few-shot accuracy', 'the title is escaped and parses back');
    const series = p.elements.filter(e => e.class === 'series').map(e => e['data-label']);
    assert.deepStrictEqual(series, ['LR L1 C=0.1', 'LR L1 C=0.1 (published)', 'scBERT', 'scBERT (published)', 'scBERT no pretraining', 'scBERT no pretraining (published)']);
    const bands = p.elements.filter(e => e.class === 'band');
    assert.strictEqual(bands.length, 2, 'LR and scBERT have intervals; the one-seed ablation has none');
    // the band of scBERT spans the Student-t CI of each fraction
    const sbRow = (f: number) => exp.rows.find(r => r.model === 'scBERT' && r.fraction === f)!;
    const lows = bands[1]['data-low'].split(' ').map(Number);
    [0.1, 0.25, 1].forEach((f, i) => assert.ok(Math.abs(lows[i] - sbRow(f).accuracy.ciLow) < 1e-3, `band low at ${f}`));
    const points = p.elements.filter(e => e.class === 'point');
    const user = points.filter(e => e.tag === 'circle').map(e => [Number(e['data-x']), Number(e['data-y'])]);
    assert.strictEqual(user.length, 7);
    close(user[3][1], (0.60 + 0.66 + 0.63) / 3, 'scBERT at 0.1');
    close(user[5][1], (0.76 + 0.78 + 0.77) / 3, 'scBERT at 1');
    // published: diamonds at the bundled Fig2 values (LR at 0.1 0.7184, scBERT at 0.1 0.6326)
    const diamonds = points.filter(e => e.tag === 'path').map(e => [Number(e['data-x']), Number(e['data-y'])]);
    assert.ok(diamonds.some(([x, y]) => x === 0.1 && y === 0.7184), JSON.stringify(diamonds));
    assert.ok(diamonds.some(([x, y]) => x === 0.1 && y === 0.6326), JSON.stringify(diamonds));
    // the lines pass through the points, in x order
    const scbertLine = p.elements.filter(e => e.class === 'line')[2];
    assert.strictEqual(scbertLine.d.split(' L ').length, 3);
    assert.ok(p.texts.includes('fraction of the training set'));
  });

  it('ablation bars: one bar per model at fraction 1 with CI whiskers and the published marker', () => {
    const fig = ablationFigure(exp, 'macroF1');
    assert.deepStrictEqual(fig.bars.map(b => b.label), ['LR L1 C=0.1', 'scBERT', 'scBERT no pretraining']);
    const p = parse(renderSvg(fig));
    const bars = p.elements.filter(e => e.class === 'bar');
    assert.deepStrictEqual(bars.map(b => Number(b['data-value']).toFixed(6)), [0.71, 0.67, 0.67].map(v => v.toFixed(6)));
    // taller bar for the larger mean: heights are proportional to the values on a 0..1 axis
    const h = bars.map(b => Number(b.height));
    assert.ok(Math.abs(h[0] / h[1] - 0.71 / 0.67) < 1e-3, `heights ${h}`);
    const whiskers = p.elements.filter(e => e.class === 'whisker');
    assert.strictEqual(whiskers.length, 2, 'no whisker for one seed');
    const lrRow = exp.rows.find(r => r.model === 'LR L1 C=0.1' && r.fraction === 1)!;
    close(Number(whiskers[0]['data-low']), lrRow.macroF1.ciLow, 'LR whisker low');
    close(Number(whiskers[0]['data-high']), lrRow.macroF1.ciHigh, 'LR whisker high');
    const published = p.elements.filter(e => e.class === 'published').map(e => Number(e['data-value']));
    assert.deepStrictEqual(published, [0.7071, 0.6753, 0.6719], 'Table 1 / Table 2 macro-F1 as published');
    assert.ok(p.texts.includes('scBERT no pretraining'));
    // another fraction on request
    assert.deepStrictEqual(ablationFigure(exp, 'accuracy', 0.25).bars.map(b => b.label), ['LR L1 C=0.1', 'scBERT']);
  });

  it('confusion matrices: counts or row-normalised, one cell per pair with its value', () => {
    const view = confusionView([{
      schemaVersion: 1, accuracy: 0.7, macroF1: 0.6, weightedF1: 0.6, classes: ['B', 'T & NK'], nTest: 10,
      perClass: [], confusion: [[3, 1], [2, 4]],
    }]);
    for (const normalized of [false, true]) {
      const p = parse(renderSvg(confusionFigure(view, normalized)));
      const cells = p.elements.filter(e => e.class === 'cell');
      assert.strictEqual(cells.length, 4);
      const v = (i: number, j: number) => Number(cells.find(c => c['data-row'] === String(i) && c['data-col'] === String(j))!['data-value']);
      if (normalized) { close(v(0, 0), 0.75, 'B->B'); close(v(1, 0), 1 / 3, 'T->B'); } else { assert.strictEqual(v(1, 1), 4); }
      const shown = p.elements.filter(e => e.class === 'cell-value').length;
      assert.strictEqual(shown, 4);
      assert.ok(p.texts.includes(normalized ? '0.75' : '3'), p.texts.join(','));
      assert.ok(p.texts.includes('T & NK'));
    }
  });

  it('learning curves: train and validation loss by epoch from events, several seeds overlaid', () => {
    const t = '2025-01-01T00:00:00.000Z';
    const events = (seed: number): RunEvent[] => [
      { type: 'status', time: t, status: 'running' },
      { type: 'train', time: t, epoch: 1, step: 10, loss: 2.0 + seed, lr: 1e-4, cellsPerSec: 5, gpuMemoryMiB: null },
      { type: 'train', time: t, epoch: 1, step: 20, loss: 1.5 + seed, lr: 1e-4, cellsPerSec: 5, gpuMemoryMiB: null },
      { type: 'validation', time: t, epoch: 1, step: 20, loss: 1.6 + seed, accuracy: 0.5, best: true },
      { type: 'train', time: t, epoch: 2, step: 40, loss: 1.0 + seed, lr: 1e-4, cellsPerSec: 5, gpuMemoryMiB: null },
      { type: 'validation', time: t, epoch: 2, step: 40, loss: 1.2 + seed, accuracy: 0.6, best: true },
      { type: 'metric', time: t, name: 'keptEpoch', value: 2 },
    ];
    const curves = [lossCurve('b', 1, events(1))!, lossCurve('a', 0, events(0))!];
    assert.deepStrictEqual(curves[1].train, [{ epoch: 1, loss: 1.5 }, { epoch: 2, loss: 1.0 }], 'the last train event of each epoch');
    assert.strictEqual(lossCurve('c', 0, [{ type: 'status', time: t, status: 'running' }]), null);
    // killed in epoch 2 after step 30, resumed from its checkpoint at step 20 and cancelled again before a step:
    // the killed segment's epoch-2 point is superseded; a completed resume's redone points replace it
    const killed: RunEvent = { type: 'train', time: t, epoch: 2, step: 30, loss: 9, lr: 1e-4, cellsPerSec: 5, gpuMemoryMiB: null };
    const resume: RunEvent = { type: 'resume', time: t, step: 20, epoch: 2, batch: 0 };
    const cut = lossCurve('r', 0, [...events(0).slice(0, 4), killed, resume, { type: 'status', time: t, status: 'cancelled' }])!;
    assert.deepStrictEqual(cut.train, [{ epoch: 1, loss: 1.5 }]);
    const redone = lossCurve('r', 0, [...events(0).slice(0, 4), killed, resume, ...events(0).slice(4)])!;
    assert.deepStrictEqual([redone.train, redone.validation], [curves[1].train, curves[1].validation]);
    const fig: LineFigure = learningFigure(curves);
    assert.deepStrictEqual(fig.series.map(s => s.label), ['seed 0 train', 'seed 0 validation', 'seed 1 train', 'seed 1 validation']);
    const p = parse(renderSvg(fig));
    const pts = p.elements.filter(e => e.class === 'point').map(e => [Number(e['data-x']), Number(e['data-y'])]);
    assert.deepStrictEqual(pts, [[1, 1.5], [2, 1.0], [1, 1.6], [2, 1.2], [1, 2.5], [2, 2.0], [1, 2.6], [2, 2.2]]);
    const lines = p.elements.filter(e => e.class === 'line');
    assert.strictEqual(lines.length, 4);
    assert.strictEqual(lines[1]['stroke-dasharray'], '6 4', 'validation dashed');
    assert.strictEqual(lines[0].stroke, lines[1].stroke, 'one colour per seed');
    assert.notStrictEqual(lines[0].stroke, lines[2].stroke);
    // SVG y grows downwards: the larger loss is drawn higher up
    const circles = p.elements.filter(e => e.class === 'point');
    assert.ok(Number(circles[0].cy) < Number(circles[1].cy), 'loss 1.5 above loss 1.0');
  });

  it('nice ticks', () => {
    assert.deepStrictEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepStrictEqual(niceTicks(0.6, 0.85, 5), [0.6, 0.65, 0.7, 0.75, 0.8, 0.85]);
  });
});
