/**
 * Real HDF5 booleans for files written with h5wasm.
 *
 * numpy/h5py booleans are an HDF5 enum {FALSE: 0, TRUE: 1} over int8, and pandas only accepts a real bool
 * (`np.bool_`) where anndata passes on a stored flag: the categorical `ordered` attribute, the `mask` of
 * nullable-integer/boolean columns and the values of nullable-boolean columns. h5wasm cannot create enum types.
 *
 * So the writer stores every boolean with a stand-in type of exactly the same encoded size as the enum: a
 * compound with one uint8 member whose 16-character name is unique to us (38 bytes of datatype message, 1 byte
 * per value, like the enum). After the file is closed, `patchBoolPlaceholders` finds each stand-in, checks the
 * bytes around it are the datatype message we expect, overwrites the 38 bytes with the enum's encoding and
 * recomputes the checksum of the object header chunk that holds it. Nothing moves: element size, message size
 * and data stay as they were, so the change is local and the file stays valid for every HDF5 reader.
 */
import * as fs from 'fs';

/** The compound member name that marks a stand-in; exactly 16 characters (the encoded sizes depend on it). */
export const BOOL_PLACEHOLDER_MEMBER = '__scwb_bool_enum';

/** h5wasm dtype of the stand-in: data is given as `new Map([[BOOL_PLACEHOLDER_MEMBER, uint8Values]])`. */
export const BOOL_PLACEHOLDER_DTYPE: [string, string][] = [[BOOL_PLACEHOLDER_MEMBER, '<B']];

export function boolPlaceholderData(values: Uint8Array): Map<string, Uint8Array> {
  return new Map([[BOOL_PLACEHOLDER_MEMBER, values]]);
}

const UINT8_MEMBER_TYPE = [0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00];

/** Compound v3, 1 member, element size 1 — the 8 bytes before the member name. */
const STANDIN_HEAD = [0x36, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00];
/** After the name: its NUL, a 1-byte member offset 0, the uint8 member type. */
const STANDIN_TAIL = [0x00, 0x00, ...UINT8_MEMBER_TYPE];

/** HDF5 datatype message, version 1, enum of 2 members over signed int8: h5py's bool. 38 bytes. */
const BOOL_ENUM_TYPE = Buffer.from([
  0x18, 0x02, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
  0x10, 0x08, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00,
  0x46, 0x41, 0x4c, 0x53, 0x45, 0x00, 0x00, 0x00, // "FALSE" padded to 8
  0x54, 0x52, 0x55, 0x45, 0x00, 0x00, 0x00, 0x00, // "TRUE" padded to 8
  0x00, 0x01,
]);

const STANDIN_LENGTH = STANDIN_HEAD.length + BOOL_PLACEHOLDER_MEMBER.length + STANDIN_TAIL.length;
if (STANDIN_LENGTH !== BOOL_ENUM_TYPE.length) throw new Error('bool stand-in and enum encodings differ in size');

/**
 * Replaces every stand-in in the (closed) file by the bool enum. Throws when the number found differs from
 * `expected` or when a stand-in is not laid out as expected; the caller then discards the file.
 */
export function patchBoolPlaceholders(file: string, expected: number): void {
  if (expected === 0) return;
  const fd = fs.openSync(file, 'r+');
  try {
    const size = fs.fstatSync(fd).size;
    const needle = Buffer.from(BOOL_PLACEHOLDER_MEMBER, 'latin1');
    // Metadata written last (obs/var) tends to sit near the end: scan backwards in overlapping blocks.
    const block = 16 << 20;
    const overlap = 64;
    const found = new Set<number>();
    const buf = Buffer.alloc(block + overlap);
    for (let end = size; end > 0 && found.size < expected; end -= block) {
      const start = Math.max(0, end - block);
      const len = Math.min(size, end + overlap) - start;
      fs.readSync(fd, buf, 0, len, start);
      const view = buf.subarray(0, len);
      for (let at = view.indexOf(needle); at >= 0; at = view.indexOf(needle, at + 1)) found.add(start + at);
    }
    if (found.size !== expected) {
      throw new Error(`${file}: expected ${expected} boolean stand-ins, found ${found.size}`);
    }
    for (const namePos of found) patchOne(fd, file, namePos);
  } finally {
    fs.closeSync(fd);
  }
}

