/** Caller side: runs a core task in a worker thread. */
import * as path from 'path';
import { Worker } from 'worker_threads';
import { H5adError } from '../h5ad/types';
import { CancelledError, type CallerMessage, type TaskSpec, type WorkerMessage } from './task';

export interface RunTaskOptions {
  onProgress?: (fraction: number, message?: string) => void;
  /** aborting asks the task to stop, then terminates the worker if it does not within `graceMs` */
  signal?: AbortSignal;
  graceMs?: number;
  /** heap limit for the worker, MiB */
  maxOldGenerationSizeMb?: number;
}

const ENTRY = path.join(__dirname, 'entry.js');

export function runTask<O>(module: string, name: string, input: unknown, opts: RunTaskOptions = {}): Promise<O> {
  const spec: TaskSpec = { module, name, input };
  return new Promise<O>((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new CancelledError());
      return;
    }
    const worker = new Worker(ENTRY, {
      workerData: spec,
      resourceLimits: opts.maxOldGenerationSizeMb ? { maxOldGenerationSizeMb: opts.maxOldGenerationSizeMb } : undefined,
    });
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      if (killTimer) clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      fn();
      void worker.terminate();
    };
    const onAbort = () => {
      const msg: CallerMessage = { type: 'cancel' };
      worker.postMessage(msg);
      killTimer = setTimeout(() => finish(() => reject(new CancelledError())), opts.graceMs ?? 2000);
    };
    opts.signal?.addEventListener('abort', onAbort);
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') opts.onProgress?.(m.fraction, m.message);
      else if (m.type === 'result') finish(() => resolve(m.value as O));
      else if (m.type === 'error') {
        finish(() => {
          if (m.name === 'CancelledError') return reject(new CancelledError());
          const err = m.file !== undefined && m.problem !== undefined ? new H5adError(m.file, m.problem) : new Error(m.message);
          if (m.stack) err.stack = m.stack;
          reject(err);
        });
      }
    });
    worker.on('error', e => finish(() => reject(e)));
    worker.on('exit', code => finish(() => reject(new Error(`worker stopped with exit code ${code} before it answered`))));
  });
}
