/**
 * Classification metrics with scikit-learn 1.2 semantics (accuracy, per-class precision/recall/F1/support,
 * macro/weighted/micro averages, confusion matrix, balanced accuracy), so scores agree with the published
 * evaluations to the last bit: averages use numpy's summation order (see numpySum).
 *
 * Label set: the sorted union of y_true and y_pred (numpy order: numbers numerically, strings by code point)
 * unless `labels` is given. A class that is only in the test set (hPancreas has one) still gets a row: recall 0,
 * precision 0 by zero_division, and it counts in the macro average exactly as sklearn counts it.
 */
import { Label, uniqueLabels } from './splits';
import { numpySum } from './stats';

/** sklearn's `zero_division`: 'warn' behaves as 0 and records a warning. */
export type ZeroDivision = 'warn' | 0 | 1;
export type Average = 'macro' | 'weighted' | 'micro';

export interface MetricOptions {
  /** Classes to report, in this order (sklearn `labels=`); default: sorted union of y_true and y_pred. */
  labels?: readonly Label[];
  zeroDivision?: ZeroDivision;
}

export interface PerClassScores {
  labels: Label[];
  precision: number[];
  recall: number[];
  f1: number[];
  /** Number of true samples of each class. */
  support: number[];
  /** sklearn's UndefinedMetricWarning texts for 'warn' (empty otherwise). */
  warnings: string[];
}

export interface AveragedScores {
  precision: number;
  recall: number;
  f1: number;
}

export interface ClassificationReport extends PerClassScores {
  accuracy: number;
  /** Recall per class, the "per-class accuracy" of the scBERT evaluation. */
  perClassAccuracy: number[];
  macro: AveragedScores;
  weighted: AveragedScores;
  micro: AveragedScores;
  balancedAccuracy: number;
  /** Rows: true class, columns: predicted class, in `labels` order. */
  confusion: number[][];
}

export class MetricError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetricError';
  }
}

function checkPair(yTrue: readonly Label[], yPred: readonly Label[]): void {
  if (yTrue.length !== yPred.length) {
    throw new MetricError(`y_true has ${yTrue.length} labels but y_pred has ${yPred.length}`);
  }
}

/** sklearn's `unique_labels(y_true, y_pred)`: the sorted union; strings and numbers may not mix. */
export function labelUnion(yTrue: readonly Label[], yPred: readonly Label[]): Label[] {
  const all = [...yTrue, ...yPred];
  if (all.length > 0) {
    const kind = typeof all[0];
    if (all.some(v => typeof v !== kind)) throw new MetricError('Mix of label input types (string and number)');
  }
  return uniqueLabels(all).classes;
}

/** `accuracy_score(y_true, y_pred)`. */
export function accuracyScore(yTrue: readonly Label[], yPred: readonly Label[]): number {
  checkPair(yTrue, yPred);
  if (yTrue.length === 0) throw new MetricError('accuracy of an empty prediction is undefined');
  let hits = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) hits++;
  return hits / yTrue.length;
}

/** `confusion_matrix(y_true, y_pred, labels=labels)`; samples whose true or predicted label is not listed are dropped. */
export function confusionMatrix(yTrue: readonly Label[], yPred: readonly Label[], labels?: readonly Label[]): { labels: Label[]; matrix: number[][] } {
  checkPair(yTrue, yPred);
  const ls = labels ? [...labels] : labelUnion(yTrue, yPred);
  if (ls.length === 0) throw new MetricError("'labels' should contain at least one label");
  const index = labelIndex(ls);
  if (labels && yTrue.length > 0 && !yTrue.some(t => index.has(t))) throw new MetricError('At least one label specified must be in y_true');
  const matrix = ls.map(() => new Array<number>(ls.length).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    const r = index.get(yTrue[i]);
    const c = index.get(yPred[i]);
    if (r !== undefined && c !== undefined) matrix[r][c]++;
  }
  return { labels: ls, matrix };
}

function labelIndex(labels: readonly Label[]): Map<Label, number> {
  const index = new Map<Label, number>();
  labels.forEach((l, i) => {
    if (index.has(l)) throw new MetricError(`label '${String(l)}' is listed twice`);
    index.set(l, i);
  });
  return index;
}

interface Counts { labels: Label[]; tp: number[]; pred: number[]; truth: number[] }

function countPerClass(yTrue: readonly Label[], yPred: readonly Label[], labels?: readonly Label[]): Counts {
  checkPair(yTrue, yPred);
  const ls = labels ? [...labels] : labelUnion(yTrue, yPred);
  const index = labelIndex(ls);
  const tp = new Array<number>(ls.length).fill(0);
  const pred = new Array<number>(ls.length).fill(0);
  const truth = new Array<number>(ls.length).fill(0);
  for (let i = 0; i < yTrue.length; i++) {
    const t = index.get(yTrue[i]);
    const p = index.get(yPred[i]);
    if (t !== undefined) truth[t]++;
    if (p !== undefined) pred[p]++;
    if (t !== undefined && yTrue[i] === yPred[i]) tp[t]++;
  }
  return { labels: ls, tp, pred, truth };
}

function divide(num: number[], den: number[], zeroValue: number): number[] {
  return num.map((n, i) => (den[i] === 0 ? zeroValue : n / den[i]));
}

