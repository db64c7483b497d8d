/**
 * Everything the results panel and `scwb results` show, computed from run records by pure functions: per
 * experiment a table of (dataset, model, fraction) groups with mean, std and Student-t 95% CI over seeds, Welch's
 * t-test against a reference model at the same dataset and fraction, few-shot curves, published numbers beside
 * the user's (see published.ts for the matching rule), and confusion matrices of a run or a group.
 */
import type { RunMetrics, RunRecord } from '../runs/schema';
import { datasetName } from '../runs/store';
import { compareCodePoints } from '../splits';
import { publishedCiHalfWidth, studentTTest, summarizeSeeds, welchTTest } from '../stats';
import { ranOnDemoWeights } from '../checkpoints/demo-weights';
import { borrowedBaselines, splitKey, splitLabel } from './baseline-reuse';
import { paperDatasetMismatch } from './paper-identity';
import { matchPublished, normalizeVariant, type PublishedNumber } from './published';

export interface MetricSummary {
  n: number;
  mean: number;
  /** sample standard deviation (ddof 1); NaN for one value */
  std: number;
  /** population standard deviation (ddof 0, numpy's `np.std`: the benchmark's "mean ± std over trials") */
  stdPop: number;
  /** half-width of the Student-t CI; NaN for one value */
  ciHalfWidth: number;
  ciLow: number;
  ciHigh: number;
  /** the per-seed values, in run order */
  values: number[];
}

export interface PublishedCell {
  value: number;
  /** CI or range as published */
  note: string;
  /** which table or figure, and the model as published */
  experiment: string;
  model: string;
  source: string;
}

export interface ResultRow {
  /** stable key for views: dataset|model|fraction, and |split when the experiment has several splits */
  key: string;
  dataset: string;
  /** the split, as text ("stratified 0.2 (seed 2022)") */
  split: string;
  /** the name used for published matching (alias or stem) */
  publishedDataset: string;
  model: string;
  family: string;
  variant: string;
  fraction: number;
  n: number;
  runIds: string[];
  seeds: number[];
  accuracy: MetricSummary;
  macroF1: MetricSummary;
  isReference: boolean;
  /** Welch's t-test against the reference model's row at the same dataset, split and fraction (both n >= 2) */
  vsReference: { model: string; pAccuracy: number; pMacroF1: number } | null;
  /** all matching published numbers, file order; the first is the one to show */
  published: { accuracy: PublishedCell[]; macroF1: PublishedCell[] };
  /** per-class-pair ("hard cells") metrics when asked for (class-pair.ts) */
  classPair?: { pair: [string, string]; accuracy: MetricSummary; f1: MetricSummary };
  /** why published numbers are withheld: the file is not the paper's dataset (paper-identity.ts); null otherwise */
  publishedNote: string | null;
}

export interface CurvePoint {
  fraction: number;
  n: number;
  mean: number;
  ciLow: number;
  ciHigh: number;
}

/** Few-shot curve of one model on one dataset: fraction -> mean and CI, fractions ascending. */
export interface CurveSeries {
  dataset: string;
  model: string;
  family: string;
  accuracy: CurvePoint[];
  macroF1: CurvePoint[];
  /** published points of the same model, where they match */
  publishedAccuracy: { fraction: number; value: number }[];
  publishedMacroF1: { fraction: number; value: number }[];
}

export interface ExperimentResults {
  experiment: string;
  /** sorted by dataset, model, fraction */
  rows: ResultRow[];
  curves: CurveSeries[];
  /** model label the p-values compare against, or null when the experiment has none */
  referenceModel: string | null;
  datasets: string[];
  models: string[];
  fractions: number[];
  /** runs of the experiment not counted (not completed, or without metrics) */
  excludedRuns: { id: string; status: RunRecord['status'] }[];
  /** the experiment has encoder probes (trials): views show mean ± std beside the CI */
  probe: boolean;
  /** how the CI and p-values were computed (see ResultsOptions.statistics) */
  statistics: ResultsStatistics;
  /**
   * protocol elements counted runs deviate in from the published protocol (run.json protocol.deviations), with how
   * many runs; null when no counted run records a protocol (LR baselines, runs made before protocols were recorded)
   */
  protocolDeviations: { element: string; runs: number }[] | null;
  /** the rows' distinct publishedNote texts */
  publishedNotes: string[];
  /** LR baseline rows borrowed from other experiments (same file, split, fraction, seed): one note per source */
  borrowedNotes: string[];
  /** the experiment mixes splits: rows carry the split and are compared only within one */
  splits: string[];
}

/**
 * `welch`: Student-t CI (t_{n-1} x sd ddof 1 / sqrt(n)) and Welch's t-test; `published`: the deep-dive paper's
 * statistics, CI = np.std (ddof 0) / sqrt(n) x 2.262 and Student's t-test (scipy ttest_ind, equal variances).
 */
export type ResultsStatistics = 'welch' | 'published';

export interface ResultsModel {
  experiments: ExperimentResults[];
  /** confidence level of the intervals */
  level: number;
}

