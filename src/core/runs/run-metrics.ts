/** metrics.json of a run from its test labels and predictions: one computation for baseline and fine-tune runs. */
import { classificationReport } from '../metrics';
import type { Label } from '../splits';
import type { RunMetrics } from './schema';

export function runMetricsOf(yTrue: readonly Label[], yPred: readonly Label[]): Omit<RunMetrics, 'schemaVersion'> {
  const report = classificationReport(yTrue, yPred);
  return {
    accuracy: report.accuracy, macroF1: report.macro.f1, weightedF1: report.weighted.f1,
    classes: report.labels.map(String),
    perClass: report.labels.map((l, k) => ({
      name: String(l), precision: report.precision[k], recall: report.recall[k], f1: report.f1[k], support: report.support[k],
    })),
    confusion: report.confusion, nTest: yTrue.length,
  };
}
