import * as assert from 'assert';
import * as vscode from 'vscode';
import { currentOwner } from '../../src/core/runs/owner';
import { activeApi, until } from './helpers';

const EXPERIMENT = 'host test paper Table 1';

/**
 * The results panel's paper-style table and figures for a Table 1-like experiment (LR vs scBERT on Zheng68K, three
 * seeds each, the scBERT runs with loss events as the fine-tune worker writes them): significance marks with their
 * footnote, published values with differences, few-shot bands, ablation bars and learning curves.
 */
describe('Results panel: paper-style tables and figures (in the real extension host)', () => {
  it('shows marks, published values and differences, few-shot bands, ablation bars and the learning curves of a fine-tune row', async () => {
    const api = await activeApi();
    const store = api.runs.store!;
    const owner = currentOwner();
    const make = async (family: string, label: string, fraction: number, seed: number, accuracy: number, events: boolean) => {
      const run = await store.create({
        kind: family === 'LR' ? 'baseline' : 'finetune', name: '', experiment: EXPERIMENT,
        dataset: { path: '/data/Zheng68K.h5ad', sha256: '0'.repeat(64) }, labelColumn: 'cell_type',
        split: { kind: 'stratified', testSize: 0.2, seed: 2022 }, seed, fraction,
        model: { family, label, variant: '' }, parameters: {}, codeVersion: '0.1.0', status: 'running', owner,
      });
      if (events) {
        for (let epoch = 1; epoch <= 3; epoch++) {
          await store.appendEvent(run.id, { type: 'train', epoch, step: 10 * epoch, loss: 2 / epoch + seed / 100, lr: 1e-4, cellsPerSec: 100, gpuMemoryMiB: null });
          await store.appendEvent(run.id, { type: 'validation', epoch, step: 10 * epoch, loss: 2.2 / epoch + seed / 100, accuracy: 0.5, best: true });
        }
      }
      await store.writeMetrics(run.id, {
        accuracy, macroF1: accuracy - 0.1, weightedF1: accuracy, classes: ['B', 'T'], nTest: 10,
        perClass: [{ name: 'B', precision: 1, recall: 1, f1: 1, support: 5 }, { name: 'T', precision: 1, recall: 1, f1: 1, support: 5 }],
        confusion: [[4, 1], [1, 4]],
      });
      await store.update(run.id, {
        status: 'completed', endedAt: new Date().toISOString(), owner: null,
        summary: { accuracy, macroF1: accuracy - 0.1, weightedF1: accuracy, nTrain: 40, nTest: 10 },
      });
      return run;
    };
    // Another experiment is listed, and the panel is asked for this one before its runs exist (as when a run's
    // experiment is opened while its files are written): the panel shows the other one meanwhile and this one as
    // soon as the store lists it, never settling on the other.
    const decoy = await make('LR', 'LR L1 C=0.1', 1, 0, 0.5, false);
    await store.update(decoy.id, { experiment: `${EXPERIMENT} (another)` });
    await until(async () => (await api.runs.runs()).some(r => r.id === decoy.id && r.experiment === `${EXPERIMENT} (another)`));
    await vscode.commands.executeCommand('scwb.results.open', { experiment: EXPERIMENT });
    const panel = await until(() => api.panels.results());
    for (const [s, f] of [[0, 0.5], [1, 0.5], [2, 0.5], [0, 1], [1, 1], [2, 1]] as const) {
      await make('LR', 'LR L1 C=0.1', f, s, 0.81 + 0.001 * s - (f < 1 ? 0.05 : 0), false);
      await make('scBERT', 'scBERT', f, s, 0.7552 + 0.002 * s - (f < 1 ? 0.06 : 0), true);
    }
    const shown = await until(() => {
      const d = panel.lastRenderedDetail;
      return d?.experiment === EXPERIMENT && d.rows === 4 && Number(d.confusionClasses) === 2 ? d : undefined;
    });
    assert.strictEqual(shown.columns, 'Model|Fraction|n|Accuracy|Macro-F1|Published accuracy|Δ accuracy|Published macro-F1|Δ macro-F1');
    // scBERT is far below LR at both fractions with tiny spread: *** on both metrics of both scBERT rows
    assert.strictEqual(shown.significanceMarks, '*** *** *** ***');
    assert.match(String(shown.footnote), /\* p < 0\.05, \*\* p < 0\.01, \*\*\* p < 0\.001: Welch's t-test against LR L1 C=0\.1/);
    assert.strictEqual(shown.fewshotBands, 2, 'one CI band per model');
    assert.strictEqual(shown.ablationBars, 2);
    assert.strictEqual(shown.ablationWhiskers, 2);
    // the first row is LR's (no events): no learning curves; scBERT's row shows train + validation of 3 seeds
    assert.strictEqual(shown.learningSeries, 0);
    const table = panel.tableText(EXPERIMENT, 'md')!;
    assert.match(table, /\| scBERT \| 1 \| 3 \| 0\.757 ± 0\.005\\\*\\\*\\\* \| 0\.657 ± 0\.005\\\*\\\*\\\* \| 0\.766 \| -0\.009 \| 0\.675 \| -0\.018 \|/);

    // Select the scBERT row at fraction 1 as a click does: its learning curves arrive with its confusion matrix.
    const exp = panel.currentModel!.experiments.find(e => e.experiment === EXPERIMENT)!;
    const key = exp.rows.find(r => r.model === 'scBERT' && r.fraction === 1)!.key;
    const learning = await panel.learningOf(EXPERIMENT, key);
    assert.deepStrictEqual(learning.map(c => c.seed), [0, 1, 2]);
    assert.deepStrictEqual(learning[1].train.map(p => p.epoch), [1, 2, 3]);
    assert.ok(Math.abs(learning[1].validation[2].loss - (2.2 / 3 + 0.01)) < 1e-12);
    for (const r of await store.list()) if (r.experiment === EXPERIMENT || r.id === decoy.id) await store.delete(r.id);
  });
});
