import * as assert from 'assert';
import { parseCsv } from '../../../src/core/results/csv';
import { CSV_COLUMNS, tableToCsv, tableToLatex, tableToMarkdown } from '../../../src/core/results/export';
import { buildResultsModel } from '../../../src/core/results/model';
import { paperTable, significanceMark, signedDiff } from '../../../src/core/results/paper';
import { loadPublishedNumbers } from '../../../src/core/results/published';
import { MT19937 } from '../../../src/core/random/mt19937';
import type { RunRecord } from '../../../src/core/runs/schema';
import { runPythonJson } from '../../helpers/shared';

let counter = 0;
function run(o: { dataset?: string; family: string; label: string; variant?: string; fraction: number; seed: number; acc: number; f1: number; experiment?: string }): RunRecord {
  counter++;
  return {
    schemaVersion: 1, id: `20250301T000000${String(counter).padStart(3, '0')}Z-000000`, kind: 'baseline', name: '', note: '',
    experiment: o.experiment ?? 'Table 1', dataset: { path: `/data/${o.dataset ?? 'Zheng68K'}.h5ad`, sha256: 'a'.repeat(64) },
    labelColumn: 'cell_type', split: { kind: 'stratified', testSize: 0.2, seed: 2022 },
    seed: o.seed, fraction: o.fraction, stratifiedFewShot: false,
    model: { family: o.family, label: o.label, variant: o.variant ?? '' }, parameters: {}, codeVersion: '0.1.0',
    createdAt: '2025-03-01T00:00:00.000Z', startedAt: null, endedAt: null, status: 'completed', error: null, owner: null,
    summary: { accuracy: o.acc, macroF1: o.f1, weightedF1: o.acc, nTrain: 10, nTest: 10 },
  };
}

interface PyCells { acc: string; f1: string; dAcc: string; dF1: string; pAcc: number | null; pF1: number | null }

/** Markdown table body rows as cells (escaped pipes stay inside a cell). */
function markdownRows(md: string): string[][] {
  return md.split('\n').filter(l => l.startsWith('| ')).map(l => l.slice(2, -2).split(/ (?<!\\)\| /).map(c => c.replace(/\\(.)/g, '$1')));
}

