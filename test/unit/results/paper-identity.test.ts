/**
 * Published numbers stand beside a row only when the run's file is the paper's dataset: a preset alias "Zheng68K"
 * bound to the user's own 2,400-cell file shows no published value and no Δ, but a note in the panel's footnote and
 * every export.
 */
import * as assert from 'assert';
import { parseCsv } from '../../../src/core/results/csv';
import { CSV_COLUMNS, tableToCsv, tableToLatex, tableToMarkdown } from '../../../src/core/results/export';
import { buildResultsModel } from '../../../src/core/results/model';
import { paperTable } from '../../../src/core/results/paper';
import { paperDatasetMismatch } from '../../../src/core/results/paper-identity';
import { loadPublishedNumbers } from '../../../src/core/results/published';
import type { RunRecord } from '../../../src/core/runs/schema';

function lrRun(file: string, nObs: number | undefined, seed: number, acc: number): RunRecord {
  return {
    schemaVersion: 1, id: `20250101T00000${seed}Z-${file.length}`, kind: 'baseline', name: '', note: '', experiment: 'Zheng68K LR',
    dataset: { path: `/data/${file}`, sha256: 'b'.repeat(64), ...(nObs === undefined ? {} : { nObs, nVars: 16906 }) },
    publishedDataset: 'Zheng68K', labelColumn: 'cell_type', split: { kind: 'stratified', testSize: 0.2, seed: 2022 },
    seed, fraction: 1, stratifiedFewShot: false, model: { family: 'LR', label: 'LR L1 C=0.1', variant: '' }, parameters: {},
    codeVersion: '0.1.0', createdAt: '2025-01-01T00:00:00.000Z', startedAt: null, endedAt: null, status: 'completed', error: null, owner: null,
    summary: { accuracy: acc, macroF1: acc - 0.1, weightedF1: acc, nTrain: 10, nTest: 10 },
  };
}

