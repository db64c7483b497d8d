import * as assert from 'assert';
import { spawn } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import { QueueExecutor, type QueueRunner, type RunHandle } from '../../../src/core/queue/executor';
import { baselineRunner } from '../../../src/core/queue/runners';
import { addItems, makeSlots, moveItem } from '../../../src/core/queue/scheduler';
import type { QueueItem, QueueSpec } from '../../../src/core/queue/schema';
import { QueueStore } from '../../../src/core/queue/store';
import { RunStore } from '../../../src/core/runs/store';
import { simulateH5ad, tempDir } from '../../helpers/shared';

function lr(datasetPath: string, seed: number): QueueSpec {
  return {
    kind: 'baseline', datasetPath, labelColumn: 'cell_type', split: { kind: 'stratified', testSize: 0.2, seed: 2022 }, experiment: 'queue test',
    fraction: 0.5, seed, stratifiedFewShot: false, model: { penalty: 'l2', C: 1 },
  };
}

function ft(label: string): QueueSpec {
  return {
    kind: 'finetune', datasetPath: `/nowhere/${label}.h5ad`, labelColumn: 'y', split: { kind: 'stratified', testSize: 0.2, seed: 2022 },
    experiment: 'queue test', fraction: 1, seed: 0, stratifiedFewShot: false, model: 'scbert', checkpoint: null, ablation: 'no-pretraining', device: 'auto',
  };
}

/**
 * A GPU-slot runner for these tests: each item is a real child process (node, sleeping `ms`, exiting 1 when the
 * label says 'fail'), killed by cancel. It records the order of starts and the most items running at once.
 */
function processRunner(log: { starts: string[]; slots: string[]; maxRunning: number }, ms = 300): QueueRunner {
  let running = 0;
  return {
    async start(item: QueueItem, ctx): Promise<RunHandle> {
      log.starts.push(item.label);
      log.slots.push(ctx.slot.id);
      running++;
      log.maxRunning = Math.max(log.maxRunning, running);
      const code = item.label.includes('fail') ? 1 : 0;
      const child = spawn(process.execPath, ['-e', `setTimeout(() => process.exit(${code}), ${ms})`]);
      const done = new Promise<{ status: 'completed' | 'failed' | 'cancelled'; error: string | null }>(resolve => {
        child.on('exit', (c, signal) => {
          running--;
          resolve(signal ? { status: 'cancelled', error: null } : c === 0 ? { status: 'completed', error: null } : { status: 'failed', error: `exit ${c}` });
        });
      });
      return { done, cancel: () => child.kill('SIGTERM') };
    },
  };
}

