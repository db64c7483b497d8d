import * as assert from 'assert';
import { loadH5Wasm } from '../../src/core/h5ad/h5wasm';
import { h5adPath } from '../helpers/shared';

describe('h5wasm loader', () => {
  it('reads an LZF-compressed anndata 0.7 file through the plugin', async () => {
    const h5 = await loadH5Wasm();
    const f = new h5.File(h5adPath('anndata_v0.7.0_adata.h5ad'), 'r');
    try {
      const d = f.get('X/data') as InstanceType<H5['Dataset']>;
      assert.strictEqual(d.filters[0]?.name, 'lzf');
      const v = d.value as Float32Array;
      assert.ok(v.length > 0 && v.every(Number.isFinite));
    } finally {
      f.close();
    }
  });
});
type H5 = Awaited<ReturnType<typeof loadH5Wasm>>;
