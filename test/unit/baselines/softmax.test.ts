import * as assert from 'assert';
import type { CsrMatrix } from '../../../src/core/sparse';
import { blockOffsets, rowBlockedCscSizes, rowBlockedCscWithBias } from '../../../src/core/baselines/matrix';
import { balancedChunks, residualGradient, softmaxResiduals, softmaxResidualsWasm } from '../../../src/core/baselines/softmax';
import { WASM_MAX_CLASSES, WasmArena, wasmKernelsAvailable } from '../../../src/core/baselines/wasm';
import { runPythonJson } from '../../helpers/shared';

/** Small random sparse matrix (about 30% stored), seeded. */
function randomCsr(nRows: number, nCols: number, seed: number): CsrMatrix {
  let s = seed;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
  const indptr = new Int32Array(nRows + 1);
  const indices: number[] = [];
  const data: number[] = [];
  for (let i = 0; i < nRows; i++) {
    for (let j = 0; j < nCols; j++) {
      if (rand() < 0.3) {
        indices.push(j);
        data.push(Math.fround(rand() * 3));
      }
    }
    indptr[i + 1] = indices.length;
  }
  return { nRows, nCols, indptr, indices: Int32Array.from(indices), data: Float32Array.from(data) };
}

describe('multinomial loss and gradient by row-blocked columns vs scipy', () => {
  it('gives scipy\'s loss and gradient for every block size, identical across block sizes and column splits', () => {
    const K = 4;
    const X = randomCsr(53, 17, 11);
    const labels = Int32Array.from({ length: X.nRows }, (_, i) => (i * 7) % K);
    const W = Float64Array.from({ length: (X.nCols + 1) * K }, (_, i) => Math.sin(i) * 0.5);
    const ref = runPythonJson<{ loss: number; grad: number[] }>('logreg_softmax_grad.py', [], JSON.stringify({
      indptr: Array.from(X.indptr), indices: Array.from(X.indices), data: Array.from(X.data),
      nRows: X.nRows, nCols: X.nCols, W: Array.from(W), labels: Array.from(labels),
    }));
    const resid = new Float64Array(X.nRows * K);
    const loss = softmaxResiduals({ X, labels, rowWeight: null, nClasses: K }, 0, 20, W, resid)
      + softmaxResiduals({ X, labels, rowWeight: null, nClasses: K }, 20, X.nRows, W, resid);
    assert.ok(Math.abs(loss - ref.loss) <= 1e-9 * Math.abs(ref.loss), `loss ${loss} vs scipy ${ref.loss}`);
    let first: Float64Array | undefined;
    for (const blockRows of [1, 7, 53, 1000]) {
      const csc = rowBlockedCscWithBias(X, blockRows);
      assert.strictEqual(csc.nBlocks, Math.ceil(X.nRows / blockRows));
      assert.strictEqual(csc.colOffsets[csc.nCols], X.indptr[X.nRows] + X.nRows);
      // the offsets the row pass is split by: each block's entries, the total last
      const offsets = blockOffsets(csc);
      for (let b = 0; b < csc.nBlocks; b++) {
        const rows = Math.min(X.nRows, (b + 1) * blockRows) - b * blockRows;
        assert.strictEqual(offsets[b + 1] - offsets[b], X.indptr[b * blockRows + rows] - X.indptr[b * blockRows] + rows, `block ${b} of ${blockRows} rows`);
      }
      const grad = new Float64Array((X.nCols + 1) * K).fill(NaN);
      residualGradient(csc, K, 0, 5, resid, grad);
      residualGradient(csc, K, 5, X.nCols + 1, resid, grad);
      grad.forEach((v, i) => assert.ok(Math.abs(v - ref.grad[i]) <= 1e-9 * (1 + Math.abs(ref.grad[i])), `block ${blockRows}, entry ${i}: ${v} vs scipy ${ref.grad[i]}`));
      if (first) assert.deepStrictEqual(grad, first, `block ${blockRows} differs from block 1`);
      first = grad;
    }
  });
});

