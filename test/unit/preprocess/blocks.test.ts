/** The CSR block operations behind every recipe, against scipy, on rows that are unsorted and repeat columns. */
import * as assert from 'assert';
import { keptRowsFloat32, remapColumns, BlockScratch } from '../../../src/core/preprocess/blocks';
import { MT19937 } from '../../../src/core/random/mt19937';
import type { CsrMatrix } from '../../../src/core/sparse';
import { runPythonJson } from '../../helpers/shared';

interface PlainCsr { indptr: number[]; indices: number[]; data: number[] }
interface Case {
  X: CsrMatrix; colMap: Int32Array; nOut: number; keep: Uint8Array;
  targetSum: number | null; logBase: number | null; select: Int32Array | null;
}

const rng = new MT19937(2024);

/** Counts (0-30, explicit zeros included), some rows shuffled, some repeating a column, one row empty. */
function randomCounts(nRows: number, nCols: number): CsrMatrix {
  const indptr = [0];
  const indices: number[] = [];
  const data: number[] = [];
  for (let r = 0; r < nRows; r++) {
    const cols: number[] = [];
    if (r !== 3) for (let c = 0; c < nCols; c++) if (rng.randomSample() < 0.15) cols.push(c);
    if (r % 5 === 1 && cols.length > 1) cols.push(cols[0]);
    if (r % 3 === 0) cols.sort(() => rng.randomSample() - 0.5);
    for (const c of cols) {
      indices.push(c);
      data.push(rng.randomSample() < 0.05 ? 0 : rng.randint(1, 31));
    }
    indptr.push(indices.length);
  }
  return { nRows, nCols, indptr: Int32Array.from(indptr), indices: Int32Array.from(indices), data: Float32Array.from(data) };
}

/** A shuffled many-to-one map with dropped columns (scBERT's alignment with duplicate genes). */
function shuffledMap(nCols: number, nOut: number): Int32Array {
  const targets = Array.from({ length: nOut }, (_, i) => i).sort(() => rng.randomSample() - 0.5);
  const map = new Int32Array(nCols).fill(-1);
  for (let c = 0; c < nCols; c++) {
    const u = rng.randomSample();
    if (u < 0.2) continue;
    map[c] = c < nOut ? targets[c] : targets[rng.randint(0, nOut)];
  }
  return map;
}

function selection(n: number, p: number): Int32Array {
  const map = new Int32Array(n).fill(-1);
  let next = 0;
  for (let c = 0; c < n; c++) if (rng.randomSample() < p) map[c] = next++;
  return map;
}

function sameCsr(got: CsrMatrix, want: PlainCsr, what: string, rel: number): void {
  assert.deepStrictEqual(Array.from(got.indptr), want.indptr, `${what}: indptr`);
  assert.deepStrictEqual(Array.from(got.indices.subarray(0, got.indptr[got.nRows])), want.indices, `${what}: indices`);
  want.data.forEach((v, k) => assert.ok(Math.abs(got.data[k] - v) <= rel * Math.abs(v), `${what}: value ${k}: ${got.data[k]} vs ${v}`));
}

describe('preprocessing block operations vs scipy', () => {
  const cases: Case[] = [];
  const counts = randomCounts(60, 240);
  const keep = Uint8Array.from({ length: 60 }, (_, r) => (r % 7 === 2 ? 0 : 1));
  cases.push({ X: counts, colMap: shuffledMap(240, 180), nOut: 180, keep, targetSum: 1e4, logBase: 2, select: null });
  cases.push({ X: counts, colMap: selection(240, 0.6), nOut: 0, keep, targetSum: 1e4, logBase: null, select: null });
  cases[1].nOut = Math.max(...cases[1].colMap) + 1;
  cases.push({ X: counts, colMap: selection(240, 0.8), nOut: 0, keep, targetSum: 1e4, logBase: null, select: null });
  cases[2].nOut = Math.max(...cases[2].colMap) + 1;
  cases[2].select = selection(cases[2].nOut, 0.3);
  cases.push({ X: counts, colMap: shuffledMap(240, 100), nOut: 100, keep: new Uint8Array(60).fill(1), targetSum: null, logBase: null, select: null });

  const plain = (a: ArrayLike<number>) => Array.from(a);
  const answers = runPythonJson<{ remapped: PlainCsr; kept: PlainCsr }[]>('preprocess_blocks.py', [], JSON.stringify({
    cases: cases.map(c => ({
      X: { nRows: c.X.nRows, nCols: c.X.nCols, indptr: plain(c.X.indptr), indices: plain(c.X.indices), data: plain(c.X.data) },
      colMap: plain(c.colMap), nOut: c.nOut, keep: plain(c.keep), targetSum: c.targetSum, logBase: c.logBase,
      select: c.select ? plain(c.select) : null,
    })),
  }));

  it('remapColumns sums repeated and merged columns, sorts each row and drops zeros, with or without a scratch', () => {
    const scratch = new BlockScratch();
    cases.forEach((c, i) => {
      sameCsr(remapColumns(c.X, c.colMap, c.nOut), answers[i].remapped, `case ${i}`, 0);
      // twice through the same scratch: the second result must not see the first's leftovers
      remapColumns(c.X, c.colMap, c.nOut, scratch);
      sameCsr(remapColumns(c.X, c.colMap, c.nOut, scratch), answers[i].remapped, `case ${i} (scratch)`, 0);
    });
  });

  it('keptRowsFloat32 equals keep + normalize_total + log1p (+ column selection) in float32', () => {
    cases.forEach((c, i) => {
      const aligned = remapColumns(c.X, c.colMap, c.nOut);
      const X = keptRowsFloat32(aligned, c.keep, { targetSum: c.targetSum, ...(c.logBase === null ? {} : { logBase: c.logBase }) },
        c.select ? { colMap: c.select, nOut: Math.max(...c.select) + 1 } : undefined);
      assert.ok(X.data instanceof Float32Array);
      sameCsr(X, answers[i].kept, `case ${i}`, 1e-6);
    });
  });
});
