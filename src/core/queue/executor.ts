/**
 * Executes the run queue (.scwb/queue.json): starts what the scheduler picks on free slots, records each outcome,
 * and goes on after a failure. Pure Node (no `vscode`): the kinds of runs are plugged in as runners
 * (src/core/queue/runners.ts for baselines, src/host/queue/runners.ts for fine-tunes through the scwb-finetune
 * task). Only one process executes a queue at a time: the one named in `executor` (a live owner); another window
 * only shows it and takes over when that owner is gone.
 *
 * After a reload (start()): an item left `running` whose runs are still running under a live owner (a fine-tune
 * worker survives its window) is re-attached and followed to its end; one whose runs all finished takes their
 * outcome; anything else is marked interrupted, and the next items start.
 */
import { currentOwner, isOwnerAlive } from '../runs/owner';
import { FINAL_STATUSES, type RunRecord } from '../runs/schema';
import type { RunStore } from '../runs/store';
import { cancelItem, markEnded, markStarted, schedule, type Slot } from './scheduler';
import { QUEUE_FINAL, type QueueFile, type QueueItem, type QueueSpec } from './schema';
import type { QueueStore } from './store';

export interface ItemOutcome {
  status: 'completed' | 'failed' | 'cancelled' | 'interrupted';
  error: string | null;
}

export interface RunHandle {
  /** resolves when the item's runs have ended */
  done: Promise<ItemOutcome>;
  /** asks the run to stop (its outcome arrives through `done`) */
  cancel(): void;
}

export interface StartContext {
  slot: Slot;
  /** records the item's run ids in the queue as soon as they exist */
  setRunIds(ids: string[]): Promise<void>;
}

export interface QueueRunner {
  start(item: QueueItem, ctx: StartContext): Promise<RunHandle>;
  /** follows runs that still run after a reload; null when this runner cannot */
  reattach?(item: QueueItem, runs: RunRecord[]): RunHandle | null;
}

export type QueueRunners = Partial<Record<QueueSpec['kind'], QueueRunner>>;

export interface ExecutorOptions {
  /** how often the queue file is looked at for edits by others (ms) */
  pollMs?: number;
  onChange?: () => void;
  /** a problem to show the user (the executor itself goes on) */
  onError?: (message: string) => void;
}

