import * as assert from 'assert';
import {
  accuracyScore, averagedScores, balancedAccuracyScore, classificationReport, confusionMatrix, f1Score, labelUnion, MetricError,
  MetricOptions, precisionRecallF1PerClass, ZeroDivision,
} from '../../../src/core/metrics';
import { MT19937 } from '../../../src/core/random/mt19937';
import { Label } from '../../../src/core/splits';
import { runPythonJson } from '../../helpers/shared';

interface Case { name: string; y_true: Label[]; y_pred: Label[]; labels?: Label[]; zero_division?: ZeroDivision }
interface Ref {
  precision: number[]; recall: number[]; f1: number[]; support: number[]; accuracy: number; confusion: number[][];
  macro: Record<string, number>; weighted: Record<string, number>; micro: Record<string, number>;
  balanced_accuracy?: number; error?: string; confusion_error?: string;
}

/** A noisy classifier: right with probability `skill` on classes it knows, otherwise a random class from `predictable`. */
function noisyPredictions(truth: Label[], predictable: Label[], skill: number, seed: number): Label[] {
  const g = new MT19937(seed);
  return truth.map(t => (g.randomSample() < skill && predictable.includes(t) ? t : predictable[g.randint(0, predictable.length)]));
}

function sample(classes: Label[], weights: number[], n: number, seed: number): Label[] {
  const g = new MT19937(seed);
  const total = weights.reduce((a, b) => a + b, 0);
  return Array.from({ length: n }, () => {
    let u = g.randomSample() * total;
    for (let k = 0; k < classes.length; k++) { u -= weights[k]; if (u < 0) return classes[k]; }
    return classes[classes.length - 1];
  });
}

const ZHENG = ['CD8+ Cytotoxic T', 'CD8+/CD45RA+ Naive Cytotoxic', 'CD56+ NK', 'CD4+/CD25 T Reg', 'CD19+ B',
  'CD4+/CD45RO+ Memory', 'CD14+ Monocyte', 'Dendritic', 'CD4+/CD45RA+/CD25- Naive T', 'CD34+', 'CD4+ T Helper2'];
const ZHENG_W = [20644, 16666, 8776, 6187, 5908, 3061, 2862, 2099, 1873, 277, 97];

