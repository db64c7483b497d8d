/** The building blocks against numpy: quantile edges bit for bit, digitize, scGPT binning with ties, the loess. */
import * as assert from 'assert';
import { binRows, digitize, quantilesLinear, unitLinspace } from '../../../src/core/preprocess/binning';
import { remapColumns, toFloat64 } from '../../../src/core/preprocess/blocks';
import { loessFit } from '../../../src/core/preprocess/hvg';
import { MT19937 } from '../../../src/core/random/mt19937';
import type { CsrMatrix } from '../../../src/core/sparse';
import { runPythonJson } from '../../helpers/shared';

interface Answers {
  quantiles: number[][];
  digitize: { left: number[]; right: number[] }[];
  binning: number[][][];
  loess: number[][];
}

function denseToCsr(rows: number[][]): CsrMatrix {
  const indptr = [0];
  const indices: number[] = [];
  const data: number[] = [];
  for (const row of rows) {
    row.forEach((v, c) => {
      if (v !== 0) {
        indices.push(c);
        data.push(v);
      }
    });
    indptr.push(indices.length);
  }
  return { nRows: rows.length, nCols: rows[0].length, indptr: Int32Array.from(indptr), indices: Int32Array.from(indices), data: Float32Array.from(data) };
}

describe('preprocessing primitives vs numpy', () => {
  const rng = new MT19937(12345);
  const f32 = (v: number) => Math.fround(v);
  // Values spanning 7 decades (float32 rounding of b - a matters there), heavy ties, and the smallest cases.
  const quantileCases = [
    { values: Array.from({ length: 300 }, () => f32(10 ** rng.uniform(-3, 4))), dtype: 'float32', nBins: 51 },
    { values: Array.from({ length: 300 }, () => 10 ** rng.uniform(-3, 4)), dtype: 'float64', nBins: 51 },
    { values: Array.from({ length: 97 }, () => f32(1 + rng.randint(0, 4))), dtype: 'float32', nBins: 51 },
    { values: [f32(2.5)], dtype: 'float32', nBins: 51 },
    { values: [f32(0.1), f32(7)], dtype: 'float32', nBins: 51 },
    { values: Array.from({ length: 20 }, () => f32(rng.uniform(0, 1))), dtype: 'float32', nBins: 3 },
    { values: Array.from({ length: 5000 }, () => f32(Math.log1p(rng.randint(1, 60)))), dtype: 'float32', nBins: 101 },
  ];
  const digitizeCases = [
    { x: [0, 1, 1.5, 2, 2, 3, 9], edges: [1, 2, 2, 2, 3] },
    { x: [5, 5, 5], edges: [5, 5, 5, 5] },
  ];
  // Rows with ties, a single non-zero value, an empty row, identical values: all exercise the random spread.
  const binningRows = [
    Array.from({ length: 40 }, () => (rng.randomSample() < 0.4 ? f32(Math.log1p(rng.randint(1, 5))) : 0)),
    [0, 0, f32(3.25), 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0],
    [1, 1, 1, 1, 0, 1, 1, 1],
    Array.from({ length: 40 }, () => f32(rng.uniform(0, 10))),
  ].map(r => {
    const width = 40;
    return [...r, ...new Array(width - r.length).fill(0)];
  });
  const binningCases = [{ rows: binningRows, nBins: 51, seed: 0 }, { rows: binningRows, nBins: 5, seed: 42 }];
  const loessX = Array.from({ length: 400 }, () => Math.round(rng.uniform(-3, 2) * 20) / 20);
  const loessCases = [
    { x: loessX, y: loessX.map(x => 0.3 + 1.2 * x + 0.25 * x * x + 0.2 * rng.standardNormal()), span: 0.3 },
    { x: loessX, y: loessX.map(x => Math.sin(x) + 0.1 * rng.standardNormal()), span: 0.9 },
    // Half the points share one x: q nearest at that x are all at distance 0 (h = 0).
    { x: loessX.map((x, i) => (i % 2 ? 0.5 : x)), y: loessX.map(x => x + 0.1 * rng.standardNormal()), span: 0.3 },
  ];
  let answers: Answers;

  before(() => {
    answers = runPythonJson<Answers>('preprocess_primitives.py', [], JSON.stringify({
      quantiles: quantileCases, digitize: digitizeCases, binning: binningCases, loess: loessCases,
    }));
  });

  it('np.linspace(0, 1, n) is reproduced exactly', () => {
    const q = unitLinspace(50);
    assert.strictEqual(q[0], 0);
    assert.strictEqual(q[49], 1);
    assert.strictEqual(q[7], 7 * (1 / 49));
  });

  it('quantile edges equal np.quantile bit for bit, float32 and float64 data', () => {
    quantileCases.forEach((c, i) => {
      const sorted = Float64Array.from(c.values).sort();
      const got = quantilesLinear(sorted, unitLinspace(c.nBins - 1), c.dtype === 'float32');
      assert.deepStrictEqual(Array.from(got), answers.quantiles[i], `case ${i}`);
    });
  });

  it('digitize matches np.digitize left and right on tied edges', () => {
    digitizeCases.forEach((c, i) => {
      const edges = Float64Array.from(c.edges);
      assert.deepStrictEqual(c.x.map(x => digitize(x, edges, false)), answers.digitize[i].left);
      assert.deepStrictEqual(c.x.map(x => digitize(x, edges, true)), answers.digitize[i].right);
    });
  });

  it('binning equals scGPT\'s with the same MT19937 stream, ties and single values included', () => {
    binningCases.forEach((c, i) => {
      const m = denseToCsr(c.rows);
      const rng2 = new MT19937(c.seed);
      const bins = binRows(toFloat64(m), c.nBins, () => rng2.randomSample(), true);
      const dense = c.rows.map(r => r.map(() => 0));
      for (let r = 0; r < m.nRows; r++) for (let k = m.indptr[r]; k < m.indptr[r + 1]; k++) dense[r][m.indices[k]] = bins[k];
      assert.deepStrictEqual(dense, answers.binning[i], `case ${i}`);
    });
  });

  it('the direct loess equals a numpy polyfit-based fit at every point (1e-9)', () => {
    loessCases.forEach((c, i) => {
      const got = loessFit(Float64Array.from(c.x), Float64Array.from(c.y), c.span);
      answers.loess[i].forEach((v, j) => assert.ok(Math.abs(got[j] - v) <= 1e-9 * Math.max(1, Math.abs(v)), `case ${i} point ${j}: ${got[j]} vs ${v}`));
    });
  });

  it('remapping columns sums duplicates, sorts indices and drops zeros', () => {
    const m: CsrMatrix = {
      nRows: 2, nCols: 4, indptr: Int32Array.from([0, 4, 6]), indices: Int32Array.from([3, 0, 1, 2, 2, 1]),
      data: Float32Array.from([1, 2, 3, 0, 5, 6]),
    };
    // columns 0 and 3 both go to output 1; column 2 is dropped; column 1 -> 0
    const out = remapColumns(m, Int32Array.from([1, 0, -1, 1]), 2);
    assert.deepStrictEqual(Array.from(out.indptr), [0, 2, 3]);
    assert.deepStrictEqual(Array.from(out.indices), [0, 1, 0]);
    assert.deepStrictEqual(Array.from(out.data), [3, 3, 6]);
  });
});
