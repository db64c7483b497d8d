/** Worker-thread side of runTask: loads the task module, runs the function, posts progress and the result. */
import * as path from 'path';
import { parentPort, receiveMessageOnPort, workerData } from 'worker_threads';
import type { CallerMessage, TaskContext, TaskFunction, TaskSpec, WorkerMessage } from './task';

const CORE_DIR = path.resolve(__dirname, '..');
/** the compiled tree (out/): tasks live in the core; tests add their own under out/test */
const OUT_DIR = path.resolve(CORE_DIR, '..', '..');

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('entry.js must run in a worker thread');
  const spec = workerData as TaskSpec;
  const modulePath = path.resolve(CORE_DIR, spec.module);
  // Only the project's own compiled modules can be run, whatever a caller passes.
  if (!modulePath.startsWith(OUT_DIR + path.sep)) throw new Error(`task module outside the project: ${spec.module}`);
  let cancelled = false;
  port.on('message', (m: CallerMessage) => {
    if (m.type === 'cancel') cancelled = true;
  });
  let lastProgress = 0;
  const ctx: TaskContext = {
    progress(fraction, message) {
      // Throttle: a tight loop may report thousands of times a second.
      const now = Date.now();
      if (now - lastProgress < 50 && fraction < 1) return;
      lastProgress = now;
      const msg: WorkerMessage = { type: 'progress', fraction, message };
      port.postMessage(msg);
    },
    get cancelled() {
      // A task that never yields to the event loop would never see the 'cancel' message arrive: look for it here.
      if (!cancelled) {
        const pending = receiveMessageOnPort(port) as { message: CallerMessage } | undefined;
        if (pending?.message.type === 'cancel') cancelled = true;
      }
      return cancelled;
    },
  };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(modulePath) as Record<string, unknown>;
    const fn = mod[spec.name];
    if (typeof fn !== 'function') throw new Error(`no task '${spec.name}' in ${spec.module}`);
    const value = await (fn as TaskFunction<unknown, unknown>)(spec.input, ctx);
    const msg: WorkerMessage = { type: 'result', value };
    port.postMessage(msg, transferablesOf(value));
  } catch (e) {
    const err = e as Error & { file?: string; problem?: string };
    const msg: WorkerMessage = {
      type: 'error', name: err?.name ?? 'Error', message: err?.message ?? String(e), stack: err?.stack,
      file: err?.file, problem: err?.problem,
    };
    port.postMessage(msg);
  }
}

/** Typed arrays in the result are moved, not copied. */
function transferablesOf(value: unknown, out: ArrayBuffer[] = [], depth = 0): ArrayBuffer[] {
  if (depth > 4 || value === null || typeof value !== 'object') return out;
  if (ArrayBuffer.isView(value)) {
    const buf = value.buffer;
    if (buf instanceof ArrayBuffer && !out.includes(buf) && value.byteLength === buf.byteLength) out.push(buf);
    return out;
  }
  for (const v of Array.isArray(value) ? value : Object.values(value)) transferablesOf(v, out, depth + 1);
  return out;
}

void main();
