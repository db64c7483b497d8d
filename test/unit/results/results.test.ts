import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import { classificationReport } from '../../../src/core/metrics';
import { MT19937 } from '../../../src/core/random/mt19937';
import { parseCsv } from '../../../src/core/results/csv';
import { CSV_COLUMNS, escapeLatex, tableToCsv, tableToLatex, tableToMarkdown } from '../../../src/core/results/export';
import { buildResultsModel, confusionView } from '../../../src/core/results/model';
import { PUBLISHED_NUMBERS_FILE, loadPublishedNumbers, modelFamily, parsePublishedCsv } from '../../../src/core/results/published';
import type { RunMetrics, RunRecord } from '../../../src/core/runs/schema';
import { PYTHON, REFERENCE_DIR, runPythonJson } from '../../helpers/shared';
import * as path from 'path';

let counter = 0;
function run(o: { dataset: string; family: string; label: string; variant?: string; fraction: number; seed: number; acc: number; f1: number;
  experiment?: string; status?: RunRecord['status']; publishedDataset?: string; split?: RunRecord['split'] }): RunRecord {
  counter++;
  return {
    schemaVersion: 1, id: `20250101T000000${String(counter).padStart(3, '0')}Z-000000`, kind: 'baseline', name: '', note: '',
    experiment: o.experiment ?? 'exp', dataset: { path: `/data/${o.dataset}.h5ad`, sha256: 'a'.repeat(64) },
    publishedDataset: o.publishedDataset, labelColumn: 'cell_type', split: o.split ?? { kind: 'stratified', testSize: 0.2, seed: 2022 },
    seed: o.seed, fraction: o.fraction, stratifiedFewShot: false,
    model: { family: o.family, label: o.label, variant: o.variant ?? '' }, parameters: {}, codeVersion: '0.1.0',
    createdAt: '2025-01-01T00:00:00.000Z', startedAt: null, endedAt: null, status: o.status ?? 'completed', error: null, owner: null,
    summary: o.status && o.status !== 'completed' ? null : { accuracy: o.acc, macroF1: o.f1, weightedF1: o.acc, nTrain: 10, nTest: 10 },
  };
}

interface PyStats {
  groups: { mean: number; std: number | null; low: number | null; high: number | null }[];
  welch: number[];
  confusion: { classes: string[]; counts: number[][]; normalized: number[][]; f1: number[]; precision: number[]; recall: number[]; support: number[] } | null;
}

