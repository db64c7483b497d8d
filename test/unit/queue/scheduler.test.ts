import * as assert from 'assert';
import {
  addItems, cancelItem, clearFinished, countItems, makeSlots, markEnded, markStarted, moveItem, retryItem, schedule, type Slot,
} from '../../../src/core/queue/scheduler';
import { emptyQueue, QueueFileSchema, type QueueFile, type QueueItem, type QueueSpec } from '../../../src/core/queue/schema';

const FT: QueueSpec = {
  kind: 'finetune', datasetPath: '/d.h5ad', labelColumn: 'y', split: { kind: 'stratified', testSize: 0.2, seed: 2022 }, experiment: 'e',
  fraction: 1, seed: 0, stratifiedFewShot: false, model: 'scbert', checkpoint: '/c.pth', ablation: 'none', device: 'auto',
};
const LR: QueueSpec = {
  kind: 'baseline', datasetPath: '/d.h5ad', labelColumn: 'y', split: { kind: 'stratified', testSize: 0.2, seed: 2022 }, experiment: 'e',
  fraction: 1, seed: 0, stratifiedFewShot: false, model: { penalty: 'l1', C: 0.1 },
};

type State = 'pending' | 'running' | 'completed' | 'failed' | 'cancelRequested';
const STATES: State[] = ['pending', 'running', 'completed', 'failed', 'cancelRequested'];

function queueOf(desc: { gpu: boolean; state: State }[], slots: Slot[], paused: boolean): QueueFile {
  const q = emptyQueue();
  q.paused = paused;
  addItems(q, desc.map((d, i) => ({ label: `item ${i}`, spec: d.gpu ? FT : LR })));
  const gpuSlots = slots.filter(s => s.resource === 'gpu');
  desc.forEach((d, i) => {
    const it = q.items[i];
    if (d.state === 'cancelRequested') it.cancelRequested = true;
    else if (d.state === 'running') {
      it.status = 'running';
      it.slot = d.gpu ? gpuSlots[i % gpuSlots.length].id : 'baseline';
    } else if (d.state !== 'pending') it.status = d.state;
  });
  return q;
}

/** Every queue of up to `n` items (each GPU or baseline, in each state). */
function* allQueues(n: number): Generator<{ gpu: boolean; state: State }[]> {
  const options = STATES.flatMap(state => [true, false].map(gpu => ({ gpu, state })));
  function* rec(prefix: { gpu: boolean; state: State }[]): Generator<{ gpu: boolean; state: State }[]> {
    yield prefix;
    if (prefix.length < n) for (const o of options) yield* rec([...prefix, o]);
  }
  yield* rec([]);
}

describe('queue scheduler (exhaustive over small queues)', () => {
  it('makes one slot per GPU, a single cpu slot without GPUs, and the baseline pool', () => {
    assert.deepStrictEqual(makeSlots({ gpus: [] }), [
      { id: 'cpu', resource: 'gpu', cudaDevice: null, capacity: 1 }, { id: 'baseline', resource: 'baseline', cudaDevice: null, capacity: 2 },
    ]);
    assert.deepStrictEqual(makeSlots({ gpus: ['0', '3'], perGpu: 2, baselines: 4 }).map(s => [s.id, s.cudaDevice, s.capacity]), [
      ['gpu:0', '0', 2], ['gpu:3', '3', 2], ['baseline', null, 4],
    ]);
  });

  it('holds every rule for every queue of up to 4 items on every slot layout', () => {
    const layouts = [
      makeSlots({ gpus: [], baselines: 1 }), makeSlots({ gpus: [] }), makeSlots({ gpus: ['0'] }),
      makeSlots({ gpus: ['0', '1'], baselines: 1 }), makeSlots({ gpus: ['0', '1'], perGpu: 2, baselines: 3 }),
    ];
    let checked = 0;
    for (const slots of layouts) {
      for (const desc of allQueues(4)) {
        for (const paused of [false, true]) {
          const q = queueOf(desc, slots, paused);
          const out = schedule(q, slots);
          checked++;
          if (paused) {
            assert.deepStrictEqual(out, []);
            continue;
          }
          const byId = new Map(q.items.map(it => [it.id, it]));
          const load = new Map(slots.map(s => [s.id, q.items.filter(it => it.status === 'running' && it.slot === s.id).length]));
          const assigned = new Set<string>();
          for (const a of out) {
            const it = byId.get(a.itemId)!;
            assert.strictEqual(it.status, 'pending');
            assert.ok(!it.cancelRequested, 'a cancelled item never starts');
            assert.strictEqual(a.slot.resource, it.spec.kind === 'baseline' ? 'baseline' : 'gpu', 'right resource');
            assert.ok(!assigned.has(a.itemId), 'assigned once');
            assigned.add(a.itemId);
            // balancing: the chosen slot had the most free capacity among its resource's slots at that moment
            const free = (s: Slot) => s.capacity - load.get(s.id)!;
            const best = Math.max(...slots.filter(s => s.resource === a.slot.resource).map(free));
            assert.strictEqual(free(a.slot), best);
            assert.ok(best > 0, 'capacity is never exceeded');
            assert.strictEqual(slots.filter(s => s.resource === a.slot.resource).find(s => free(s) === best)!.id, a.slot.id, 'ties go to the first slot');
            load.set(a.slot.id, load.get(a.slot.id)! + 1);
          }
          for (const resource of ['gpu', 'baseline'] as const) {
            const eligible = q.items.filter(it => it.status === 'pending' && !it.cancelRequested && (it.spec.kind === 'baseline') === (resource === 'baseline'));
            const started = eligible.filter(it => assigned.has(it.id));
            // in order: the started ones are the first of the eligible ones
            assert.deepStrictEqual(started.map(x => x.id), eligible.slice(0, started.length).map(x => x.id));
            // work-conserving: an eligible item waits only when its resource is full
            if (started.length < eligible.length) {
              assert.ok(slots.filter(s => s.resource === resource).every(s => load.get(s.id)! >= s.capacity));
            }
          }
        }
      }
    }
    assert.ok(checked > 50_000, `${checked} cases`);
  });

  it('a waiting GPU item does not block a baseline behind it, nor the other way round', () => {
    const slots = makeSlots({ gpus: [], baselines: 1 });
    const q = queueOf([{ gpu: true, state: 'running' }, { gpu: true, state: 'pending' }, { gpu: false, state: 'pending' }, { gpu: false, state: 'pending' }], slots, false);
    assert.deepStrictEqual(schedule(q, slots).map(a => [a.itemId, a.slot.id]), [[q.items[2].id, 'baseline']]);
  });
});

