/**
 * Comparisons only where valid: a fine-tune experiment carries the LR baseline of the same file, split, fraction and
 * seed (borrowed from the experiment where it ran); rows of different splits are not merged and are compared only
 * within their split.
 */
import * as assert from 'assert';
import { splitKey } from '../../../src/core/results/baseline-reuse';
import { buildResultsModel } from '../../../src/core/results/model';
import { paperTable } from '../../../src/core/results/paper';
import type { RunRecord, RunSplit } from '../../../src/core/runs/schema';

let n = 0;
function rec(o: { kind: 'baseline' | 'finetune'; family: string; label: string; experiment: string; fraction: number; seed: number; acc: number;
  split?: RunSplit; sha?: string; createdAt?: string }): RunRecord {
  n++;
  return {
    schemaVersion: 1, id: `r${String(n).padStart(3, '0')}`, kind: o.kind, name: '', note: '', experiment: o.experiment,
    dataset: { path: '/data/pbmc.h5ad', sha256: (o.sha ?? 'a').repeat(64) }, labelColumn: 'cell_type',
    split: o.split ?? { kind: 'stratified', testSize: 0.2, seed: 2022 }, seed: o.seed, fraction: o.fraction, stratifiedFewShot: false,
    model: { family: o.family, label: o.label, variant: '' }, parameters: {}, codeVersion: '0', createdAt: o.createdAt ?? '2025-01-01T00:00:00.000Z',
    startedAt: null, endedAt: null, status: 'completed', error: null, owner: null,
    summary: { accuracy: o.acc, macroF1: o.acc - 0.1, weightedF1: o.acc, nTrain: 1, nTest: 1 },
  };
}

describe('LR baseline carried by a fine-tune experiment; comparisons within one split', () => {
  it('borrows the LR runs of the same file, split, fraction and seed, and tests against them', () => {
    const runs: RunRecord[] = [];
    for (const seed of [0, 1, 2]) {
      runs.push(rec({ kind: 'baseline', family: 'LR', label: 'LR L1 C=0.1', experiment: 'pbmc LR baseline', fraction: 0.1, seed, acc: 0.6 + seed / 100 }));
      runs.push(rec({ kind: 'finetune', family: 'scGPT', label: 'scGPT', experiment: 'pbmc fine-tune', fraction: 0.1, seed, acc: 0.7 + seed / 100 }));
      // LR at another fraction, another split and on another file: never borrowed for fraction 0.1
      runs.push(rec({ kind: 'baseline', family: 'LR', label: 'LR L1 C=0.1', experiment: 'pbmc LR baseline', fraction: 1, seed, acc: 0.8 }));
      runs.push(rec({ kind: 'baseline', family: 'LR', label: 'LR L1 C=0.1', experiment: 'other split', fraction: 0.1, seed, acc: 0.1, split: { kind: 'stratified', testSize: 0.3, seed: 2022 } }));
      runs.push(rec({ kind: 'baseline', family: 'LR', label: 'LR L1 C=0.1', experiment: 'other file', fraction: 0.1, seed, acc: 0.1, sha: 'b' }));
    }
    const model = buildResultsModel(runs, []);
    const ft = model.experiments.find(e => e.experiment === 'pbmc fine-tune')!;
    assert.deepStrictEqual(ft.rows.map(r => [r.model, r.fraction, r.n]), [['LR L1 C=0.1', 0.1, 3], ['scGPT', 0.1, 3]]);
    assert.strictEqual(ft.referenceModel, 'LR L1 C=0.1');
    assert.deepStrictEqual(ft.rows[0].accuracy.values, [0.6, 0.61, 0.62]);
    assert.ok(ft.rows[1].vsReference && Number.isFinite(ft.rows[1].vsReference.pAccuracy));
    assert.strictEqual(ft.borrowedNotes.length, 1);
    assert.strictEqual(ft.borrowedNotes[0], 'LR baseline reused from experiment "pbmc LR baseline"');
    assert.match(paperTable(ft).footnote, /LR baseline reused from experiment "pbmc LR baseline".*same file, split, fraction and seed/);
    // the LR experiment itself is unchanged
    const lr = model.experiments.find(e => e.experiment === 'pbmc LR baseline')!;
    assert.deepStrictEqual(lr.models, ['LR L1 C=0.1']);
  });

  it('never borrows an LR run made on another version of the file at the same path (another sha256), however new', () => {
    const runs: RunRecord[] = [];
    for (const seed of [0, 1]) {
      runs.push(rec({ kind: 'baseline', family: 'LR', label: 'LR L1 C=0.1', experiment: 'LR on the old file', fraction: 1, seed, acc: 0.2, sha: 'b', createdAt: '2026-12-06T12:00:00.000Z' }));
      runs.push(rec({ kind: 'finetune', family: 'scBERT', label: 'scBERT', experiment: 'fine-tune on the new file', fraction: 1, seed, acc: 0.7, createdAt: '2026-12-06T10:00:00.000Z' }));
    }
    const ft = buildResultsModel(runs, []).experiments.find(e => e.experiment === 'fine-tune on the new file')!;
    assert.deepStrictEqual(ft.rows.map(r => r.model), ['scBERT']);
    assert.deepStrictEqual(ft.borrowedNotes, []);
  });

  it('an experiment with two splits keeps their rows apart, shows a Split column and compares within each split', () => {
    const a: RunSplit = { kind: 'stratified', testSize: 0.2, seed: 2022 };
    const b: RunSplit = { kind: 'stratified', testSize: 0.3, seed: 2022 };
    const runs: RunRecord[] = [];
    for (const seed of [0, 1]) {
      runs.push(rec({ kind: 'baseline', family: 'LR', label: 'LR', experiment: 'mixed', fraction: 1, seed, acc: 0.5 + seed / 100, split: a }));
      runs.push(rec({ kind: 'finetune', family: 'scBERT', label: 'scBERT', experiment: 'mixed', fraction: 1, seed, acc: 0.7 + seed / 100, split: b }));
    }
    const exp = buildResultsModel(runs, []).experiments[0];
    assert.strictEqual(exp.rows.length, 2);
    assert.deepStrictEqual(exp.rows.map(r => r.split), ['stratified 0.2 (seed 2022)', 'stratified 0.3 (seed 2022)']);
    assert.strictEqual(exp.rows.find(r => r.model === 'scBERT')!.vsReference, null, 'no LR on the scBERT row\'s split: not compared');
    const paper = paperTable(exp);
    assert.ok(paper.headings.includes('Split'));
    assert.match(paper.footnote, /Several splits \(stratified 0\.2 \(seed 2022\); stratified 0\.3 \(seed 2022\)\): rows are compared only within one split\./);
    assert.notStrictEqual(splitKey(a), splitKey(b));
  });
});
