/**
 * The rows a run trains and tests on, shared by the logistic-regression baseline and fine-tuning so that both draw
 * exactly the same indices for the same split, fraction and seed (the results table compares them row by row).
 */
import { labelValues } from '../h5ad/labels';
import type { AnnDataReader } from '../h5ad/types';
import {
  checkNoGroupLeak, fewShotSubset, randomSplit, groupShuffleSplit, stratifiedFewShotSubset, stratifiedShuffleSplit, uniqueLabels,
  type Label, type SplitIndices,
} from '../splits';
import type { RunSplit } from './schema';

/**
 * Train/test rows of a single-file split (stratified on the labels, unstratified random, or by group column); a reference/query split
 * has no draw (see referenceQueryIndices).
 */
export function singleFileSplit(reader: AnnDataReader, labels: readonly Label[], split: Exclude<RunSplit, { kind: 'reference-query' }>, datasetPath: string): SplitIndices {
  if (split.kind === 'stratified') return stratifiedShuffleSplit(labels, { testSize: split.testSize, seed: split.seed });
  if (split.kind === 'random') return randomSplit(labels.length, split.testSize, split.seed);
  const groups = labelValues(reader.obs(), split.column, datasetPath);
  const indices = groupShuffleSplit(groups, { testSize: split.testSize, seed: split.seed });
  checkNoGroupLeak(groups, indices.train, indices.test);
  return indices;
}

/**
 * The few-shot training rows of one run: `np.random.seed(seed); np.random.choice(...)` over the training split, or a
 * stratified `train_test_split` subset.
 */
export function fewShotTrainRows(train: readonly number[], trainLabels: readonly Label[], fraction: number, seed: number, stratified: boolean): number[] {
  return stratified ? stratifiedFewShotSubset(train, trainLabels, fraction, seed) : fewShotSubset(train, fraction, seed);
}

/** Sorted unique labels of the whole training split and the test set (a class seen only in the test set counts). */
export function splitClasses(split: SplitIndices, trainLabels: readonly Label[], testLabels: readonly Label[]): Label[] {
  return uniqueLabels([...split.train.map(i => trainLabels[i]), ...split.test.map(i => testLabels[i])]).classes;
}