describe('paper-style table: significance marks, published values and differences vs numpy / scipy', () => {
  const g = new MT19937(2024);
  const noise = (s: number) => s * g.standardNormal();
  const runs: RunRecord[] = [];
  // Table 1 style at fraction 1: LR (5 seeds), scBERT clearly below (marks), an ablation close to LR (no mark),
  // a single-seed model (no interval, no test); one dataset, one fraction -> rows are models only.
  for (let s = 0; s < 5; s++) runs.push(run({ family: 'LR', label: 'LR L1 C=0.1', fraction: 1, seed: s, acc: 0.81 + noise(0.004), f1: 0.70 + noise(0.004) }));
  for (let s = 0; s < 4; s++) runs.push(run({ family: 'scBERT', label: 'scBERT', fraction: 1, seed: s, acc: 0.765 + noise(0.006), f1: 0.68 + noise(0.01) }));
  for (let s = 0; s < 3; s++) runs.push(run({ family: 'scBERT', label: 'scBERT no pretraining', variant: 'no pretraining', fraction: 1, seed: s, acc: 0.80 + noise(0.02), f1: 0.69 + noise(0.03) }));
  runs.push(run({ family: 'scBERT', label: 'scBERT no gene2vec', variant: 'no gene2vec', fraction: 1, seed: 0, acc: 0.70, f1: 0.59 }));
  const published = loadPublishedNumbers();
  const exp = buildResultsModel(runs, published).experiments[0];
  const rows = exp.rows;
  const refIndex = rows.findIndex(r => r.isReference);
  const py = runPythonJson<PyCells[]>('results_paper_reference.py', [], JSON.stringify({
    digits: 3,
    rows: rows.map(r => ({
      acc: r.accuracy.values, f1: r.macroF1.values, ref: r.isReference ? null : refIndex,
      pubAcc: r.published.accuracy[0]?.value ?? null, pubF1: r.published.macroF1[0]?.value ?? null,
    })),
  }));

  it('the data covers every case: marks of different strengths, no mark, a reference, a single seed, published values', () => {
    assert.deepStrictEqual(rows.map(r => r.model), ['LR L1 C=0.1', 'scBERT', 'scBERT no gene2vec', 'scBERT no pretraining']);
    const marks = py.map(c => /\*+$/.exec(c.acc)?.[0] ?? '');
    assert.ok(marks.some(m => m.length >= 2), `a strong mark: ${JSON.stringify(py)}`);
    assert.ok(py.filter((_, i) => !rows[i].isReference && rows[i].n > 1).some(c => !/\*$/.test(c.acc) || !/\*$/.test(c.f1)), 'an unmarked cell');
    assert.ok(rows.every(r => r.published.accuracy.length === 1 || r.published.accuracy.length === 2));
  });

  it('Markdown shows the paper layout, each cell equal to the numpy/scipy recomputation', () => {
    const md = tableToMarkdown(exp);
    const table = markdownRows(md);
    assert.deepStrictEqual(table[0], ['Model', 'n', 'Accuracy', 'Macro-F1', 'Published accuracy', 'Δ accuracy', 'Published macro-F1', 'Δ macro-F1']);
    rows.forEach((r, i) => {
      const cells = table[i + 2];
      assert.strictEqual(cells[0], r.isReference ? `${r.model} (reference)` : r.model);
      assert.strictEqual(cells[1], String(r.n));
      assert.strictEqual(cells[2], py[i].acc, `accuracy of ${r.model}`);
      assert.strictEqual(cells[3], py[i].f1, `macro-F1 of ${r.model}`);
      assert.strictEqual(cells[4], r.published.accuracy[0].value.toFixed(3));
      assert.strictEqual(cells[5], py[i].dAcc);
      assert.strictEqual(cells[6], r.published.macroF1[0].value.toFixed(3));
      assert.strictEqual(cells[7], py[i].dF1);
    });
    assert.ok(md.includes('\\* p \\< 0.05, \\*\\* p \\< 0.01, \\*\\*\\* p \\< 0.001'), md);
    assert.match(md, /Welch's t-test against LR L1 C=0\.1/);
    assert.match(md, /Δ: our mean minus the published value/);
    assert.match(md, /^\*\*Table 1 \(Zheng68K, fraction 1\)\*\*/);
  });

  it('LaTeX prints the same numbers, marks as superscripts, the footnote under the table', () => {
    const tex = tableToLatex(exp);
    const body = tex.split('\n').filter(l => l.endsWith(' \\\\')).slice(1);
    assert.strictEqual(body.length, rows.length);
    assert.ok(tex.includes('\\begin{tabular}{lrrrrrrr}'), tex);
    rows.forEach((_, i) => {
      const cells = body[i].slice(0, -3).split(' & ');
      const fromTex = (c: string) => c.replace(/^\$(.*?)\$(?:\\textsuperscript\{(\**)\})?$/, (_, v: string, m: string | undefined) => `${v.replace(' \\pm ', ' ± ')}${m ?? ''}`);
      assert.strictEqual(fromTex(cells[2]), py[i].acc);
      assert.strictEqual(fromTex(cells[3]), py[i].f1);
      assert.strictEqual(cells[5], py[i].dAcc);
      assert.strictEqual(cells[7], py[i].dF1);
    });
    assert.match(tex, /\\footnotesize .*\$\^\{\*\}\$p \\textless\{\} 0\.05/);
    assert.match(tex, /\$\\Delta\$ accuracy/);
  });

  it('CSV keeps full precision and adds the marks and differences as new last columns', () => {
    const parsed = parseCsv(tableToCsv(exp));
    assert.deepStrictEqual(parsed[0], [...CSV_COLUMNS]);
    assert.deepStrictEqual(CSV_COLUMNS.slice(0, 18), ['experiment', 'dataset', 'model', 'fraction', 'n',
      'accuracy_mean', 'accuracy_std', 'accuracy_ci_low', 'accuracy_ci_high', 'macro_f1_mean', 'macro_f1_std', 'macro_f1_ci_low', 'macro_f1_ci_high',
      'reference_model', 'p_accuracy', 'p_macro_f1', 'published_accuracy', 'published_macro_f1'], 'the earlier columns keep their places');
    rows.forEach((r, i) => {
      const rec = Object.fromEntries(CSV_COLUMNS.map((c, j) => [c, parsed[i + 1][j]]));
      assert.strictEqual(rec.accuracy_mark, /\**$/.exec(py[i].acc)![0]);
      assert.strictEqual(rec.macro_f1_mark, /\**$/.exec(py[i].f1)![0]);
      const pAcc = py[i].pAcc;
      if (pAcc === null) assert.strictEqual(rec.p_accuracy, '');
      else assert.ok(Math.abs(Number(rec.p_accuracy) - pAcc) <= 1e-8 * Math.max(pAcc, 1e-300) + 1e-300, `${rec.p_accuracy} vs ${pAcc}`);
      assert.strictEqual(Number(rec.accuracy_minus_published), r.accuracy.mean - r.published.accuracy[0].value);
      assert.strictEqual(Number(rec.accuracy_minus_published).toFixed(3).replace(/^(\d)/, '+$1').replace(/^\+0\.000$/, '0.000'), py[i].dAcc);
    });
  });

  it('the layout adds Dataset and Fraction columns only when the experiment has several, published columns only when any match', () => {
    const few = buildResultsModel([
      run({ dataset: 'pbmc', family: 'LR', label: 'LR', fraction: 0.5, seed: 0, acc: 0.5, f1: 0.4, experiment: 'x' }),
      run({ dataset: 'pbmc', family: 'LR', label: 'LR', fraction: 1, seed: 0, acc: 0.6, f1: 0.5, experiment: 'x' }),
      run({ dataset: 'lung', family: 'LR', label: 'LR', fraction: 1, seed: 0, acc: 0.7, f1: 0.6, experiment: 'x' }),
    ], published).experiments[0];
    const p = paperTable(few);
    assert.deepStrictEqual(p.headings, ['Dataset', 'Model', 'Fraction', 'n', 'Accuracy', 'Macro-F1']);
    assert.strictEqual(p.caption, 'x');
    assert.deepStrictEqual(p.rows.map(r => r.cells.map(c => c.text)), [
      ['lung', 'LR (reference)', '1', '1', '0.700', '0.600'],
      ['pbmc', 'LR (reference)', '0.5', '1', '0.500', '0.400'],
      ['pbmc', 'LR (reference)', '1', '1', '0.600', '0.500'],
    ]);
  });

  it('marks and signed differences at their boundaries', () => {
    assert.deepStrictEqual([0.0009999, 0.001, 0.0099, 0.01, 0.0499, 0.05, NaN, undefined].map(significanceMark), ['***', '**', '**', '*', '*', '', '', '']);
    assert.strictEqual(signedDiff(0.8, 0.7665, 3), '+0.034');
    assert.strictEqual(signedDiff(0.7, 0.7665, 3), '-0.067');
    assert.strictEqual(signedDiff(0.7665001, 0.7665, 3), '0.000');
    assert.strictEqual(signedDiff(0.7, undefined, 3), '');
  });
});