describe('splitting work by cost', () => {
  it('gives threads about equal shares of row blocks', () => {
    const X = randomCsr(400, 30, 3);
    const csc = rowBlockedCscWithBias(X, 25);
    const offsets = blockOffsets(csc);
    const chunks = balancedChunks(offsets, csc.nBlocks, 2, 8 * 25);
    assert.deepStrictEqual(chunks.map(c => c[0]).concat(chunks[1][1]), [0, chunks[1][0], 16]);
    const share = (c: [number, number]) => offsets[c[1]] - offsets[c[0]];
    assert.ok(Math.abs(share(chunks[0]) - share(chunks[1])) <= 0.15 * offsets[16], `${share(chunks[0])} vs ${share(chunks[1])}`);
  });
});

describe('multinomial loss and gradient with the WebAssembly kernels', () => {
  it('are built for 2..64 classes and refuse others', () => {
    for (const K of [2, 11, WASM_MAX_CLASSES]) assert.deepStrictEqual(wasmKernelsAvailable(K), { ok: true, why: '' });
    assert.match(wasmKernelsAvailable(WASM_MAX_CLASSES + 1).why, /no kernel for 65 classes/);
    assert.strictEqual(wasmKernelsAvailable(1).ok, false);
  });

  it('give the same bits as the JavaScript kernels (even and odd class counts, any block size and split)', () => {
    const X = randomCsr(61, 23, 5);
    for (const K of [2, 3, 11, 64]) {
      const labels = Int32Array.from({ length: X.nRows }, (_, i) => (i * 5) % K);
      const rowWeight = Float64Array.from({ length: X.nRows }, (_, i) => 0.5 + (i % 3));
      const dim = (X.nCols + 1) * K;
      const Wjs = Float64Array.from({ length: dim }, (_, i) => Math.cos(i) * 0.7);
      const residJs = new Float64Array(X.nRows * K);
      const lossJs = softmaxResiduals({ X, labels, rowWeight, nClasses: K }, 0, X.nRows, Wjs, residJs);
      const gradJs = new Float64Array(dim);
      residualGradient(rowBlockedCscWithBias(X, 16), K, 0, X.nCols + 1, residJs, gradJs);
      for (const blockRows of [1, 9, 61]) {
        const sizes = rowBlockedCscSizes(X, blockRows);
        const arena = WasmArena.create([4 * sizes.colPtr, 4 * sizes.entries, 4 * sizes.entries, 8 * dim, 8 * X.nRows * K, 8 * dim]);
        assert.ok(arena);
        const csc = rowBlockedCscWithBias(X, blockRows, 1, arena);
        assert.strictEqual(csc.values.buffer, arena.handle.memory.buffer, 'the CSC lives in the arena');
        const W = arena.float64(dim);
        W.set(Wjs);
        const resid = arena.float64(X.nRows * K);
        const grad = arena.float64(dim).fill(NaN);
        const mid = Math.floor(csc.nBlocks / 2);
        // rows in two calls (two threads' shares), the loss summed in row order as softmaxResiduals does
        const rows = { labels, rowWeight, nClasses: K };
        const loss = softmaxResidualsWasm(csc, rows, arena.handle, 0, mid, W, resid) + softmaxResidualsWasm(csc, rows, arena.handle, mid, csc.nBlocks, W, resid);
        assert.ok(Math.abs(loss - lossJs) <= 1e-12 * Math.abs(lossJs), `K=${K} block ${blockRows}: loss ${loss} vs ${lossJs}`);
        assert.deepStrictEqual(resid, residJs, `K=${K} block ${blockRows}: residuals`);
        residualGradient(csc, K, 0, 7, resid, grad, arena.handle);
        residualGradient(csc, K, 7, X.nCols + 1, resid, grad, arena.handle);
        assert.deepStrictEqual(grad, gradJs, `K=${K} block ${blockRows}: gradient`);
      }
    }
  });

  it('refuse an arena beyond wasm32\'s 4 GiB', () => {
    assert.strictEqual(WasmArena.create([2 ** 31, 2 ** 31]), null);
  });
});
