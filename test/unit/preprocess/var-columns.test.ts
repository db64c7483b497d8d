import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { main } from '../../../src/cli/main';
import { PY_DIR, PYTHON, runPythonJson, tempDir } from '../../helpers/shared';

interface VarComparison {
  nGenesOut: number;
  nGenesIn: number;
  notInInput: number;
  columns: Record<string, { present: boolean; equal?: boolean; dtype?: string; inputDtype?: string; absentEmpty?: boolean }>;
}

describe('preprocess keeps the input\'s var columns for the kept genes (issue 10, read back with anndata)', () => {
  let dir: string;
  let input: string;
  before(() => {
    dir = tempDir();
    input = path.join(dir, 'in.h5ad');
    execFileSync(PYTHON, [path.join(PY_DIR, 'preprocess_var_columns.py'), 'make', input]);
    // GENE0..GENE39 are the input's genes; the scGPT vocabulary leaves out every third, the scBERT reference
    // adds two genes the input lacks
    const genes = Array.from({ length: 40 }, (_, i) => `GENE${i}`);
    fs.writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify(Object.fromEntries(genes.filter((_, i) => i % 3).map((g, i) => [g, i + 10]))));
    fs.writeFileSync(path.join(dir, 'reference.txt'), [...genes.slice(0, 30), 'NOTHERE1', 'NOTHERE2'].join('\n') + '\n');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const [name, params] of [
    ['benchmark with a gene filter', { recipe: 'benchmark', params: { minCountsPerGene: 1 } }],
    ['scgpt with a vocabulary and a gene filter', { recipe: 'scgpt', params: { vocab: 'vocab.json', minCountsPerGene: 1 } }],
    ['scbert with reference genes the input lacks', { recipe: 'scbert', params: { referenceGenes: 'reference.txt', minGenes: 1 } }],
  ] as const) {
    it(name, async () => {
      const recipe = path.join(dir, `${params.recipe}.json`);
      fs.writeFileSync(recipe, JSON.stringify(params));
      const out = path.join(dir, `out-${params.recipe}.h5ad`);
      let err = '';
      const code = await main(['preprocess', recipe, input, out], { out: () => undefined, err: t => { err += t; } });
      assert.strictEqual(code, 0, err);
      const cmp = runPythonJson<VarComparison>('preprocess_var_columns.py', ['compare', out, input]);
      assert.ok(cmp.nGenesOut < cmp.nGenesIn, `the recipe kept every gene (${cmp.nGenesOut})`);
      assert.strictEqual(cmp.notInInput, params.recipe === 'scbert' ? 2 : 0);
      for (const [col, c] of Object.entries(cmp.columns)) {
        assert.ok(c.present, `var column ${col} is missing from the output`);
        assert.ok(c.equal, `var column ${col} differs from the input's for the kept genes`);
        assert.ok(c.absentEmpty, `var column ${col} has values for genes the input lacks`);
        // with missing genes an integer or bool column becomes its nullable kind (Int64, boolean)
        if (!cmp.notInInput || ['gene_ids', 'feature_types', 'mean'].includes(col)) assert.strictEqual(c.dtype, c.inputDtype, `var column ${col}`);
      }
      assert.deepStrictEqual(Object.keys(cmp.columns).sort(), ['feature_types', 'gene_ids', 'is_mito', 'mean', 'n_cells']);
    });
  }
});
