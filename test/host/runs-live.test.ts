/**
 * The Runs view while an experiment runs. A tree view asks for its children only when its provider fires
 * onDidChangeTreeData, so these tests act as the view does: on every change event they list the children again,
 * and they assert on what such a listing showed while the work was still going.
 */
import * as assert from 'assert';
import * as path from 'path';
import * as vscode from 'vscode';
import { currentOwner } from '../../src/core/runs/owner';
import type { RunStore } from '../../src/core/runs/store';
import type { RunsTree, RunsTreeNode } from '../../src/host/runs/tree';
import { activeApi, until } from './helpers';

const SHARED_H5AD = vscode.workspace.getConfiguration('scwb').get<string[]>('datasetFolders', [])[0];

/** What the view would show of one experiment after each change event: run statuses and descriptions. */
function followExperiment(runs: RunsTree, experiment: string) {
  const snapshots: { at: number; statuses: string[]; descriptions: string[]; tooltips: string[] }[] = [];
  let chain = Promise.resolve();
  const sub = runs.onDidChangeTreeData(() => {
    chain = chain.then(async () => {
      const exp = (await runs.getChildren()).find(e => e.kind === 'experiment' && e.group.name === experiment);
      if (!exp) return;
      const nodes = await runs.getChildren(exp) as Extract<RunsTreeNode, { kind: 'run' }>[];
      snapshots.push({
        at: Date.now(), statuses: nodes.map(n => n.run.status),
        descriptions: nodes.map(n => String(runs.getTreeItem(n).description ?? '')),
        tooltips: nodes.map(n => String(runs.getTreeItem(n).tooltip ?? '')),
      });
    }).catch(() => undefined);
  });
  return { snapshots, dispose: () => sub.dispose(), settled: () => chain };
}

/** A running scBERT fine-tune run (3 epochs) of `experiment`, as the worker's run.json says while it trains. */
function createRunningFinetune(store: RunStore, experiment: string) {
  return store.create({
    kind: 'finetune', name: '', experiment,
    dataset: { path: path.join(SHARED_H5AD, 'scanpy_pbmc68k_reduced_2025.h5ad'), sha256: '0'.repeat(64) }, labelColumn: 'bulk_labels',
    split: { kind: 'stratified', testSize: 0.2, seed: 2022 }, seed: 0, fraction: 1,
    model: { family: 'scBERT', label: 'scBERT', variant: '' }, parameters: { finetune: { model: 'scbert', epochs: 3, batchSize: 8 } },
    codeVersion: '0.1.0', status: 'running', owner: currentOwner(),
  });
}

