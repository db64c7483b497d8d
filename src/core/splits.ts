/**
 * Train/test splits that reproduce scikit-learn 1.2 and numpy index for index for the same seed, so a split made
 * here is the split the published experiments used (e.g. scBERT's StratifiedShuffleSplit(test_size=0.2,
 * random_state=2022) on Zheng68K, few-shot subsets drawn with np.random.choice).
 *
 * Size arguments follow sklearn's int/float convention, which JavaScript numbers cannot carry: a value strictly
 * between 0 and 1 is a fraction of the samples, an integer >= 1 is a count.
 */
import { MT19937 } from './random/mt19937';

export type Label = string | number;

export interface SplitIndices {
  /** Row indices of the training set, in the order sklearn returns them (not sorted). */
  train: number[];
  test: number[];
}

export interface ShuffleSplitOptions {
  testSize?: number;
  trainSize?: number;
  /** `random_state`: an integer seed for numpy's legacy RandomState. */
  seed: number;
  /** `n_splits` (default 1). */
  nSplits?: number;
}

/** Bad split parameters or labels; the message says which and why. */
export class SplitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SplitError';
  }
}

/** A group (donor, batch) that has rows on both sides of a split. */
export class GroupLeakError extends SplitError {
  constructor(readonly group: Label, readonly trainRows: number, readonly testRows: number) {
    super(`group '${String(group)}' appears in both train (${trainRows} rows) and test (${testRows} rows): the split leaks this group`);
    this.name = 'GroupLeakError';
  }
}

/**
 * numpy's `unique(values, return_inverse=True)`: sorted distinct labels and each value's class index.
 * Strings sort by Unicode code point (numpy's order), not by UTF-16 unit or locale.
 */
export function uniqueLabels(values: readonly Label[]): { classes: Label[]; inverse: Int32Array } {
  if (values.length === 0) return { classes: [], inverse: new Int32Array(0) };
  const kind = typeof values[0];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== kind) throw new SplitError(`labels mix strings and numbers (row 0 is a ${kind}, row ${i} is a ${typeof v})`);
    if (typeof v === 'number' && Number.isNaN(v)) throw new SplitError(`label at row ${i} is NaN`);
  }
  const distinct = Array.from(new Set(values));
  if (kind === 'number') (distinct as number[]).sort((a, b) => a - b);
  else (distinct as string[]).sort(compareCodePoints);
  const position = new Map<Label, number>();
  distinct.forEach((c, i) => position.set(c, i));
  const inverse = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) inverse[i] = position.get(values[i])!;
  return { classes: distinct, inverse };
}

/** Orders strings by Unicode code point, as numpy's unicode arrays and Python's str comparison do. */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done) return y.done ? 0 : -1;
    if (y.done) return 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

function isFraction(v: number): boolean {
  return !Number.isInteger(v);
}

/** sklearn's `_validate_shuffle_split`: turns test/train sizes into counts (test rounds up, train down). */
export function resolveSplitSizes(nSamples: number, testSize: number | undefined, trainSize: number | undefined,
  defaultTestSize: number): { nTrain: number; nTest: number } {
  if (testSize === undefined && trainSize === undefined) testSize = defaultTestSize;
  const check = (name: string, v: number | undefined) => {
    if (v === undefined) return;
    if (!Number.isFinite(v) || v <= 0) {
      throw new SplitError(`${name}=${v} should be either positive and smaller than the number of samples ${nSamples} or a float in the (0, 1) range`);
    }
    if (isFraction(v) ? v >= 1 : v >= nSamples) {
      throw new SplitError(`${name}=${v} should be either positive and smaller than the number of samples ${nSamples} or a float in the (0, 1) range`);
    }
  };
  check('test_size', testSize);
  check('train_size', trainSize);
  if (testSize !== undefined && trainSize !== undefined && isFraction(testSize) && isFraction(trainSize) && testSize + trainSize > 1) {
    throw new SplitError(`the sum of test_size and train_size = ${testSize + trainSize} should be in the (0, 1) range; reduce test_size and/or train_size`);
  }
  let nTest = testSize === undefined ? NaN : isFraction(testSize) ? Math.ceil(testSize * nSamples) : testSize;
  let nTrain = trainSize === undefined ? NaN : isFraction(trainSize) ? Math.floor(trainSize * nSamples) : trainSize;
  if (trainSize === undefined) nTrain = nSamples - nTest;
  else if (testSize === undefined) nTest = nSamples - nTrain;
  if (nTrain + nTest > nSamples) {
    throw new SplitError(`the sum of train_size and test_size = ${nTrain + nTest} should be smaller than the number of samples ${nSamples}; reduce test_size and/or train_size`);
  }
  if (nTrain === 0) {
    throw new SplitError(`with n_samples=${nSamples}, test_size=${testSize} and train_size=${trainSize}, the resulting train set would be empty`);
  }
  return { nTrain, nTest };
}

