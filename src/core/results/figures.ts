/**
 * The data of the paper-style figures, computed from the results model by pure functions: few-shot curves with CI
 * bands and the published curve, ablation bars with CI whiskers and published markers, confusion matrices (counts
 * or row-normalised) and learning curves (train / validation loss by epoch from fine-tune runs' events.jsonl, one
 * pair of lines per seed). The results panel draws these and svg.ts renders the same data as SVG.
 *
 * Pure: imports only types, so the webview bundles it too.
 */
import type { RunEvent } from '../runs/schema';
import { lastSegment } from '../runs/segments';
import type { ConfusionView, ExperimentResults, ResultRow } from './model';

export type FigureMetric = 'accuracy' | 'macroF1';

export const METRIC_LABELS: Record<FigureMetric, string> = { accuracy: 'Accuracy', macroF1: 'Macro-F1' };

export interface BandPoint {
  x: number;
  mean: number;
  /** CI bounds; NaN for one seed (no band there) */
  low: number;
  high: number;
  n: number;
}

export interface LineFigure {
  kind: 'line';
  title: string;
  xLabel: string;
  yLabel: string;
  /** x axis from 0 (few-shot fractions) or from the data (epochs) */
  xFromZero: boolean;
  /** y axis clamped to [0, 1] (metrics) or free (losses) */
  unitY: boolean;
  series: {
    label: string;
    /** series with the same group share a colour (a seed's train and validation loss) */
    group: number;
    dashed: boolean;
    points: BandPoint[];
    /** draw the CI band */
    band: boolean;
    /** point markers: circles (the user's) or diamonds (published) */
    marker: 'circle' | 'diamond';
  }[];
}

export interface BarFigure {
  kind: 'bars';
  title: string;
  yLabel: string;
  bars: { label: string; mean: number; low: number; high: number; n: number; published: number | null; key: string }[];
}

export interface HeatmapFigure {
  kind: 'heatmap';
  title: string;
  classes: string[];
  /** what the cells show: row-normalised proportions or counts */
  normalized: boolean;
  values: number[][];
}

export type Figure = LineFigure | BarFigure | HeatmapFigure;

function seriesLabel(exp: ExperimentResults, model: string, dataset: string): string {
  return exp.datasets.length > 1 ? `${model} · ${dataset}` : model;
}

/**
 * Few-shot curves: one series per (dataset, model) with its mean and CI band by training fraction, and beside each
 * the published points of the same model (markers), where there are any.
 */
export function fewShotFigure(exp: ExperimentResults, metric: FigureMetric): LineFigure {
  const series: LineFigure['series'] = [];
  exp.curves.forEach((c, i) => {
    const label = seriesLabel(exp, c.model, c.dataset);
    series.push({
      label, group: i, dashed: false, band: true, marker: 'circle',
      points: c[metric].map(p => ({ x: p.fraction, mean: p.mean, low: p.ciLow, high: p.ciHigh, n: p.n })),
    });
    const published = metric === 'accuracy' ? c.publishedAccuracy : c.publishedMacroF1;
    if (published.length) {
      series.push({
        label: `${label} (published)`, group: i, dashed: true, band: false, marker: 'diamond',
        points: published.map(p => ({ x: p.fraction, mean: p.value, low: NaN, high: NaN, n: 1 })),
      });
    }
  });
  return {
    kind: 'line', title: `${exp.experiment}: few-shot ${METRIC_LABELS[metric].toLowerCase()}`, xLabel: 'fraction of the training set',
    yLabel: METRIC_LABELS[metric], xFromZero: true, unitY: true, series,
  };
}

/** The fraction an ablation figure shows by default: 1 when the experiment has it, else its largest fraction. */
export function defaultAblationFraction(exp: ExperimentResults): number | null {
  if (!exp.fractions.length) return null;
  return exp.fractions.includes(1) ? 1 : exp.fractions[exp.fractions.length - 1];
}

/**
 * Ablation bars: one bar per (dataset, model) at one training fraction, its mean with CI whiskers, and the
 * published value of the same model as a marker.
 */
export function ablationFigure(exp: ExperimentResults, metric: FigureMetric, fraction = defaultAblationFraction(exp)): BarFigure {
  const rows = exp.rows.filter((r: ResultRow) => fraction !== null && Math.abs(r.fraction - fraction) < 1e-9);
  return {
    kind: 'bars',
    title: `${exp.experiment}: ${METRIC_LABELS[metric].toLowerCase()} at fraction ${fraction === null ? '—' : String(Number(fraction.toPrecision(6)))}`,
    yLabel: METRIC_LABELS[metric],
    bars: rows.map(r => {
      const m = r[metric];
      const published = (metric === 'accuracy' ? r.published.accuracy : r.published.macroF1)[0]?.value ?? null;
      return { key: r.key, label: seriesLabel(exp, r.model, r.dataset), mean: m.mean, low: m.ciLow, high: m.ciHigh, n: m.n, published };
    }),
  };
}

/** A confusion matrix as a heatmap: row-normalised proportions, or the summed counts. */
export function confusionFigure(view: ConfusionView, normalized: boolean, title = 'Confusion matrix'): HeatmapFigure {
  return { kind: 'heatmap', title, classes: [...view.classes], normalized, values: (normalized ? view.normalized : view.counts).map(r => [...r]) };
}

/** One run's loss by epoch. */
export interface LossCurve {
  runId: string;
  seed: number;
  /** the training loss of the last `train` event of each epoch (the worker writes one at each epoch's end) */
  train: { epoch: number; loss: number }[];
  /** the `validation` event of each epoch (the last one, should a resumed run repeat an epoch) */
  validation: { epoch: number; loss: number }[];
}

/**
 * A run's loss curve from its events (events.jsonl, in file order); null when it has no train or validation events.
 * Steps a killed and resumed run redid count once, from their last segment (src/core/runs/segments.ts).
 */
export function lossCurve(runId: string, seed: number, events: readonly RunEvent[]): LossCurve | null {
  const train = new Map<number, number>();
  const validation = new Map<number, number>();
  const kept = lastSegment(events);
  for (const e of kept.train) if (Number.isFinite(e.loss)) train.set(e.epoch, e.loss);
  for (const e of kept.validation) if (Number.isFinite(e.loss)) validation.set(e.epoch, e.loss);
  if (!train.size && !validation.size) return null;
  const sorted = (m: Map<number, number>) => Array.from(m, ([epoch, loss]) => ({ epoch, loss })).sort((a, b) => a.epoch - b.epoch);
  return { runId, seed, train: sorted(train), validation: sorted(validation) };
}

/** Learning curves of several seeds overlaid: per seed a solid training-loss line and a dashed validation-loss line. */
export function learningFigure(curves: readonly LossCurve[], title = 'Learning curves'): LineFigure {
  const series: LineFigure['series'] = [];
  const ordered = [...curves].sort((a, b) => a.seed - b.seed || (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0));
  const point = (p: { epoch: number; loss: number }): BandPoint => ({ x: p.epoch, mean: p.loss, low: NaN, high: NaN, n: 1 });
  ordered.forEach((c, i) => {
    if (c.train.length) series.push({ label: `seed ${c.seed} train`, group: i, dashed: false, band: false, marker: 'circle', points: c.train.map(point) });
    if (c.validation.length) series.push({ label: `seed ${c.seed} validation`, group: i, dashed: true, band: false, marker: 'circle', points: c.validation.map(point) });
  });
  return { kind: 'line', title, xLabel: 'epoch', yLabel: 'loss', xFromZero: false, unitY: false, series };
}
