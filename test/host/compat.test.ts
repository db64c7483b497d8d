import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { main } from '../../src/cli/main';
import type { CompatPanel } from '../../src/host/checkpoints/compat';
import type { RenderedDetail } from '../../src/host/panels/webview-app';
import { activeApi, until } from './helpers';

const WORKSPACE = vscode.workspace.workspaceFolders![0].uri.fsPath;
const PYTHON = vscode.workspace.getConfiguration('scwb').get<string>('pythonPath', '') || '/usr/bin/python3';
const ROOT = path.resolve(__dirname, '..', '..', '..');

describe('Check Dataset Against Model (in the real extension host)', () => {
  const dir = path.join(WORKSPACE, 'compat-check');
  const sim = path.join(dir, 'sim.h5ad');
  const scbert = path.join(dir, 'ckpt', 'scbert_tiny', 'scbert_tiny_pretrain.pth');
  const scgpt = path.join(dir, 'ckpt', 'scGPT_tiny');

  before(async () => {
    fs.mkdirSync(dir, { recursive: true });
    let err = '';
    assert.strictEqual(await main(['simulate', '--cells', '80', '--genes', '120', '--seed', '5', '--out', sim], { out: () => undefined, err: t => { err += t; } }), 0, err);
    execFileSync(PYTHON, ['-m', 'scwb_worker', 'demo-checkpoints', path.join(dir, 'ckpt'), '--genes-from', sim], {
      env: { ...process.env, PYTHONPATH: path.join(ROOT, 'resources', 'worker') },
    });
  });
  after(() => {
    void vscode.commands.executeCommand('workbench.action.closeAllEditors');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const renderedFor = (panel: CompatPanel, dataset: string): Promise<RenderedDetail> =>
    until(() => {
      const d = panel.lastRenderedDetail;
      return d && d.state === 'report' && d.dataset === dataset ? d : undefined;
    });

  it('from a checkpoint item of the Checkpoints view: the panel shows each verdict; the fix button runs Preprocess and re-checks the output', async () => {
    const api = await activeApi();
    const item = await until(async () => (await api.checkpoints.all()).find(c => c.path === scbert));
    const panel = await vscode.commands.executeCommand<CompatPanel>('scwb.checkpoints.checkDataset', item, { dataset: sim });
    assert.strictEqual(api.panels.compat(), panel);
    const shown = await renderedFor(panel, sim);
    assert.strictEqual(shown.model, scbert);
    assert.strictEqual(shown.checks, 'genes:ok,namespace:ok,values:fail,labels:skip');
    assert.strictEqual(shown.verdict, 'fail');
    const values = panel.report!.checks.find(c => c.id === 'values')!;
    assert.match(values.summary, /raw counts/);
    const { note, ...fix } = values.actions[0] as Extract<typeof values.actions[0], { kind: 'preprocess' }>;
    assert.deepStrictEqual(fix, {
      kind: 'preprocess', label: 'Preprocess scBERT with genes.txt',
      recipe: { recipe: 'scbert', params: { referenceGenes: path.join(dir, 'ckpt', 'scbert_tiny', 'genes.txt'), inputMatrix: 'X' } },
    });
    // the fix says before it runs how many cells the published 200-gene filter keeps (the tiny file: hardly any)
    assert.match(note ?? '', /^keeps \d+ of 80 cells \(at least 200 of the model's genes expressed\)/);

    // the same panel, from the scGPT folder; its fix (Preprocess scGPT with vocab.json) runs, and the output fits
    const folder = await until(async () => (await api.checkpoints.all()).find(c => c.path === scgpt));
    assert.strictEqual(await vscode.commands.executeCommand<CompatPanel>('scwb.checkpoints.checkDataset', folder, { dataset: sim }), panel);
    await until(() => panel.lastRenderedDetail?.model === scgpt && panel.lastRenderedDetail.state === 'report');
    assert.strictEqual(panel.lastRenderedDetail!.checks, 'genes:ok,namespace:ok,values:warn,labels:skip');
    const out = path.join(dir, 'sim.scgpt.h5ad');
    await panel.runAction('values', 0);
    assert.ok(fs.existsSync(out));
    const after = await renderedFor(panel, out);
    assert.strictEqual(after.verdict, 'ok');
    assert.strictEqual(panel.report!.dataset.matrix, 'layers/X_binned');
  });

  it('from a dataset with the model given, and an unreadable model shows its error in the panel', async () => {
    const panel = await vscode.commands.executeCommand<CompatPanel>('scwb.checkpoints.checkDataset', vscode.Uri.file(sim), { model: scbert });
    const shown = await renderedFor(panel, sim);
    assert.strictEqual(shown.model, scbert);
    const broken = path.join(dir, 'broken.pth');
    fs.writeFileSync(broken, 'not a checkpoint');
    await vscode.commands.executeCommand('scwb.checkpoints.checkDataset', vscode.Uri.file(sim), { model: broken });
    const err = await until(() => (panel.lastRenderedDetail?.state === 'error' ? panel.lastRenderedDetail : undefined));
    assert.match(String(err.message), /broken\.pth: not a PyTorch checkpoint/);
  });
});
