import * as assert from 'assert';
import { openH5ad } from '../../../src/core/h5ad/read';
import { isLabelCandidate, orderColumnsForLabels } from '../../../src/core/h5ad/labels';
import type { ColumnSummary } from '../../../src/core/h5ad/types';
import { h5adPath } from '../../helpers/shared';

describe('label candidates', () => {
  it('puts categorical label-like columns first, keeping file order otherwise', () => {
    const cols: ColumnSummary[] = [
      { name: 'n_counts', kind: 'numeric', dtype: 'float32' },
      { name: 'batch', kind: 'categorical', nCategories: 3 },
      { name: 'cell_type', kind: 'categorical', nCategories: 11 },
      { name: 'barcode', kind: 'string' },
      { name: 'single', kind: 'categorical', nCategories: 1 },
      { name: 'louvain', kind: 'categorical', nCategories: 8 },
    ];
    const { candidates, ordered } = orderColumnsForLabels(cols);
    assert.deepStrictEqual(candidates, ['cell_type', 'batch', 'louvain']);
    assert.deepStrictEqual(ordered.map(c => c.name), ['cell_type', 'batch', 'louvain', 'n_counts', 'barcode', 'single']);
    assert.strictEqual(isLabelCandidate({ name: 'celltype', kind: 'string' }), true);
    assert.strictEqual(isLabelCandidate({ name: 'huge', kind: 'categorical', nCategories: 5000 }), false);
  });

  it('puts candidates with few categories before a 96-value plate well column, named or not', () => {
    const cols: ColumnSummary[] = [
      { name: 'plate_well', kind: 'categorical', nCategories: 96 },
      { name: 'cluster_fine', kind: 'categorical', nCategories: 120 },
      { name: 'cell_class', kind: 'categorical', nCategories: 4 },
      { name: 'donor', kind: 'categorical', nCategories: 2 },
    ];
    assert.deepStrictEqual(orderColumnsForLabels(cols).candidates, ['cell_class', 'donor', 'cluster_fine', 'plate_well']);
  });

  it('proposes bulk_labels first for the real pbmc68k_reduced file', async () => {
    const reader = await openH5ad(h5adPath('scanpy_pbmc68k_reduced_2025.h5ad'));
    try {
      const { candidates } = orderColumnsForLabels(reader.summary().obs);
      assert.strictEqual(candidates[0], 'bulk_labels');
      assert.ok(candidates.includes('louvain'));
    } finally {
      reader.close();
    }
  });
});
