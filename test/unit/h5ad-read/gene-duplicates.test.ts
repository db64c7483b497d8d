/**
 * The dataset view's warning about gene names on more than one column (issue 14): counted in var_names and in var
 * columns of gene identifiers, through the datasetStats worker task on an .h5ad written by anndata, against pandas.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { duplicateNames, duplicateNamesWarning, detectGeneNamespace } from '../../../src/core/h5ad/stats';
import type { DatasetStats } from '../../../src/core/h5ad/tasks';
import { runTask } from '../../../src/core/workers/run-task';
import { h5adPath, runPythonJson, tempDir } from '../../helpers/shared';

interface Made { names: string[] }

describe('duplicated gene names in the dataset view', () => {
  let dir: string;
  let made: Made;

  before(() => {
    dir = tempDir('scwb-gene-dup-');
    made = runPythonJson<Made>('preprocess_duplicates.py', ['make', dir, '40']);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('counts duplicated names and their extra columns like pandas, examples in order of first appearance', () => {
    const names = made.names;
    // pandas: var_names.duplicated(keep=False) and value_counts, computed here by hand on the same list.
    const counts = new Map<string, number>();
    names.forEach(n => counts.set(n, (counts.get(n) ?? 0) + 1));
    const repeated = [...counts].filter(([, n]) => n > 1);
    const d = duplicateNames(names);
    assert.strictEqual(d.names, repeated.length);
    assert.strictEqual(d.names, 19, 'the generated file repeats 19 names (one of them three times)');
    assert.strictEqual(d.extraColumns, 20);
    assert.deepStrictEqual(d.examples, repeated.slice(0, 5).map(([name, count]) => ({ name, count })));
    assert.deepStrictEqual(detectGeneNamespace(names).duplicates, d);
    assert.deepStrictEqual(duplicateNames(['A', 'B', 'C']), { names: 0, extraColumns: 0, examples: [] });
  });

  it('words the warning with the count, examples and what each recipe does; none without duplicates', () => {
    const text = duplicateNamesWarning({ names: 2, extraColumns: 3, examples: [{ name: 'TBCE', count: 3 }, { name: 'MATR3', count: 2 }] }, 'var_names');
    assert.strictEqual(text,
      '2 gene names in var_names are on more than one column (3 extra columns), e.g. TBCE (3×), MATR3 (2×). ' +
      'Preprocessing with scBERT uses the first column of each, as its script does (or sums them with "duplicateGenes": "sum"); ' +
      'scGPT and the benchmark keep every column.');
    assert.match(duplicateNamesWarning({ names: 1, extraColumns: 1, examples: [{ name: 'X', count: 2 }] }, 'var column "symbol"')!,
      /^1 gene name in var column "symbol" is on more than one column \(1 extra column\), e\.g\. X \(2×\)\./);
    assert.strictEqual(duplicateNamesWarning(duplicateNames(['A', 'B']), 'var_names'), null);
  });

  it('datasetStats reports them for var_names, and none for a real file with unique names', async () => {
    const stats = await runTask<DatasetStats>('h5ad/tasks', 'datasetStats', { path: path.join(dir, 'dup.h5ad') });
    assert.deepStrictEqual(stats.geneIds.duplicates, duplicateNames(made.names));
    assert.strictEqual(stats.geneIds.namespace, 'symbol');
    const unique = await runTask<DatasetStats>('h5ad/tasks', 'datasetStats', { path: h5adPath('scanpy_pbmc68k_reduced_2025.h5ad'), maxRows: 50 });
    assert.strictEqual(unique.geneIds.duplicates.names, 0);
    assert.strictEqual(duplicateNamesWarning(unique.geneIds.duplicates, 'var_names'), null);
  });

  it('reports them for a var column of symbols beside unique Ensembl ids (symbols mapped from ids), as pandas counts them', async () => {
    const file = path.join(dir, 'dup_ids.h5ad');
    const stats = await runTask<DatasetStats>('h5ad/tasks', 'datasetStats', { path: file });
    assert.strictEqual(stats.geneIds.namespace, 'ensembl-human');
    assert.strictEqual(stats.geneIds.duplicates.names, 0, 'the ids are unique');
    const symbols = stats.geneIds.alternatives.find(a => a.column === 'gene_symbols');
    assert.ok(symbols, `alternatives: ${JSON.stringify(stats.geneIds.alternatives.map(a => a.column))}`);
    const ref = runPythonJson<{ names: number; extra: number; first: string[] }>('preprocess_duplicates.py', ['var-duplicates', file, 'gene_symbols']);
    assert.ok(ref.names > 0);
    assert.strictEqual(symbols.duplicates.names, ref.names);
    assert.strictEqual(symbols.duplicates.extraColumns, ref.extra);
    assert.deepStrictEqual(symbols.duplicates.examples.map(e => e.name), ref.first);
    assert.match(duplicateNamesWarning(symbols.duplicates, 'var column "gene_symbols"')!, /^19 gene names in var column "gene_symbols" are on more than one column \(20 extra columns\)/);
  });
});
