import * as assert from 'assert';
import * as path from 'path';
import * as vscode from 'vscode';
import { emptyPreset } from '../../src/core/presets/presets';
import { moveItem } from '../../src/core/queue/scheduler';
import { QUEUE_FINAL } from '../../src/core/queue/schema';
import { RunStore } from '../../src/core/runs/store';
import { runProtocol } from '../../src/core/protocols/report';
import type { GridPanel } from '../../src/host/panels/grid';
import { FINETUNE_TASK_TYPE } from '../../src/host/tasks';
import { activeApi, makeScbertDemo, until } from './helpers';

const WORKSPACE = vscode.workspace.workspaceFolders![0].uri.fsPath;

describe('Presets, grid and queue (real extension host, real worker on CPU)', () => {
  const dir = path.join(WORKSPACE, 'queue-demo');
  const dataset = path.join(dir, 'sim_scbert.h5ad');
  const checkpoint = path.join(dir, 'ckpt', 'scbert_tiny', 'scbert_tiny_pretrain.pth');

  before(async () => {
    await makeScbertDemo(dir, 240, 9);
  });

  it('queues a small experiment from the grid editor; a failing item and a reordered one leave the others completing', async () => {
    const api = await activeApi();
    const queue = api.queue!;
    assert.ok(queue, 'the queue exists in a workspace');
    await queue.executor.setPaused(true);

    const panel = (await vscode.commands.executeCommand<GridPanel>('scwb.experiments.new', null))!;
    assert.ok(panel, 'the command opens the grid editor');
    const first = await panel.whenRendered();
    assert.strictEqual(first.preset, '');

    // Two scBERT seeds (tiny demo checkpoint, 1 epoch), an LR baseline, and one fine-tune on a file that is not there.
    const doc = emptyPreset();
    doc.experiment = 'queue host test';
    const g = doc.grids[0];
    g.title = 'scBERT tiny';
    g.datasets[0] = { ...g.datasets[0], name: 'sim', path: dataset, labelColumn: 'cell_type' };
    g.models = [{ kind: 'finetune', model: 'scbert', checkpoint, epochs: 1, batchSize: 16, precision: 'fp32' }];
    g.seeds = [0, 1];
    doc.grids.push({ ...structuredClone(g), title: 'LR', models: [{ kind: 'baseline', penalty: 'l1', C: 0.1 }], seeds: [0] });
    doc.grids.push({ ...structuredClone(g), title: 'broken', datasets: [{ ...g.datasets[0], path: path.join(dir, 'not-there.h5ad') }], seeds: [5] });
    const summary = panel.update(doc);
    assert.strictEqual(summary.error, null);
    assert.deepStrictEqual([summary.runs, summary.gpuRuns, summary.cpuRuns], [4, 3, 1]);
    assert.ok(summary.gpuHours > 0);
    assert.deepStrictEqual(summary.problems, []);
    // The estimate counts the bound file's cells on the device the environment check found, and says so.
    await panel.refreshEstimate();
    const estimated = panel.update(doc);
    assert.ok(estimated.basis.some(b => new RegExp(`^scBERT: based on [0-9,]+ cells of sim_scbert\\.h5ad, ${estimated.device.replace(/[.()]/g, '\\$&')}, 1 epoch, `).test(b)), estimated.basis.join('\n'));
    // one epoch instead of the published ten is shown as a deviation before anything runs
    assert.deepStrictEqual(summary.protocol?.deviations.map(d => `${d.element}: ${d.ours} vs ${d.published}`), ['epochs: 1 vs 10', 'batchSize: 16 vs 32']);
    const added = await panel.submit('queue');
    assert.strictEqual(added, 4);

    // Reorder while paused: the LR item goes first, the broken fine-tune before the second seed.
    const mine = (await queue.store.read()).items.filter(i => i.spec.experiment === 'queue host test');
    assert.deepStrictEqual(mine.map(i => i.status), ['pending', 'pending', 'pending', 'pending']);
    const [seed0, seed1, lr, broken] = mine;
    await queue.store.update(q => { moveItem(q, lr.id, -1); moveItem(q, lr.id, -1); moveItem(q, broken.id, -1); });
    await vscode.commands.executeCommand('scwb.queue.moveDown', seed0.id);
    await vscode.commands.executeCommand('scwb.queue.moveUp', seed0.id);
    assert.deepStrictEqual((await queue.store.read()).items.filter(i => i.spec.experiment === 'queue host test').map(i => i.id), [lr.id, seed0.id, broken.id, seed1.id]);

    const tasks: vscode.Task[] = [];
    const sub = vscode.tasks.onDidStartTask(e => { if (e.execution.task.definition.type === FINETUNE_TASK_TYPE) tasks.push(e.execution.task); });
    await vscode.commands.executeCommand('scwb.queue.resume');
    const done = await until(async () => {
      const items = (await queue.store.read()).items.filter(i => i.spec.experiment === 'queue host test');
      return items.every(i => QUEUE_FINAL.includes(i.status)) && items;
    }, 500);
    sub.dispose();

    const byId = new Map(done.map(i => [i.id, i]));
    assert.strictEqual(byId.get(broken.id)!.status, 'failed');
    assert.match(byId.get(broken.id)!.error ?? '', /not-there\.h5ad/);
    for (const id of [lr.id, seed0.id, seed1.id]) assert.strictEqual(byId.get(id)!.status, 'completed', `${byId.get(id)!.label}: ${byId.get(id)!.error}`);
    // Fine-tunes ran one at a time on the cpu slot, in queue order, each as a scwb-finetune task with --device cpu.
    assert.ok(byId.get(seed0.id)!.endedAt! <= byId.get(seed1.id)!.startedAt!, 'the second seed started after the first ended');
    assert.deepStrictEqual(tasks.length, 2);
    for (const t of tasks) {
      const exec = t.execution as vscode.ProcessExecution;
      assert.deepStrictEqual(exec.args.slice(-2), ['--device', 'cpu']);
      assert.strictEqual(t.definition.queued, true);
    }
    // The runs are real: completed with metrics in the run store, filed under the experiment.
    const store = new RunStore(path.join(WORKSPACE, '.scwb', 'runs'));
    // A queued fine-tune carries its LR baseline: seed 0 leaves it to the queued LR item (no second LR run), seed 1
    // has none in the queue and runs the published LR (L1, C=0.1) beside it, on the same file, split and seed.
    assert.strictEqual(byId.get(lr.id)!.runIds.length, 1);
    assert.strictEqual(byId.get(seed0.id)!.runIds.length, 1);
    assert.strictEqual(byId.get(seed1.id)!.runIds.length, 2);
    const beside = await store.get(byId.get(seed1.id)!.runIds[1]);
    const tuned1 = await store.get(byId.get(seed1.id)!.runIds[0]);
    assert.deepStrictEqual([beside.kind, beside.model.family, beside.status, beside.experiment, beside.seed, beside.fraction, beside.dataset.sha256],
      ['baseline', 'LR', 'completed', 'queue host test', 1, 1, tuned1.dataset.sha256]);
    assert.deepStrictEqual(beside.split, tuned1.split);
    const lrRuns = (await store.list()).filter(r => r.experiment === 'queue host test' && r.kind === 'baseline');
    assert.deepStrictEqual(lrRuns.map(r => r.seed).sort(), [0, 1], 'one LR run per seed, none twice');
    for (const id of [lr.id, seed0.id, seed1.id]) {
      const it = byId.get(id)!;
      const run = await store.get(it.runIds[0]);
      assert.deepStrictEqual([run.status, run.experiment, run.seed], ['completed', 'queue host test', it.spec.seed]);
      assert.ok(run.summary && run.summary.accuracy >= 0);
      if (it.spec.kind === 'finetune') {
        assert.deepStrictEqual([run.protocol?.preset, run.protocol?.fewShotDraw, run.protocol?.deviations], ['custom', 'all', ['epochs', 'batchSize']]);
        assert.deepStrictEqual(runProtocol(run).deviations, ['epochs', 'batchSize']);
      }
    }
    // Their measured cells/s now feed the grid's estimate (same model, checkpoint and device kind: the CPU here).
    if (estimated.device === 'CPU') {
      await panel.refreshEstimate();
      const names = await Promise.all([seed0.id, seed1.id].map(async id => (await store.get(byId.get(id)!.runIds[0])).name));
      const measured = panel.update(doc).basis.find(b => b.startsWith('scBERT: '))!;
      assert.ok(names.some(n => measured.endsWith(` cells/s measured in run ${n}`)), `${measured} (runs ${names.join(', ')})`);
    }
    // The Queue view lists them with their status.
    const children = await queue.getChildren();
    const item = queue.getTreeItem(children.find(c => c.id === broken.id)!);
    assert.strictEqual(item.contextValue, 'scwb.queueItem.failed');
    assert.match(String(item.description), /^failed on cpu/);
    panel.dispose();
  });

  it('the grid editor shows a paper preset as the published protocol before anything runs', async () => {
    const panel = (await vscode.commands.executeCommand<GridPanel>('scwb.experiments.new', 'scbert-table1'))!;
    const shown = await until(async () => {
      const d = await panel.whenRendered();
      return d.preset === 'scbert-table1' ? d : undefined;
    });
    assert.strictEqual(shown.deviations, '', 'no deviation listed');
    assert.strictEqual(shown.runs, 20, 'Table 1: 10 scBERT runs and 10 LR runs');
  });
});
