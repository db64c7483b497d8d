/** The annotator's scGPT tokens equal the worker's (numpy RandomState([seed, row, salt]) draws, quantile bins). */
import * as assert from 'assert';
import { ScGPTTokenizer } from '../../../src/core/annotate/scgpt-tokens';
import { MT19937 } from '../../../src/core/random/mt19937';
import { runPythonJson } from '../../helpers/shared';

interface Ref {
  streams: { keys: number[]; rand: number[]; permutation: number[] }[];
  X: number[][];
  ids: number[];
  cells: [number[], number[]][];
}

describe('scGPT tokens in TypeScript vs the worker (numpy)', () => {
  let ref: Ref;
  before(() => { ref = runPythonJson<Ref>('scgpt_tokens_reference.py', []); });

  it('MT19937.seedArray reproduces RandomState(list of keys)', () => {
    for (const s of ref.streams) {
      const g = new MT19937(0);
      g.seedArray(s.keys);
      assert.deepStrictEqual(Array.from(g.rand(5)), s.rand, `keys ${s.keys}`);
      assert.deepStrictEqual(g.permutation(12), s.permutation, `keys ${s.keys}`);
    }
    assert.throws(() => new MT19937(0).seedArray([]), /non-empty/);
    assert.throws(() => new MT19937(0).seedArray([2 ** 32]), /between 0 and 2\*\*32 - 1/);
  });

  it('gives the worker\'s ids and binned values, cell for cell (ties, sampling of long cells, an empty cell)', () => {
    const t = new ScGPTTokenizer({ geneIds: ref.ids, clsId: 7, padId: 8, padValue: -2, maxSeqLen: 20, seed: 2024, binHere: true, nBins: 51 });
    let sampled = 0;
    ref.X.forEach((row, i) => {
      const c = t.cell(Float32Array.from(row), i + 1000);
      assert.deepStrictEqual(Array.from(c.ids), ref.cells[i][0], `cell ${i} ids`);
      assert.deepStrictEqual(Array.from(c.vals), ref.cells[i][1], `cell ${i} values`);
      if (row.filter((v, k) => v !== 0 && ref.ids[k] >= 0).length > 19) sampled++;
    });
    assert.ok(sampled > 5, 'long cells are sampled');
    assert.deepStrictEqual(ref.cells[0], [[7], [0]]);
    const b = t.batch([t.cell(Float32Array.from(ref.X[1]), 1001), t.cell(Float32Array.from(ref.X[0]), 1000)]);
    assert.strictEqual(b.length, 20);
    assert.deepStrictEqual(Array.from(b.mask.subarray(20, 23)), [0, 1, 1]);
    assert.deepStrictEqual(Array.from(b.vals.subarray(20, 23)), [0, -2, -2]);
    assert.strictEqual(b.ids[21], 8n);
  });
});