describe('classification metrics vs scikit-learn 1.2.1', () => {
  const zhengTruth = sample(ZHENG, ZHENG_W, 3000, 1);
  const pancreasTypes = ['acinar', 'alpha', 'beta', 'delta', 'ductal', 'endothelial', 'epsilon', 'gamma', 'macrophage',
    'mast', 'MHC class II', 'schwann', 'stellate'];
  const pancreasTruth = [...sample(pancreasTypes, pancreasTypes.map((_, i) => 13 - i), 600, 2), ...Array(9).fill('t_cell')];
  const numericTruth = sample([3, 10, 2, 7], [5, 3, 1, 1], 400, 3);
  const cases: Case[] = [
    { name: 'Zheng68K proportions, 11 string classes, 70% right', y_true: zhengTruth, y_pred: noisyPredictions(zhengTruth, ZHENG, 0.7, 9) },
    // hPancreas: the query holds a type never seen in training, so never predicted; rare classes rarely predicted.
    { name: 'a true class that is never predicted', y_true: pancreasTruth, y_pred: noisyPredictions(pancreasTruth, pancreasTypes.slice(0, 11), 0.8, 4) },
    { name: 'a predicted class absent from y_true', y_true: numericTruth, y_pred: numericTruth.map((v, i) => (i % 17 === 0 ? 99 : v)) },
    { name: 'zero_division=1', y_true: pancreasTruth, y_pred: noisyPredictions(pancreasTruth, pancreasTypes.slice(0, 11), 0.8, 4), zero_division: 1 },
    { name: 'zero_division=0 with explicit labels incl. one absent everywhere', y_true: numericTruth,
      y_pred: noisyPredictions(numericTruth, [3, 10, 2, 7], 0.5, 5), labels: [10, 2, 42, 3, 7], zero_division: 0 },
    { name: 'labels subset drops other samples from the confusion matrix', y_true: zhengTruth,
      y_pred: noisyPredictions(zhengTruth, ZHENG, 0.6, 6), labels: ['CD56+ NK', 'Dendritic', 'CD34+'] },
    { name: 'every prediction wrong', y_true: ['a', 'a', 'b', 'b', 'c'], y_pred: ['b', 'c', 'a', 'c', 'a'] },
    { name: 'perfect predictions', y_true: ['x', 'y', 'y', 'z'], y_pred: ['x', 'y', 'y', 'z'] },
    { name: 'weighted average with no true samples among the labels', y_true: ['a', 'a', 'b'], y_pred: ['c', 'a', 'b'], labels: ['c'] },
    { name: 'code-point order of string labels', y_true: ['é', 'Z', 'a', '😀', '\uFFFD', 'a'], y_pred: ['Z', 'Z', 'a', '\uFFFD', '😀', 'é'] },
    { name: 'many classes (> 128, pairwise-sum recursion)', y_true: sample(Array.from({ length: 300 }, (_, i) => i), Array(300).fill(1), 5000, 7),
      y_pred: sample(Array.from({ length: 300 }, (_, i) => i), Array(300).fill(1), 5000, 8) },
  ];
  let refs: Ref[] = [];
  before(() => { refs = runPythonJson<Ref[]>('metrics_reference.py', [], JSON.stringify(cases)); });

  cases.forEach((c, i) => {
    it(`${c.name}: per-class, averaged, accuracy and confusion equal sklearn exactly`, () => {
      const ref = refs[i];
      assert.strictEqual(ref.error, undefined);
      const options: MetricOptions = { labels: c.labels, zeroDivision: c.zero_division };
      const per = precisionRecallF1PerClass(c.y_true, c.y_pred, options);
      assert.deepStrictEqual(per.precision, ref.precision, 'precision');
      assert.deepStrictEqual(per.recall, ref.recall, 'recall');
      assert.deepStrictEqual(per.f1, ref.f1, 'f1');
      assert.deepStrictEqual(per.support, ref.support, 'support');
      for (const avg of ['macro', 'weighted', 'micro'] as const) {
        assert.strictEqual(f1Score(c.y_true, c.y_pred, avg, options), ref[avg].f1, `${avg} F1`);
        assert.deepStrictEqual(averagedScores(c.y_true, c.y_pred, avg, options), ref[avg], `${avg} precision/recall/F1`);
      }
      assert.strictEqual(accuracyScore(c.y_true, c.y_pred), ref.accuracy);
      if (ref.confusion_error) {
        assert.throws(() => confusionMatrix(c.y_true, c.y_pred, c.labels), (e: Error) => e.message === ref.confusion_error);
      } else {
        assert.deepStrictEqual(confusionMatrix(c.y_true, c.y_pred, c.labels).matrix, ref.confusion);
      }
      if (!c.labels) {
        const report = classificationReport(c.y_true, c.y_pred, options);
        assert.deepStrictEqual(report.macro, ref.macro);
        assert.deepStrictEqual(report.weighted, ref.weighted);
        assert.deepStrictEqual(report.micro, ref.micro);
        assert.strictEqual(report.balancedAccuracy, ref.balanced_accuracy);
        assert.strictEqual(balancedAccuracyScore(c.y_true, c.y_pred), ref.balanced_accuracy);
        assert.deepStrictEqual(report.confusion, ref.confusion);
      }
    });
  });

  it('the never-predicted test-only class has its own row, recall 0, and a warning under zero_division=warn', () => {
    const c = cases[1];
    const per = precisionRecallF1PerClass(c.y_true, c.y_pred);
    const k = per.labels.indexOf('t_cell');
    assert.ok(k >= 0);
    assert.strictEqual(per.support[k], 9);
    assert.strictEqual(per.recall[k], 0);
    assert.deepStrictEqual(per.recall, refs[1].recall);
    assert.ok(per.warnings.some(w => /no predicted samples: .*'t_cell'/.test(w)), per.warnings.join('\n'));
  });

  it('label order is numpy\'s and mixed label types are refused like sklearn', () => {
    assert.deepStrictEqual(labelUnion(['b', 'B'], ['a', '😀', '\uFFFD']), ['B', 'a', 'b', '\uFFFD', '😀']);
    assert.deepStrictEqual(labelUnion([10, 9], [100]), [9, 10, 100]);
    assert.throws(() => f1Score(['a', 'b'], ['a', 1], 'macro'), (e: Error) => e instanceof MetricError && /Mix of label input types/.test(e.message));
    assert.throws(() => accuracyScore(['a'], ['a', 'b']), /1 labels but y_pred has 2/);
  });
});
