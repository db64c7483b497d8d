/**
 * Runs solver jobs either on a small pool of long-lived worker threads or on the calling thread.
 *
 * Why not workers/runTask: the multinomial fit evaluates its objective a few hundred times, each evaluation split
 * over the threads; a fresh worker per evaluation would pay thread start-up and module loading every time. The pool
 * starts its threads once per fit and hands them matrices on SharedArrayBuffer, so no job copies the data.
 * Cancellation is a shared flag the solvers poll once per iteration.
 */
import * as path from 'path';
import { Worker } from 'worker_threads';
import { CancelledError } from '../workers/task';
import { runSolverJob, type SolverJob, type SolverJobResult } from './jobs';
import { sharedInt32 } from './matrix';

export interface PoolRequest {
  id: number;
  job: SolverJob;
  cancelFlag: Int32Array;
}

export type PoolReply =
  | { id: number; type: 'iteration'; iter: number }
  | { id: number; type: 'done'; value: SolverJobResult }
  | { id: number; type: 'error'; name: string; message: string; stack?: string };

export interface JobRunner {
  readonly threads: number;
  run(job: SolverJob, onIteration?: (iter: number) => void): Promise<SolverJobResult>;
  close(): Promise<void>;
}

const WORKER_ENTRY = path.join(__dirname, 'worker.js');

/** `threads` <= 1 runs jobs on the calling thread (blocking it); more starts that many worker threads. */
export function createRunner(threads: number, isCancelled?: () => boolean): JobRunner {
  return threads <= 1 ? new InlineRunner(isCancelled) : new WorkerPool(threads, isCancelled);
}

class InlineRunner implements JobRunner {
  readonly threads = 1;
  constructor(private readonly isCancelled?: () => boolean) {}

  async run(job: SolverJob, onIteration?: (iter: number) => void): Promise<SolverJobResult> {
    if (this.isCancelled?.()) throw new CancelledError();
    try {
      return runSolverJob(job, { shouldStop: () => this.isCancelled?.() ?? false, onIteration });
    } catch (e) {
      if ((e as Error)?.name === 'CancelledError') throw new CancelledError();
      throw e;
    }
  }

  async close(): Promise<void> {}
}

interface Pending {
  resolve: (v: SolverJobResult) => void;
  reject: (e: Error) => void;
  onIteration?: (iter: number) => void;
}

class WorkerPool implements JobRunner {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: Array<{ req: PoolRequest; pending: Pending }> = [];
  private readonly pending = new Map<number, Pending>();
  private readonly busyWith = new Map<Worker, number>();
  private readonly cancelFlag = sharedInt32(1);
  private readonly poll: NodeJS.Timeout | undefined;
  private nextId = 1;
  private failure: Error | undefined;

  constructor(readonly threads: number, isCancelled?: () => boolean) {
    for (let t = 0; t < threads; t++) {
      const w = new Worker(WORKER_ENTRY);
      w.on('message', (r: PoolReply) => this.onReply(w, r));
      w.on('error', e => this.fail(e));
      w.on('exit', code => {
        if (this.workers.includes(w)) this.fail(new Error(`solver thread stopped with exit code ${code}`));
      });
      this.workers.push(w);
      this.idle.push(w);
    }
    if (isCancelled) {
      this.poll = setInterval(() => {
        if (isCancelled()) Atomics.store(this.cancelFlag, 0, 1);
      }, 50);
    }
  }

  run(job: SolverJob, onIteration?: (iter: number) => void): Promise<SolverJobResult> {
    if (this.failure) return Promise.reject(this.failure);
    if (Atomics.load(this.cancelFlag, 0)) return Promise.reject(new CancelledError());
    return new Promise((resolve, reject) => {
      const req: PoolRequest = { id: this.nextId++, job, cancelFlag: this.cancelFlag };
      this.queue.push({ req, pending: { resolve, reject, onIteration } });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.pop() as Worker;
      const { req, pending } = this.queue.shift() as { req: PoolRequest; pending: Pending };
      this.pending.set(req.id, pending);
      this.busyWith.set(w, req.id);
      w.postMessage(req);
    }
  }

  private onReply(w: Worker, r: PoolReply): void {
    const p = this.pending.get(r.id);
    if (!p) return;
    if (r.type === 'iteration') {
      p.onIteration?.(r.iter);
      return;
    }
    this.pending.delete(r.id);
    this.busyWith.delete(w);
    this.idle.push(w);
    if (r.type === 'done') p.resolve(r.value);
    else if (r.name === 'CancelledError') p.reject(new CancelledError());
    else {
      const err = new Error(r.message);
      if (r.stack) err.stack = r.stack;
      p.reject(err);
    }
    this.dispatch();
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const p of this.pending.values()) p.reject(e);
    for (const q of this.queue) q.pending.reject(e);
    this.pending.clear();
    this.queue.length = 0;
  }

  async close(): Promise<void> {
    if (this.poll) clearInterval(this.poll);
    const ws = this.workers.splice(0);
    await Promise.all(ws.map(w => w.terminate()));
  }
}
