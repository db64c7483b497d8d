/**
 * Heavy work (reading a large .h5ad, preprocessing, fitting a baseline) runs in worker threads so that the
 * extension host and the CLI's event loop never stall. A task is a plain exported async function in a module under
 * src/core; `runTask` runs it in a fresh worker and relays progress, cancellation and errors.
 */
export interface TaskContext {
  /** fraction in [0, 1] (or NaN when unknown) and a short message */
  progress(fraction: number, message?: string): void;
  /** becomes true when the caller cancelled; long loops should check it between blocks */
  readonly cancelled: boolean;
}

export type TaskFunction<I, O> = (input: I, ctx: TaskContext) => Promise<O> | O;

/** Thrown (and re-created on the caller's side) when a task was cancelled. */
export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

/** Messages from the worker to the caller. */
export type WorkerMessage =
  | { type: 'progress'; fraction: number; message?: string }
  | { type: 'result'; value: unknown }
  | { type: 'error'; name: string; message: string; stack?: string; file?: string; problem?: string };

/** Messages from the caller to the worker. */
export type CallerMessage = { type: 'cancel' };

export interface TaskSpec {
  /** module path relative to out/src/core, without extension, e.g. 'h5ad/tasks' */
  module: string;
  /** exported function name */
  name: string;
  input: unknown;
}
