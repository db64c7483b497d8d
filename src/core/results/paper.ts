/**
 * The paper-style layout of an experiment's table (as the papers' Table 1 / Table 2): one row per model (and
 * dataset / fraction where the experiment has several), columns accuracy and macro-F1 as `mean ± CI half-width`
 * with significance marks against the reference model (LR), then the published value and the difference
 * (ours − published) of each metric. The results panel shows exactly these cells, and the Markdown and LaTeX
 * exports print them (export.ts), so what is exported is what is shown.
 *
 * Pure: imports only types, so the webview bundles it too.
 */
import type { ExperimentResults, MetricSummary, ResultRow } from './model';

/** `***` p < 0.001, `**` p < 0.01, `*` p < 0.05, else '' (also for an undefined p). */
export function significanceMark(p: number | undefined | null): string {
  if (p === undefined || p === null || !Number.isFinite(p)) return '';
  if (p < 0.001) return '***';
  if (p < 0.01) return '**';
  if (p < 0.05) return '*';
  return '';
}

export type PaperCell =
  | { kind: 'text'; text: string }
  /** a number (already rounded to text), or '' when absent */
  | { kind: 'num'; text: string }
  /**
   * mean ± half-width (half '' for one seed), with a significance mark ('' for none); `sd` (probe experiments: np.std
   * over the trials, as the benchmark reports) or ''
   */
  | { kind: 'metric'; mean: string; half: string; mark: string; sd: string; text: string };

export interface PaperRow {
  /** the ResultRow's key */
  key: string;
  isReference: boolean;
  cells: PaperCell[];
}

export interface PaperTable {
  experiment: string;
  headings: string[];
  /** 'l' or 'r' per column */
  align: ('l' | 'r')[];
  rows: PaperRow[];
  caption: string;
  /** what the marks, intervals and differences mean */
  footnote: string;
  showDataset: boolean;
  showFraction: boolean;
  showPublished: boolean;
}

export interface PaperOptions {
  /** decimals of the metrics (default 3) */
  digits?: number;
  /** confidence level of the intervals (default 0.95) */
  level?: number;
}

/** `+0.012` / `-0.005` (ASCII sign, so CSV, Markdown and LaTeX read it alike); '' when either side is absent. */
export function signedDiff(ours: number, published: number | undefined, digits: number): string {
  if (published === undefined || !Number.isFinite(ours) || !Number.isFinite(published)) return '';
  const d = ours - published;
  const text = Math.abs(d).toFixed(digits);
  // a difference that rounds to zero carries no sign
  if (Number(text) === 0) return text;
  return `${d > 0 ? '+' : '-'}${text}`;
}

function metricCell(m: MetricSummary, p: number | undefined, digits: number, probe: boolean): PaperCell {
  const mean = Number.isFinite(m.mean) ? m.mean.toFixed(digits) : '';
  const half = m.n > 1 && Number.isFinite(m.ciHalfWidth) ? m.ciHalfWidth.toFixed(digits) : '';
  const mark = significanceMark(p);
  const sd = probe && m.n > 1 && Number.isFinite(m.stdPop) ? m.stdPop.toFixed(digits) : '';
  return { kind: 'metric', mean, half, mark, sd, text: `${mean}${half ? ` ± ${half}` : ''}${sd ? ` (sd ${sd})` : ''}${mark}` };
}

function fractionText(f: number): string {
  return String(Number(f.toPrecision(6)));
}

function percentText(level: number): string {
  return `${Number((100 * level).toPrecision(4))}%`;
}

