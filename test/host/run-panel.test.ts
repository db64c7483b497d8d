/**
 * The run panel on a fine-tune run whose events.jsonl grows as the worker writes it: the panel's state and what
 * its webview drew follow the file.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { currentOwner } from '../../src/core/runs/owner';
import type { RunPanel } from '../../src/host/panels/run';
import { activeApi, until } from './helpers';

const SHARED_H5AD = vscode.workspace.getConfiguration('scwb').get<string[]>('datasetFolders', [])[0];

/** One events.jsonl line as the worker writes it (the run store's own append would do, but this is the worker's path). */
function appendLine(file: string, event: Record<string, unknown>): void {
  fs.appendFileSync(file, JSON.stringify({ time: new Date().toISOString(), ...event }) + '\n');
}

describe('Run panel (in the real extension host)', () => {
  it('opens beside the editor from the Runs view and follows events.jsonl as it grows', async () => {
    const api = await activeApi();
    const store = api.runs.store!;
    const run = await store.create({
      kind: 'finetune', name: 'host panel run', experiment: 'host test run panel',
      dataset: { path: path.join(SHARED_H5AD, 'scanpy_pbmc68k_reduced_2025.h5ad'), sha256: '0'.repeat(64) }, labelColumn: 'bulk_labels',
      split: { kind: 'stratified', testSize: 0.2, seed: 2022 }, seed: 0, fraction: 1,
      model: { family: 'scBERT', label: 'scBERT', variant: '' },
      parameters: { finetune: { model: 'scbert', epochs: 2, batchSize: 4, lr: 0.0001 } },
      codeVersion: '0.1.0', status: 'running', owner: currentOwner(),
    });
    const events = store.file(run.id, 'events.jsonl');
    try {
      appendLine(events, { type: 'status', status: 'running' });
      appendLine(events, { type: 'train', epoch: 1, step: 1, loss: 2.5, lr: 1e-4, cellsPerSec: 40, gpuMemoryMiB: null });
      await store.appendLog(run.id, 'epoch 1 started');

      // A click on the run in the Runs view runs the item's command: for a fine-tune, the run panel.
      const exp = await until(async () => (await api.runs.getChildren()).find(e => e.kind === 'experiment' && e.group.name === 'host test run panel'));
      const node = (await api.runs.getChildren(exp))[0];
      assert.strictEqual(node.kind, 'run');
      const item = api.runs.getTreeItem(node);
      assert.strictEqual(item.command?.command, 'scwb.runs.openPanel');
      await vscode.commands.executeCommand(item.command.command, ...(item.command.arguments ?? []));
      const panel = await until(() => api.panels.run(run.id));
      const drawn = (p: RunPanel, check: (d: Record<string, unknown>) => boolean) =>
        until(() => (p.lastRenderedDetail && check(p.lastRenderedDetail) ? p.lastRenderedDetail : undefined));

      let shown = await drawn(panel, d => d.trainPoints === 1);
      assert.strictEqual(shown.runId, run.id);
      assert.strictEqual(shown.status, 'running');
      assert.strictEqual(shown.lossChartPoints, 1);
      assert.strictEqual(shown.lastLogLine, String(panel.state.log.at(-1)));
      assert.ok(String(shown.lastLogLine).endsWith('epoch 1 started'));
      assert.ok(panel.state.run!.parameters.some(([k, v]) => k === 'epochs' && v === '2'));

      // The worker goes on: more steps, a validation, a step of epoch 2, written in several appends.
      appendLine(events, { type: 'train', epoch: 1, step: 2, loss: 2.1, lr: 1e-4, cellsPerSec: 44, gpuMemoryMiB: null });
      appendLine(events, { type: 'validation', epoch: 1, step: 2, loss: 2.0, accuracy: 0.4, best: true });
      // A line cut in the middle (the worker is mid-write) waits until it is complete.
      const partial = JSON.stringify({ time: new Date().toISOString(), type: 'train', epoch: 2, step: 3, loss: 1.7, lr: 1e-4, cellsPerSec: 47, gpuMemoryMiB: 512 });
      fs.appendFileSync(events, partial.slice(0, 20));
      const mid = await until(() => (panel.state.validation.length === 1 ? panel.state : undefined));
      assert.deepStrictEqual(mid.train.map(p => p.step), [1, 2]);
      fs.appendFileSync(events, partial.slice(20) + '\n');
      const full = await until(() => (panel.state.train.length === 3 ? panel.state : undefined));
      assert.deepStrictEqual(full.train.map(p => [p.epoch, p.step, p.loss]), [[1, 1, 2.5], [1, 2, 2.1], [2, 3, 1.7]]);
      assert.deepStrictEqual(full.validation.map(v => [v.epoch, v.accuracy, v.best]), [[1, 0.4, true]]);
      shown = await drawn(panel, d => d.trainPoints === 3 && d.validationPoints === 1);
      assert.strictEqual(shown.lastStep, 3);
      assert.strictEqual(shown.lastLoss, 1.7);
      assert.strictEqual(shown.bestAccuracy, 0.4);
      assert.strictEqual(shown.lossChartPoints, 3);

      // Killed after step 3 and resumed from its checkpoint at step 2: the resume event and the redone step 3 replace
      // the first step 3 in the panel and its chart (the loss line does not zig-zag); events.jsonl keeps both.
      appendLine(events, { type: 'resume', step: 2, epoch: 2, batch: 0 });
      const resumed = await until(() => (panel.state.train.length === 2 ? panel.state : undefined));
      assert.deepStrictEqual(resumed.train.map(p => p.step), [1, 2]);
      appendLine(events, { type: 'train', epoch: 2, step: 3, loss: 1.6, lr: 1e-4, cellsPerSec: 45, gpuMemoryMiB: 512 });
      shown = await drawn(panel, d => d.trainPoints === 3 && d.lastLoss === 1.6);
      assert.strictEqual(shown.lossChartPoints, 3);
      assert.deepStrictEqual(panel.state.train.map(p => [p.step, p.loss]), [[1, 2.5], [2, 2.1], [3, 1.6]]);
      assert.strictEqual(fs.readFileSync(events, 'utf8').split('"step":3').length - 1, 2, 'nothing deleted from the log');

      // The run ends: the panel shows the final status.
      await store.update(run.id, { status: 'completed', endedAt: new Date().toISOString() });
      appendLine(events, { type: 'status', status: 'completed' });
      shown = await drawn(panel, d => d.status === 'completed');
      assert.strictEqual(shown.trainPoints, 3);

      // Opening it again reveals the same panel.
      await vscode.commands.executeCommand('scwb.runs.openPanel', { runId: run.id });
      assert.strictEqual(api.panels.run(run.id), panel);
      panel.panel.dispose();
      assert.strictEqual(api.panels.run(run.id), undefined);
    } finally {
      await store.delete(run.id);
    }
  });
});
