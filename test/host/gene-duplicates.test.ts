import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { writeH5ad } from '../../src/core/h5ad/write';
import { activeApi, until } from './helpers';

const WORKSPACE = vscode.workspace.workspaceFolders![0].uri.fsPath;

describe('Dataset view: duplicated gene names (in the real extension host)', () => {
  it('warns in the gene identifier panel when a gene name is on more than one column', async () => {
    const api = await activeApi();
    const file = path.join(WORKSPACE, 'duplicated_genes.h5ad');
    // 4 cells x 6 columns; CD3E is on three columns and MS4A1 on two.
    const names = ['CD3E', 'MS4A1', 'CD3E', 'LYZ', 'MS4A1', 'CD3E'];
    await writeH5ad(file, {
      X: {
        nRows: 4, nCols: 6,
        indptr: Int32Array.from([0, 2, 4, 5, 6]),
        indices: Int32Array.from([0, 3, 1, 2, 4, 5]),
        data: Float32Array.from([1, 2, 3, 4, 5, 6]),
      },
      obs: { index: ['c0', 'c1', 'c2', 'c3'], indexName: '_index', columns: [] },
      var: { index: names, indexName: '_index', columns: [] },
    });
    try {
      await vscode.commands.executeCommand('scwb.dataset.open', vscode.Uri.file(file));
      const view = await until(() => api.panels.datasetViews().find(v => v.uri.fsPath === file));
      const stats = await until(() => (view.lastRenderedDetail?.stage === 'stats' ? view.lastRenderedDetail : undefined));
      assert.strictEqual(stats.duplicateGeneNames, 2);
      assert.strictEqual(stats.duplicateWarnings, 1);
      // the text shown in the panel
      assert.match(String(stats.duplicateWarning), /^2 gene names in var_names are on more than one column \(3 extra columns\), e\.g\. CD3E \(3×\), MS4A1 \(2×\)\. /);
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
});
