import { UnsafeFileError } from '../safe-read';

/** A model file that cannot be read, or that asks for something we refuse to do: names the file and the problem. */
export class CheckpointError extends Error {
  constructor(readonly file: string, readonly problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'CheckpointError';
  }
}

/** Runs `fn`, turning a refused file (not regular, too large) into a CheckpointError naming it. */
export function asCheckpointError<T>(file: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof UnsafeFileError) throw new CheckpointError(file, e.problem);
    throw e;
  }
}
