/** Content hashes of input files, streamed so a multi-gigabyte .h5ad never sits in memory. */
import * as crypto from 'crypto';
import * as fs from 'fs';
import { CancelledError } from './workers/task';

/** Hex sha256 of the file's bytes; `onBytes` hears the bytes read so far; `isCancelled` stops early. */
export async function sha256File(file: string, onBytes?: (done: number, total: number) => void,
  isCancelled?: () => boolean): Promise<string> {
  const st = await fs.promises.stat(file);
  // A FIFO or device would never end (or block on open): refuse it before reading.
  if (!st.isFile()) throw new Error(`${file}: not a regular file (a FIFO, device or folder), refusing to hash it`);
  const total = st.size;
  const hash = crypto.createHash('sha256');
  let done = 0;
  const stream = fs.createReadStream(file, { highWaterMark: 4 << 20 });
  for await (const chunk of stream) {
    if (isCancelled?.()) {
      stream.destroy();
      throw new CancelledError();
    }
    hash.update(chunk as Buffer);
    done += (chunk as Buffer).length;
    onBytes?.(done, total);
  }
  return hash.digest('hex');
}