describe('queue executor', () => {
  let dataset: string;
  before(() => {
    dataset = simulateH5ad(path.join(tempDir(), 'sim.h5ad'), 200, 100, 3);
  });

  it('runs GPU items one at a time per slot and baselines in parallel; a failure does not stop the rest; reorder is honoured', async () => {
    const dir = tempDir();
    const store = new QueueStore(path.join(dir, '.scwb'));
    const runStore = new RunStore(path.join(dir, '.scwb', 'runs'));
    const log = { starts: [] as string[], slots: [] as string[], maxRunning: 0 };
    const ex = new QueueExecutor(store, runStore, makeSlots({ gpus: [], baselines: 2 }), { finetune: processRunner(log), baseline: baselineRunner(runStore, { threads: 1 }) }, { pollMs: 100 });
    await store.update(q => {
      q.paused = true;
      addItems(q, [
        { label: 'ft a', spec: ft('a') }, { label: 'ft fail', spec: ft('b') }, { label: 'lr 0', spec: lr(dataset, 0) },
        { label: 'lr missing', spec: lr(path.join(dir, 'missing.h5ad'), 1) }, { label: 'ft c', spec: ft('c') }, { label: 'lr 2', spec: lr(dataset, 2) },
      ]);
      moveItem(q, q.items[4].id, -1); // ft c before lr missing
      moveItem(q, q.items[3].id, -1); // ft c before lr 0
      moveItem(q, q.items[2].id, -1); // ft c before ft fail
    });
    await ex.start();
    assert.deepStrictEqual(log.starts, [], 'nothing starts while paused');
    await ex.setPaused(false);
    await new Promise(res => setTimeout(res, 200));
    await ex.idle();
    const q = await store.read();
    assert.deepStrictEqual(q.items.map(i => [i.label, i.status]), [
      ['ft a', 'completed'], ['ft c', 'completed'], ['ft fail', 'failed'], ['lr 0', 'completed'], ['lr missing', 'failed'], ['lr 2', 'completed'],
    ]);
    assert.deepStrictEqual(log.starts, ['ft a', 'ft c', 'ft fail'], 'GPU items in queue order, after the reorder');
    assert.strictEqual(log.maxRunning, 1, 'one at a time on the cpu slot');
    assert.ok(log.slots.every(s => s === 'cpu'));
    assert.match(q.items[4].error ?? '', /missing\.h5ad/);
    assert.strictEqual(q.items[2].error, 'exit 1');
    // the baselines really ran: their runs are in the store, completed, with metrics
    for (const it of [q.items[3], q.items[5]]) {
      assert.strictEqual(it.runIds.length, 1);
      const run = await runStore.get(it.runIds[0]);
      assert.strictEqual(run.status, 'completed');
      assert.ok(run.summary && run.summary.accuracy > 0);
      assert.strictEqual(run.seed, it.spec.seed);
    }
    await ex.dispose();
    assert.strictEqual((await store.read()).executor, null, 'the executor lets go of the queue');
  });

  it('cancels a running item (its process ends) and a waiting one, then runs the next', async () => {
    const dir = tempDir();
    const store = new QueueStore(path.join(dir, '.scwb'));
    const runStore = new RunStore(path.join(dir, '.scwb', 'runs'));
    const log = { starts: [] as string[], slots: [] as string[], maxRunning: 0 };
    const ex = new QueueExecutor(store, runStore, makeSlots({ gpus: ['0', '1'] }), { finetune: processRunner(log, 60_000) }, { pollMs: 100 });
    const [a, b, c] = await store.update(q => addItems(q, [{ label: 'long a', spec: ft('a') }, { label: 'long b', spec: ft('b') }, { label: 'c', spec: ft('c') }]));
    await ex.start();
    while (log.starts.length < 2) await new Promise(res => setTimeout(res, 20));
    assert.deepStrictEqual(log.slots, ['gpu:0', 'gpu:1'], 'one run per GPU');
    await ex.cancel(c.id);
    await ex.cancel(a.id);
    await ex.cancel(b.id);
    await ex.idle();
    const q = await store.read();
    assert.deepStrictEqual(q.items.map(i => i.status), ['cancelled', 'cancelled', 'cancelled']);
    assert.deepStrictEqual(log.starts, ['long a', 'long b'], 'the cancelled waiting item never started');
    await ex.dispose();
  });

  it('after a reload: a dead run is interrupted, a finished one takes its outcome, and the next item starts', async () => {
    const dir = tempDir();
    const store = new QueueStore(path.join(dir, '.scwb'));
    const runStore = new RunStore(path.join(dir, '.scwb', 'runs'));
    const base = {
      kind: 'baseline' as const, name: 'r', experiment: 'e', dataset: { path: dataset, sha256: '0'.repeat(64) }, labelColumn: 'cell_type',
      split: { kind: 'stratified' as const, testSize: 0.2, seed: 2022 }, seed: 0, fraction: 1, model: { family: 'LR', label: 'LR', variant: '' }, parameters: {}, codeVersion: 'test',
    };
    // a run whose owner process is gone (a pid that has exited)
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise(res => dead.on('exit', res));
    const deadRun = await runStore.create({ ...base, status: 'running', owner: { pid: dead.pid!, hostname: os.hostname(), processStart: null } });
    const doneRun = await runStore.create({ ...base, status: 'running' });
    await runStore.update(doneRun.id, () => ({ status: 'completed', endedAt: new Date().toISOString() }));
    await store.update(q => {
      const [x, y, z, w] = addItems(q, [{ label: 'dead', spec: ft('a') }, { label: 'finished', spec: ft('b') }, { label: 'unprepared', spec: ft('c') }, { label: 'next', spec: ft('d') }]);
      for (const it of [x, y, z]) { it.status = 'running'; it.slot = 'cpu'; it.startedAt = new Date().toISOString(); }
      x.runIds = [deadRun.id];
      y.runIds = [doneRun.id];
      void w;
      q.executor = { pid: dead.pid!, hostname: os.hostname(), processStart: null }; // the old window
    });
    const log = { starts: [] as string[], slots: [] as string[], maxRunning: 0 };
    const ex = new QueueExecutor(store, runStore, makeSlots({ gpus: [] }), { finetune: processRunner(log, 50) }, { pollMs: 100 });
    await ex.start();
    assert.ok(ex.isExecutor, 'takes over from the dead window');
    await ex.idle();
    const q = await store.read();
    assert.deepStrictEqual(q.items.map(i => [i.label, i.status]), [['dead', 'interrupted'], ['finished', 'completed'], ['unprepared', 'interrupted'], ['next', 'completed']]);
    assert.strictEqual((await runStore.get(deadRun.id)).status, 'interrupted');
    assert.deepStrictEqual(log.starts, ['next']);
    await ex.dispose();
  });

  it('a second executor of the same queue in another live process only watches', async () => {
    const dir = tempDir();
    const store = new QueueStore(path.join(dir, '.scwb'));
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      await store.update(q => { q.executor = { pid: other.pid!, hostname: os.hostname(), processStart: null }; addItems(q, [{ label: 'x', spec: ft('x') }]); });
      const log = { starts: [] as string[], slots: [] as string[], maxRunning: 0 };
      const ex = new QueueExecutor(store, new RunStore(path.join(dir, '.scwb', 'runs')), makeSlots({ gpus: [] }), { finetune: processRunner(log, 10) }, { pollMs: 50 });
      await ex.start();
      await new Promise(res => setTimeout(res, 200));
      assert.strictEqual(ex.isExecutor, false);
      assert.deepStrictEqual(log.starts, []);
      other.kill('SIGKILL');
      await new Promise(res => other.on('exit', res));
      while (!log.starts.length) await new Promise(res => setTimeout(res, 20));
      await ex.idle();
      assert.ok(ex.isExecutor, 'takes over once the other process is gone');
      assert.strictEqual((await store.read()).items[0].status, 'completed');
      await ex.dispose();
    } finally {
      other.kill('SIGKILL');
    }
  });
});