/** The outcome of an item from its runs' records (all completed -> completed; else the first problem). */
export function outcomeOfRuns(runs: readonly RunRecord[]): ItemOutcome {
  if (!runs.length) return { status: 'failed', error: 'no run was created' };
  const bad = runs.find(r => r.status !== 'completed');
  if (!bad) return { status: 'completed', error: null };
  if (bad.status === 'cancelled') return { status: 'cancelled', error: null };
  if (bad.status === 'interrupted') return { status: 'interrupted', error: bad.error ?? 'the run\'s process ended before it finished' };
  if (bad.status === 'failed') return { status: 'failed', error: bad.error ?? 'the run failed' };
  return { status: 'failed', error: `run ${bad.id} ended ${bad.status}` };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class QueueExecutor {
  private readonly active = new Map<string, RunHandle>();
  private readonly launching = new Set<Promise<void>>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private pumping: Promise<void> | null = null;
  private pumpAgain = false;
  private disposed = false;
  private owner = false;
  private readonly me = currentOwner();

  constructor(
    readonly store: QueueStore,
    readonly runStore: RunStore,
    private slots: Slot[],
    private readonly runners: QueueRunners,
    private readonly options: ExecutorOptions = {},
  ) {}

  /** Whether this process executes the queue (false: another live window does). */
  get isExecutor(): boolean {
    return this.owner;
  }

  get activeIds(): string[] {
    return [...this.active.keys()];
  }

  setSlots(slots: Slot[]): void {
    this.slots = slots;
    void this.pump();
  }

  /** Claims the queue (when no live process executes it), recovers items of an earlier session, starts the next. */
  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => { void this.tick().catch(e => this.options.onError?.(errorText(e))); }, this.options.pollMs ?? 2000);
  }

  private async tick(): Promise<void> {
    if (this.disposed || this.store.readOnly) return;
    if (!this.owner) {
      const claimed = await this.store.update(q => {
        const other = q.executor;
        if (other && !(other.pid === this.me.pid && other.hostname === this.me.hostname) && isOwnerAlive(other, null)) return false;
        q.executor = this.me;
        return true;
      });
      if (!claimed) return;
      this.owner = true;
      await this.recover();
    }
    // Cancels asked by another process (the CLI, a second window) reach the running items here.
    const q = await this.store.read();
    for (const it of q.items) if (it.cancelRequested && this.active.has(it.id)) this.active.get(it.id)!.cancel();
    await this.pump();
  }

  private async recover(): Promise<void> {
    const q = await this.store.read();
    for (const it of q.items) {
      if (it.status !== 'running' || this.active.has(it.id)) continue;
      const runs: RunRecord[] = [];
      for (const id of it.runIds) {
        const r = await this.runStore.get(id).catch(() => null); // get() marks a dead owner's run interrupted
        if (r) runs.push(r);
      }
      const live = runs.length > 0 && runs.some(r => !FINAL_STATUSES.includes(r.status));
      const handle = live ? this.runners[it.spec.kind]?.reattach?.(it, runs) ?? null : null;
      if (handle) {
        this.follow(it.id, handle);
        continue;
      }
      const outcome: ItemOutcome = runs.length && !live ? outcomeOfRuns(runs)
        : { status: 'interrupted', error: 'VS Code was closed or reloaded while this item ran; its run did not survive' };
      await this.store.update(x => markEnded(x, it.id, outcome.status, outcome.error));
    }
    this.options.onChange?.();
  }

  /** Starts what can start now. Calls while one is under way make it run once more afterwards. */
  pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true;
      return this.pumping;
    }
    this.pumping = (async () => {
      do {
        this.pumpAgain = false;
        await this.pumpOnce();
      } while (this.pumpAgain && !this.disposed);
    })().finally(() => { this.pumping = null; });
    return this.pumping;
  }

  private async pumpOnce(): Promise<void> {
    if (this.disposed || !this.owner || this.store.readOnly) return;
    const started = await this.store.update(q => {
      const out: { item: QueueItem; slot: Slot }[] = [];
      for (const a of schedule(q, this.slots)) out.push({ item: structuredClone(markStarted(q, a.itemId, a.slot.id)), slot: a.slot });
      return out;
    });
    if (started.length) this.options.onChange?.();
    for (const { item, slot } of started) {
      const p = this.launch(item, slot);
      this.launching.add(p);
      void p.finally(() => this.launching.delete(p));
    }
  }

  private async launch(item: QueueItem, slot: Slot): Promise<void> {
    const runner = this.runners[item.spec.kind];
    let handle: RunHandle;
    try {
      if (!runner) throw new Error(`no runner for '${item.spec.kind}' items is registered in this build (probe items need the probe runner of issue 12)`);
      handle = await runner.start(item, {
        slot,
        setRunIds: ids => this.store.update(q => { const it = q.items.find(x => x.id === item.id); if (it) it.runIds = ids; }),
      });
    } catch (e) {
      await this.finish(item.id, { status: 'failed', error: errorText(e) });
      return;
    }
    this.follow(item.id, handle);
    // A cancel asked while the run was being prepared.
    const now = (await this.store.read()).items.find(x => x.id === item.id);
    if (now?.cancelRequested) handle.cancel();
  }

  private follow(id: string, handle: RunHandle): void {
    this.active.set(id, handle);
    void handle.done.then(o => o, (e: unknown): ItemOutcome => ({ status: 'failed', error: errorText(e) }))
      .then(o => this.finish(id, o));
  }

  private async finish(id: string, outcome: ItemOutcome): Promise<void> {
    // The item stays active until its end is recorded, so idle() cannot see a queue that still says "running".
    try {
      await this.store.update(q => {
        const it = q.items.find(x => x.id === id);
        // A cancel that was asked wins over a failure caused by the stop itself.
        const status = it?.cancelRequested && outcome.status !== 'completed' ? 'cancelled' : outcome.status;
        markEnded(q, id, status, status === 'cancelled' ? null : outcome.error);
      });
    } catch (e) {
      this.options.onError?.(`could not record the end of queue item ${id}: ${errorText(e)}`);
    } finally {
      this.active.delete(id);
    }
    this.options.onChange?.();
    if (!this.disposed) await this.pump();
  }

  /** Cancels an item: a waiting one at once, a running one by stopping its run. */
  async cancel(id: string): Promise<void> {
    const what = await this.store.update(q => cancelItem(q, id));
    if (what === 'requested') this.active.get(id)?.cancel();
    this.options.onChange?.();
  }

  async setPaused(paused: boolean): Promise<void> {
    await this.store.update(q => { q.paused = paused; });
    this.options.onChange?.();
    await this.pump();
  }

  /** Resolves when nothing runs or is being started (tests). */
  async idle(): Promise<void> {
    while (this.active.size || this.launching.size || this.pumping) {
      await new Promise(res => setTimeout(res, 50));
    }
  }

  /** Stops executing (running runs go on; a later start() re-attaches them). */
  async dispose(): Promise<void> {
    this.disposed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.owner && !this.store.readOnly) {
      await this.store.update(q => { if (q.executor?.pid === this.me.pid && q.executor.hostname === this.me.hostname) q.executor = null; }).catch(() => undefined);
    }
  }
}

/** Items that are waiting or running, for status text. */
export function openItems(q: QueueFile): QueueItem[] {
  return q.items.filter(x => !QUEUE_FINAL.includes(x.status));
}
