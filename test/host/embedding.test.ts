/**
 * Show Embedding Plot on a run folder with embeddings.npy: offered on the run in the Runs view, it opens the panel,
 * computes the UMAP layout in a worker thread, colours it by the run's label column and, on request, by a numeric
 * obs column; the layout is cached in umap.json and read back when the plot is opened again.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { EmbeddingPanel } from '../../src/host/panels/embedding';
import { activeApi, until } from './helpers';

const WORKSPACE = vscode.workspace.workspaceFolders![0].uri.fsPath;
const PYTHON = vscode.workspace.getConfiguration('scwb').get<string>('pythonPath', '') || '/usr/bin/python3';
const ROOT = path.resolve(__dirname, '..', '..', '..');
const N = 150;
const K = 3;

describe('Embedding plot (in the real extension host)', () => {
  const dir = path.join(WORKSPACE, 'embedding-demo');
  const dataset = path.join(dir, 'clusters.h5ad');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('opens from the Runs view on a run with embeddings.npy, colours by obs columns and caches the layout', async () => {
    const api = await activeApi();
    const store = api.runs.store!;
    fs.mkdirSync(dir, { recursive: true });
    const run = await store.create({
      kind: 'baseline', name: 'host embedding run', experiment: 'host test embedding',
      dataset: { path: dataset, sha256: '0'.repeat(64) }, labelColumn: 'cell_type',
      split: { kind: 'stratified', testSize: 0.3, seed: 0 }, seed: 0, fraction: 1,
      model: { family: 'baseline', label: 'probe', variant: '' }, parameters: {}, codeVersion: '0.1.0', status: 'completed',
    });
    const plain = await store.create({
      kind: 'baseline', name: 'host run without embeddings', experiment: 'host test embedding',
      dataset: { path: dataset, sha256: '0'.repeat(64) }, labelColumn: 'cell_type',
      split: { kind: 'stratified', testSize: 0.3, seed: 0 }, seed: 1, fraction: 1,
      model: { family: 'baseline', label: 'probe', variant: '' }, parameters: {}, codeVersion: '0.1.0', status: 'completed',
    });
    try {
      const made = JSON.parse(execFileSync(PYTHON, [path.join(ROOT, 'test', 'python', 'embedding_reference.py'), 'clusters',
        store.runDir(run.id), String(N), '16', String(K), '4', dataset], { encoding: 'utf8' })) as { labels: number[] };

      // The Runs view marks the run with embeddings; the menus offer the command there (and not on the other run).
      api.runs.refresh();
      const exp = await until(async () => (await api.runs.getChildren()).find(e => e.kind === 'experiment' && e.group.name === 'host test embedding'));
      const nodes = await until(async () => { const c = await api.runs.getChildren(exp); return c.length === 2 ? c : undefined; });
      const node = nodes.find(n => n.kind === 'run' && n.run.id === run.id)!;
      const other = nodes.find(n => n.kind === 'run' && n.run.id === plain.id)!;
      const context = api.runs.getTreeItem(node).contextValue!;
      assert.strictEqual(context, 'scwb.run.completed.embedding');
      assert.strictEqual(api.runs.getTreeItem(other).contextValue, 'scwb.run.completed');
      const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { contributes: { menus: Record<string, { command: string; when?: string; group?: string }[]> } };
      const entries = pkg.contributes.menus['view/item/context'].filter(m => m.command === 'scwb.runs.showEmbedding');
      assert.deepStrictEqual(entries.map(e => e.group).sort(), ['inline', 'navigation@2']);
      const regexOf = (when: string) => { const m = /viewItem =~ \/(.*)\/(?:\s|$)/.exec(when)!; return new RegExp(m[1]); };
      for (const e of entries) {
        assert.ok(regexOf(e.when!).test(context) && !regexOf(e.when!).test('scwb.run.completed'), e.when);
      }
      // Delete is still offered on a run with embeddings.
      const del = pkg.contributes.menus['view/item/context'].find(m => m.command === 'scwb.runs.delete')!;
      assert.ok(regexOf(del.when!).test(context));

      await vscode.commands.executeCommand('scwb.runs.showEmbedding', node);
      const panel = await until(() => api.panels.embedding(run.id));
      const drawn = (p: EmbeddingPanel, check: (d: Record<string, unknown>) => boolean) =>
        until(() => (p.lastRenderedDetail && check(p.lastRenderedDetail) ? p.lastRenderedDetail : undefined));
      await panel.whenComputed();
      const state = panel.state;
      assert.strictEqual(state.status, 'ready', String(state.error));
      const plot = state.plot!;
      assert.deepStrictEqual([plot.rows, plot.dim, plot.indices.length, plot.subsampled, plot.fromCache], [N, 16, N, false, false]);
      assert.strictEqual(plot.colors?.scale, 'categorical');
      assert.strictEqual(plot.colors?.column, 'cell_type');
      if (plot.colors?.scale === 'categorical') assert.deepStrictEqual(plot.colors.codes, made.labels);
      let shown = await drawn(panel, d => d.state === 'ready');
      assert.strictEqual(shown.runId, run.id);
      assert.strictEqual(shown.points, N);
      assert.strictEqual(shown.datasets, K);
      assert.strictEqual(shown.scale, 'categorical');
      assert.strictEqual(shown.legend, 'type_0|type_1|type_2');
      assert.ok(fs.existsSync(path.join(store.runDir(run.id), 'umap.json')), 'umap.json cached in the run folder');

      // Colour by a numeric column: a colour scale, one dataset.
      const colors = await panel.selectColumn('n_counts');
      assert.strictEqual(colors?.scale, 'numeric');
      shown = await drawn(panel, d => d.column === 'n_counts');
      assert.strictEqual(shown.scale, 'numeric');
      assert.strictEqual(shown.datasets, 1);
      assert.strictEqual(shown.points, N);

      // Closed and opened again: the layout comes from umap.json, identical.
      panel.panel.dispose();
      assert.strictEqual(api.panels.embedding(run.id), undefined);
      await vscode.commands.executeCommand('scwb.runs.showEmbedding', { runId: run.id });
      const again = await until(() => api.panels.embedding(run.id));
      await again.whenComputed();
      assert.strictEqual(again.state.plot?.fromCache, true);
      assert.deepStrictEqual(again.state.plot?.x, plot.x);
      again.panel.dispose();

      // The run without embeddings opens nothing.
      assert.strictEqual(await vscode.commands.executeCommand('scwb.runs.showEmbedding', { runId: plain.id }), undefined);
      assert.strictEqual(api.panels.embedding(plain.id), undefined);
    } finally {
      await store.delete(run.id);
      await store.delete(plain.id);
    }
  });
});
