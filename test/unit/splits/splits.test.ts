import * as assert from 'assert';
import { MT19937 } from '../../../src/core/random/mt19937';
import {
  checkNoGroupLeak, compareCodePoints, fewShotSubset, GroupLeakError, groupShuffleSplits, Label, referenceQueryIndices,
  shuffleSplits, SplitError, SplitIndices, stratifiedFewShotSubset, stratifiedShuffleSplit, stratifiedShuffleSplits,
  trainTestSplit, uniqueLabels,
} from '../../../src/core/splits';
import { runPythonJson } from '../../helpers/shared';

/** Labels with the given class sizes in a scrambled (but reproducible) row order. */
function labelsFromCounts(counts: Record<string, number>, scrambleSeed: number): string[] {
  const out: string[] = [];
  for (const [name, c] of Object.entries(counts)) for (let i = 0; i < c; i++) out.push(name);
  new MT19937(scrambleSeed).shuffle(out);
  return out;
}

/** Zheng68K's 11 cell types, counts scaled to the 68,450 cells the scBERT paper uses. */
const ZHENG_COUNTS: Record<string, number> = {
  'CD8+ Cytotoxic T': 20644, 'CD8+/CD45RA+ Naive Cytotoxic': 16666, 'CD56+ NK': 8776, 'CD4+/CD25 T Reg': 6187,
  'CD19+ B': 5908, 'CD4+/CD45RO+ Memory': 3061, 'CD14+ Monocyte': 2862, 'Dendritic': 2099,
  'CD4+/CD45RA+/CD25- Naive T': 1873, 'CD34+': 277, 'CD4+ T Helper2': 97,
};
const IMBALANCED: Record<string, number> = { T: 300, B: 200, NK: 100, Mono: 50, DC: 30, pDC: 15, Plasma: 3, Mega: 2 };
/** Code-point order differs from UTF-16 order for astral characters vs U+E000..U+FFFF, and from locale order. */
const ODD_STRINGS: Record<string, number> = { 'b cell': 40, 'B cell': 35, 'Ünknown': 20, '\uFFFD': 9, '😀 cell': 7, 'z': 5, 'Z': 4 };

type Req = Record<string, unknown>;
type PyError = { error: string };

