import * as assert from 'assert';
import { MT19937 } from '../../../src/core/random/mt19937';
import { runPythonJson } from '../../helpers/shared';

const SEEDS = [0, 1, 2021, 2022, 4042, 2 ** 32 - 1];

type Request = { seed: number; kind: string; [k: string]: unknown };

/** One Python call per describe block keeps the suite fast. */
function numpy(requests: Request[]): unknown[][] {
  return runPythonJson<unknown[][]>('random_reference.py', [], JSON.stringify(requests));
}

describe('MT19937 (numpy legacy RandomState)', () => {
  const requests: Request[] = [];
  for (const seed of SEEDS) {
    requests.push({ seed, kind: 'uint32', n: 1500 }); // crosses two twists
    requests.push({ seed, kind: 'rand', n: 700 });
    requests.push({ seed, kind: 'randint', low: 0, high: 10, n: 300 });
    requests.push({ seed, kind: 'randint', low: -5, high: 1_000_003, n: 300 });
    requests.push({ seed, kind: 'randint', low: 0, high: 2 ** 32, n: 50 });
    requests.push({ seed, kind: 'randint', low: 7, high: 2 ** 40 + 7, n: 50 });
    requests.push({ seed, kind: 'permutation', n: 1000 });
    requests.push({ seed, kind: 'choice', n: 700, m: 70, replace: false });
    requests.push({ seed, kind: 'choice', n: 700, m: 70, replace: true });
    requests.push({ seed, kind: 'global_choice', n: 54760, m: 5476 });
    requests.push({ seed, kind: 'randn', n: 101 });
    requests.push({ seed, kind: 'mixed' });
  }
  let expected: unknown[][] = [];
  before(() => { expected = numpy(requests); });

  const at = (seed: number, kind: string, extra?: (r: Request) => boolean) =>
    expected[requests.findIndex(r => r.seed === seed && r.kind === kind && (!extra || extra(r)))];

  for (const seed of SEEDS) {
    describe(`seed ${seed}`, () => {
      it('raw 32-bit words equal numpy random_raw across several twists', () => {
        const g = new MT19937(seed);
        assert.deepStrictEqual(Array.from({ length: 1500 }, () => g.nextUint32()), at(seed, 'uint32'));
      });
      it('rand(n) equals numpy bit for bit', () => {
        assert.deepStrictEqual(Array.from(new MT19937(seed).rand(700)), at(seed, 'rand'));
      });
      it('randint small, offset, full-32-bit and 64-bit ranges equal numpy', () => {
        assert.deepStrictEqual(new MT19937(seed).randintArray(0, 10, 300), at(seed, 'randint', r => r.high === 10));
        assert.deepStrictEqual(new MT19937(seed).randintArray(-5, 1_000_003, 300), at(seed, 'randint', r => r.low === -5));
        assert.deepStrictEqual(new MT19937(seed).randintArray(0, 2 ** 32, 50), at(seed, 'randint', r => r.high === 2 ** 32));
        assert.deepStrictEqual(new MT19937(seed).randintArray(7, 2 ** 40 + 7, 50), at(seed, 'randint', r => r.low === 7));
      });
      it('permutation(n) equals numpy', () => {
        assert.deepStrictEqual(new MT19937(seed).permutation(1000), at(seed, 'permutation'));
      });
      it('choice with and without replacement equals numpy', () => {
        assert.deepStrictEqual(new MT19937(seed).choice(700, 70, false), at(seed, 'choice', r => r.replace === false));
        assert.deepStrictEqual(new MT19937(seed).choice(700, 70, true), at(seed, 'choice', r => r.replace === true));
      });
      it('np.random.seed(k); np.random.choice(54760, 5476, replace=False) equals numpy', () => {
        assert.deepStrictEqual(new MT19937(seed).choice(54760, 5476, false), at(seed, 'global_choice'));
      });
      it('randn(n) equals numpy to the last bit or within 1 ulp', () => {
        const ours = new MT19937(seed).randn(101);
        const ref = at(seed, 'randn') as number[];
        ref.forEach((v, i) => assert.ok(Math.abs(ours[i] - v) <= 4e-16 * Math.max(1, Math.abs(v)), `randn[${i}] ${ours[i]} vs ${v}`));
      });
      it('interleaved calls consume the stream in numpy order', () => {
        const g = new MT19937(seed);
        const ref = at(seed, 'mixed') as number[];
        const ours: number[] = [g.randomSample(), ...g.permutation(10), g.randint(5, 17), g.standardNormal(), g.randomSample(),
          g.standardNormal(), g.standardNormal(), g.randint(0, 3_000_000_000_000)];
        assert.strictEqual(ours.length, ref.length);
        ours.forEach((v, i) => assert.ok(Math.abs(v - ref[i]) <= 4e-16 * Math.max(1, Math.abs(ref[i])), `mixed[${i}] ${v} vs ${ref[i]}`));
      });
    });
  }

  it('rejects seeds numpy rejects', () => {
    assert.throws(() => new MT19937(-1), /between 0 and 2\*\*32 - 1/);
    assert.throws(() => new MT19937(2 ** 32), /between 0 and 2\*\*32 - 1/);
    assert.throws(() => new MT19937(1.5), /integer/);
    assert.throws(() => new MT19937(3).choice(5, 6, false), /larger sample/);
  });
});