/**
 * sklearn's `_approximate_mode`: per-class draws proportional to the class counts, floored, with the leftover
 * handed out by largest remainder; ties among equal remainders are broken with `rng.choice` (which consumes
 * a full permutation of the tied classes, as numpy's legacy choice does).
 */
export function approximateMode(classCounts: readonly number[], nDraws: number, rng: MT19937): number[] {
  let total = 0;
  for (const c of classCounts) total += c;
  const continuous = classCounts.map(c => (c / total) * nDraws);
  const floored = continuous.map(Math.floor);
  let needToAdd = Math.trunc(nDraws - floored.reduce((a, b) => a + b, 0));
  if (needToAdd > 0) {
    const remainder = continuous.map((c, i) => c - floored[i]);
    const values = Array.from(new Set(remainder)).sort((a, b) => b - a);
    for (const value of values) {
      const tied: number[] = [];
      remainder.forEach((r, i) => { if (r === value) tied.push(i); });
      const addNow = Math.min(tied.length, needToAdd);
      for (const k of rng.choice(tied.length, addNow, false)) floored[tied[k]] += 1;
      needToAdd -= addNow;
      if (needToAdd === 0) break;
    }
  }
  return floored;
}

/** `ShuffleSplit(n_splits, test_size, train_size, random_state).split(range(nSamples))` (default test size 0.1). */
export function shuffleSplits(nSamples: number, options: ShuffleSplitOptions, defaultTestSize = 0.1): SplitIndices[] {
  const { nTrain, nTest } = resolveSplitSizes(nSamples, options.testSize, options.trainSize, defaultTestSize);
  const rng = new MT19937(options.seed);
  const out: SplitIndices[] = [];
  for (let s = 0; s < (options.nSplits ?? 1); s++) {
    const perm = rng.permutation(nSamples);
    out.push({ test: perm.slice(0, nTest), train: perm.slice(nTest, nTest + nTrain) });
  }
  return out;
}

/** `StratifiedShuffleSplit(n_splits, test_size, train_size, random_state).split(X, labels)` (default test size 0.1). */
export function stratifiedShuffleSplits(labels: readonly Label[], options: ShuffleSplitOptions): SplitIndices[] {
  const nSamples = labels.length;
  const { nTrain, nTest } = resolveSplitSizes(nSamples, options.testSize, options.trainSize, 0.1);
  const { classes, inverse } = uniqueLabels(labels);
  const nClasses = classes.length;
  const classCounts = new Array<number>(nClasses).fill(0);
  for (let i = 0; i < nSamples; i++) classCounts[inverse[i]]++;
  const singletons = classes.filter((_, c) => classCounts[c] < 2).map(c => `'${String(c)}'`);
  if (singletons.length > 0) {
    throw new SplitError(`${singletons.length === 1 ? 'class' : 'classes'} ${singletons.join(', ')} ${singletons.length === 1 ? 'has' : 'have'} only 1 member, which is too few: stratified splitting needs at least 2 per class`);
  }
  if (nTrain < nClasses) throw new SplitError(`the train size ${nTrain} should be greater or equal to the number of classes ${nClasses}`);
  if (nTest < nClasses) throw new SplitError(`the test size ${nTest} should be greater or equal to the number of classes ${nClasses}`);

  // Rows of each class in ascending order (sklearn: stable argsort of the class index).
  const classRows: number[][] = classes.map(() => []);
  for (let i = 0; i < nSamples; i++) classRows[inverse[i]].push(i);

  const rng = new MT19937(options.seed);
  const out: SplitIndices[] = [];
  for (let s = 0; s < (options.nSplits ?? 1); s++) {
    const trainPerClass = approximateMode(classCounts, nTrain, rng);
    const remaining = classCounts.map((c, i) => c - trainPerClass[i]);
    const testPerClass = approximateMode(remaining, nTest, rng);
    let train: number[] = [];
    let test: number[] = [];
    for (let c = 0; c < nClasses; c++) {
      const perm = rng.permutation(classCounts[c]);
      const rows = classRows[c];
      for (let k = 0; k < trainPerClass[c]; k++) train.push(rows[perm[k]]);
      for (let k = trainPerClass[c]; k < trainPerClass[c] + testPerClass[c]; k++) test.push(rows[perm[k]]);
    }
    train = shuffled(train, rng);
    test = shuffled(test, rng);
    out.push({ train, test });
  }
  return out;
}