function rel(actual: number, expected: number, what: string, tol = 1e-10): void {
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs ${expected}`);
}

describe('results model vs numpy / scipy', () => {
  const g = new MT19937(99);
  const noise = () => 0.01 * g.standardNormal();
  const runs: RunRecord[] = [];
  // LR: 3 seeds at 0.1, 10 at 1.0; scBERT: 3 seeds at 0.1 and 1.0; a single-seed model; a failed run.
  for (let s = 0; s < 3; s++) runs.push(run({ dataset: 'Zheng68K', family: 'LR', label: 'LR L1 C=0.1', fraction: 0.1, seed: s, acc: 0.72 + noise(), f1: 0.6 + noise() }));
  for (let s = 0; s < 10; s++) runs.push(run({ dataset: 'Zheng68K', family: 'LR', label: 'LR L1 C=0.1', fraction: 1, seed: s, acc: 0.81 + noise(), f1: 0.7 + noise() }));
  for (let s = 0; s < 3; s++) runs.push(run({ dataset: 'Zheng68K', family: 'scBERT', label: 'scBERT', fraction: 0.1, seed: 2021 * s, acc: 0.63 + noise(), f1: 0.5 + noise() }));
  for (let s = 0; s < 3; s++) runs.push(run({ dataset: 'Zheng68K', family: 'scBERT', label: 'scBERT', fraction: 1, seed: 2021 * s, acc: 0.77 + noise(), f1: 0.69 + noise() }));
  runs.push(run({ dataset: 'Zheng68K', family: 'scBERT', label: 'scBERT no pretraining', variant: 'no pretraining', fraction: 1, seed: 0, acc: 0.75, f1: 0.67 }));
  runs.push(run({ dataset: 'Zheng68K', family: 'LR', label: 'LR L1 C=0.1', fraction: 1, seed: 99, acc: 0, f1: 0, status: 'failed' }));
  // scGPT's sets are reference/query files: published numbers are for the query set
  runs.push(run({ dataset: 'ms_reference', publishedDataset: 'MS', family: 'LR', label: 'LR L1 CV', fraction: 1, seed: 0, acc: 0.8, f1: 0.64, experiment: 'scgpt', split: { kind: 'reference-query', queryPath: '/data/ms_query.h5ad' } }));
  const published = loadPublishedNumbers();
  const model = buildResultsModel(runs, published);
  const exp = model.experiments.find(e => e.experiment === 'exp')!;
  const row = (label: string, fraction: number) => exp.rows.find(r => r.model === label && r.fraction === fraction)!;
  const groups = [row('LR L1 C=0.1', 0.1), row('LR L1 C=0.1', 1), row('scBERT', 0.1), row('scBERT', 1), row('scBERT no pretraining', 1)];
  const py = runPythonJson<PyStats>('results_stats_reference.py', [], JSON.stringify({
    groups: groups.flatMap(r => [r.accuracy.values, r.macroF1.values]),
    welch: [[4, 0], [6, 2], [5, 1], [7, 3]],
  }));

  it('groups completed runs by (dataset, model, fraction) and leaves out the others', () => {
    assert.deepStrictEqual(model.experiments.map(e => e.experiment), ['exp', 'scgpt']);
    assert.deepStrictEqual(exp.rows.map(r => [r.model, r.fraction, r.n]),
      [['LR L1 C=0.1', 0.1, 3], ['LR L1 C=0.1', 1, 10], ['scBERT', 0.1, 3], ['scBERT', 1, 3], ['scBERT no pretraining', 1, 1]]);
    assert.deepStrictEqual(exp.excludedRuns.map(r => r.status), ['failed']);
    assert.strictEqual(exp.referenceModel, 'LR L1 C=0.1');
    assert.deepStrictEqual(exp.fractions, [0.1, 1]);
  });

  it('mean, std and the Student-t 95% CI equal numpy and scipy.stats.t.interval', () => {
    groups.forEach((r, i) => {
      for (const [k, m] of [[2 * i, r.accuracy], [2 * i + 1, r.macroF1]] as const) {
        const ref = py.groups[k];
        rel(m.mean, ref.mean, `mean ${r.key}`, 1e-15);
        if (ref.std === null) {
          assert.ok(Number.isNaN(m.std) && Number.isNaN(m.ciHalfWidth), 'one seed: no spread');
        } else {
          rel(m.std, ref.std, `std ${r.key}`);
          rel(m.ciLow, ref.low!, `CI low ${r.key}`);
          rel(m.ciHigh, ref.high!, `CI high ${r.key}`);
        }
      }
    });
  });

  it('Welch p-values vs the LR baseline at the same fraction equal scipy.stats.ttest_ind(equal_var=False)', () => {
    rel(row('scBERT', 0.1).vsReference!.pAccuracy, py.welch[0], 'p acc 0.1', 1e-8);
    rel(row('scBERT', 1).vsReference!.pAccuracy, py.welch[1], 'p acc 1.0', 1e-8);
    rel(row('scBERT', 0.1).vsReference!.pMacroF1, py.welch[2], 'p F1 0.1', 1e-8);
    rel(row('scBERT', 1).vsReference!.pMacroF1, py.welch[3], 'p F1 1.0', 1e-8);
    assert.strictEqual(row('LR L1 C=0.1', 1).isReference, true);
    assert.strictEqual(row('scBERT no pretraining', 1).vsReference, null, 'n = 1: no test');
  });

  it('few-shot curves per model give fraction -> mean and CI', () => {
    const lr = exp.curves.find(c => c.model === 'LR L1 C=0.1')!;
    assert.deepStrictEqual(lr.accuracy.map(p => [p.fraction, p.n]), [[0.1, 3], [1, 10]]);
    rel(lr.accuracy[1].ciHigh, py.groups[2].high!, 'curve CI');
    assert.deepStrictEqual(lr.publishedAccuracy, [{ fraction: 0.1, value: 0.7184 }, { fraction: 1, value: 0.8115 }]);
  });

  it('puts published numbers beside matching rows (dataset stem or alias, family, variant, fraction)', () => {
    assert.deepStrictEqual(row('LR L1 C=0.1', 1).published.accuracy.map(p => [p.value, p.experiment]), [[0.8115, 'Table1'], [0.8115, 'Fig2']]);
    assert.strictEqual(row('LR L1 C=0.1', 1).published.macroF1[0].value, 0.7071);
    assert.strictEqual(row('LR L1 C=0.1', 0.1).published.macroF1[0].value, 0.6036);
    assert.deepStrictEqual(row('scBERT', 1).published.accuracy.map(p => p.value), [0.7665, 0.7765]);
    assert.deepStrictEqual(row('scBERT no pretraining', 1).published.accuracy.map(p => p.value), [0.7579]);
    const ms = model.experiments.find(e => e.experiment === 'scgpt')!.rows[0];
    assert.deepStrictEqual(ms.published.accuracy.map(p => p.value), [0.812125], 'alias MS matches ms case-insensitively');
    const other = buildResultsModel([run({ dataset: 'pbmc', family: 'LR', label: 'LR', fraction: 1, seed: 0, acc: 1, f1: 1 })], published);
    assert.deepStrictEqual(other.experiments[0].rows[0].published, { accuracy: [], macroF1: [] });
  });

  it('reads published model names into family and variant', () => {
    assert.deepStrictEqual(modelFamily('LR L1 C=0.1 (n=10)'), { family: 'LR', variant: '' });
    assert.deepStrictEqual(modelFamily('scBERT finetune (n=10)'), { family: 'scBERT', variant: '' });
    assert.deepStrictEqual(modelFamily('scGPT no-pretrain freeze'), { family: 'scGPT', variant: 'no pretrain freeze' });
    assert.throws(() => parsePublishedCsv('a,b\n1,2\n', 'x.csv'), /x\.csv: expected the header/);
  });

  it('bundles an exact copy of the shared published numbers, parsed like Python\'s csv module', () => {
    const shared = path.join(REFERENCE_DIR, 'published_numbers.csv');
    assert.strictEqual(fs.readFileSync(PUBLISHED_NUMBERS_FILE, 'utf8'), fs.readFileSync(shared, 'utf8'));
    const pyRows = JSON.parse(execFileSync(PYTHON, ['-c',
      'import csv,json,sys; print(json.dumps(list(csv.reader(open(sys.argv[1], newline="")))))', shared], { encoding: 'utf8' })) as string[][];
    assert.deepStrictEqual(parseCsv(fs.readFileSync(shared, 'utf8')), pyRows);
    assert.strictEqual(published.length, pyRows.length - 1);
  });

  it('exports CSV that parses back to the same numbers', () => {
    const rows = parseCsv(tableToCsv(exp));
    assert.deepStrictEqual(rows[0], [...CSV_COLUMNS]);
    assert.strictEqual(rows.length, exp.rows.length + 1);
    exp.rows.forEach((r, i) => {
      const rec = Object.fromEntries(CSV_COLUMNS.map((c, j) => [c, rows[i + 1][j]]));
      assert.strictEqual(rec.model, r.model);
      assert.strictEqual(Number(rec.fraction), r.fraction);
      assert.strictEqual(Number(rec.accuracy_mean), r.accuracy.mean);
      assert.strictEqual(rec.accuracy_ci_high === '' ? NaN : Number(rec.accuracy_ci_high), r.accuracy.ciHigh);
      assert.strictEqual(Number(rec.macro_f1_std || NaN), r.macroF1.std);
      assert.strictEqual(rec.p_accuracy === '' ? undefined : Number(rec.p_accuracy), r.vsReference?.pAccuracy);
      assert.strictEqual(rec.published_accuracy === '' ? undefined : Number(rec.published_accuracy), r.published.accuracy[0]?.value);
    });
  });

  it('exports Markdown and LaTeX with special characters escaped', () => {
    const tricky = buildResultsModel([
      run({ dataset: 'a_b', family: 'LR', label: 'LR 50% & more | x', fraction: 1, seed: 0, acc: 0.5, f1: 0.4, experiment: 'R&D_100%' }),
      run({ dataset: 'a_b', family: 'LR', label: 'LR 50% & more | x', fraction: 1, seed: 1, acc: 0.7, f1: 0.6, experiment: 'R&D_100%' }),
    ], []).experiments[0];
    const tex = tableToLatex(tricky);
    assert.ok(tex.includes('LR 50\\% \\& more \\textbar{} x (reference) & 2 & $0.600 \\pm 1.271$'), tex);
    assert.ok(tex.includes('\\caption{R\\&D\\_100\\% (a\\_b, fraction 1)}'), tex);
    assert.strictEqual(escapeLatex('\\ { } ~ ^ # $'), '\\textbackslash{} \\{ \\} \\textasciitilde{} \\textasciicircum{} \\# \\$');
    const md = tableToMarkdown(tricky);
    const line = md.split('\n').find(l => l.startsWith('| LR'))!;
    assert.strictEqual(line.split(/(?<!\\)\|/).length - 2, 4, 'an escaped pipe does not add a column');
    assert.ok(line.includes('0.600 ± 1.271'));
  });

  it('sums confusion matrices over a group and row-normalises them like sklearn on the pooled predictions', () => {
    const classesA = ['B', 'NK', 'T'];
    const classesB = ['B', 'Mono', 'T'];
    const draw = (classes: string[], n: number) => {
      const t: string[] = [];
      const p: string[] = [];
      for (let i = 0; i < n; i++) {
        t.push(classes[Math.floor(g.randomSample() * classes.length)]);
        p.push(g.randomSample() < 0.7 ? t[i] : classes[Math.floor(g.randomSample() * classes.length)]);
      }
      return { true: t, pred: p };
    };
    const parts = [draw(classesA, 60), draw(classesB, 50), draw(classesA, 5)];
    const metrics: RunMetrics[] = parts.map(pt => {
      const r = classificationReport(pt.true, pt.pred);
      return {
        schemaVersion: 1, accuracy: r.accuracy, macroF1: r.macro.f1, weightedF1: r.weighted.f1, classes: r.labels.map(String),
        perClass: r.labels.map((l, k) => ({ name: String(l), precision: r.precision[k], recall: r.recall[k], f1: r.f1[k], support: r.support[k] })),
        confusion: r.confusion, nTest: pt.true.length,
      };
    });
    const view = confusionView(metrics);
    const ref = runPythonJson<PyStats>('results_stats_reference.py', [], JSON.stringify({ groups: [], welch: [], confusion: parts })).confusion!;
    assert.deepStrictEqual(view.classes, ref.classes);
    assert.deepStrictEqual(view.counts, ref.counts);
    view.normalized.forEach((r, i) => r.forEach((v, j) => rel(v, ref.normalized[i][j], `normalized ${i},${j}`, 1e-15)));
    view.perClass.forEach((c, i) => {
      rel(c.f1, ref.f1[i], `f1 ${c.name}`, 1e-15);
      rel(c.precision, ref.precision[i], `precision ${c.name}`, 1e-15);
      assert.strictEqual(c.support, ref.support[i]);
    });
    assert.strictEqual(view.nRuns, 3);
  });
});
