import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { main } from '../../src/cli/main';
import type { BaselineGridResult } from '../../src/core/runs/baseline';
import type { RunsTreeNode } from '../../src/host/runs/tree';
import { activeApi, until } from './helpers';

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
    const api = await activeApi();
    // A simulated dataset large enough for each fit to report progress for a few seconds.
    const data = path.join(WORKSPACE, 'progress-test', 'sim.h5ad');
    fs.mkdirSync(path.dirname(data), { recursive: true });
    execFileSync(process.execPath, [path.resolve(__dirname, '..', '..', '..', 'bin', 'scwb.js'), 'simulate', '--cells', '8000', '--genes', '3000', '--seed', '5', '--out', data]);
    const running = vscode.commands.executeCommand<BaselineGridResult>('scwb.runBaseline', {
      datasetPath: data, labelColumn: 'cell_type',
      split: { kind: 'stratified', testSize: 0.2, seed: 2022 }, model: { penalty: 'l1', C: 0.1 },
      fractions: [1], seeds: [0, 1], experiment: 'host test progress',
    });
    let finished = false;
    void Promise.resolve(running).then(() => { finished = true; }, () => { finished = true; });
    // Poll until a running run shows its progress; stop (and fail below) if the grid ends first.
    const live = await until(async () => {
      if (finished) return 'the grid finished before any progress was shown';
      const exp = (await api.runs.getChildren()).find(e => e.kind === 'experiment' && e.group.name === 'host test progress');
      if (!exp) return undefined;
      for (const node of await api.runs.getChildren(exp)) {
        const d = String(api.runs.getTreeItem(node).description);
        if (/^running · \d+%/.test(d)) return d;
      }
      return undefined;
    }, 100);
    assert.match(live, /^running · \d+%/);
    const done = await running;
    assert.ok(done && done.runs.every(r => r.status === 'completed'));
    fs.rmSync(path.dirname(data), { recursive: true, force: true });
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
});
