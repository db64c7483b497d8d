import * as assert from 'assert';
import type { CsrMatrix } from '../../../src/core/sparse';
import { l1Objective, solveL1Binary, xorshift, type L1BinaryResult } from '../../../src/core/baselines/l1-binary';
import { l1GroupScratch, l1GroupScratchSizes, solveL1Group, type L1GroupMember } from '../../../src/core/baselines/l1-group';
import { cscWithBias, rowBlockedCscSizes, rowBlockedCscWithBias, type CscWithBias } from '../../../src/core/baselines/matrix';
import { WasmArena, l1KernelsAvailable } from '../../../src/core/baselines/wasm';

/** Sparse overlapping classes: each class raises a few marker features; every row also carries noise features. */
function simulate(rows: number, cols: number, classes: number, seed: number): { X: CsrMatrix; y: Int32Array } {
  const rand = xorshift(seed);
  const u = () => rand() / 2 ** 32;
  const y = new Int32Array(rows);
  const indptr = new Int32Array(rows + 1);
  const indices: number[] = [];
  const data: number[] = [];
  for (let i = 0; i < rows; i++) {
    // unequal class sizes, like cell types
    const c = Math.min(classes - 1, Math.floor(classes * u() * u() * 1.6));
    y[i] = c;
    for (let j = 0; j < cols; j++) {
      const marker = Math.floor(j / 4) % classes === c;
      if (u() < (marker ? 0.45 : 0.12)) {
        indices.push(j);
        data.push(Math.log1p(1 + 6 * u()));
      }
    }
    indptr[i + 1] = indices.length;
  }
  return { X: { nRows: rows, nCols: cols, indptr, indices: Int32Array.from(indices), data: Float32Array.from(data) }, y };
}

function members(y: Int32Array, classes: number, C: number): L1GroupMember[] {
  return Array.from({ length: classes }, (_, k) => {
    const pos = y.filter(v => v === k).length;
    return { positive: k, Cp: C, Cn: C, eps: (1e-4 * Math.max(Math.min(pos, y.length - pos), 1)) / y.length };
  });
}

function solveGroup(X: CsrMatrix, y: Int32Array, group: L1GroupMember[], seed: number): L1BinaryResult[] {
  const l = X.nRows;
  const n = X.nCols + 1;
  const sizes = rowBlockedCscSizes(X, l);
  const arena = WasmArena.create([4 * sizes.colPtr, 4 * sizes.entries, 4 * sizes.entries, ...l1GroupScratchSizes(l, n, group.length)]);
  assert.ok(arena, 'wasm arena');
  const csc = rowBlockedCscWithBias(X, l, 1, arena);
  const scratch = l1GroupScratch(arena, l, n, group.length);
  return solveL1Group({ csc, labels: y, members: group, maxNewtonIter: 100, seed, wasm: arena.handle, scratch });
}

/**
 * Largest violation of the optimality conditions of  ||w||_1 + sum_i C_i log(1 + exp(-y_i w.x_i)):  |g_j| <= 1 where
 * w_j = 0, g_j = -sign(w_j) elsewhere (g the loss gradient), relative to the largest |g_j| at w = 0.
 */
function kktViolation(csc: CscWithBias, y: Int32Array, m: L1GroupMember, w: Float64Array): number {
  const margin = new Float64Array(csc.nRows);
  for (let j = 0; j < csc.nCols; j++) {
    for (let k = csc.colPtr[j]; k < csc.colPtr[j + 1]; k++) margin[csc.rowIdx[k]] += w[j] * csc.values[k];
  }
  const gradAt = (mg: Float64Array) => {
    const r = new Float64Array(csc.nRows);
    for (let i = 0; i < csc.nRows; i++) {
      const pos = y[i] === m.positive;
      const p = 1 / (1 + Math.exp(-mg[i]));
      r[i] = (pos ? m.Cp : m.Cn) * (p - (pos ? 1 : 0));
    }
    return Array.from({ length: csc.nCols }, (_, j) => {
      let g = 0;
      for (let k = csc.colPtr[j]; k < csc.colPtr[j + 1]; k++) g += csc.values[k] * r[csc.rowIdx[k]];
      return g;
    });
  };
  const g0 = gradAt(new Float64Array(csc.nRows));
  const g = gradAt(margin);
  let worst = 0;
  for (let j = 0; j < csc.nCols; j++) {
    const v = w[j] === 0 ? Math.max(0, Math.abs(g[j]) - 1) : Math.abs(g[j] + Math.sign(w[j]));
    worst = Math.max(worst, v);
  }
  return worst / Math.max(...g0.map(Math.abs));
}

describe('grouped one-vs-rest L1 solver (WebAssembly kernels)', () => {
  const { X, y } = simulate(900, 120, 5, 11);
  const csc = cscWithBias(X, 1);
  const all = members(y, 5, 0.1);

  it('has its kernels built', () => {
    assert.deepStrictEqual(l1KernelsAvailable(), { ok: true, why: '' });
  });

  it('reaches the single-problem solver\'s optimum for every problem of a group, and its optimality conditions', () => {
    const single = all.map((m, k) => solveL1Binary({ csc, labels: y, ...m, maxNewtonIter: 100, seed: 1 + k }));
    for (const G of [1, 2, 5]) {
      for (let start = 0; start < all.length; start += G) {
        const group = all.slice(start, start + G);
        const res = solveGroup(X, y, group, 7);
        res.forEach((r, g) => {
          const k = start + g;
          const m = all[k];
          assert.ok(r.converged, `G=${G} problem ${k} converged`);
          const recomputed = l1Objective(csc, y, m.positive, m.Cp, m.Cn, r.w);
          assert.ok(Math.abs(recomputed - r.objective) <= 1e-9 * recomputed, `G=${G} problem ${k}: reported ${r.objective} vs ${recomputed}`);
          assert.ok(Math.abs(r.objective - single[k].objective) <= 1e-4 * single[k].objective,
            `G=${G} problem ${k}: ${r.objective} vs single ${single[k].objective}`);
          assert.ok(kktViolation(csc, y, m, r.w) < 0.01, `G=${G} problem ${k}: optimality conditions`);
          assert.ok(r.w.some(v => v === 0) && r.w.some(v => v !== 0), `G=${G} problem ${k}: sparse, not empty`);
        });
      }
    }
  });

  it('gives the same result for the same group and seed (fresh memory each time)', () => {
    const a = solveGroup(X, y, all.slice(0, 3), 5);
    const b = solveGroup(X, y, all.slice(0, 3), 5);
    assert.deepStrictEqual(a.map(r => Array.from(r.w)), b.map(r => Array.from(r.w)));
  });

  it('stops with CancelledError when asked', () => {
    let polls = 0;
    const l = X.nRows;
    const n = X.nCols + 1;
    const sizes = rowBlockedCscSizes(X, l);
    const arena = WasmArena.create([4 * sizes.colPtr, 4 * sizes.entries, 4 * sizes.entries, ...l1GroupScratchSizes(l, n, 2)]);
    assert.ok(arena);
    const problem = {
      csc: rowBlockedCscWithBias(X, l, 1, arena), labels: y, members: all.slice(0, 2), maxNewtonIter: 100, seed: 1,
      wasm: arena.handle, scratch: l1GroupScratch(arena, l, n, 2),
    };
    assert.throws(() => solveL1Group(problem, { shouldStop: () => ++polls > 3 }), { name: 'CancelledError' });
    assert.strictEqual(polls, 4);
  });
});
