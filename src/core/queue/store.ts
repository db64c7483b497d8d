/**
 * Persistence of the run queue in `<workspace>/.scwb/queue.json`: validated with zod on every read (a hand-edited
 * or foreign file is reported by name and never overwritten), changed only by read-modify-write under a lock folder
 * (`queue.json.lock`, taken over when older than `staleMs`: left by a killed process), written atomically (temp file
 * in the same folder, then rename), so concurrent writers (two windows, the CLI) never lose an edit and a process
 * killed mid-write leaves the previous or the next complete file.
 *
 * The `.scwb` folder must be a real folder inside the workspace (a symbolic link there, or at any level below the
 * workspace, is refused by name), and queue.json is read only when it is a regular file (not a link, FIFO or
 * device) of bounded size.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../fs-atomic';
import { checkRealFolders, mkdirReal } from '../safe-dirs';
import { readTextFileIfExists } from '../safe-read';
import { jsonProblem } from '../safe-text';
import { emptyQueue, QueueFileSchema, type QueueFile } from './schema';

export const QUEUE_FILE = 'queue.json';
/** Most bytes read from queue.json (about 400k items). */
export const QUEUE_FILE_LIMIT = 256 * 1024 * 1024;

export interface QueueStoreOptions {
  /** a lock older than this is left over from a crash (ms); default 10 s */
  staleMs?: number;
  /** never write (an untrusted workspace) */
  readOnly?: boolean | (() => boolean);
}

export class QueueFileError extends Error {}

export class QueueStore {
  readonly file: string;
  private readonly lock: string;
  private readonly staleMs: number;
  private chain: Promise<unknown> = Promise.resolve();

  /** `scwbDir` is the workspace's `.scwb` folder. */
  constructor(readonly scwbDir: string, private readonly options: QueueStoreOptions = {}) {
    this.file = path.join(scwbDir, QUEUE_FILE);
    this.lock = `${this.file}.lock`;
    this.staleMs = options.staleMs ?? 10_000;
  }

  get readOnly(): boolean {
    const r = this.options.readOnly ?? false;
    return typeof r === 'function' ? r() : r;
  }

  /** The queue (an empty one when the file does not exist). */
  async read(): Promise<QueueFile> {
    if (!(await checkRealFolders(path.dirname(this.scwbDir), this.scwbDir))) return emptyQueue();
    const text = await readTextFileIfExists(this.file, { noFollow: true, maxBytes: QUEUE_FILE_LIMIT });
    return text === null ? emptyQueue() : parseQueue(text, this.file);
  }

  /**
   * Applies `fn` to the current queue and saves the result, under the lock; returns what `fn` returned. `fn` may
   * mutate the queue it is given. Calls within this process run one after another.
   */
  update<T>(fn: (queue: QueueFile) => T | Promise<T>): Promise<T> {
    if (this.readOnly) return Promise.reject(new Error(`the queue ${this.file} is read-only (untrusted workspace)`));
    const run = () => this.withLock(async () => {
      const queue = await this.read();
      const result = await fn(queue);
      const checked = QueueFileSchema.parse(queue);
      const dup = duplicateId(checked);
      if (dup) throw new QueueFileError(`${this.file}: refusing to write items ${dup.first} and ${dup.second} with the same id '${dup.id}'`);
      await writeFileAtomic(this.file, JSON.stringify(checked, null, 2) + '\n');
      return result;
    });
    const next = this.chain.then(run, run);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async withLock<T>(fn: () => Promise<T>): Promise<T> {
    await mkdirReal(path.dirname(this.scwbDir), this.scwbDir);
    for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
      try {
        await fs.promises.mkdir(this.lock);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const age = await fs.promises.stat(this.lock).then(st => Date.now() - st.mtimeMs, () => 0);
        if (age > this.staleMs) {
          // Left by a process that died holding it: take it over (rename first so two takers do not both win).
          const grave = `${this.lock}.stale-${process.pid}-${Date.now()}`;
          await fs.promises.rename(this.lock, grave).then(() => fs.promises.rm(grave, { recursive: true, force: true }), () => undefined);
          continue;
        }
        await new Promise(res => setTimeout(res, wait));
      }
    }
    try {
      return await fn();
    } finally {
      await fs.promises.rm(this.lock, { recursive: true, force: true });
    }
  }
}

export function parseQueue(text: string, file: string): QueueFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new QueueFileError(`${file}: ${jsonProblem(e)}; fix or delete the file to use the queue`);
  }
  const r = QueueFileSchema.safeParse(raw);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new QueueFileError(`${file}: ${first.path.join('.') || '(root)'}: ${first.message}; fix or delete the file to use the queue`);
  }
  // The schema drops fields it does not know; the next write would lose them silently, so such a file is refused.
  const extra = unknownField(raw, r.data, []);
  if (extra) throw new QueueFileError(`${file}: ${extra}: unknown field (written by another version of scWorkbench, or by hand?); it would be lost on the next write: fix or delete the file to use the queue`);
  const dup = duplicateId(r.data);
  if (dup) throw new QueueFileError(`${file}: items ${dup.first} and ${dup.second} share the id '${dup.id}'; ids must be unique: fix or delete the file to use the queue`);
  return r.data;
}

/** The path of the first field of `raw` that parsing dropped (not in `parsed`), or null. */
function unknownField(raw: unknown, parsed: unknown, at: (string | number)[]): string | null {
  if (Array.isArray(raw) && Array.isArray(parsed)) {
    for (let i = 0; i < raw.length; i++) {
      const f = unknownField(raw[i], parsed[i], [...at, i]);
      if (f) return f;
    }
    return null;
  }
  if (raw && parsed && typeof raw === 'object' && typeof parsed === 'object') {
    const p = parsed as Record<string, unknown>;
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      if (!Object.prototype.hasOwnProperty.call(p, k)) return [...at, k].join('.');
      const f = unknownField(v, p[k], [...at, k]);
      if (f) return f;
    }
  }
  return null;
}

/** The first id two items share (positions are 0-based item numbers), or null. */
export function duplicateId(queue: QueueFile): { id: string; first: number; second: number } | null {
  const seen = new Map<string, number>();
  for (let i = 0; i < queue.items.length; i++) {
    const id = queue.items[i].id;
    const j = seen.get(id);
    if (j !== undefined) return { id, first: j, second: i };
    seen.set(id, i);
  }
  return null;
}