export interface ResultsOptions {
  /** only this experiment */
  experiment?: string;
  /** model label to test against; default: the first LR model of the experiment (labels sorted), if any */
  referenceModel?: string;
  /** default 0.95 */
  level?: number;
  /** the statistics of an experiment (default: welch for all) */
  statistics?: (experiment: string) => ResultsStatistics;
}

/** Builds the results of every experiment among `runs` (completed runs with a summary count). */
export function buildResultsModel(runs: readonly RunRecord[], published: readonly PublishedNumber[], options: ResultsOptions = {}): ResultsModel {
  const level = options.level ?? 0.95;
  const byExperiment = new Map<string, RunRecord[]>();
  for (const r of runs) {
    if (options.experiment !== undefined && r.experiment !== options.experiment) continue;
    const list = byExperiment.get(r.experiment) ?? [];
    list.push(r);
    byExperiment.set(r.experiment, list);
  }
  const experiments = Array.from(byExperiment.entries())
    .sort(([a], [b]) => compareCodePoints(a, b))
    .map(([name, list]) => {
      const borrowed = borrowedBaselines(name, list, runs);
      const exp = buildExperiment(name, [...list, ...borrowed], published, options.referenceModel, level, options.statistics?.(name) ?? 'welch');
      exp.borrowedNotes = Array.from(new Set(borrowed.map(r => r.note)));
      return exp;
    });
  return { experiments, level };
}

function summarize(values: number[], level: number, statistics: ResultsStatistics): MetricSummary {
  const s = summarizeSeeds(values, level);
  const half = statistics === 'published' ? (s.n > 1 ? publishedCiHalfWidth(values) : NaN) : s.ciHalfWidth;
  return {
    n: s.n, mean: s.mean, std: s.std, stdPop: s.n ? Math.sqrt(values.reduce((acc, v) => acc + (v - s.mean) ** 2, 0) / s.n) : NaN, ciHalfWidth: half, ciLow: s.mean - half, ciHigh: s.mean + half, values,
  };
}

function publishedCells(matches: PublishedNumber[]): PublishedCell[] {
  return matches.map(p => ({ value: p.value, note: p.note, experiment: p.experiment, model: p.model, source: p.source }));
}

function buildExperiment(name: string, runs: RunRecord[], published: readonly PublishedNumber[],
  referenceOption: string | undefined, level: number, statistics: ResultsStatistics): ExperimentResults {
  const excludedRuns: ExperimentResults['excludedRuns'] = [];
  const groups = new Map<string, RunRecord[]>();
  const splits = Array.from(new Set(runs.filter(r => r.status === 'completed' && r.summary).map(r => splitKey(r.split))));
  const withSplit = (r: RunRecord) => (splits.length > 1 ? `|${splitKey(r.split)}` : '');
  for (const r of runs) {
    if (r.status !== 'completed' || !r.summary) {
      excludedRuns.push({ id: r.id, status: r.status });
      continue;
    }
    const key = groupKey(datasetName(r), r.model.label, r.fraction) + withSplit(r);
    const list = groups.get(key) ?? [];
    list.push(r);
    groups.set(key, list);
  }
  const rows: ResultRow[] = [];
  for (const [key, list] of groups) {
    list.sort((a, b) => a.seed - b.seed || compareCodePoints(a.id, b.id));
    const first = list[0];
    const dataset = datasetName(first);
    const publishedDataset = first.publishedDataset ?? dataset;
    const matchKey = { dataset: publishedDataset, family: first.model.family, variant: first.model.variant, fraction: first.fraction };
    const publishedNote = list.some(r => ranOnDemoWeights(r.parameters))
      ? `published values are for the published weights; ${first.model.label} ran on the demo's random weights, so they are not shown beside it`
      : paperDatasetMismatch(first, publishedDataset);
    const matches = (metric: 'accuracy' | 'macro_f1') => (publishedNote ? [] : publishedCells(matchPublished(published, matchKey, metric)));
    rows.push({
      key, dataset, split: splitLabel(first.split), publishedDataset, model: first.model.label, family: first.model.family,
      variant: normalizeVariant(first.model.variant), fraction: first.fraction, n: list.length,
      runIds: list.map(r => r.id), seeds: list.map(r => r.seed),
      accuracy: summarize(list.map(r => r.summary!.accuracy), level, statistics),
      macroF1: summarize(list.map(r => r.summary!.macroF1), level, statistics),
      isReference: false, vsReference: null,
      published: { accuracy: matches('accuracy'), macroF1: matches('macro_f1') },
      publishedNote: publishedNote && matchPublished(published, matchKey, 'accuracy').concat(matchPublished(published, matchKey, 'macro_f1')).length ? publishedNote : null,
    });
  }
  rows.sort((a, b) => compareCodePoints(a.dataset, b.dataset) || compareCodePoints(a.split, b.split) || compareCodePoints(a.model, b.model) || a.fraction - b.fraction);
  const models = Array.from(new Set(rows.map(r => r.model))).sort(compareCodePoints);
  const referenceModel = referenceOption !== undefined
    ? (models.includes(referenceOption) ? referenceOption : null)
    : rows.find(r => r.family === 'LR')?.model ?? null;
  if (referenceModel !== null) {
    // compared only at the same dataset, split and fraction
    const refRows = new Map(rows.filter(r => r.model === referenceModel).map(r => [groupKey(r.dataset, r.split, r.fraction), r]));
    for (const row of rows) {
      if (row.model === referenceModel) { row.isReference = true; continue; }
      const ref = refRows.get(groupKey(row.dataset, row.split, row.fraction));
      if (!ref || ref.n < 2 || row.n < 2) continue;
      const test = statistics === 'published' ? studentTTest : welchTTest;
      row.vsReference = {
        model: referenceModel,
        pAccuracy: test(row.accuracy.values, ref.accuracy.values).pValue,
        pMacroF1: test(row.macroF1.values, ref.macroF1.values).pValue,
      };
    }
  }
  return {
    experiment: name, rows, curves: buildCurves(rows), referenceModel,
    datasets: Array.from(new Set(rows.map(r => r.dataset))).sort(compareCodePoints), models,
    fractions: Array.from(new Set(rows.map(r => r.fraction))).sort((a, b) => a - b), excludedRuns,
    probe: runs.some(r => r.kind === 'probe'), statistics, protocolDeviations: countDeviations(groups),
    publishedNotes: Array.from(new Set(rows.map(r => r.publishedNote).filter((n): n is string => n !== null))),
    borrowedNotes: [], splits: splits.length > 1 ? Array.from(new Set(rows.map(r => r.split))).sort(compareCodePoints) : [],
  };
}