describe('Runs view of a running experiment (in the real extension host)', () => {
  it('shows the runs of an experiment while its runner keeps writing, not only after all ended', async () => {
    // A runner as the baseline grid or the fine-tune worker is one: nine runs created queued at once, then run one
    // after another, each appending progress events many times a second. The view used to wait for a quiet
    // moment in the file events (a debounce restarted by every event), so with a busy runner it showed nothing
    // until the whole experiment had ended.
    const api = await activeApi();
    const store = api.runs.store!;
    const experiment = 'host test live grid';
    const follow = followExperiment(api.runs, experiment);
    const ids: string[] = [];
    for (const fraction of [0.25, 0.5, 1]) {
      for (const seed of [0, 1, 2]) {
        ids.push((await store.create({
          kind: 'baseline', name: '', experiment,
          dataset: { path: path.join(SHARED_H5AD, 'scanpy_pbmc68k_reduced_2025.h5ad'), sha256: '0'.repeat(64) }, labelColumn: 'bulk_labels',
          split: { kind: 'stratified', testSize: 0.2, seed: 2022 }, seed, fraction,
          model: { family: 'LR', label: 'LR L1 C=0.1', variant: '' }, parameters: {}, codeVersion: '0.1.0', owner: currentOwner(),
        })).id);
      }
    }
    const summary = { accuracy: 0.8, macroF1: 0.7, weightedF1: 0.8, nTrain: 10, nTest: 5 };
    for (const id of ids) {
      await store.update(id, { status: 'running', startedAt: new Date().toISOString() });
      for (let k = 1; k <= 12; k++) {
        await store.appendEvent(id, { type: 'progress', fraction: k / 12, message: 'fitting' });
        await new Promise(r => setTimeout(r, 50));
      }
      await store.update(id, { status: 'completed', endedAt: new Date().toISOString(), summary });
    }
    const endedAt = Date.now();
    const last = await until(() => follow.snapshots.find(s => s.statuses.length === 9 && s.statuses.every(st => st === 'completed')));
    await follow.settled();
    follow.dispose();
    const whileRunning = follow.snapshots.filter(s => s.at < endedAt);
    assert.ok(whileRunning.length > 0, `the view showed the experiment only after it ended: ${JSON.stringify(follow.snapshots.map(s => s.statuses))}`);
    // The whole grid is listed at once (queued runs included), and runs are seen finishing one by one.
    assert.ok(whileRunning.some(s => s.statuses.length === 9 && s.statuses.includes('queued')), JSON.stringify(whileRunning.map(s => s.statuses)));
    assert.ok(whileRunning.some(s => s.statuses.includes('completed') && s.statuses.includes('queued')), JSON.stringify(whileRunning.map(s => s.statuses)));
    assert.ok(last.at >= endedAt);
    for (const id of ids) await store.delete(id);
  });

  it('shows a fine-tune run\'s epoch, loss, cells/s and validation accuracy as its events.jsonl grows', async () => {
    const api = await activeApi();
    const store = api.runs.store!;
    const experiment = 'host test live finetune';
    const run = await createRunningFinetune(store, experiment);
    const follow = followExperiment(api.runs, experiment);
    try {
      await store.appendEvent(run.id, { type: 'train', epoch: 1, step: 10, loss: 2.3456, lr: 1e-4, cellsPerSec: 123.4, gpuMemoryMiB: null });
      // The row shows the epoch first (a narrow side bar cuts the end), the loss and speed in the tooltip.
      const first = await until(() => follow.snapshots.find(s => s.descriptions[0]?.startsWith('epoch 1/3')));
      assert.strictEqual(first.descriptions[0], 'epoch 1/3 · running');
      assert.ok(first.tooltips[0].includes('loss 2.346, lr 1.0e-4, 123 cells/s'), first.tooltips[0]);
      await store.appendEvent(run.id, { type: 'validation', epoch: 1, step: 12, loss: 1.9, accuracy: 0.625, best: true });
      await store.appendEvent(run.id, { type: 'train', epoch: 2, step: 20, loss: 1.5, lr: 1e-4, cellsPerSec: 150, gpuMemoryMiB: 812 });
      const second = await until(() => follow.snapshots.find(s => s.descriptions[0]?.startsWith('epoch 2/3')));
      assert.strictEqual(second.descriptions[0], 'epoch 2/3 · running');
      const exp = (await api.runs.getChildren()).find(e => e.kind === 'experiment' && e.group.name === experiment)!;
      const node = (await api.runs.getChildren(exp))[0];
      const tooltip = String(api.runs.getTreeItem(node).tooltip);
      assert.ok(tooltip.includes('epoch 2 of 3, step 20'), tooltip);
      assert.ok(tooltip.includes('GPU memory 812 MiB'), tooltip);
      assert.ok(tooltip.includes('validation accuracy 0.625 (epoch 1, best)'), tooltip);
    } finally {
      follow.dispose();
      await store.update(run.id, { status: 'cancelled', endedAt: new Date().toISOString() });
      await store.delete(run.id);
    }
  });
  it('refreshes only a running run\'s row as it reports progress, so the experiment row keeps its command', async () => {
    // VS Code registers a row's click command (one with arguments, as Open Results on an experiment row) under an
    // id it drops when the row is refreshed; refreshing the whole view at every progress event made a click during
    // a live run fail with "command not found: scwb.results.open /<n>". Progress now refreshes the running row only.
    const api = await activeApi();
    const store = api.runs.store!;
    const experiment = 'host test live rows';
    const run = await createRunningFinetune(store, experiment);
    try {
      // the view lists the tree (as after the change event of the new run), then follows what changes
      const listed = async () => {
        const exp = (await api.runs.getChildren()).find(e => e.kind === 'experiment' && e.group.name === experiment);
        const node = exp ? (await api.runs.getChildren(exp)).find(n => n.kind === 'run' && n.run.id === run.id) : undefined;
        if (node) api.runs.getTreeItem(node);
        return exp && node ? { exp, node } : undefined;
      };
      const { exp, node } = await until(listed);
      const item = api.runs.getTreeItem(exp);
      assert.strictEqual(item.command?.command, 'scwb.results.open');
      const events: (RunsTreeNode | RunsTreeNode[] | undefined)[] = [];
      const sub = api.runs.onDidChangeTreeData(e => { events.push(e); });
      try {
        await store.appendEvent(run.id, { type: 'train', epoch: 1, step: 10, loss: 2.3456, lr: 1e-4, cellsPerSec: 123.4, gpuMemoryMiB: null });
        const tooltip = () => String(api.runs.getTreeItem(node).tooltip);
        await until(() => events.length > 0 && tooltip().includes('epoch 1 of 3, step 10') ? true : undefined);
        await store.appendEvent(run.id, { type: 'train', epoch: 2, step: 20, loss: 1.5, lr: 1e-4, cellsPerSec: 150, gpuMemoryMiB: null });
        await until(() => events.length > 1 && tooltip().includes('epoch 2 of 3, step 20') ? true : undefined);
        assert.strictEqual(api.runs.getTreeItem(node).description, 'epoch 2/3 · running');
        // every change event named the run's row only: none refreshed the whole tree or the experiment row
        assert.ok(events.every(e => Array.isArray(e) && e.includes(node) && !e.includes(exp)), `change events: ${JSON.stringify(events.map(e => Array.isArray(e) ? e.map(n => n.kind) : e ?? 'whole tree'))}`);
        // the same node objects as before, with the new progress
        const again = await listed();
        assert.ok(again && again.exp === exp && again.node === node, 'the listing hands out the same node objects');
      } finally {
        sub.dispose();
      }
    } finally {
      await store.update(run.id, { status: 'cancelled', endedAt: new Date().toISOString() });
      await store.delete(run.id);
    }
  });
});