describe('queue edits', () => {
  function three(): QueueFile {
    const q = emptyQueue();
    addItems(q, [{ label: 'a', spec: FT }, { label: 'b', spec: FT }, { label: 'c', spec: LR }, { label: 'd', spec: FT }]);
    return q;
  }
  const labels = (q: QueueFile) => q.items.map(i => i.label);

  it('moves a waiting item past the next waiting one, skipping running and finished items', () => {
    const q = three();
    markStarted(q, q.items[1].id, 'cpu');
    assert.ok(moveItem(q, q.items[3].id, -1));
    assert.deepStrictEqual(labels(q), ['a', 'b', 'd', 'c']);
    assert.ok(moveItem(q, q.items[2].id, -1));
    assert.deepStrictEqual(labels(q), ['d', 'a', 'b', 'c'], 'jumps over the running b');
    assert.strictEqual(moveItem(q, q.items[0].id, -1), false);
    assert.strictEqual(moveItem(q, q.items[3].id, 1), false);
    assert.throws(() => moveItem(q, q.items[2].id, 1), /only a waiting item can be moved \('b' is running\)/);
    assert.throws(() => moveItem(q, 'qnope', 1), /no queue item 'qnope'/);
  });

  it('cancels a waiting item at once and asks a running one to stop; start and end are recorded once', () => {
    const q = three();
    const [a, b] = q.items;
    assert.strictEqual(cancelItem(q, a.id), 'cancelled');
    assert.strictEqual(a.status, 'cancelled');
    markStarted(q, b.id, 'gpu:0', new Date('2026-01-01T00:00:00Z'));
    assert.deepStrictEqual([b.status, b.slot, b.startedAt], ['running', 'gpu:0', '2026-01-01T00:00:00.000Z']);
    assert.throws(() => markStarted(q, b.id, 'gpu:0'), /is running, not waiting/);
    assert.strictEqual(cancelItem(q, b.id), 'requested');
    assert.ok(b.cancelRequested);
    markEnded(q, b.id, 'cancelled', null);
    markEnded(q, b.id, 'completed', null);
    assert.strictEqual(b.status, 'cancelled', 'a final status never changes');
    assert.strictEqual(cancelItem(q, b.id), 'final');
    assert.deepStrictEqual(countItems(q), { pending: 2, running: 0, completed: 0, failed: 0, cancelled: 2, interrupted: 0 });
  });

  it('retries a failed item at the end and clears finished ones', () => {
    const q = three();
    markStarted(q, q.items[0].id, 'cpu');
    markEnded(q, q.items[0].id, 'failed', 'boom');
    retryItem(q, q.items[0].id);
    assert.deepStrictEqual(labels(q), ['b', 'c', 'd', 'a']);
    assert.deepStrictEqual([q.items[3].status, q.items[3].error, q.items[3].slot], ['pending', null, null]);
    assert.throws(() => retryItem(q, q.items[0].id), /only a failed, cancelled or interrupted item can be retried/);
    markStarted(q, q.items[0].id, 'cpu');
    markEnded(q, q.items[0].id, 'completed', null);
    assert.strictEqual(clearFinished(q), 1);
    assert.deepStrictEqual(labels(q), ['c', 'd', 'a']);
    QueueFileSchema.parse(q);
    const ids = new Set(q.items.map((i: QueueItem) => i.id));
    assert.strictEqual(ids.size, 3);
  });
});
