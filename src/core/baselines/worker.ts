/** Entry of a long-lived solver thread (see pool.ts): runs jobs one at a time and answers each by id. */
import { parentPort } from 'worker_threads';
import { runSolverJob, type SolverJob } from './jobs';
import type { PoolReply, PoolRequest } from './pool';

const port = parentPort;
if (!port) throw new Error('baselines/worker.js must run in a worker thread');

port.on('message', (req: PoolRequest) => {
  const cancel = req.cancelFlag;
  const reply = (r: PoolReply, transfer: ArrayBuffer[] = []) => port.postMessage(r, transfer);
  try {
    const value = runSolverJob(req.job as SolverJob, {
      shouldStop: () => Atomics.load(cancel, 0) !== 0,
      onIteration: iter => reply({ id: req.id, type: 'iteration', iter }),
    });
    const transfer: ArrayBuffer[] = [];
    if ('w' in value && value.w.buffer instanceof ArrayBuffer) transfer.push(value.w.buffer);
    reply({ id: req.id, type: 'done', value }, transfer);
  } catch (e) {
    const err = e as Error;
    reply({ id: req.id, type: 'error', name: err?.name ?? 'Error', message: err?.message ?? String(e), stack: err?.stack });
  }
});