/** The first split of `stratifiedShuffleSplits` (sklearn with n_splits=1, the scBERT protocol). */
export function stratifiedShuffleSplit(labels: readonly Label[], options: Omit<ShuffleSplitOptions, 'nSplits'>): SplitIndices {
  return stratifiedShuffleSplits(labels, { ...options, nSplits: 1 })[0];
}

function shuffled(values: number[], rng: MT19937): number[] {
  const copy = values.slice();
  rng.shuffle(copy);
  return copy;
}

export interface TrainTestSplitOptions {
  testSize?: number;
  trainSize?: number;
  seed: number;
  /** Labels of the rows being split (same length); stratifies like `stratify=y`. */
  stratify?: readonly Label[];
  /** `shuffle=False` keeps the order: first n_train rows train, next n_test test. */
  shuffle?: boolean;
}

/**
 * `train_test_split(range(nSamples), ...)`: positions 0..nSamples-1 of the train and test parts, in sklearn's
 * order (default test size 0.25). sklearn resolves the sizes first and hands integer counts to
 * (Stratified)ShuffleSplit, which this mirrors.
 */
export function trainTestSplit(nSamples: number, options: TrainTestSplitOptions): SplitIndices {
  const { nTrain, nTest } = resolveSplitSizes(nSamples, options.testSize, options.trainSize, 0.25);
  if (options.shuffle === false) {
    if (options.stratify) throw new SplitError('stratified train/test split is not implemented for shuffle=false');
    return { train: range(0, nTrain), test: range(nTrain, nTrain + nTest) };
  }
  if (options.stratify) {
    if (options.stratify.length !== nSamples) {
      throw new SplitError(`stratify has ${options.stratify.length} labels but ${nSamples} rows are being split`);
    }
    return stratifiedShuffleSplit(options.stratify, { testSize: nTest, trainSize: nTrain, seed: options.seed });
  }
  return shuffleSplits(nSamples, { testSize: nTest, trainSize: nTrain, seed: options.seed })[0];
}

/**
 * The unstratified random split (run split kind 'random'): `train_test_split(range(nSamples), test_size=testSize,
 * shuffle=True, random_state=seed)` without `stratify`, which is also `ShuffleSplit(n_splits=1, test_size,
 * random_state=seed)`'s first split (train_test_split resolves the sizes and hands them to ShuffleSplit).
 */
