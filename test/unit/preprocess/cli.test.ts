import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { main } from '../../../src/cli/main';
import type { CliIO } from '../../../src/cli/command';
import { PYTHON, simulateH5ad, tempDir } from '../../helpers/shared';

function capture(): CliIO & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', out(t: string) { io.stdout += t; }, err(t: string) { io.stderr += t; } };
  return io;
}

describe('scwb preprocess (CLI)', () => {
  it('runs a recipe file into OUT, which anndata reads with the recipe recorded in uns', async () => {
    const dir = tempDir();
    try {
      const input = path.join(dir, 'in.h5ad');
      simulateH5ad(input, 400, 300, 2);
      const recipe = path.join(dir, 'bench.json');
      fs.writeFileSync(recipe, JSON.stringify({ recipe: 'benchmark', params: { mode: 'bin', minCountsPerGene: 5 } }));
      const out = path.join(dir, 'out.h5ad');
      const io = capture();
      assert.strictEqual(await main(['preprocess', recipe, input, out], io), 0, io.stderr);
      const report = JSON.parse(io.stdout) as { output: string; recipe: string; cellsOut: number; genesOut: number };
      assert.strictEqual(report.output, out);
      assert.strictEqual(report.recipe, 'benchmark');
      const check = execFileSync(PYTHON, ['-c', [
        'import sys, json, anndata, numpy as np',
        'a = anndata.read_h5ad(sys.argv[1]); b = anndata.read_h5ad(sys.argv[2])',
        'raw = b.X.toarray() if hasattr(b.X, "toarray") else b.X',
        'keep = np.asarray(raw.sum(0)).ravel() >= 5',
        'x = a.X.toarray()',
        'p = json.loads(a.uns["scwb_preprocess"]["params"])',
        'print(json.dumps({"shape": list(a.shape), "genes": int(keep.sum()), "maxdiff": float(np.abs(x - np.log1p(raw[:, keep])).max()), "recipe": a.uns["scwb_preprocess"]["recipe"], "mode": p["mode"], "layer": "X_binned" in a.layers}))',
      ].join('\n'), out, input], { encoding: 'utf8' });
      const py = JSON.parse(check) as { shape: number[]; genes: number; maxdiff: number; recipe: string; mode: string; layer: boolean };
      assert.deepStrictEqual(py.shape, [report.cellsOut, report.genesOut]);
      assert.strictEqual(py.genes, report.genesOut);
      assert.ok(py.maxdiff < 1e-5, `max |X - log1p(counts)| = ${py.maxdiff}`);
      assert.strictEqual(py.recipe, 'benchmark');
      assert.strictEqual(py.mode, 'bin');
      assert.strictEqual(py.layer, true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a bad recipe file by name and writes nothing', async () => {
    const dir = tempDir();
    try {
      const recipe = path.join(dir, 'bad.json');
      fs.writeFileSync(recipe, JSON.stringify({ recipe: 'scbert', params: { minGenes: -1 } }));
      const io = capture();
      const code = await main(['preprocess', recipe, path.join(dir, 'in.h5ad'), path.join(dir, 'out.h5ad')], io);
      assert.strictEqual(code, 1);
      assert.match(io.stderr, /bad\.json/);
      assert.match(io.stderr, /referenceGenes/);
      assert.deepStrictEqual(fs.readdirSync(dir), ['bad.json']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
