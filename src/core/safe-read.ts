/**
 * One guarded way to open the files scWorkbench reads (model files, recipes, gene lists, configs, run and queue
 * files). A file named by a user or planted in a repository may be a FIFO (opening it blocks until a writer
 * comes; reading it blocks forever), a device (/dev/zero never ends), or a link to one of those. Every reader
 * here therefore:
 *
 *   - opens with O_NONBLOCK, so opening a FIFO returns at once instead of blocking (a blocked open would also hold
 *     one of libuv's four threadpool threads in the extension host for good);
 *   - checks the opened descriptor with fstat (not the path: no race between the check and the read) and refuses
 *     anything but a regular file, naming the file and what it is;
 *   - reads at most a size ceiling (text and JSON files), so a huge or endless file fails with a message instead of
 *     exhausting memory ("Invalid string length").
 *
 * A regular file's descriptor never blocks, so once fstat says "regular file" the read needs no timeout.
 * Files inside our own folders (run.json, queue.json) may also be opened with O_NOFOLLOW: a link there is refused.
 */
import * as fs from 'fs';

/** Default ceiling for JSON and text files we read whole (recipes, configs, gene lists, run.json, queue.json). */
export const TEXT_FILE_LIMIT = 64 * 1024 * 1024;

/** A file refused before reading it: not a regular file, too large, or a link where none is allowed. */
export class UnsafeFileError extends Error {
  constructor(readonly file: string, readonly problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'UnsafeFileError';
  }
}

export interface GuardOptions {
  /** refuse a symbolic link as the last path component (files in scWorkbench's own folders) */
  noFollow?: boolean;
}

export interface ReadOptions extends GuardOptions {
  /** the most bytes to read; a larger file is refused (default TEXT_FILE_LIMIT) */
  maxBytes?: number;
}

function openFlags(o: GuardOptions): number {
  const c = fs.constants;
  return c.O_RDONLY | c.O_NONBLOCK | (c.O_NOCTTY ?? 0) | (o.noFollow ? c.O_NOFOLLOW : 0);
}

/** What a non-regular file is, in words. */
export function fileKind(st: fs.Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

function openError(file: string, e: unknown, o: GuardOptions): never {
  const code = (e as NodeJS.ErrnoException).code;
  if (o.noFollow && (code === 'ELOOP' || code === 'EMLINK')) throw new UnsafeFileError(file, 'is a symbolic link; scWorkbench does not follow links in its own folders');
  if (code === 'ENXIO') throw new UnsafeFileError(file, 'is a socket or device, not a regular file: only regular files are read');
  throw e;
}

function checkStat(file: string, st: fs.Stats, maxBytes: number | undefined): void {
  if (!st.isFile()) throw new UnsafeFileError(file, `is ${fileKind(st)}, not a regular file: only regular files are read`);
  if (maxBytes !== undefined && st.size > maxBytes) throw new UnsafeFileError(file, `is ${st.size} bytes, more than the ${maxBytes} bytes read for a file of this kind`);
}

/** Opens `file` for reading (synchronously) if it is a regular file; returns the descriptor and its size. */
export function openRegularSync(file: string, o: ReadOptions = {}): { fd: number; size: number } {
  let fd: number;
  try {
    fd = fs.openSync(file, openFlags(o));
  } catch (e) {
    openError(file, e, o);
  }
  try {
    const st = fs.fstatSync(fd);
    checkStat(file, st, o.maxBytes);
    return { fd, size: st.size };
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/** Opens `file` for reading if it is a regular file (never blocks on a FIFO). */
export async function openRegular(file: string, o: ReadOptions = {}): Promise<{ handle: fs.promises.FileHandle; size: number }> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, openFlags(o));
  } catch (e) {
    openError(file, e, o);
  }
  try {
    const st = await handle.stat();
    checkStat(file, st, o.maxBytes);
    return { handle, size: st.size };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/**
 * The chunks of one bounded read (shared by the sync and async readers). fstat's size is a hint only: size 0 may still
 * hold bytes (/proc, some network filesystems) and the file may grow after fstat, so the reader asks for chunks of at
 * least 64 KiB until the end of the file or until one byte past the ceiling, which `bytes` refuses.
 */
class BoundedRead {
  private readonly chunks: Buffer[] = [];
  private total = 0;

  constructor(private readonly file: string, private readonly size: number, private readonly max: number) {}

  /** The buffer for the next read; null once one byte past the ceiling has been read. */
  next(): Buffer | null {
    const b = Buffer.allocUnsafe(Math.min(Math.max(this.size - this.total, 64 * 1024), this.max + 1 - this.total));
    return b.length === 0 ? null : b;
  }

  /** Keeps the `n` bytes just read into `b`; false at the end of the file (n = 0). */
  add(b: Buffer, n: number): boolean {
    if (n === 0) return false;
    this.chunks.push(b.subarray(0, n));
    this.total += n;
    return true;
  }

  /** The bytes read, refused when there are more than the ceiling. */
  bytes(): Buffer {
    if (this.total > this.max) throw new UnsafeFileError(this.file, `holds more than the ${this.max} bytes read for a file of this kind`);
    return Buffer.concat(this.chunks, this.total);
  }
}

/** A regular file's bytes, at most `maxBytes` of them (the file may grow between fstat and read: still bounded). */
export function readRegularFileSync(file: string, o: ReadOptions = {}): Buffer {
  const max = o.maxBytes ?? TEXT_FILE_LIMIT;
  const { fd, size } = openRegularSync(file, { ...o, maxBytes: max });
  try {
    const read = new BoundedRead(file, size, max);
    for (let b = read.next(); b; b = read.next()) {
      if (!read.add(b, fs.readSync(fd, b, 0, b.length, null))) break;
    }
    return read.bytes();
  } finally {
    fs.closeSync(fd);
  }
}

export async function readRegularFile(file: string, o: ReadOptions = {}): Promise<Buffer> {
  const max = o.maxBytes ?? TEXT_FILE_LIMIT;
  const { handle, size } = await openRegular(file, { ...o, maxBytes: max });
  try {
    const read = new BoundedRead(file, size, max);
    for (let b = read.next(); b; b = read.next()) {
      if (!read.add(b, (await handle.read(b, 0, b.length, null)).bytesRead)) break;
    }
    return read.bytes();
  } finally {
    await handle.close();
  }
}

/** A regular text file (UTF-8), refused when it is not a regular file or is larger than the ceiling. */
export function readTextFileSync(file: string, o: ReadOptions = {}): string {
  return readRegularFileSync(file, o).toString('utf8');
}

export async function readTextFile(file: string, o: ReadOptions = {}): Promise<string> {
  return (await readRegularFile(file, o)).toString('utf8');
}

/** Like readTextFile, but null when the file does not exist. */
export async function readTextFileIfExists(file: string, o: ReadOptions = {}): Promise<string | null> {
  try {
    return await readTextFile(file, o);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** What went wrong reading a file, without repeating its name when the error already carries it separately. */
export function readProblem(e: unknown): string {
  return e instanceof UnsafeFileError ? e.problem : e instanceof Error ? e.message : String(e);
}
