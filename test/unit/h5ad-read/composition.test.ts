import * as assert from 'assert';
import { composition, MAX_NUMERIC_VALUES } from '../../../src/core/h5ad/stats';

describe('composition of numeric obs columns (issue 10)', () => {
  it('bins a numeric column with many distinct values (n_counts) into round ranges', () => {
    const values = Float64Array.from({ length: 3000 }, (_, i) => 500 + ((i * 7919) % 4500) + (i % 3) * 0.5);
    values[10] = NaN;
    const comp = composition({ kind: 'numeric', name: 'n_counts', dtype: 'float32', values });
    assert.strictEqual(comp.binned, true);
    assert.ok(comp.counts.length >= 5 && comp.counts.length <= 25, `${comp.counts.length} bars`);
    assert.strictEqual(comp.nMissing, 1);
    assert.strictEqual(comp.counts.reduce((a, c) => a + c.count, 0), 2999);
    // ascending, contiguous ranges with round edges
    const ranges = comp.counts.map(c => c.value.split('–').map(x => Number(x.replace(/,/g, ''))));
    for (let i = 1; i < ranges.length; i++) assert.strictEqual(ranges[i][0], ranges[i - 1][1]);
    const present = Array.from(values).filter(v => !Number.isNaN(v));
    assert.ok(ranges[0][0] <= Math.min(...present) && ranges[ranges.length - 1][1] > Math.max(...present), JSON.stringify(ranges));
    const expected = new Array(ranges.length).fill(0);
    for (const v of values) if (!Number.isNaN(v)) expected[ranges.findIndex(([lo, hi]) => v >= lo && v < hi)]++;
    assert.deepStrictEqual(comp.counts.map(c => c.count), expected);
  });

  it('keeps one bar per value when a numeric column has few values, and bins nullable integers too', () => {
    const few = composition({ kind: 'numeric', name: 'n_batch', dtype: 'int64', values: Float64Array.from([1, 2, 2, 3, 3, 3]) });
    assert.strictEqual(few.binned, undefined);
    // bars in value order (category order), not by count
    assert.deepStrictEqual(few.counts, [{ value: '1', count: 1 }, { value: '2', count: 2 }, { value: '3', count: 3 }]);
    const n = MAX_NUMERIC_VALUES + 30;
    const values = Float64Array.from({ length: n }, (_, i) => i);
    const mask = new Uint8Array(n);
    mask[0] = 1;
    const many = composition({ kind: 'nullable-integer', name: 'n_genes', values, mask });
    assert.strictEqual(many.binned, true);
    assert.strictEqual(many.nMissing, 1);
    assert.strictEqual(many.counts.reduce((a, c) => a + c.count, 0), n - 1);
  });
});