describe('splits vs scikit-learn 1.2.1', () => {
  const zheng = labelsFromCounts(ZHENG_COUNTS, 7);
  const imbalanced = labelsFromCounts(IMBALANCED, 11);
  const odd = labelsFromCounts(ODD_STRINGS, 3);
  const ints = labelsFromCounts({ 10: 50, 2: 30, 3: 19, 100: 2 }, 5).map(Number);
  const withSingleton = [...labelsFromCounts({ x: 50, y: 49 }, 1), 'Lonely'];
  const groups = Array.from({ length: 700 }, (_, i) => `donor${(i * 7919) % 23}`);

  const requests: Req[] = [];
  const add = (r: Req) => { requests.push(r); return requests.length - 1; };
  const cases = {
    zheng: [2022, 0].map(seed => ({ seed, at: add({ kind: 'sss', labels: zheng, test_size: 0.2, seed }) })),
    imbalanced: [2022, 0, 1, 4042].map(seed => ({ seed, at: add({ kind: 'sss', labels: imbalanced, test_size: 0.2, seed, n_splits: 3 }) })),
    odd: [2022, 5].map(seed => ({ seed, at: add({ kind: 'sss', labels: odd, test_size: 0.25, seed }) })),
    ints: [2022, 9].map(seed => ({ seed, at: add({ kind: 'sss', labels: ints, test_size: 0.3, train_size: 0.5, seed }) })),
    counts: add({ kind: 'sss', labels: imbalanced, test_size: 140, train_size: 500, seed: 3 }),
    singleton: add({ kind: 'sss', labels: withSingleton, test_size: 0.2, seed: 1 }),
    shuffle: add({ kind: 'ss', n: 700, test_size: 0.2, seed: 2022, n_splits: 2 }),
    tts: [0.1, 0.25, 0.5, 0.75].map(f => ({ f, at: add({ kind: 'tts', n: 700, train_size: f, labels: imbalanced.map(s => s + '') , seed: 2 }) })),
    ttsPlain: add({ kind: 'tts', n: 700, test_size: 0.3, seed: 4 }),
    gss: [0, 2022].map(seed => ({ seed, at: add({ kind: 'gss', groups, test_size: 0.2, seed, n_splits: 2 }) })),
    zhengLabels: add({ kind: 'echo', value: zheng }),
    fewShot: [] as { fraction: number; k: number; at: number }[],
    stratifiedFewShot: [] as { fraction: number; seed: number; at: number }[],
  };
  // Few-shot draws reuse sklearn's own Zheng68K training split (request train_of) rather than resending it.
  const zhengSplit2022 = cases.zheng[0].at;
  for (const fraction of [0.1, 0.25, 1.0]) {
    for (const k of [0, 1, 2]) cases.fewShot.push({ fraction, k, at: add({ kind: 'fewshot', train_of: zhengSplit2022, fraction, seed: 2021 * k }) });
  }
  for (const [fraction, seed] of [[0.1, 1], [0.5, 10]]) {
    cases.stratifiedFewShot.push({ fraction, seed, at: add({ kind: 'stratified_fewshot', train_of: zhengSplit2022, labels_of: cases.zhengLabels, fraction, seed }) });
  }
  let expected: unknown[] = [];
  before(() => { expected = runPythonJson<unknown[]>('splits_reference.py', [], JSON.stringify(requests)); });

  it('Zheng68K protocol: StratifiedShuffleSplit(test_size=0.2, random_state=2022) gives 54,760/13,690 and sklearn\'s exact indices', () => {
    for (const { seed, at } of cases.zheng) {
      const ours = stratifiedShuffleSplit(zheng, { testSize: 0.2, seed });
      const ref = (expected[at] as SplitIndices[])[0];
      assert.strictEqual(ours.train.length, 54760);
      assert.strictEqual(ours.test.length, 13690);
      assert.deepStrictEqual(ours, ref, `seed ${seed}`);
    }
  });

  it('imbalanced labels (classes of 2 and 3 members), three splits per seed, match sklearn', () => {
    for (const { seed, at } of cases.imbalanced) {
      assert.deepStrictEqual(stratifiedShuffleSplits(imbalanced, { testSize: 0.2, seed, nSplits: 3 }), expected[at], `seed ${seed}`);
    }
  });

  it('string labels are classed in numpy code-point order (astral vs U+FFFD, case, accents)', () => {
    assert.deepStrictEqual(uniqueLabels(odd).classes, ['B cell', 'Z', 'b cell', 'z', 'Ünknown', '\uFFFD', '😀 cell']);
    assert.ok(compareCodePoints('😀', '\uFFFD') > 0);
    for (const { seed, at } of cases.odd) {
      assert.deepStrictEqual([stratifiedShuffleSplit(odd, { testSize: 0.25, seed })], expected[at], `seed ${seed}`);
    }
  });

  it('numeric labels sort numerically; explicit train and test fractions; integer counts', () => {
    for (const { seed, at } of cases.ints) {
      assert.deepStrictEqual([stratifiedShuffleSplit(ints, { testSize: 0.3, trainSize: 0.5, seed })], expected[at], `seed ${seed}`);
    }
    assert.deepStrictEqual([stratifiedShuffleSplit(imbalanced, { testSize: 140, trainSize: 500, seed: 3 })], expected[cases.counts]);
  });

  it('a class with a single member is refused, as sklearn does', () => {
    assert.match((expected[cases.singleton] as PyError).error, /only 1 member/);
    assert.throws(() => stratifiedShuffleSplit(withSingleton, { testSize: 0.2, seed: 1 }), (e: Error) =>
      e instanceof SplitError && /'Lonely' has only 1 member/.test(e.message));
  });

  it('ShuffleSplit matches sklearn', () => {
    assert.deepStrictEqual(shuffleSplits(700, { testSize: 0.2, seed: 2022, nSplits: 2 }), expected[cases.shuffle]);
  });

  it('train_test_split(train_size=f, stratify=y) returns sklearn\'s train and test positions', () => {
    for (const { f, at } of cases.tts) {
      assert.deepStrictEqual(trainTestSplit(700, { trainSize: f, stratify: imbalanced, seed: 2 }), expected[at], `fraction ${f}`);
    }
    assert.deepStrictEqual(trainTestSplit(700, { testSize: 0.3, seed: 4 }), expected[cases.ttsPlain]);
  });

  it('GroupShuffleSplit matches sklearn and never leaks a donor', () => {
    for (const { seed, at } of cases.gss) {
      const ours = groupShuffleSplits(groups, { testSize: 0.2, seed, nSplits: 2 });
      assert.deepStrictEqual(ours, expected[at], `seed ${seed}`);
      for (const s of ours) checkNoGroupLeak(groups, s.train, s.test);
    }
  });

  it('few-shot subsets of the Zheng68K training split equal np.random.choice and sklearn stratified subsets', () => {
    const zhengTrain = stratifiedShuffleSplit(zheng, { testSize: 0.2, seed: 2022 }).train;
    for (const { fraction, k, at } of cases.fewShot) {
      const ours = fewShotSubset(zhengTrain, fraction, 2021 * k);
      assert.strictEqual(ours.length, Math.floor(54760 * fraction));
      assert.deepStrictEqual(ours, expected[at], `fraction ${fraction}, seed ${2021 * k}`);
    }
    for (const { fraction, seed, at } of cases.stratifiedFewShot) {
      assert.deepStrictEqual(stratifiedFewShotSubset(zhengTrain, zheng, fraction, seed), expected[at], `stratified ${fraction}, seed ${seed}`);
    }
  });
});

describe('split helpers', () => {
  it('checkNoGroupLeak names the group that crosses', () => {
    const groups: Label[] = ['d1', 'd1', 'd2', 'd3', 'd3'];
    assert.doesNotThrow(() => checkNoGroupLeak(groups, [0, 1, 2], [3, 4]));
    assert.throws(() => checkNoGroupLeak(groups, [0, 2, 3], [1, 4]), (e: Error) =>
      e instanceof GroupLeakError && e.group === 'd1' && /group 'd1' appears in both train \(1 rows\) and test \(1 rows\)/.test(e.message));
  });

  it('reference/query: every row of each file, nothing random', () => {
    assert.deepStrictEqual(referenceQueryIndices(3, 2), { train: [0, 1, 2], test: [0, 1] });
  });

  it('bad sizes give sklearn-like errors', () => {
    assert.throws(() => stratifiedShuffleSplit(['a', 'a', 'b', 'b'], { testSize: 1.5, seed: 0 }), /test_size=1.5/);
    assert.throws(() => trainTestSplit(10, { testSize: 0.6, trainSize: 0.6, seed: 0 }), /sum of test_size and train_size/);
    assert.throws(() => uniqueLabels(['a', 1]), /mix strings and numbers/);
  });
});
