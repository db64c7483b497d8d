/** A model file that cannot be read, or that asks for something we refuse to do: names the file and the problem. */
export class CheckpointError extends Error {
  constructor(readonly file: string, readonly problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'CheckpointError';
  }
}
