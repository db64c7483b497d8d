import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { main } from '../../src/cli/main';
import { pickLabel } from '../../src/core/checkpoints/by-run';
import { currentOwner } from '../../src/core/runs/owner';
import type { CheckpointDetail, CheckpointNode } from '../../src/host/checkpoints/tree';
import { activeApi, until } from './helpers';

const WORKSPACE = vscode.workspace.workspaceFolders![0].uri.fsPath;
const PYTHON = vscode.workspace.getConfiguration('scwb').get<string>('pythonPath', '') || '/usr/bin/python3';
const ROOT = path.resolve(__dirname, '..', '..', '..');

describe('Checkpoints view inspects model files (in the real extension host)', () => {
  const dir = path.join(WORKSPACE, 'checkpoint-inspect');
  const scbert = path.join(dir, 'ckpt', 'scbert_tiny', 'scbert_tiny_pretrain.pth');
  const scgpt = path.join(dir, 'ckpt', 'scGPT_tiny');
  const broken = path.join(dir, 'broken.pth');

  before(async () => {
    fs.mkdirSync(dir, { recursive: true });
    const sim = path.join(dir, 'sim.h5ad');
    let err = '';
    assert.strictEqual(await main(['simulate', '--cells', '50', '--genes', '100', '--seed', '3', '--out', sim], { out: () => undefined, err: t => { err += t; } }), 0, err);
    execFileSync(PYTHON, ['-m', 'scwb_worker', 'demo-checkpoints', path.join(dir, 'ckpt'), '--genes-from', sim], {
      env: { ...process.env, PYTHONPATH: path.join(ROOT, 'resources', 'worker') },
    });
    fs.writeFileSync(broken, 'PK\u0003\u0004 this is not really a zip');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a demo checkpoint expands to its architecture, parameter count and layout check; its tensors on demand', async () => {
    const api = await activeApi();
    const item = await until(async () => (await api.checkpoints.all()).find(c => c.path === scbert));
    assert.strictEqual(api.checkpoints.getTreeItem(item).collapsibleState, vscode.TreeItemCollapsibleState.Collapsed);
    const details = await api.checkpoints.getChildren(item) as CheckpointDetail[];
    const labels = details.map(d => d.label);
    assert.match(labels[0], /^scBERT pretrain \(dim 16, depth 2, 100 genes\)$/);
    assert.match(labels[1], /^[\d,]+ parameters$/);
    assert.ok(details.some(d => d.detail === 'ok' && d.label === 'matches the published layout'), JSON.stringify(labels));
    assert.ok(!details.some(d => d.detail === 'problem'), JSON.stringify(labels));
    const tensors = details.find(d => d.detail === 'tensors')!;
    const listed = await api.checkpoints.getChildren(tensors) as CheckpointDetail[];
    assert.strictEqual(`Tensors (${listed.length})`, tensors.label);
    assert.deepStrictEqual(listed[0], { path: scbert, detail: 'tensor', label: 'token_emb.weight', description: '[7, 16] float32' });

    const folder = await until(async () => (await api.checkpoints.all()).find(c => c.path === scgpt));
    const g = await api.checkpoints.getChildren(folder) as CheckpointDetail[];
    assert.match(g[0].label, /^scGPT flash-attn names \(Wqkv\) \(\d+ tokens, d 32, 2 layers\)$/);
    assert.ok(g.some(d => d.label.startsWith('vocab.json: ')), JSON.stringify(g.map(d => d.label)));
  });

  it('a malformed file shows its error instead of a summary', async () => {
    const api = await activeApi();
    const item = await until(async () => (await api.checkpoints.all()).find(c => c.path === broken));
    const details = await api.checkpoints.getChildren(item) as CheckpointDetail[];
    assert.strictEqual(details.length, 1);
    assert.strictEqual(details[0].detail, 'error');
    assert.match(details[0].description!, /broken\.pth: not a zip file or truncated/);
  });
  it('lists the model files runs wrote under each run\'s name, apart from the user\'s own; pickers name the run', async () => {
    const api = await activeApi();
    const store = api.runs.store!;
    const run = await store.create({
      kind: 'finetune', name: '', experiment: 'host test checkpoints by run',
      dataset: { path: path.join(dir, 'sim.h5ad'), sha256: '0'.repeat(64) }, labelColumn: 'cell_type',
      split: { kind: 'stratified', testSize: 0.2, seed: 2022 }, seed: 3, fraction: 0.5,
      model: { family: 'scBERT', label: 'scBERT', variant: '' }, parameters: {}, codeVersion: '0.1.0', owner: currentOwner(),
    });
    try {
      for (const f of ['last.pt', 'best.pt']) fs.copyFileSync(scbert, store.file(run.id, f));
      const runsNode = await until(async () => (await api.checkpoints.getChildren()).find((n): n is Extract<CheckpointNode, { group: 'runs' }> =>
        'group' in n && n.group === 'runs' && n.runs.some(r => r.id === run.id)));
      // the user's own files stay at the top level; no run file is among them
      const top = await api.checkpoints.getChildren();
      assert.ok(top.some(n => 'path' in n && n.path === scbert));
      assert.ok(!top.some(n => 'path' in n && n.path.startsWith(store.root)), 'run files are not listed at the top');
      assert.strictEqual(api.checkpoints.getTreeItem(runsNode).label, 'From runs');
      const runNode = (await api.checkpoints.getChildren(runsNode)).find(n => 'group' in n && n.group === 'run' && n.run.id === run.id)!;
      assert.strictEqual(api.checkpoints.getTreeItem(runNode).label, 'scBERT · fraction 0.5 · seed 3');
      const files = await api.checkpoints.getChildren(runNode);
      assert.deepStrictEqual(files.map(f => api.checkpoints.getTreeItem(f).label), ['best.pt', 'last.pt']);
      // a run's file still expands to its inspection, and the menus of model files apply to it
      assert.strictEqual(api.checkpoints.getTreeItem(files[0]).contextValue, 'scwb.checkpoint.torch');
      // the model pickers offer it by the run's name
      const listed = (await api.checkpoints.all()).filter(c => c.run?.id === run.id);
      assert.deepStrictEqual(listed.map(pickLabel), ['scBERT · fraction 0.5 · seed 3 · best.pt', 'scBERT · fraction 0.5 · seed 3 · last.pt']);
    } finally {
      await store.delete(run.id);
    }
  });
});