function countDeviations(groups: Map<string, RunRecord[]>): { element: string; runs: number }[] | null {
  const counts = new Map<string, number>();
  let recorded = false;
  for (const list of groups.values()) {
    for (const r of list) {
      if (r.protocol) recorded = true;
      for (const d of new Set(r.protocol?.deviations ?? [])) counts.set(d, (counts.get(d) ?? 0) + 1);
    }
  }
  if (!recorded) return null;
  return Array.from(counts, ([element, runs]) => ({ element, runs })).sort((a, b) => compareCodePoints(a.element, b.element));
}

function groupKey(dataset: string, model: string, fraction: number): string {
  return `${dataset}|${model}|${fraction}`;
}

function buildCurves(rows: ResultRow[]): CurveSeries[] {
  const series = new Map<string, CurveSeries>();
  for (const row of rows) {
    const k = `${row.dataset}|${row.model}`;
    let s = series.get(k);
    if (!s) {
      s = { dataset: row.dataset, model: row.model, family: row.family, accuracy: [], macroF1: [], publishedAccuracy: [], publishedMacroF1: [] };
      series.set(k, s);
    }
    const point = (m: MetricSummary): CurvePoint => ({ fraction: row.fraction, n: m.n, mean: m.mean, ciLow: m.ciLow, ciHigh: m.ciHigh });
    s.accuracy.push(point(row.accuracy));
    s.macroF1.push(point(row.macroF1));
    if (row.published.accuracy.length) s.publishedAccuracy.push({ fraction: row.fraction, value: row.published.accuracy[0].value });
    if (row.published.macroF1.length) s.publishedMacroF1.push({ fraction: row.fraction, value: row.published.macroF1[0].value });
  }
  return Array.from(series.values());
}

export interface ConfusionView {
  classes: string[];
  /** summed counts, rows = true class, columns = predicted class */
  counts: number[][];
  /** each row divided by its total (a row without cells stays 0) */
  normalized: number[][];
  /** from the summed counts (zero division -> 0, as sklearn's default) */
  perClass: { name: string; precision: number; recall: number; f1: number; support: number }[];
  nRuns: number;
}

/**
 * The confusion matrix of one run, or the sum over a group's runs (over the union of their classes, sorted by
 * code point), row-normalised, with per-class precision, recall and F1 of the summed counts.
 */
export function confusionView(metrics: readonly RunMetrics[]): ConfusionView {
  const classes = Array.from(new Set(metrics.flatMap(m => m.classes))).sort(compareCodePoints);
  const pos = new Map(classes.map((c, i) => [c, i]));
  const K = classes.length;
  const counts = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  for (const m of metrics) {
    const map = m.classes.map(c => pos.get(c)!);
    m.confusion.forEach((row, i) => row.forEach((v, j) => { counts[map[i]][map[j]] += v; }));
  }
  const normalized = counts.map(row => {
    const total = row.reduce((a, b) => a + b, 0);
    return row.map(v => (total > 0 ? v / total : 0));
  });
  const perClass = classes.map((name, k) => {
    const tp = counts[k][k];
    const support = counts[k].reduce((a, b) => a + b, 0);
    let predicted = 0;
    for (let i = 0; i < K; i++) predicted += counts[i][k];
    const precision = predicted > 0 ? tp / predicted : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { name, precision, recall, f1, support };
  });
  return { classes, counts, normalized, perClass, nRuns: metrics.length };
}
