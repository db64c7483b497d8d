import * as assert from 'assert';
import type { CsrMatrix } from '../../../src/core/sparse';
import { rowBlockedCscWithBias } from '../../../src/core/baselines/matrix';
import { residualGradient, softmaxResiduals } from '../../../src/core/baselines/softmax';
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
      const grad = new Float64Array((X.nCols + 1) * K).fill(NaN);
      residualGradient(csc, K, 0, 5, resid, grad);
      residualGradient(csc, K, 5, X.nCols + 1, resid, grad);
      grad.forEach((v, i) => assert.ok(Math.abs(v - ref.grad[i]) <= 1e-9 * (1 + Math.abs(ref.grad[i])), `block ${blockRows}, entry ${i}: ${v} vs scipy ${ref.grad[i]}`));
      if (first) assert.deepStrictEqual(grad, first, `block ${blockRows} differs from block 1`);
      first = grad;
    }
  });
});