export function randomSplit(nSamples: number, testSize: number, seed: number): SplitIndices {
  if (!(testSize > 0)) throw new SplitError(`the test size must be positive, got ${testSize}`);
  return trainTestSplit(nSamples, { testSize, seed });
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** How a few-shot size is taken from `fraction * n`. The published scBERT/LR code uses Python's `int()`. */
export function fewShotSize(n: number, fraction: number): number {
  if (!(fraction > 0 && fraction <= 1)) throw new SplitError(`few-shot fraction must be in (0, 1], got ${fraction}`);
  return Math.floor(n * fraction);
}

/**
 * Unstratified few-shot subset of a training set: `np.random.seed(seed);
 * idx = np.random.choice(n, int(n * fraction), replace=False)`, returned as `trainIndices[idx]` in numpy's order.
 * `trainIndices` is the training set in the order the split produced it, because `choice` picks positions in it.
 */
export function fewShotSubset(trainIndices: readonly number[], fraction: number, seed: number): number[] {
  const n = trainIndices.length;
  const m = fewShotSize(n, fraction);
  return new MT19937(seed).choice(n, m, false).map(k => trainIndices[k]);
}

/** Python 3's `round(x)` to an integer: halves go to the even neighbour. */
export function pythonRound(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * scBERT's published few-shot subsets (dist_finetune_fewshot.py): per replicate ONE `np.random.seed(seed)`, then
 * for each fraction of `order` in turn `np.random.choice(index_train, round(n * fraction), replace=False)` from the
 * same stream (nothing else in that loop draws from numpy's global stream). The subset of `fraction` is the draw
 * at its place in `order`; the draws before it are made and discarded. Returned as `trainIndices[idx]`.
 */
export function fewShotStreamSubset(trainIndices: readonly number[], fraction: number, seed: number, order: readonly number[]): number[] {
  const at = order.indexOf(fraction);
  if (at < 0) throw new SplitError(`fraction ${fraction} is not one of the published few-shot fractions (${order.join(', ')})`);
  const n = trainIndices.length;
  const rng = new MT19937(seed);
  let picked: number[] = [];
  for (let i = 0; i <= at; i++) {
    const f = order[i];
    if (!(f > 0 && f <= 1)) throw new SplitError(`few-shot fraction must be in (0, 1], got ${f}`);
    picked = rng.choice(n, pythonRound(n * f), false);
  }
  return picked.map(k => trainIndices[k]);
}

/**
 * Stratified few-shot subset: `train_test_split(trainIndices, train_size=fraction, stratify=labels[trainIndices],
 * random_state=seed)[0]`. `labels` is indexed by row (the full label column). sklearn refuses fraction 1.0; here
 * fraction 1 returns the training set unchanged, which is what "100% of the training data" means.
 */
export function stratifiedFewShotSubset(trainIndices: readonly number[], labels: readonly Label[], fraction: number, seed: number): number[] {
  if (fraction === 1) return trainIndices.slice();
  if (!(fraction > 0 && fraction < 1)) throw new SplitError(`few-shot fraction must be in (0, 1], got ${fraction}`);
  const sub = trainTestSplit(trainIndices.length, { trainSize: fraction, seed, stratify: trainIndices.map(i => labels[i]) });
  return sub.train.map(k => trainIndices[k]);
}

/**
 * `GroupShuffleSplit(n_splits, test_size, train_size, random_state).split(X, groups=groups)` (default test size
 * 0.2 of the groups): whole groups (donors, batches) go to one side; row indices come back sorted ascending.
 */
export function groupShuffleSplits(groups: readonly Label[], options: ShuffleSplitOptions): SplitIndices[] {
  const { classes, inverse } = uniqueLabels(groups);
  const perGroup = shuffleSplits(classes.length, options, 0.2);
  return perGroup.map(({ train, test }) => {
    const side = new Int8Array(classes.length);
    for (const g of train) side[g] = 1;
    for (const g of test) side[g] = 2;
    const out: SplitIndices = { train: [], test: [] };
    for (let i = 0; i < inverse.length; i++) {
      if (side[inverse[i]] === 1) out.train.push(i);
      else if (side[inverse[i]] === 2) out.test.push(i);
    }
    return out;
  });
}

export function groupShuffleSplit(groups: readonly Label[], options: Omit<ShuffleSplitOptions, 'nSplits'>): SplitIndices {
  return groupShuffleSplits(groups, { ...options, nSplits: 1 })[0];
}

/** Throws GroupLeakError naming the first group (in row order of the test set) that has rows in both parts. */
export function checkNoGroupLeak(groups: readonly Label[], train: readonly number[], test: readonly number[]): void {
  const trainCount = new Map<Label, number>();
  for (const i of train) {
    if (i < 0 || i >= groups.length) throw new SplitError(`train index ${i} is out of range for ${groups.length} rows`);
    trainCount.set(groups[i], (trainCount.get(groups[i]) ?? 0) + 1);
  }
  let leaked: Label | undefined;
  const testCount = new Map<Label, number>();
  for (const i of test) {
    if (i < 0 || i >= groups.length) throw new SplitError(`test index ${i} is out of range for ${groups.length} rows`);
    const g = groups[i];
    testCount.set(g, (testCount.get(g) ?? 0) + 1);
    if (leaked === undefined && trainCount.has(g)) leaked = g;
  }
  if (leaked !== undefined) throw new GroupLeakError(leaked, trainCount.get(leaked)!, testCount.get(leaked)!);
}

/**
 * Datasets published as two files (scGPT's reference/query): everything in the reference file trains, everything
 * in the query file tests; no rows are drawn at random.
 */
export interface ReferenceQuerySplit {
  kind: 'reference-query';
  referencePath: string;
  queryPath: string;
  /** Name of the label column in both files (the query may hold classes absent from the reference). */
  labelColumn: string;
}

/** Describes every split the workbench can make, for settings and run records. */
export type SplitSpec =
  | { kind: 'stratified-shuffle'; labelColumn: string; testSize: number; seed: number }
  | { kind: 'group-shuffle'; groupColumn: string; testSize: number; seed: number }
  | ReferenceQuerySplit;

/** Row indices for a reference/query pair: all rows of each file. */
export function referenceQueryIndices(nReference: number, nQuery: number): SplitIndices {
  return { train: range(0, nReference), test: range(0, nQuery) };
}
