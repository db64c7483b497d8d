import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { main } from '../../src/cli/main';
import type { BaselineGridResult } from '../../src/core/runs/baseline';
import { currentOwner } from '../../src/core/runs/owner';
import type { RunsTreeNode } from '../../src/host/runs/tree';
import { activeApi, EXTENSION_ID, until } from './helpers';

const SHARED_H5AD = vscode.workspace.getConfiguration('scwb').get<string[]>('datasetFolders', [])[0];
const WORKSPACE = vscode.workspace.workspaceFolders![0].uri.fsPath;

describe('Run Baseline, Runs view and results panel (in the real extension host)', () => {
  let result: BaselineGridResult;

  it('runs a baseline grid into the workspace run store and opens the results beside', async () => {
    const api = await activeApi();
    result = (await vscode.commands.executeCommand<BaselineGridResult>('scwb.runBaseline', {
      datasetPath: path.join(SHARED_H5AD, 'scanpy_pbmc68k_reduced_2025.h5ad'), labelColumn: 'bulk_labels',
      split: { kind: 'stratified', testSize: 0.2, seed: 2022 }, model: { penalty: 'l1', C: 0.1 },
      fractions: [0.5, 1], seeds: [0, 1], experiment: 'host test baseline',
    }))!;
    assert.strictEqual(result.runs.length, 4);
    assert.ok(result.runs.every(r => r.status === 'completed'), JSON.stringify(result.runs.map(r => r.error)));
    assert.strictEqual(result.storeRoot, path.join(WORKSPACE, '.scwb', 'runs'));
    for (const r of result.runs) assert.ok(fs.existsSync(path.join(result.storeRoot, r.id, 'metrics.json')));
    const panel = await until(() => api.panels.results());
    const model = await until(() => panel.currentModel?.experiments.find(e => e.experiment === 'host test baseline'));
    assert.deepStrictEqual(model.rows.map(r => [r.fraction, r.n]), [[0.5, 2], [1, 2]]);
    // The webview drew the table and the confusion matrix of the first row (bulk_labels has 10 classes).
    const shown = await until(() => (panel.lastRenderedDetail?.experiment === 'host test baseline' && Number(panel.lastRenderedDetail.confusionClasses) > 0 ? panel.lastRenderedDetail : undefined));
    assert.strictEqual(shown.rows, 2);
    assert.strictEqual(shown.curveSeries, 1);
    const classes = new Set(result.runs.flatMap(r => r.metrics?.classes ?? []));
    assert.strictEqual(shown.confusionClasses, classes.size);
  });

  it('shows live progress of a running run in the Runs view', async () => {
    // A run as a runner keeps it: owned by a live process (this one), status running, progress appended to
    // events.jsonl. The view must follow the file as it grows, without a race against a real fit's speed.
    const api = await activeApi();
    const store = api.runs.store!;
    const run = await store.create({
      kind: 'baseline', name: '', experiment: 'host test progress',
      dataset: { path: path.join(SHARED_H5AD, 'scanpy_pbmc68k_reduced_2025.h5ad'), sha256: '0'.repeat(64) }, labelColumn: 'bulk_labels',
      split: { kind: 'stratified', testSize: 0.2, seed: 2022 }, seed: 0, fraction: 1,
      model: { family: 'LR', label: 'LR L1 C=0.1', variant: '' }, parameters: {}, codeVersion: '0.1.0',
      status: 'running', owner: currentOwner(),
    });
    const describe = async () => {
      const exp = (await api.runs.getChildren()).find(e => e.kind === 'experiment' && e.group.name === 'host test progress');
      const node = exp ? (await api.runs.getChildren(exp)).find(n => n.kind === 'run' && n.run.id === run.id) : undefined;
      return node ? String(api.runs.getTreeItem(node).description) : undefined;
    };
    await store.appendEvent(run.id, { type: 'progress', fraction: 0.42, message: 'fitting' });
    assert.strictEqual(await until(async () => { const d = await describe(); return d?.includes('42%') ? d : undefined; }), '42% · running');
    await store.appendEvent(run.id, { type: 'progress', fraction: 0.8, message: 'predicting' });
    assert.strictEqual(await until(async () => { const d = await describe(); return d?.includes('80%') ? d : undefined; }), '80% · running');
    await store.update(run.id, { status: 'cancelled', endedAt: new Date().toISOString() });
    assert.strictEqual(await until(async () => { const d = await describe(); return d === 'cancelled' ? d : undefined; }), 'cancelled');
    await store.delete(run.id);
  });

  it('lists the runs grouped by experiment with their accuracy', async () => {
    const api = await activeApi();
    const experiments = await api.runs.getChildren();
    const exp = experiments.find(e => e.kind === 'experiment' && e.group.name === 'host test baseline')!;
    assert.ok(exp);
    const runs = await api.runs.getChildren(exp) as Extract<RunsTreeNode, { kind: 'run' }>[];
    assert.strictEqual(runs.length, 4);
    for (const node of runs) {
      const outcome = result.runs.find(r => r.id === node.run.id)!;
      assert.strictEqual(api.runs.getTreeItem(node).description, `accuracy ${outcome.metrics!.accuracy.toFixed(3)} · macro-F1 ${outcome.metrics!.macroF1.toFixed(3)}`);
    }
  });

  it('shows the same table as `scwb results`', async () => {
    const api = await activeApi();
    const panel = api.panels.results()!;
    let cli = '';
    const code = await main(['results', result.storeRoot, '--experiment', 'host test baseline', '--format', 'md'], { out: t => { cli += t; }, err: () => undefined });
    assert.strictEqual(code, 0);
    const shown = panel.tableText('host test baseline', 'md');
    assert.ok(shown && shown.trim().length > 0);
    assert.ok(cli.includes(shown.trim()), `panel table:\n${shown}\nCLI:\n${cli}`);
  });

  it('renames, notes and deletes a run', async () => {
    const api = await activeApi();
    const exp = (await api.runs.getChildren()).find(e => e.kind === 'experiment' && e.group.name === 'host test baseline')!;
    const node = (await api.runs.getChildren(exp))[0] as Extract<RunsTreeNode, { kind: 'run' }>;
    await vscode.commands.executeCommand('scwb.runs.rename', node, 'my favourite run');
    await vscode.commands.executeCommand('scwb.runs.note', node, 'looks good');
    const renamed = await api.runs.store!.get(node.run.id);
    assert.strictEqual(renamed.name, 'my favourite run');
    assert.strictEqual(renamed.note, 'looks good');
    await vscode.commands.executeCommand('scwb.runs.delete', node, true);
    assert.strictEqual(fs.existsSync(api.runs.store!.runDir(node.run.id)), false);
    const left = await until(async () => {
      const e = (await api.runs.getChildren()).find(x => x.kind === 'experiment' && x.group.name === 'host test baseline');
      return e && e.kind === 'experiment' && e.group.runs.length === 3 ? e : undefined;
    });
    assert.ok(left);
  });

  it('fits the L2 multinomial baseline on the WebAssembly kernels shipped beside the solver, as the CLI does', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    assert.ok(fs.existsSync(path.join(ext.extensionPath, 'out', 'src', 'core', 'baselines', 'logreg-kernels.wasm')));
    const dataset = path.join(SHARED_H5AD, 'scanpy_pbmc68k_reduced_2025.h5ad');
    const l2 = (await vscode.commands.executeCommand<BaselineGridResult>('scwb.runBaseline', {
      datasetPath: dataset, labelColumn: 'bulk_labels', split: { kind: 'stratified', testSize: 0.2, seed: 2022 },
      model: { penalty: 'l2', C: 0.1 }, fractions: [1], seeds: [0], experiment: 'host test l2',
    }))!;
    assert.strictEqual(l2.runs.length, 1);
    assert.strictEqual(l2.runs[0].status, 'completed', String(l2.runs[0].error));
    const store = fs.mkdtempSync(path.join(os.tmpdir(), 'scwb-host-l2-'));
    try {
      let out = '';
      const code = await main(['baseline', dataset, '--label', 'bulk_labels', '--force', '--penalty', 'l2', '--C', '0.1', '--store', store],
        { out: t => { out += t; }, err: () => undefined });
      assert.strictEqual(code, 0);
      const cli = JSON.parse(out) as { runs: Array<{ accuracy: number; macroF1: number }> };
      assert.strictEqual(l2.runs[0].metrics!.accuracy, cli.runs[0].accuracy);
      assert.strictEqual(l2.runs[0].metrics!.macroF1, cli.runs[0].macroF1);
    } finally {
      fs.rmSync(store, { recursive: true, force: true });
    }
  });
});
