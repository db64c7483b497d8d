/**
 * The queue's pure logic: which pending item starts next on which slot, and the edits users make (add, move,
 * cancel, pause). No I/O: src/core/queue/store.ts persists, src/host/queue/ executes.
 *
 * Slots: one per GPU (capacity = the user's concurrency per device, default 1); on a machine without CUDA a single
 * 'cpu' slot of capacity 1 takes fine-tunes and probes; a 'baseline' pool (capacity = parallel CPU baselines) takes
 * LR baselines. Rules:
 * - nothing starts while the queue is paused (running items go on);
 * - items start in queue order within each resource; a waiting GPU item never blocks a baseline behind it and the
 *   other way round;
 * - a GPU item goes to the free slot with the most free capacity (ties: the lowest slot in the list);
 * - an item whose cancel was asked never starts.
 */
import { QUEUE_FINAL, itemResource, type QueueFile, type QueueItem, type QueueSpec } from './schema';

export interface Slot {
  /** 'gpu:<index>', 'cpu' or 'baseline' */
  id: string;
  resource: 'gpu' | 'baseline';
  /** CUDA_VISIBLE_DEVICES for the runs on it; null on the cpu slot and the baseline pool */
  cudaDevice: string | null;
  capacity: number;
}

export interface SlotConfig {
  /** CUDA device indices; empty: no GPU (one 'cpu' slot) */
  gpus: readonly string[];
  /** concurrent runs per GPU */
  perGpu?: number;
  /** concurrent baselines on the CPU */
  baselines?: number;
}

export function makeSlots(config: SlotConfig): Slot[] {
  const perGpu = Math.max(1, Math.floor(config.perGpu ?? 1));
  const baselines = Math.max(1, Math.floor(config.baselines ?? 2));
  const gpu: Slot[] = config.gpus.length
    ? config.gpus.map(g => ({ id: `gpu:${g}`, resource: 'gpu' as const, cudaDevice: g, capacity: perGpu }))
    : [{ id: 'cpu', resource: 'gpu', cudaDevice: null, capacity: 1 }];
  return [...gpu, { id: 'baseline', resource: 'baseline', cudaDevice: null, capacity: baselines }];
}

export interface Assignment {
  itemId: string;
  slot: Slot;
}

/** The items to start now and their slots. Items already running occupy their slots (unknown slots count nothing). */
export function schedule(queue: Pick<QueueFile, 'paused' | 'items'>, slots: readonly Slot[]): Assignment[] {
  if (queue.paused) return [];
  const used = new Map<string, number>(slots.map(s => [s.id, 0]));
  for (const it of queue.items) {
    if (it.status === 'running' && it.slot !== null && used.has(it.slot)) used.set(it.slot, used.get(it.slot)! + 1);
  }
  const out: Assignment[] = [];
  for (const it of queue.items) {
    if (it.status !== 'pending' || it.cancelRequested) continue;
    const resource = itemResource(it.spec);
    let best: Slot | null = null;
    let bestFree = 0;
    for (const s of slots) {
      if (s.resource !== resource) continue;
      const free = s.capacity - used.get(s.id)!;
      if (free > bestFree) {
        best = s;
        bestFree = free;
      }
    }
    if (!best) continue; // this resource is full; later items of the other resource may still start
    used.set(best.id, used.get(best.id)! + 1);
    out.push({ itemId: it.id, slot: best });
  }
  return out;
}

let lastId = 0;
/** A new item id: time-ordered, unique within the process, unlikely to collide across processes. */
export function newItemId(now = Date.now()): string {
  lastId = Math.max(now, lastId + 1);
  return `q${lastId.toString(36)}-${Math.floor(Math.random() * 36 ** 4).toString(36).padStart(4, '0')}`;
}

