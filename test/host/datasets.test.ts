import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { openH5ad } from '../../src/core/h5ad/read';
import { DatasetNode } from '../../src/host/datasets/tree';
import { activeApi, until } from './helpers';

const SHARED_H5AD = vscode.workspace.getConfiguration('scwb').get<string[]>('datasetFolders', [])[0];
const WORKSPACE = vscode.workspace.workspaceFolders![0].uri.fsPath;

async function datasetItems(): Promise<{ node: DatasetNode; item: vscode.TreeItem }[]> {
  const api = await activeApi();
  const nodes = await api.datasets.list();
  return nodes.map(node => ({ node, item: api.datasets.getTreeItem(node) }));
}

describe('Datasets view and dataset view (in the real extension host)', () => {
  it('lists the .h5ad files of the configured folders with cells x genes as the reader reads them', async () => {
    const api = await activeApi();
    const expected = fs.readdirSync(SHARED_H5AD).filter(f => f.endsWith('.h5ad')).sort();
    const names = (await api.datasets.list()).map(n => path.basename(n.uri.fsPath));
    for (const f of expected) assert.ok(names.includes(f), `${f} missing from the tree: ${names.join(', ')}`);
    // The description fills in once the worker thread has read the summary.
    const file = path.join(SHARED_H5AD, 'scanpy_pbmc68k_reduced_2025.h5ad');
    const reader = await openH5ad(file);
    const s = reader.summary();
    reader.close();
    const description = await until(async () => {
      const entry = (await datasetItems()).find(d => d.node.uri.fsPath === file);
      const text = String(entry?.item.description ?? '');
      return text.includes('cells') ? text : undefined;
    });
    assert.strictEqual(description, `${s.nObs.toLocaleString('en-US')} cells × ${s.nVars.toLocaleString('en-US')} genes`);
  });

  it('shows X, obs with label candidates first, var, raw and obsm as children', async () => {
    const api = await activeApi();
    const node = (await api.datasets.list()).find(n => n.uri.fsPath.endsWith('scanpy_pbmc68k_reduced_2025.h5ad'))!;
    const children = await api.datasets.getChildren(node);
    const labels = children.map(c => String(api.datasets.getTreeItem(c).label));
    assert.deepStrictEqual(labels.slice(0, 3), ['X', 'obs', 'var']);
    assert.ok(labels.includes('raw') && labels.includes('obsm'), labels.join(', '));
    const obs = children[1];
    const columns = (await api.datasets.getChildren(obs)).map(c => api.datasets.getTreeItem(c));
    assert.strictEqual(columns[0].label, 'bulk_labels');
    assert.match(String(columns[0].description), /categorical · 10 categories/);
  });

  it('shows an unreadable file with its problem instead of failing the view', async () => {
    const api = await activeApi();
    const bad = path.join(WORKSPACE, 'broken.h5ad');
    fs.writeFileSync(bad, 'this is not an HDF5 file\n');
    try {
      api.datasets.refresh();
      const entry = await until(async () => {
        const e = (await datasetItems()).find(d => d.node.uri.fsPath === bad);
        return e && e.item.description === 'cannot be read' ? e : undefined;
      });
      const tooltip = String(entry.item.tooltip);
      assert.match(tooltip, /broken\.h5ad/);
      assert.match(tooltip, /not an HDF5 file/i);
    } finally {
      fs.rmSync(bad, { force: true });
    }
  });

  it('opens the dataset view: summary, then histograms and the composition of the label column', async () => {
    const api = await activeApi();
    const file = vscode.Uri.file(path.join(SHARED_H5AD, 'scanpy_pbmc68k_reduced_2025.h5ad'));
    await vscode.commands.executeCommand('scwb.dataset.open', file);
    const view = await until(() => api.panels.datasetViews().find(v => v.uri.fsPath === file.fsPath));
    const stats = await until(() => (view.lastRenderedDetail?.stage === 'stats' ? view.lastRenderedDetail : undefined));
    assert.strictEqual(stats.column, 'bulk_labels');
    assert.strictEqual(stats.compositionBars, 10);
    assert.strictEqual(stats.histogramBins, 50);
    // The gene overlap with the scGPT vocabulary the user points to.
    const vocab = vscode.Uri.file(path.resolve(SHARED_H5AD, '..', '..', 'reference', 'scgpt_vocab.json'));
    const overlap = await view.pickGeneList(vocab);
    assert.ok(overlap && overlap.nOverlap > 0 && overlap.nOverlap <= overlap.nDataGenes);
    const shown = await until(() => (view.lastRenderedDetail?.stage === 'overlap' ? view.lastRenderedDetail : undefined));
    assert.strictEqual(shown.nOverlap, overlap.nOverlap);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('shows a clear error in the dataset view for a file that is not AnnData', async () => {
    const api = await activeApi();
    const tenx = path.resolve(SHARED_H5AD, '10x_v3_filtered_feature_bc_matrix.h5');
    const copy = path.join(WORKSPACE, 'tenx_renamed.h5ad');
    fs.copyFileSync(tenx, copy);
    try {
      await vscode.commands.executeCommand('scwb.dataset.open', vscode.Uri.file(copy));
      const view = await until(() => api.panels.datasetViews().find(v => v.uri.fsPath === copy));
      const err = await until(() => (view.lastRenderedDetail?.stage === 'error' ? view.lastRenderedDetail : undefined));
      assert.strictEqual(err.errorStage, 'summary');
      assert.match(String(err.message), /tenx_renamed\.h5ad/);
      assert.match(String(err.message), /10x/i);
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    } finally {
      fs.rmSync(copy, { force: true });
    }
  });
});