function patchOne(fd: number, file: string, namePos: number): void {
  const typePos = namePos - STANDIN_HEAD.length;
  // The object header chunk that holds the message: search backwards for its signature.
  const window = Math.min(typePos, 1 << 16);
  const head = Buffer.alloc(window + STANDIN_LENGTH);
  fs.readSync(fd, head, 0, head.length, typePos - window);
  const local = window;
  for (let i = 0; i < STANDIN_HEAD.length; i++) {
    if (head[local + i] !== STANDIN_HEAD[i]) throw new Error(`${file}: boolean stand-in at byte ${namePos} has an unexpected type header`);
  }
  const tailAt = local + STANDIN_HEAD.length + BOOL_PLACEHOLDER_MEMBER.length;
  for (let i = 0; i < STANDIN_TAIL.length; i++) {
    if (head[tailAt + i] !== STANDIN_TAIL[i]) throw new Error(`${file}: boolean stand-in at byte ${namePos} has an unexpected member layout`);
  }
  const sig = head.lastIndexOf(Buffer.from('OHDR', 'latin1'), local);
  if (sig < 0) throw new Error(`${file}: no object header found before the boolean stand-in at byte ${namePos}`);
  const chunkStart = typePos - window + sig;
  const pre = Buffer.alloc(64);
  fs.readSync(fd, pre, 0, pre.length, chunkStart);
  if (pre[4] !== 2) throw new Error(`${file}: object header version ${pre[4]} at byte ${chunkStart} (expected 2)`);
  const flags = pre[5];
  let p = 6;
  if (flags & 0x20) p += 16;
  if (flags & 0x10) p += 4;
  const sizeBytes = 1 << (flags & 3);
  let chunkSize = 0;
  for (let i = 0; i < sizeBytes; i++) chunkSize += pre[p + i] * 2 ** (8 * i);
  p += sizeBytes;
  const checksumPos = chunkStart + p + chunkSize;
  if (typePos + STANDIN_LENGTH > checksumPos) {
    throw new Error(`${file}: boolean stand-in at byte ${namePos} lies outside its object header's first chunk`);
  }
  const chunk = Buffer.alloc(checksumPos - chunkStart + 4);
  fs.readSync(fd, chunk, 0, chunk.length, chunkStart);
  const body = chunk.subarray(0, chunk.length - 4);
  if (lookup3(body) !== chunk.readUInt32LE(chunk.length - 4)) {
    throw new Error(`${file}: object header at byte ${chunkStart} fails its checksum; not patching`);
  }
  BOOL_ENUM_TYPE.copy(body, typePos - chunkStart);
  chunk.writeUInt32LE(lookup3(body), chunk.length - 4);
  fs.writeSync(fd, chunk, 0, chunk.length, chunkStart);
}

/** Bob Jenkins' lookup3 `hashlittle` with initval 0: the checksum of HDF5 metadata blocks. */
export function lookup3(key: Uint8Array): number {
  let length = key.length;
  let a = (0xdeadbeef + length) >>> 0;
  let b = a;
  let c = a;
  let k = 0;
  const rot = (x: number, n: number): number => ((x << n) | (x >>> (32 - n))) >>> 0;
  /** little-endian word at i, zero-padded past `end` (the tail of the key) */
  const word = (i: number, end: number): number => {
    let v = 0;
    for (let j = 3; j >= 0; j--) v = (v << 8) | (i + j < end ? key[i + j] : 0);
    return v >>> 0;
  };
  while (length > 12) {
    a = (a + word(k, key.length)) >>> 0;
    b = (b + word(k + 4, key.length)) >>> 0;
    c = (c + word(k + 8, key.length)) >>> 0;
    a = (a - c) >>> 0; a = (a ^ rot(c, 4)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rot(a, 6)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rot(b, 8)) >>> 0; b = (b + a) >>> 0;
    a = (a - c) >>> 0; a = (a ^ rot(c, 16)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rot(a, 19)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rot(b, 4)) >>> 0; b = (b + a) >>> 0;
    length -= 12;
    k += 12;
  }
  if (length === 0) return c;
  // The last 1-12 bytes, read as zero-padded words.
  const end = k + length;
  a = (a + word(k, end)) >>> 0;
  b = (b + word(k + 4, end)) >>> 0;
  c = (c + word(k + 8, end)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rot(b, 14)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rot(c, 11)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rot(a, 25)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rot(b, 16)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rot(c, 4)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rot(a, 14)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rot(b, 24)) >>> 0;
  return c;
}