export function addItems(queue: QueueFile, items: readonly { label: string; spec: QueueSpec; estimateHours?: number; preset?: string }[], now = new Date()): QueueItem[] {
  const added: QueueItem[] = items.map(x => ({
    id: newItemId(now.getTime()), label: x.label, preset: x.preset ?? '', spec: x.spec, status: 'pending', slot: null, runIds: [],
    estimateHours: x.estimateHours ?? 0, createdAt: now.toISOString(), startedAt: null, endedAt: null, error: null, cancelRequested: false,
  }));
  queue.items.push(...added);
  return added;
}

function indexOf(queue: QueueFile, id: string): number {
  const i = queue.items.findIndex(x => x.id === id);
  if (i < 0) throw new Error(`no queue item '${id}'`);
  return i;
}

/**
 * Moves a pending item up (-1) or down (+1) past the next pending item (running and finished items keep their
 * places). Returns false when it is already first/last among the pending items.
 */
export function moveItem(queue: QueueFile, id: string, direction: -1 | 1): boolean {
  const i = indexOf(queue, id);
  if (queue.items[i].status !== 'pending') throw new Error(`only a waiting item can be moved ('${queue.items[i].label}' is ${queue.items[i].status})`);
  let j = i + direction;
  while (j >= 0 && j < queue.items.length && queue.items[j].status !== 'pending') j += direction;
  if (j < 0 || j >= queue.items.length) return false;
  const [item] = queue.items.splice(i, 1);
  queue.items.splice(j, 0, item);
  return true;
}

/**
 * Cancels an item: a pending one becomes cancelled at once; a running one gets `cancelRequested` (the executor
 * ends its process and then records the outcome). Returns what happened.
 */
export function cancelItem(queue: QueueFile, id: string, now = new Date()): 'cancelled' | 'requested' | 'final' {
  const it = queue.items[indexOf(queue, id)];
  if (QUEUE_FINAL.includes(it.status)) return 'final';
  if (it.status === 'pending') {
    it.status = 'cancelled';
    it.endedAt = now.toISOString();
    return 'cancelled';
  }
  it.cancelRequested = true;
  return 'requested';
}

/** Removes finished items (completed, failed, cancelled, interrupted); returns how many. */
export function clearFinished(queue: QueueFile): number {
  const before = queue.items.length;
  queue.items = queue.items.filter(x => !QUEUE_FINAL.includes(x.status));
  return before - queue.items.length;
}

/** Puts a finished item back at the end as pending (retry). */
export function retryItem(queue: QueueFile, id: string): void {
  const i = indexOf(queue, id);
  const it = queue.items[i];
  if (!QUEUE_FINAL.includes(it.status) || it.status === 'completed') throw new Error(`only a failed, cancelled or interrupted item can be retried ('${it.label}' is ${it.status})`);
  queue.items.splice(i, 1);
  queue.items.push({ ...it, status: 'pending', slot: null, runIds: [], startedAt: null, endedAt: null, error: null, cancelRequested: false });
}

export function markStarted(queue: QueueFile, id: string, slot: string, now = new Date()): QueueItem {
  const it = queue.items[indexOf(queue, id)];
  if (it.status !== 'pending') throw new Error(`queue item '${it.label}' is ${it.status}, not waiting`);
  it.status = 'running';
  it.slot = slot;
  it.startedAt = now.toISOString();
  return it;
}

export function markEnded(queue: QueueFile, id: string, status: 'completed' | 'failed' | 'cancelled' | 'interrupted', error: string | null, now = new Date()): void {
  const i = queue.items.findIndex(x => x.id === id);
  if (i < 0) return; // removed meanwhile
  const it = queue.items[i];
  if (QUEUE_FINAL.includes(it.status)) return;
  it.status = status;
  it.error = error;
  it.endedAt = now.toISOString();
}

export interface QueueCounts {
  pending: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  interrupted: number;
}

export function countItems(queue: Pick<QueueFile, 'items'>): QueueCounts {
  const c: QueueCounts = { pending: 0, running: 0, completed: 0, failed: 0, cancelled: 0, interrupted: 0 };
  for (const it of queue.items) c[it.status]++;
  return c;
}
