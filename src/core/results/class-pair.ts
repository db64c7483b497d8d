/**
 * Per-class-pair metrics: the deep-dive paper's "hard cells" (collate_final_results_finetune.ipynb), accuracy and
 * F1 on two classes that are hard to tell apart (CD8+ cytotoxic T vs CD8+/CD45RA+ naive cytotoxic on Zheng68K):
 * - accuracy: over the cells whose TRUE label is either class, the fraction predicted exactly (a prediction of any
 *   other class counts as wrong): `accuracy_score(y[mask], p[mask])`;
 * - F1: macro F1 over ALL cells restricted to the two labels: `f1_score(y, p, average='macro', labels=[a, b])`, so
 *   cells of other classes predicted as a or b lower the precision.
 * Both come from a run's confusion matrix (metrics.json), so no prediction is read again.
 */
import type { RunMetrics } from '../runs/schema';
import { publishedCiHalfWidth, summarizeSeeds } from '../stats';
import type { MetricSummary, ResultsModel } from './model';

/** The pair the deep-dive paper reports (Zheng68K cell-type names). */
export const HARD_CELLS: [string, string] = ['CD8+ Cytotoxic T', 'CD8+/CD45RA+ Naive Cytotoxic'];

export interface ClassPairMetrics {
  accuracy: number;
  f1: number;
}

/** The pair's metrics of one run; null when the run's classes do not include both. */
export function classPairMetrics(m: RunMetrics, pair: readonly [string, string]): ClassPairMetrics | null {
  const ia = m.classes.indexOf(pair[0]);
  const ib = m.classes.indexOf(pair[1]);
  if (ia < 0 || ib < 0) return null;
  const C = m.confusion;
  const rowSum = (i: number) => C[i].reduce((s, v) => s + v, 0);
  const colSum = (j: number) => C.reduce((s, row) => s + row[j], 0);
  const support = rowSum(ia) + rowSum(ib);
  const accuracy = support > 0 ? (C[ia][ia] + C[ib][ib]) / support : 0;
  // sklearn's F1 with zero_division 'warn' (0): 2 tp / (2 tp + fp + fn), 0 when the denominator is 0
  const f1 = (i: number) => {
    const denom = rowSum(i) + colSum(i);
    return denom > 0 ? (2 * C[i][i]) / denom : 0;
  };
  return { accuracy, f1: (f1(ia) + f1(ib)) / 2 };
}

function summary(values: number[], published: boolean, level: number): MetricSummary {
  const s = summarizeSeeds(values, level);
  const half = published ? (s.n > 1 ? publishedCiHalfWidth(values) : NaN) : s.ciHalfWidth;
  const stdPop = Math.sqrt(values.reduce((acc, v) => acc + (v - s.mean) ** 2, 0) / s.n);
  return { n: s.n, mean: s.mean, std: s.std, stdPop, ciHalfWidth: half, ciLow: s.mean - half, ciHigh: s.mean + half, values };
}

/**
 * Adds `classPair` to every row whose runs all have metrics with both classes (rows where a run lacks them are
 * left without: a mean over some of the seeds would not be the row's).
 */
export function addClassPairMetrics(model: ResultsModel, pair: readonly [string, string], metricsOf: (runId: string) => RunMetrics | null | undefined): void {
  for (const exp of model.experiments) {
    for (const row of exp.rows) {
      const per = row.runIds.map(id => {
        const m = metricsOf(id);
        return m ? classPairMetrics(m, pair) : null;
      });
      if (!per.length || per.some(p => p === null)) continue;
      const published = exp.statistics === 'published';
      row.classPair = {
        pair: [pair[0], pair[1]],
        accuracy: summary(per.map(p => p!.accuracy), published, model.level),
        f1: summary(per.map(p => p!.f1), published, model.level),
      };
    }
  }
}
