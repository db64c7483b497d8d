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
import * as crypto from 'crypto';
import { z } from 'zod';
import { writeFileAtomic } from '../fs-atomic';
import { checkRealFolders, mkdirReal } from '../safe-dirs';
import { fileKind, openRegular, UnsafeFileError } from '../safe-read';
import { jsonProblem } from '../safe-text';
import { applyEntry, diffQueue, JOURNAL_FILE, JournalLineError, parseEntry, parseHeader, stateOf, type JournalEntry, type QueueState } from './journal';
import { emptyQueue, QueueFileSchema, QueueItemSchema, type QueueFile, type QueueItem } from './schema';

export const QUEUE_FILE = 'queue.json';
/** Most bytes read from queue.json (about 400k items), and from queue.journal. */
export const QUEUE_FILE_LIMIT = 256 * 1024 * 1024;
/** The journal is folded into a new snapshot once it is larger than this and than half the snapshot. */
export const JOURNAL_COMPACT_BYTES = 1024 * 1024;

export interface QueueStoreOptions {
  /** a lock older than this is left over from a crash (ms); default 10 s */
  staleMs?: number;
  /** never write (an untrusted workspace) */
  readOnly?: boolean | (() => boolean);
  /** journal size (bytes) past which an update compacts; default max(JOURNAL_COMPACT_BYTES, snapshot size / 2) */
  compactBytes?: number;
}

export class QueueFileError extends Error {}

/** What this process last read: the snapshot by identity and the journal up to `offset` (its last full line). */
interface Loaded {
  snapKey: string;
  snapBytes: number;
  base: string;
  /** the journal's header token (null: no journal, or one that extends another snapshot) */
  token: string | null;
  /** a journal is there but extends another snapshot: the next update compacts */
  staleJournal: boolean;
  offset: number;
  lines: number;
  state: QueueState;
}