describe('published numbers only for the paper\'s dataset', () => {
  const published = loadPublishedNumbers();
  const note = 'published values are for Zheng68K (68,450 cells); this is mine.h5ad (2,400 cells), so they are not shown beside it';

  it('a preset alias bound to another file: no published value, no Δ; the note in the footnote, CSV, Markdown and LaTeX', () => {
    const model = buildResultsModel([lrRun('mine.h5ad', 2400, 0, 0.3), lrRun('mine.h5ad', 2400, 1, 0.32)], published);
    const exp = model.experiments[0];
    assert.deepStrictEqual(exp.rows[0].published, { accuracy: [], macroF1: [] });
    assert.strictEqual(exp.rows[0].publishedNote, note);
    assert.deepStrictEqual(exp.publishedNotes, [note]);
    const paper = paperTable(exp);
    assert.strictEqual(paper.showPublished, false);
    assert.ok(!paper.headings.some(h => h.startsWith('Δ')));
    assert.ok(paper.footnote.endsWith(`P${note.slice(1)}.`), paper.footnote);
    const csv = parseCsv(tableToCsv(exp), 'x.csv');
    assert.strictEqual(csv[0][CSV_COLUMNS.indexOf('published_note')], 'published_note');
    assert.strictEqual(csv[1][CSV_COLUMNS.indexOf('published_note')], note);
    assert.strictEqual(csv[1][CSV_COLUMNS.indexOf('published_accuracy')], '');
    assert.strictEqual(csv[1][CSV_COLUMNS.indexOf('accuracy_minus_published')], '');
    assert.ok(tableToMarkdown(exp).includes('Zheng68K (68,450 cells); this is mine.h5ad (2,400 cells)'));
    assert.ok(tableToLatex(exp).includes('this is mine.h5ad (2,400 cells)'));
  });

  it('the paper\'s 68,450-cell file keeps its published values and Δ; an unrecorded size is not checked', () => {
    for (const nObs of [68450, undefined]) {
      const exp = buildResultsModel([lrRun('Zheng68K_scbert.h5ad', nObs, 0, 0.8), lrRun('Zheng68K_scbert.h5ad', nObs, 1, 0.82)], published).experiments[0];
      assert.ok(exp.rows[0].published.accuracy.length > 0, `nObs ${nObs}`);
      assert.strictEqual(exp.rows[0].publishedNote, null);
      assert.ok(paperTable(exp).headings.includes('Δ accuracy'));
    }
  });

  it('reference/query sets are checked on both sizes; a known hash confirms whatever the size', () => {
    const base = lrRun('ms_ref.h5ad', 7844, 0, 0.8);
    assert.strictEqual(paperDatasetMismatch({ ...base, query: { path: '/q.h5ad', sha256: 'c'.repeat(64), nObs: 13468 } }, 'MS'), null);
    assert.match(paperDatasetMismatch({ ...base, query: { path: '/q.h5ad', sha256: 'c'.repeat(64), nObs: 500 } }, 'ms') ?? '',
      /^published values are for MS \(7,844 reference \/ 13,468 query cells\); this is ms_ref\.h5ad \(7,844 \/ 500 cells\)/);
    // the MS reference file split 80/20 has the reference's size but tests on part of it, not on the query set
    assert.strictEqual(base.split.kind, 'stratified');
    assert.match(paperDatasetMismatch(base, 'MS') ?? '', /^published values are for MS's query set \(13,468 cells, trained on 7,844 reference cells\); this run tests on part of ms_ref\.h5ad/);
    assert.strictEqual(paperDatasetMismatch({ ...base, split: { kind: 'reference-query', queryPath: '/q.h5ad' } }, 'MS'), null, 'an older reference/query record without query sizes is not checked');
    assert.strictEqual(paperDatasetMismatch(lrRun('x.h5ad', 10, 0, 0.5), 'Zheng68K', [{ name: 'Zheng68K', nObs: 68450, sha256: ['b'.repeat(64)] }]), null);
    assert.strictEqual(paperDatasetMismatch(lrRun('x.h5ad', 10, 0, 0.5), 'Panglao val5%'), null, 'a dataset whose size is not known here is not checked');
  });

  it('the label set where known: a 68,450-cell file with 5 recorded classes is not Zheng68K (11 types); unrecorded classes are not checked', () => {
    const classes = (n: number) => Array.from({ length: n }, (_, k) => `type ${k}`);
    const lr = (n: number | undefined) => ({ ...lrRun('zheng_like.h5ad', 68450, 0, 0.8), parameters: n === undefined ? {} : { classes: classes(n) } });
    assert.strictEqual(paperDatasetMismatch(lr(5), 'Zheng68K'),
      'published values are for Zheng68K (11 classes); this is zheng_like.h5ad with 5 classes, so they are not shown beside it');
    assert.strictEqual(paperDatasetMismatch(lr(11), 'Zheng68K'), null);
    assert.strictEqual(paperDatasetMismatch(lr(undefined), 'Zheng68K'), null, 'older records without classes are not checked');
    const ft = { ...lr(undefined), kind: 'finetune' as const, parameters: { finetune: { classes: classes(4) } } };
    assert.match(paperDatasetMismatch(ft, 'Zheng68K') ?? '', /with 4 classes/);
    assert.strictEqual(paperDatasetMismatch({ ...ft, dataset: { ...ft.dataset, nObs: undefined } }, 'Zheng68K')?.includes('with 4 classes'), true,
      'a run without a recorded size is still checked on its classes');
    const msQuery = { path: '/ms_query.h5ad', sha256: 'c'.repeat(64), nObs: 13468 };
    assert.strictEqual(paperDatasetMismatch({ ...lrRun('ms_ref.h5ad', 7844, 0, 0.8), query: msQuery, parameters: { classes: classes(3) } }, 'MS'), null,
      'MS: the published class count is not known here, so it is not checked');
    const exp = buildResultsModel([lr(5), { ...lr(5), id: 'other', seed: 1 }], published).experiments[0];
    assert.deepStrictEqual(exp.rows[0].published, { accuracy: [], macroF1: [] });
    assert.match(exp.rows[0].publishedNote ?? '', /11 classes/);
  });
});
