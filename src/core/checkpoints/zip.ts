/**
 * A minimal zip reader for PyTorch files (torch.save since 1.6 writes a zip of stored entries). It reads the central
 * directory (zip64 included) and individual entries by range, so a multi-gigabyte checkpoint is never read whole.
 */
import * as fs from 'fs';
import * as zlib from 'zlib';
import { openRegularSync } from '../safe-read';
import { asCheckpointError, CheckpointError } from './errors';

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const EOCD64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX = 0xffffffff;
/**
 * The most bytes one entry may inflate to. Only pickles (data.pkl, a few MB even for large models) are ever read
 * whole; tensor data is checked by its declared size and never read.
 */
export const ZIP_ENTRY_LIMIT = 64 * 1024 * 1024;

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  private constructor(private readonly fd: number, readonly file: string, readonly fileSize: number) {}

  static open(file: string): ZipReader {
    const { fd, size } = asCheckpointError(file, () => openRegularSync(file));
    try {
      const z = new ZipReader(fd, file, size);
      z.readDirectory();
      return z;
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  close(): void { fs.closeSync(this.fd); }

  private fail(problem: string): never { throw new CheckpointError(this.file, problem); }

  private read(offset: number, length: number): Buffer {
    if (offset < 0 || length < 0 || offset + length > this.fileSize) this.fail(`truncated zip: needs bytes ${offset}..${offset + length} but the file has ${this.fileSize}`);
    const b = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, b, done, length - done, offset + done);
      if (n === 0) this.fail('truncated zip: the file ended while reading');
      done += n;
    }
    return b;
  }

  private readDirectory(): void {
    const tailLen = Math.min(this.fileSize, 22 + 0xffff);
    const tail = this.read(this.fileSize - tailLen, tailLen);
    let at = -1;
    for (let i = tail.length - 22; i >= 0; i--) if (tail.readUInt32LE(i) === EOCD) { at = i; break; }
    if (at < 0) this.fail('not a zip file or truncated (no end-of-central-directory record)');
    let count = tail.readUInt16LE(at + 10);
    let cdSize = tail.readUInt32LE(at + 12);
    let cdOffset = tail.readUInt32LE(at + 16);
    const eocdPos = this.fileSize - tailLen + at;
    if ((count === 0xffff || cdSize === MAX || cdOffset === MAX) && eocdPos >= 20) {
      const loc = this.read(eocdPos - 20, 20);
      if (loc.readUInt32LE(0) === EOCD64_LOCATOR) {
        const rec = this.read(Number(loc.readBigUInt64LE(8)), 56);
        if (rec.readUInt32LE(0) !== EOCD64) this.fail('broken zip64 end-of-central-directory record');
        count = Number(rec.readBigUInt64LE(32));
        cdSize = Number(rec.readBigUInt64LE(40));
        cdOffset = Number(rec.readBigUInt64LE(48));
      }
    }
    const cd = this.read(cdOffset, cdSize);
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL) this.fail(`broken zip central directory at entry ${i}`);
      const method = cd.readUInt16LE(p + 10);
      let compressedSize = cd.readUInt32LE(p + 20);
      let size = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      let localHeaderOffset = cd.readUInt32LE(p + 42);
      const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
      // zip64 extra field: the 64-bit values appear in this order, each only when its 32-bit field is 0xffffffff
      let e = p + 46 + nameLen;
      const extraEnd = e + extraLen;
      while (e + 4 <= extraEnd) {
        const id = cd.readUInt16LE(e);
        const len = cd.readUInt16LE(e + 2);
        if (id === 1) {
          let q = e + 4;
          if (size === MAX) { size = Number(cd.readBigUInt64LE(q)); q += 8; }
          if (compressedSize === MAX) { compressedSize = Number(cd.readBigUInt64LE(q)); q += 8; }
          if (localHeaderOffset === MAX) { localHeaderOffset = Number(cd.readBigUInt64LE(q)); }
        }
        e += 4 + len;
      }
      this.entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
      p = extraEnd + commentLen;
    }
  }

  /**
   * The bytes of one entry (stored or deflated). Inflation stops at the entry's declared size (and at
   * ZIP_ENTRY_LIMIT), so a small compressed entry cannot expand into gigabytes (a "zip bomb"); an entry that
   * inflates to more or fewer bytes than it declares is refused.
   */
  readEntry(entry: ZipEntry): Buffer {
    if (entry.size > ZIP_ENTRY_LIMIT) this.fail(`zip entry ${entry.name} declares ${entry.size} bytes, more than the ${ZIP_ENTRY_LIMIT} bytes read for a pickle`);
    const h = this.read(entry.localHeaderOffset, 30);
    if (h.readUInt32LE(0) !== LOCAL) this.fail(`broken zip: no local header for ${entry.name}`);
    const start = entry.localHeaderOffset + 30 + h.readUInt16LE(26) + h.readUInt16LE(28);
    const raw = this.read(start, entry.compressedSize);
    if (entry.method === 0) {
      if (raw.length !== entry.size) this.fail(`zip entry ${entry.name} is stored with ${raw.length} bytes but declares ${entry.size}`);
      return raw;
    }
    if (entry.method === 8) {
      let out: Buffer;
      try {
        // One byte more than declared is allowed to come out, so that an entry that lies about its size is seen.
        out = zlib.inflateRawSync(raw, { maxOutputLength: entry.size + 1 });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) this.fail(`zip entry ${entry.name} inflates to more than the ${entry.size} bytes it declares (a zip bomb?)`);
        this.fail(`cannot inflate ${entry.name}: ${e.message}`);
      }
      if (out.length > entry.size) this.fail(`zip entry ${entry.name} inflates to more than the ${entry.size} bytes it declares (a zip bomb?)`);
      if (out.length < entry.size) this.fail(`zip entry ${entry.name} inflates to only ${out.length} bytes but declares ${entry.size}`);
      return out;
    }
    this.fail(`zip entry ${entry.name} uses compression method ${entry.method}, which is not supported`);
  }
}

/** True when the file starts like a zip (local file header). */
export function looksLikeZip(head: Buffer): boolean {
  return head.length >= 4 && head.readUInt32LE(0) === LOCAL;
}
