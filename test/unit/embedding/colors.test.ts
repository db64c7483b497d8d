/** Colouring the laid-out points by obs columns of every kind, missing values included. */
import * as assert from 'assert';
import { obsColumns, pointColors } from '../../../src/core/embedding/colors';
import type { DataFrame } from '../../../src/core/h5ad/types';

const df: DataFrame = {
  index: ['a', 'b', 'c', 'd', 'e'], indexName: '_index',
  columns: [
    { kind: 'numeric', name: 'n_counts', dtype: 'float64', values: new Float64Array([5, NaN, 1, 9, 3]) },
    { kind: 'categorical', name: 'cell_type', categories: ['B', 'T', 'NK'], codes: new Int32Array([1, -1, 0, 1, 0]), ordered: false },
    { kind: 'string', name: 'donor', values: ['d2', 'd1', 'd2', 'd3', 'd1'] },
    { kind: 'boolean', name: 'is_doublet', values: new Uint8Array([0, 1, 0, 0, 1]) },
    { kind: 'nullable-integer', name: 'batch', values: new Float64Array([1, 2, 0, 4, 2]), mask: new Uint8Array([0, 0, 1, 0, 0]) },
  ],
};

describe('embedding: point colours', () => {
  it('offers label candidates first (a categorical column), then the rest in file order, each with its scale', () => {
    assert.deepStrictEqual(obsColumns(df).map(c => [c.name, c.scale, c.nCategories]), [
      ['cell_type', 'categorical', 3], ['n_counts', 'numeric', null], ['donor', 'categorical', 3],
      ['is_doublet', 'categorical', 2], ['batch', 'numeric', null],
    ]);
  });

  it('categorical: only the categories the laid-out points have, in the column order; missing = -1', () => {
    assert.deepStrictEqual(pointColors(df, 'cell_type', [0, 1, 3], 'f.h5ad'), { scale: 'categorical', column: 'cell_type', categories: ['T'], codes: [0, -1, 0] });
    assert.deepStrictEqual(pointColors(df, 'cell_type', [0, 1, 2, 3, 4], 'f.h5ad'), { scale: 'categorical', column: 'cell_type', categories: ['B', 'T'], codes: [1, -1, 0, 1, 0] });
  });

  it('strings sorted, booleans False/True', () => {
    assert.deepStrictEqual(pointColors(df, 'donor', [0, 1, 2, 3, 4], 'f.h5ad'), { scale: 'categorical', column: 'donor', categories: ['d1', 'd2', 'd3'], codes: [1, 0, 1, 2, 0] });
    assert.deepStrictEqual(pointColors(df, 'is_doublet', [1, 2], 'f.h5ad'), { scale: 'categorical', column: 'is_doublet', categories: ['False', 'True'], codes: [1, 0] });
  });

  it('numeric: values with null for NaN or masked, and the range of the rest', () => {
    assert.deepStrictEqual(pointColors(df, 'n_counts', [0, 1, 2, 3, 4], 'f.h5ad'), { scale: 'numeric', column: 'n_counts', values: [5, null, 1, 9, 3], min: 1, max: 9 });
    assert.deepStrictEqual(pointColors(df, 'batch', [0, 2, 4], 'f.h5ad'), { scale: 'numeric', column: 'batch', values: [1, null, 2], min: 1, max: 2 });
    assert.deepStrictEqual(pointColors(df, 'n_counts', [1], 'f.h5ad'), { scale: 'numeric', column: 'n_counts', values: [null], min: 0, max: 0 });
  });

  it('an unknown column is an error naming the file and the columns there are', () => {
    assert.throws(() => pointColors(df, 'nope', [0], '/d/f.h5ad'), /\/d\/f\.h5ad: obs has no column 'nope' \(columns: n_counts, cell_type, donor, is_doublet, batch\)/);
  });
});
