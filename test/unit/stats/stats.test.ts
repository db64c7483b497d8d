import * as assert from 'assert';
import { MT19937 } from '../../../src/core/random/mt19937';
import {
  logBeta, logGamma, mean, numpySum, pairedTTest, regularizedBeta, std, studentTCdf, studentTPdf, studentTQuantile,
  summarizeSeeds, welchTTest,
} from '../../../src/core/stats';
import { runPythonJson } from '../../helpers/shared';

function close(actual: number, expected: number, rel: number, what: string): void {
  if (Number.isNaN(expected)) { assert.ok(Number.isNaN(actual), `${what}: expected NaN, got ${actual}`); return; }
  if (!Number.isFinite(expected)) { assert.strictEqual(actual, expected, what); return; }
  const err = Math.abs(actual - expected);
  assert.ok(err <= rel * Math.abs(expected) || err < 1e-15, `${what}: ${actual} vs ${expected} (rel ${err / Math.abs(expected)})`);
}

type Req = Record<string, unknown>;

describe('seed statistics vs numpy / scipy 1.10', () => {
  const g = new MT19937(12345);
  const accuracies = (n: number, centre: number, spread: number) => Array.from({ length: n }, () => centre + spread * g.standardNormal());
  const samples: number[][] = [
    [0.81, 0.82, 0.80, 0.83], accuracies(10, 0.7, 0.02), accuracies(3, 0.5, 0.3), accuracies(7, 1e6, 1e-3),
    accuracies(300, 0.1, 1), accuracies(1000, -4, 7), [5, 5.000000001],
  ];
  const pairs: [number[], number[]][] = [
    [[0.81, 0.82, 0.80, 0.83], [0.78, 0.79, 0.80, 0.77]],
    [accuracies(10, 0.70, 0.02), accuracies(10, 0.69, 0.02)],
    [accuracies(7, 0.70, 0.001), accuracies(7, 0.65, 0.05)],
    [accuracies(10, 0.9, 0.005), accuracies(10, 0.2, 0.005)], // p far in the tail
    [accuracies(3, 0.5, 0.1), accuracies(3, 0.52, 0.1)],
  ];
  const unequal: [number[], number[]][] = [[accuracies(7, 0.7, 0.02), accuracies(10, 0.71, 0.05)], [accuracies(2, 3, 1), accuracies(30, 1, 0.1)]];
  const dfs = [1, 1.5, 2, 3, 4.7, 6, 9, 29, 100, 1e4, 1e6];
  const ps = [1e-50, 1e-20, 1e-8, 0.001, 0.025, 0.3, 0.5, 0.6, 0.975, 0.999, 1 - 1e-12];
  const ts = [-1e8, -40, -3.1, -1, -1e-9, 0, 0.3, 2.2, 12.7, 1e5];

  const requests: Req[] = [
    ...samples.map(values => ({ kind: 'moments', values })),
    ...samples.map(values => ({ kind: 'summary', values, level: 0.95 })),
    { kind: 'summary', values: samples[1], level: 0.9 },
    ...[...pairs, ...unequal].map(([a, b]) => ({ kind: 'welch', a, b })),
    ...pairs.map(([a, b]) => ({ kind: 'paired', a, b })),
    ...dfs.map(df => ({ kind: 't', df, p: ps, t: ts })),
    { kind: 'gammaln', x: [0.5, 1, 1.5, 2.5, 3.3, 9.99, 10, 10.5, 55.5, 1e4, 5e8] },
    { kind: 'betaln', ab: [[0.5, 0.5], [0.5, 3], [2.5, 9.5], [0.5, 12], [0.5, 5e5], [15, 15], [40, 700.5]] },
    { kind: 'betainc', abx: [[0.5, 0.5, 0.3], [2, 0.5, 0.99], [50, 0.5, 0.2], [0.5, 50, 0.0001], [3.5, 4.5, 0.5], [500, 500, 0.49]] },
  ];
  let ref: unknown[] = [];
  before(() => { ref = runPythonJson<unknown[]>('stats_reference.py', [], JSON.stringify(requests)); });
  const results = (kind: string) => ref.filter((_, i) => requests[i].kind === kind) as Record<string, unknown>[];

  it('sum, mean and sample std equal numpy bit for bit (pairwise summation order)', () => {
    results('moments').forEach((r, i) => {
      assert.strictEqual(numpySum(samples[i]), r.sum, `sum of sample ${i}`);
      assert.strictEqual(mean(samples[i]), r.mean, `mean of sample ${i}`);
      assert.strictEqual(std(samples[i]), r.std, `std of sample ${i}`);
    });
  });

  it('mean +- 95% CI half-width equals scipy t.interval(0.95, n-1, loc, sem) (5e-9) and the exact value (1e-13)', () => {
    const rs = results('summary');
    samples.forEach((values, i) => {
      const s = summarizeSeeds(values);
      assert.strictEqual(s.mean, rs[i].mean);
      assert.strictEqual(s.std, rs[i].std);
      // scipy 1.10's t.ppf is itself only good to ~1e-9; the exact (mpmath) value is held to 1e-13.
      close(s.ciHalfWidth, rs[i].half as number, 5e-9, `half-width ${i} vs scipy`);
      close(s.ciHalfWidth, rs[i].half_exact as number, 1e-13, `half-width ${i} vs exact`);
      close(studentTQuantile(0.975, values.length - 1), rs[i].ppf_exact as number, 1e-13, `t.ppf(0.975, ${values.length - 1})`);
    });
    close(summarizeSeeds(samples[1], 0.9).ciHalfWidth, rs[samples.length].half_exact as number, 1e-13, '90% half-width');
    assert.ok(Number.isNaN(summarizeSeeds([0.5]).ciHalfWidth));
  });

  it('Welch t-test equals scipy ttest_ind(equal_var=False): statistic, df, two-sided p to 1e-9', () => {
    results('welch').forEach((r, i) => {
      const [a, b] = [...pairs, ...unequal][i];
      const ours = welchTTest(a, b);
      close(ours.statistic, r.statistic as number, 1e-12, `welch t ${i}`);
      close(ours.df, r.df as number, 1e-12, `welch df ${i}`);
      close(ours.pValue, r.pvalue as number, 1e-9, `welch p ${i}`);
    });
  });

  it('paired t-test equals scipy ttest_rel to 1e-9, including a p-value far in the tail', () => {
    const rs = results('paired');
    rs.forEach((r, i) => {
      const ours = pairedTTest(...pairs[i]);
      close(ours.statistic, r.statistic as number, 1e-12, `paired t ${i}`);
      assert.strictEqual(ours.df, r.df);
      close(ours.pValue, r.pvalue as number, 1e-9, `paired p ${i}`);
    });
    assert.ok((rs[3].pvalue as number) < 1e-15, 'the tail case really is in the tail');
  });

  it('t.ppf (scipy 5e-9, exact 1e-12 up to df 1e4), t.cdf and t.pdf (scipy 1e-9) over df 1..1e6 and p from 1e-50 to 1-1e-12', () => {
    results('t').forEach((r, i) => {
      const df = dfs[i];
      ps.forEach((p, k) => close(studentTQuantile(p, df), (r.ppf as number[])[k], 5e-9, `ppf(${p}, ${df}) vs scipy`));
      // The continued fraction loses a few digits to cancellation once df/2 is huge (still far inside scipy's own error).
      const exactTol = df <= 1e4 ? 1e-12 : 1e-10;
      ps.forEach((p, k) => close(studentTQuantile(p, df), (r.ppf_exact as number[])[k], exactTol, `ppf(${p}, ${df}) vs exact`));
      ts.forEach((t, k) => close(studentTCdf(t, df), (r.cdf as number[])[k], 1e-9, `cdf(${t}, ${df})`));
      ts.forEach((t, k) => close(studentTPdf(t, df), (r.pdf as number[])[k], 1e-9, `pdf(${t}, ${df})`));
    });
  });

  it('t.ppf stays exact where scipy clamps at 1e100: closed forms for df 1 (Cauchy) and 2', () => {
    for (const p of [1e-300, 1e-200, 1e-100, 1e-9, 0.2]) {
      close(studentTQuantile(p, 1), -1 / Math.tan(Math.PI * p), 1e-12, `ppf(${p}, 1)`);
      close(studentTQuantile(p, 2), (2 * p - 1) / Math.sqrt(2 * p * (1 - p)), 1e-12, `ppf(${p}, 2)`);
      close(studentTCdf(studentTQuantile(p, 7), 7), p, 1e-12, `cdf(ppf(${p}, 7))`);
    }
  });

  it('log-gamma, log-beta and the regularized incomplete beta equal 40-digit mpmath', () => {
    const xs = requests.find(r => r.kind === 'gammaln')!.x as number[];
    (results('gammaln')[0] as unknown as number[]).forEach((v, i) => assert.ok(Math.abs(logGamma(xs[i]) - v) <= 1e-13 * Math.max(1, Math.abs(v)), `gammaln(${xs[i]}) ${logGamma(xs[i])} vs ${v}`));
    const ab = requests.find(r => r.kind === 'betaln')!.ab as number[][];
    (results('betaln')[0] as unknown as number[]).forEach((v, i) => close(logBeta(ab[i][0], ab[i][1]), v, 1e-12, `betaln(${ab[i]})`));
    const abx = requests.find(r => r.kind === 'betainc')!.abx as number[][];
    (results('betainc')[0] as unknown as number[]).forEach((v, i) => {
      const [a, b, x] = abx[i];
      close(regularizedBeta(x, 1 - x, a, b).lower, v, 1e-12, `betainc(${a}, ${b}, ${x})`);
    });
  });

  it('refuses inputs the tests cannot use', () => {
    assert.throws(() => welchTTest([1], [2, 3]), /at least 2/);
    assert.throws(() => pairedTTest([1, 2], [1, 2, 3]), /equal lengths/);
    assert.throws(() => studentTQuantile(0.5, 0), /positive/);
  });
});
