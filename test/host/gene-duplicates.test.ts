import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { openH5ad } from '../../src/core/h5ad/read';
import { writeH5ad } from '../../src/core/h5ad/write';
import type { PreprocessOutcome } from '../../src/host/commands/preprocess';
import { activeApi, until } from './helpers';

const WORKSPACE = vscode.workspace.workspaceFolders![0].uri.fsPath;

describe('Duplicated gene names: dataset view and Preprocess (in the real extension host)', () => {
  const dir = path.join(WORKSPACE, 'duplicated-genes-test');
  const file = path.join(dir, 'duplicated_genes.h5ad');

  before(async () => {
    fs.mkdirSync(dir, { recursive: true });
    // 4 cells x 6 columns; CD3E is on three columns (0, 2, 5) and MS4A1 on two (1, 4).
    //   c0: CD3E 1 (first column), LYZ 2    c1: MS4A1 3 (first column), CD3E 4 (second column)
    //   c2: MS4A1 5 (second column)         c3: CD3E 6 (third column)
    await writeH5ad(file, {
      X: {
        nRows: 4, nCols: 6,
        indptr: Int32Array.from([0, 2, 4, 5, 6]),
        indices: Int32Array.from([0, 3, 1, 2, 4, 5]),
        data: Float32Array.from([1, 2, 3, 4, 5, 6]),
      },
      obs: { index: ['c0', 'c1', 'c2', 'c3'], indexName: '_index', columns: [] },
      var: { index: ['CD3E', 'MS4A1', 'CD3E', 'LYZ', 'MS4A1', 'CD3E'], indexName: '_index', columns: [] },
    });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('warns in the gene identifier panel when a gene name is on more than one column', async () => {
    const api = await activeApi();
    await vscode.commands.executeCommand('scwb.dataset.open', vscode.Uri.file(file));
    const view = await until(() => api.panels.datasetViews().find(v => v.uri.fsPath === file));
    const stats = await until(() => (view.lastRenderedDetail?.stage === 'stats' ? view.lastRenderedDetail : undefined));
    assert.strictEqual(stats.duplicateGeneNames, 2);
    assert.strictEqual(stats.duplicateWarnings, 1);
    // the text shown in the panel
    assert.match(String(stats.duplicateWarning), /^2 gene names in var_names are on more than one column \(3 extra columns\), e\.g\. CD3E \(3×\), MS4A1 \(2×\)\. /);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('Preprocess with scBERT uses the first column by default and sums on request, and reports both', async () => {
    const refFile = path.join(dir, 'reference.txt');
    fs.writeFileSync(refFile, 'LYZ\nCD3E\nMS4A1\n');
    const run = async (name: string, extra: object) => {
      const outPath = path.join(dir, `${name}.h5ad`);
      const outcome = await vscode.commands.executeCommand<PreprocessOutcome>('scwb.preprocess', {
        dataset: file, outPath, recipe: { recipe: 'scbert', params: { referenceGenes: refFile, minGenes: 2, ...extra } },
      });
      assert.ok(outcome);
      const out = await openH5ad(outPath);
      try {
        return { report: outcome.report, cells: out.obs().index, genes: out.var().index };
      } finally {
        out.close();
      }
    };
    const first = await run('first', {});
    // Only c0 has 2 genes in their first columns; c1's CD3E is in a later column.
    assert.deepStrictEqual(first.cells, ['c0']);
    assert.deepStrictEqual(first.genes, ['LYZ', 'CD3E', 'MS4A1']);
    assert.deepStrictEqual([first.report.duplicateColumns, first.report.duplicatedGenes, first.report.duplicateGenesRule], [3, 2, 'first']);
    const summed = await run('sum', { duplicateGenes: 'sum' });
    assert.deepStrictEqual(summed.cells, ['c0', 'c1']);
    assert.deepStrictEqual([summed.report.duplicateColumns, summed.report.duplicateGenesRule], [3, 'sum']);
  });
});
