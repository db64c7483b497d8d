/** `scwb inspect` through the CLI entry (main() with a capturing io), text and --json, and its error path. */
import * as assert from 'assert';
import { main } from '../../../src/cli/main';
import { openH5ad } from '../../../src/core/h5ad/read';
import type { DatasetSummary } from '../../../src/core/h5ad/types';
import { h5adPath, runPythonJson } from '../../helpers/shared';

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: t => { out += t; }, err: t => { err += t; } });
  return { code, out, err };
}

describe('scwb inspect', () => {
  const file = h5adPath('scanpy_pbmc68k_reduced_2025.h5ad');

  it('prints shape, X storage, columns with categories, layers, raw, obsm and uns as anndata sees them', async () => {
    const ref = runPythonJson<Record<string, { shape: number[]; obs: { columns: Record<string, { kind: string; categories?: string[] }> }; obsm: Record<string, { shape: number[] }>; uns: string[] }>>(
      'h5ad_read_reference.py', [file])[file];
    const { code, out, err } = await run(['inspect', file]);
    assert.strictEqual(code, 0, err);
    assert.strictEqual(err, '');
    assert.match(out, new RegExp(`${ref.shape[0]} cells x ${ref.shape[1]} genes`));
    assert.match(out, /X: dense float32 700 x 765, gzip/);
    assert.match(out, /raw: 765 genes, X CSR float32 700 x 765, 174,400 stored values/);
    for (const [name, col] of Object.entries(ref.obs.columns)) {
      const line = out.split('\n').find(l => l.trim().startsWith(name + ' '));
      assert.ok(line, `a line for obs column ${name}`);
      assert.ok(line.includes(col.kind), `${name} is ${col.kind}: ${line}`);
      if (col.categories) assert.ok(line.includes(`${col.categories.length} categories: ${col.categories[0]}`), line);
    }
    for (const [name, o] of Object.entries(ref.obsm)) assert.ok(out.includes(`${name}: ${o.shape.join(' x ')}`), `obsm ${name}`);
    assert.ok(out.includes(`uns: ${ref.uns.join(', ')}`));
  });

  it('--json prints the DatasetSummary', async () => {
    const { code, out } = await run(['inspect', file, '--json']);
    assert.strictEqual(code, 0);
    const reader = await openH5ad(file);
    const expected = reader.summary();
    reader.close();
    assert.deepStrictEqual(JSON.parse(out) as DatasetSummary, JSON.parse(JSON.stringify(expected)));
  });

  it('exits 1 with "scwb inspect: <file>: <problem>" on a bad file, 2 on bad usage', async () => {
    const tenx = h5adPath('10x_v3_filtered_feature_bc_matrix.h5');
    const bad = await run(['inspect', tenx]);
    assert.strictEqual(bad.code, 1);
    assert.strictEqual(bad.out, '');
    assert.match(bad.err, new RegExp(`^scwb inspect: ${tenx.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: this looks like a 10x Genomics`));
    const usage = await run(['inspect']);
    assert.strictEqual(usage.code, 2);
    assert.match(usage.err, /give exactly one \.h5ad file/);
  });
});