function fScore(precision: number[], recall: number[]): number[] {
  // sklearn: (1 + beta^2) p r / (beta^2 p + r) with a zero denominator replaced by 1 (so F = 0).
  return precision.map((p, i) => {
    const denom = p + recall[i];
    return (2 * p * recall[i]) / (denom === 0 ? 1 : denom);
  });
}

function zeroValue(z: ZeroDivision): number {
  return z === 1 ? 1 : 0;
}

function warnings(counts: Counts, z: ZeroDivision): string[] {
  if (z !== 'warn') return [];
  const out: string[] = [];
  const noPred = counts.labels.filter((_, i) => counts.pred[i] === 0);
  const noTrue = counts.labels.filter((_, i) => counts.truth[i] === 0);
  const list = (ls: Label[]) => ls.map(l => `'${String(l)}'`).join(', ');
  if (noPred.length) out.push(`Precision is ill-defined and being set to 0.0 in labels with no predicted samples: ${list(noPred)}`);
  if (noTrue.length) out.push(`Recall is ill-defined and being set to 0.0 in labels with no true samples: ${list(noTrue)}`);
  return out;
}

/** `precision_recall_fscore_support(y_true, y_pred, average=None)`. */
export function precisionRecallF1PerClass(yTrue: readonly Label[], yPred: readonly Label[], options: MetricOptions = {}): PerClassScores {
  const z = options.zeroDivision ?? 'warn';
  const counts = countPerClass(yTrue, yPred, options.labels);
  const precision = divide(counts.tp, counts.pred, zeroValue(z));
  const recall = divide(counts.tp, counts.truth, zeroValue(z));
  return {
    labels: counts.labels, precision, recall, f1: fScore(precision, recall), support: counts.truth,
    warnings: warnings(counts, z),
  };
}

/** `precision_recall_fscore_support(y_true, y_pred, average=average)` (precision, recall, F1; no support). */
export function averagedScores(yTrue: readonly Label[], yPred: readonly Label[], average: Average, options: MetricOptions = {}): AveragedScores {
  const z = options.zeroDivision ?? 'warn';
  const counts = countPerClass(yTrue, yPred, options.labels);
  return averageCounts(counts, average, z);
}

function averageCounts(counts: Counts, average: Average, z: ZeroDivision): AveragedScores {
  const zv = zeroValue(z);
  if (average === 'micro') {
    const tp = [numpySum(counts.tp)];
    const pred = [numpySum(counts.pred)];
    const truth = [numpySum(counts.truth)];
    const precision = divide(tp, pred, zv);
    const recall = divide(tp, truth, zv);
    return { precision: precision[0], recall: recall[0], f1: fScore(precision, recall)[0] };
  }
  const precision = divide(counts.tp, counts.pred, zv);
  const recall = divide(counts.tp, counts.truth, zv);
  const f1 = fScore(precision, recall);
  if (average === 'macro') {
    const n = precision.length;
    return { precision: numpySum(precision) / n, recall: numpySum(recall) / n, f1: numpySum(f1) / n };
  }
  const weightSum = numpySum(counts.truth);
  if (weightSum === 0) {
    // sklearn's special case: nothing true in the listed labels.
    const predSum = numpySum(counts.pred);
    return predSum === 0 ? { precision: zv, recall: zv, f1: zv } : { precision: 0, recall: zv, f1: 0 };
  }
  const weighted = (v: number[]) => numpySum(v.map((x, i) => x * counts.truth[i])) / weightSum;
  return { precision: weighted(precision), recall: weighted(recall), f1: weighted(f1) };
}

/** `f1_score(y_true, y_pred, average=...)`. */
export function f1Score(yTrue: readonly Label[], yPred: readonly Label[], average: Average, options: MetricOptions = {}): number {
  return averagedScores(yTrue, yPred, average, options).f1;
}

/** `balanced_accuracy_score`: mean recall over the classes present in y_true. */
export function balancedAccuracyScore(yTrue: readonly Label[], yPred: readonly Label[]): number {
  const counts = countPerClass(yTrue, yPred);
  const recalls: number[] = [];
  counts.labels.forEach((_, i) => { if (counts.truth[i] > 0) recalls.push(counts.tp[i] / counts.truth[i]); });
  if (recalls.length === 0) throw new MetricError('balanced accuracy needs at least one true sample');
  return numpySum(recalls) / recalls.length;
}

/** Everything the result views show for one run, computed in one pass over the labels. */
export function classificationReport(yTrue: readonly Label[], yPred: readonly Label[], options: MetricOptions = {}): ClassificationReport {
  const z = options.zeroDivision ?? 'warn';
  const perClass = precisionRecallF1PerClass(yTrue, yPred, options);
  const counts = countPerClass(yTrue, yPred, perClass.labels);
  return {
    ...perClass,
    accuracy: accuracyScore(yTrue, yPred),
    perClassAccuracy: perClass.recall,
    macro: averageCounts(counts, 'macro', z),
    weighted: averageCounts(counts, 'weighted', z),
    micro: averageCounts(counts, 'micro', z),
    balancedAccuracy: balancedAccuracyScore(yTrue, yPred),
    confusion: confusionMatrix(yTrue, yPred, perClass.labels).matrix,
  };
}