export function paperTable(table: ExperimentResults, options: PaperOptions = {}): PaperTable {
  const digits = options.digits ?? 3;
  const level = options.level ?? 0.95;
  const showDataset = table.datasets.length > 1;
  const showFraction = table.fractions.length > 1;
  const showPublished = table.rows.some(r => r.published.accuracy.length > 0 || r.published.macroF1.length > 0);
  const headings: string[] = [];
  const align: ('l' | 'r')[] = [];
  const col = (name: string, a: 'l' | 'r') => { headings.push(name); align.push(a); };
  if (showDataset) col('Dataset', 'l');
  const showSplit = table.splits.length > 1;
  if (showSplit) col('Split', 'l');
  col('Model', 'l');
  if (showFraction) col('Fraction', 'r');
  col('n', 'r');
  col('Accuracy', 'r');
  col('Macro-F1', 'r');
  const pair = table.rows.find(r => r.classPair)?.classPair?.pair;
  if (pair) {
    col('Pair accuracy', 'r');
    col('Pair macro-F1', 'r');
  }
  if (showPublished) {
    col('Published accuracy', 'r');
    col('Δ accuracy', 'r');
    col('Published macro-F1', 'r');
    col('Δ macro-F1', 'r');
  }
  const rows = table.rows.map((r: ResultRow): PaperRow => {
    const cells: PaperCell[] = [];
    if (showDataset) cells.push({ kind: 'text', text: r.dataset });
    if (showSplit) cells.push({ kind: 'text', text: r.split });
    cells.push({ kind: 'text', text: r.isReference ? `${r.model} (reference)` : r.model });
    if (showFraction) cells.push({ kind: 'num', text: fractionText(r.fraction) });
    cells.push({ kind: 'num', text: String(r.n) });
    cells.push(metricCell(r.accuracy, r.vsReference?.pAccuracy, digits, table.probe));
    cells.push(metricCell(r.macroF1, r.vsReference?.pMacroF1, digits, table.probe));
    if (pair) {
      cells.push(r.classPair ? metricCell(r.classPair.accuracy, undefined, digits, false) : { kind: 'num', text: '' });
      cells.push(r.classPair ? metricCell(r.classPair.f1, undefined, digits, false) : { kind: 'num', text: '' });
    }
    if (showPublished) {
      const pa = r.published.accuracy[0]?.value;
      const pf = r.published.macroF1[0]?.value;
      cells.push({ kind: 'num', text: pa === undefined ? '' : pa.toFixed(digits) });
      cells.push({ kind: 'num', text: signedDiff(r.accuracy.mean, pa, digits) });
      cells.push({ kind: 'num', text: pf === undefined ? '' : pf.toFixed(digits) });
      cells.push({ kind: 'num', text: signedDiff(r.macroF1.mean, pf, digits) });
    }
    return { key: r.key, isReference: r.isReference, cells };
  });
  const single = [
    !showDataset && table.datasets.length ? table.datasets[0] : '',
    !showFraction && table.fractions.length ? `fraction ${fractionText(table.fractions[0])}` : '',
  ].filter(Boolean).join(', ');
  const caption = `${table.experiment}${single ? ` (${single})` : ''}`;
  const published = table.statistics === 'published';
  const ci = published
    ? 'Mean ± half-width of the 95% CI as the paper computes it: np.std (ddof 0) / sqrt(n) x 2.262 (the t quantile for n = 10).'
    : `Mean ± half-width of the ${percentText(level)} CI over seeds (Student t).`;
  const parts = [table.probe
    ? `Mean ± half-width of the ${percentText(level)} CI over trials (Student t); sd: np.std over the trials (ddof 0), as the benchmark reports.`
    : ci];
  if (table.referenceModel) {
    const test = published ? 'Student\'s t-test (equal variances, as published)' : 'Welch\'s t-test';
    parts.push(`* p < 0.05, ** p < 0.01, *** p < 0.001: ${test} against ${table.referenceModel} at the same dataset and fraction (both with at least 2 seeds).`);
  } else {
    parts.push('No reference model (no LR baseline in this experiment): no significance marks.');
  }
  if (showPublished) parts.push('Δ: our mean minus the published value.');
  if (pair) {
    parts.push(`Pair: ${pair[0]} vs ${pair[1]} (the deep-dive paper's hard cells): accuracy over the cells of the two classes, macro-F1 over all cells restricted to the two labels.`);
  }
  const deviations = table.protocolDeviations;
  if (deviations) {
    parts.push(deviations.length
      ? `Deviations from the published protocol: ${deviations.map(d => `${d.element} (${d.runs} run${d.runs === 1 ? '' : 's'})`).join(', ')}.`
      : 'Fine-tunes: published protocol (no run deviates).');
  }
  parts.push(...table.publishedNotes.map(n => `${n[0].toUpperCase()}${n.slice(1)}.`));
  parts.push(...table.borrowedNotes.map(n => `${n}: same file, split, fraction and seed.`));
  if (table.splits.length > 1) parts.push(`Several splits (${table.splits.join('; ')}): rows are compared only within one split.`);
  return { experiment: table.experiment, headings, align, rows, caption, footnote: parts.join(' '), showDataset, showFraction, showPublished };
}
