/** Tasks used only by the worker tests (loaded from out/test/... via a relative module path). */
import { CancelledError, type TaskContext } from '../../../src/core/workers/task';

export async function sumSquares(input: { n: number }, ctx: TaskContext): Promise<{ sum: number; squares: Float64Array }> {
  const squares = new Float64Array(input.n);
  let sum = 0;
  for (let i = 0; i < input.n; i++) {
    squares[i] = i * i;
    sum += i * i;
    if (i % 1000 === 0) ctx.progress(i / input.n);
  }
  ctx.progress(1, 'done');
  return { sum, squares };
}

export async function spinUntilCancelled(_input: unknown, ctx: TaskContext): Promise<never> {
  for (;;) {
    await new Promise(r => setTimeout(r, 5));
    if (ctx.cancelled) throw new CancelledError();
  }
}

export function failWithFileError(): never {
  const e = new Error('x: bad') as Error & { file: string; problem: string };
  e.file = '/data/x.h5ad';
  e.problem = 'not an HDF5 file';
  throw e;
}

export function busyForever(): never {
  for (;;) { /* never checks ctx.cancelled: must be terminated */ }
}

/** A synchronous loop that only polls ctx.cancelled: cancellation must still reach it. */
export function syncLoopPolling(_input: unknown, ctx: TaskContext): number {
  let i = 0;
  const start = Date.now();
  while (Date.now() - start < 60_000) {
    i++;
    if (i % 100000 === 0) {
      ctx.progress(NaN);
      if (ctx.cancelled) throw new CancelledError();
    }
  }
  return i;
}