type Stat = { dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint; ctimeNs: bigint };
const keyOf = (st: Stat): string => `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;

export class QueueStore {
  readonly file: string;
  readonly journal: string;
  private readonly lock: string;
  private readonly staleMs: number;
  private chain: Promise<unknown> = Promise.resolve();
  private loaded: Loaded | null = null;
  /** loads (and the in-memory apply after an append) one after another: they change `loaded.state` in place */
  private loading: Promise<unknown> = Promise.resolve();

  /** `scwbDir` is the workspace's `.scwb` folder. */
  constructor(readonly scwbDir: string, private readonly options: QueueStoreOptions = {}) {
    this.file = path.join(scwbDir, QUEUE_FILE);
    this.journal = path.join(scwbDir, JOURNAL_FILE);
    this.lock = `${this.file}.lock`;
    this.staleMs = options.staleMs ?? 10_000;
  }

  get readOnly(): boolean {
    const r = this.options.readOnly ?? false;
    return typeof r === 'function' ? r() : r;
  }

  /** The queue (an empty one when the file does not exist): the snapshot with the journal applied. */
  async read(): Promise<QueueFile> {
    if (!(await checkRealFolders(path.dirname(this.scwbDir), this.scwbDir))) return emptyQueue();
    return structuredClone((await this.load()).state.queue);
  }

  /**
   * Applies `fn` to the current queue and saves the result, under the lock; returns what `fn` returned. `fn` may
   * mutate the queue it is given. Calls within this process run one after another. The change is appended to the
   * journal as one line holding only the items that changed; the snapshot is rewritten only when there is none yet,
   * when the journal extends another snapshot, or when the journal has grown past the compaction size.
   */
  update<T>(fn: (queue: QueueFile) => T | Promise<T>): Promise<T> {
    if (this.readOnly) return Promise.reject(new Error(`the queue ${this.file} is read-only (untrusted workspace)`));
    const run = () => this.withLock(async () => {
      const before = await this.load();
      const draft = structuredClone(before.state.queue);
      const result = await fn(draft);
      const after = this.checked(before.state, draft);
      const entry = diffQueue(before.state, after);
      if (!entry) return result;
      try {
        const limit = this.options.compactBytes ?? Math.max(JOURNAL_COMPACT_BYTES, before.snapBytes / 2);
        if (before.snapKey === 'none' || before.staleJournal || before.offset > limit) await this.compact(after);
        else await this.append(before, entry);
      } catch (e) {
        this.loaded = null;
        throw e;
      }
      return result;
    });
    const next = this.chain.then(run, run);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** `draft` validated as a whole queue (changed items parsed again, unchanged ones known valid), ids unique. */
  private checked(before: QueueState, draft: QueueFile): QueueFile {
    const top = QueueFileSchema.omit({ items: true }).parse({ ...draft, items: undefined });
    const items = z.array(z.unknown()).parse(draft.items).map(x => {
      const id = (x as { id?: unknown })?.id;
      return typeof id === 'string' && before.json.get(id) === JSON.stringify(x) ? x as QueueItem : QueueItemSchema.parse(x);
    });
    const checked: QueueFile = { ...top, items };
    const dup = duplicateId(checked);
    if (dup) throw new QueueFileError(`${this.file}: refusing to write items ${dup.first} and ${dup.second} with the same id '${dup.id}'`);
    return checked;
  }

  /** Writes the whole queue as the new snapshot (atomically), then removes the journal it includes. */
  private async compact(queue: QueueFile): Promise<void> {
    // A new generation makes the text unique, so a journal left over from before never matches it by accident.
    const text = JSON.stringify({ ...queue, generation: crypto.randomBytes(8).toString('hex') }, null, 2) + '\n';
    await writeFileAtomic(this.file, text);
    // Killed here, the old journal stays but names the old snapshot as its base: readers ignore it.
    await fs.promises.rm(this.journal, { force: true });
    this.loaded = null;
  }

  /** Appends one update line, after cutting off a line a killed writer left half-written. */
  private async append(before: Loaded, entry: JournalEntry): Promise<void> {
    let offset = before.offset;
    let token = before.token;
    if (token === null) {
      token = crypto.randomBytes(8).toString('hex');
      const header = JSON.stringify({ base: before.base, token }) + '\n';
      await writeFileAtomic(this.journal, header);
      offset = Buffer.byteLength(header);
    }
    const c = fs.constants;
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(this.journal, c.O_WRONLY | c.O_NONBLOCK | c.O_NOFOLLOW);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ELOOP' || code === 'EMLINK') throw new UnsafeFileError(this.journal, 'is a symbolic link; scWorkbench does not follow links in its own folders');
      throw e;
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new UnsafeFileError(this.journal, `is ${fileKind(st)}, not a regular file`);
      if (st.size < offset) throw new QueueFileError(`${this.journal}: shorter than when it was read (${st.size} < ${offset} bytes): changed by something other than scWorkbench; fix or delete the file to use the queue`);
      if (st.size > offset) await handle.truncate(offset);
      const line = Buffer.from(JSON.stringify(entry) + '\n');
      for (let done = 0; done < line.length;) done += (await handle.write(line, done, line.length - done, offset + done)).bytesWritten;
      // What this process knows now, without reading the journal again (unless a read meanwhile replaced `before`).
      const end = offset + line.length;
      await this.serially(async () => {
        if (this.loaded !== before) this.loaded = null;
        else {
          applyEntry(before.state, entry);
          this.loaded = { ...before, token, offset: end, lines: before.lines + (before.token === null ? 2 : 1) };
        }
      });
    } finally {
      await handle.close();
    }
  }

  /**
   * The snapshot and the journal, read again only as far as they changed since the last call: a snapshot with the
   * same identity (device, inode, size, times) is not parsed again, and a journal with the same header is read from
   * where the last call stopped. Retries when a compaction replaced the snapshot meanwhile.
   */
  private load(): Promise<Loaded> {
    return this.serially(() => this.loadNow());
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.loading.then(fn, fn);
    this.loading = next.catch(() => undefined);
    return next;
  }

  private async loadNow(): Promise<Loaded> {
    try {
      for (;;) {
        const loaded = await this.loadOnce();
        const now = await fs.promises.lstat(this.file, { bigint: true }).then(keyOf, e => {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
          throw e;
        });
        this.loaded = loaded;
        if (loaded && now === loaded.snapKey) return loaded;
        this.loaded = null;
      }
    } catch (e) {
      this.loaded = null;
      throw e;
    }
  }

  /** null: what this process had applied cannot be continued (the snapshot is parsed again on the next try). */
  private async loadOnce(): Promise<Loaded | null> {
    const prev = this.loaded;
    const snap = await this.readSnapshot(prev);
    const same = prev !== null && snap.snapKey === prev.snapKey;
    // `prev.state` is the snapshot alone when no journal was applied to it
    const pure = same ? (prev.token === null ? prev.state : null) : snap.state!;
    const start = (state: QueueState, staleJournal: boolean): Loaded => ({ snapKey: snap.snapKey, snapBytes: snap.snapBytes, base: snap.base, token: null, staleJournal, offset: 0, lines: 0, state });
    let opened: { handle: fs.promises.FileHandle; size: number };
    try {
      opened = await openRegular(this.journal, { noFollow: true, maxBytes: QUEUE_FILE_LIMIT });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      return pure ? start(pure, false) : null;
    }
    const { handle, size } = opened;
    try {
      const head = await readRange(handle, 0, Math.min(size, 4096));
      const firstEnd = head.indexOf(0x0a);
      let header;
      try {
        if (firstEnd < 0) throw new JournalLineError('its first line is not a journal header');
        header = parseHeader(head.subarray(0, firstEnd).toString('utf8'));
      } catch (e) {
        throw new QueueFileError(`${this.journal}: ${(e as Error).message}; delete the file to use the queue (the changes it holds are lost)`);
      }
      if (header.base !== snap.base) return pure ? start(pure, true) : null;
      let loaded: Loaded;
      if (same && prev.token === header.token && prev.offset <= size) loaded = { ...prev };
      else if (pure) loaded = { ...start(pure, false), token: header.token, offset: firstEnd + 1, lines: 1 };
      else return null;
      const bytes = await readRange(handle, loaded.offset, size - loaded.offset);
      let at = 0;
      for (;;) {
        const end = bytes.indexOf(0x0a, at);
        if (end < 0) break; // a last line without its newline: a write cut short, ignored (the next update cuts it off)
        const line = bytes.subarray(at, end).toString('utf8');
        try {
          applyEntry(loaded.state, parseEntry(line, (raw, parsed) => unknownField(raw, parsed, [])));
        } catch (e) {
          throw new QueueFileError(`${this.journal}: line ${loaded.lines + 1}: ${(e as Error).message}; fix or delete the file to use the queue (deleting it loses the changes it holds)`);
        }
        loaded.offset += end + 1 - at;
        at = end + 1;
        loaded.lines++;
      }
      return loaded;
    } finally {
      await handle.close();
    }
  }

  /** The snapshot's identity and hash, and its queue unless it is the one `prev` was read from. */
  private async readSnapshot(prev: Loaded | null): Promise<{ snapKey: string; snapBytes: number; base: string; state: QueueState | null }> {
    let opened: { handle: fs.promises.FileHandle; size: number };
    try {
      opened = await openRegular(this.file, { noFollow: true, maxBytes: QUEUE_FILE_LIMIT });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      return { snapKey: 'none', snapBytes: 0, base: 'none', state: stateOf(emptyQueue()) };
    }
    try {
      const snapKey = keyOf(await opened.handle.stat({ bigint: true }));
      if (prev && prev.snapKey === snapKey) return { snapKey, snapBytes: prev.snapBytes, base: prev.base, state: null };
      const bytes = await readRange(opened.handle, 0, opened.size);
      const base = crypto.createHash('sha256').update(bytes).digest('hex');
      return { snapKey, snapBytes: bytes.length, base, state: stateOf(parseQueue(bytes.toString('utf8'), this.file)) };
    } finally {
      await opened.handle.close();
    }
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

/** `length` bytes from `pos` (fewer when the file is shorter). */
async function readRange(handle: fs.promises.FileHandle, pos: number, length: number): Promise<Buffer> {
  const b = Buffer.alloc(Math.max(0, length));
  let done = 0;
  while (done < b.length) {
    const { bytesRead } = await handle.read(b, done, b.length - done, pos + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return b.subarray(0, done);
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
