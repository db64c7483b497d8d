/**
 * Reads an LZF-compressed dataset of variable-length strings straight from the file's bytes, for the one case
 * h5wasm cannot: h5wasm-plugins' LZF filter aborts WebAssembly on such a dataset when its filter has no client
 * values (see H5Context.refuseLzfStrings). Hand-written because no library reads HDF5 from JavaScript without
 * going through the same HDF5 filter pipeline; LZF and the few HDF5 structures needed are small, documented
 * formats (HDF5 File Format Specification 3.0; LZF by Marc Lehmann).
 *
 * Supported: superblock version 0 or 1, version-1 object headers, symbol-table groups (what h5py writes by
 * default, so what anndata writes), chunked layout version 3 with a version-1 chunk B-tree, LZF as the only
 * filter. Anything else throws LzfFallbackError and the caller reports the dataset as unreadable.
 */
import * as fs from 'fs';

export class LzfFallbackError extends Error {}

const UNDEFINED_ADDRESS = 0xffffffffffffffffn;

/** Decompresses one LZF block into a buffer of at most `maxOut` bytes. */
export function lzfDecompress(input: Uint8Array, maxOut: number): Uint8Array {
  let out = new Uint8Array(Math.min(maxOut, Math.max(16, input.length * 4)));
  let ip = 0;
  let op = 0;
  const ensure = (n: number) => {
    if (op + n <= out.length) return;
    if (op + n > maxOut) throw new LzfFallbackError('an LZF block decompresses to more than its chunk holds');
    const grown = new Uint8Array(Math.min(maxOut, Math.max(op + n, out.length * 2)));
    grown.set(out.subarray(0, op));
    out = grown;
  };
  while (ip < input.length) {
    const ctrl = input[ip++];
    if (ctrl < 32) {
      // A literal run of ctrl + 1 bytes.
      const n = ctrl + 1;
      if (ip + n > input.length) throw new LzfFallbackError('an LZF literal run passes the end of its block');
      ensure(n);
      out.set(input.subarray(ip, ip + n), op);
      ip += n;
      op += n;
    } else {
      // A back reference: length (ctrl >> 5) + 2, extended by one byte when 7; distance from the low 5 bits and
      // the next byte, plus one.
      let len = ctrl >> 5;
      if (len === 7) {
        if (ip >= input.length) throw new LzfFallbackError('an LZF block ends inside a back reference');
        len += input[ip++];
      }
      if (ip >= input.length) throw new LzfFallbackError('an LZF block ends inside a back reference');
      const ref = op - ((ctrl & 0x1f) << 8) - input[ip++] - 1;
      if (ref < 0) throw new LzfFallbackError('an LZF back reference points before the start of its block');
      len += 2;
      ensure(len);
      // Byte by byte: source and destination may overlap (a run repeating a short pattern).
      for (let k = 0; k < len; k++) out[op + k] = out[ref + k];
      op += len;
    }
  }
  return out.subarray(0, op);
}

class FileBytes {
  constructor(private readonly fd: number, readonly offsetSize: number, readonly lengthSize: number) {}

  read(addr: number, n: number): Buffer {
    const buf = Buffer.alloc(n);
    const got = fs.readSync(this.fd, buf, 0, n, addr);
    if (got !== n) throw new LzfFallbackError(`the file ends inside a structure at byte ${addr}`);
    return buf;
  }

  static uint(buf: Buffer, at: number, size: number): number {
    if (size === 8) {
      const v = buf.readBigUInt64LE(at);
      if (v === UNDEFINED_ADDRESS) return -1;
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new LzfFallbackError('an address beyond 2^53');
      return Number(v);
    }
    if (size === 4) return buf.readUInt32LE(at);
    if (size === 2) return buf.readUInt16LE(at);
    throw new LzfFallbackError(`unsupported field size ${size}`);
  }

  addr(buf: Buffer, at: number): number {
    return FileBytes.uint(buf, at, this.offsetSize);
  }

  len(buf: Buffer, at: number): number {
    return FileBytes.uint(buf, at, this.lengthSize);
  }
}

interface Message { type: number; data: Buffer }

/** Messages of a version-1 object header, continuation blocks followed. */
function headerMessages(f: FileBytes, addr: number): Message[] {
  const prefix = f.read(addr, 16);
  if (prefix[0] !== 1) throw new LzfFallbackError(`object header at byte ${addr} is version ${prefix[0]}, only version 1 is read here`);
  const total = prefix.readUInt16LE(2);
  const blocks: Array<[number, number]> = [[addr + 16, prefix.readUInt32LE(8)]];
  const out: Message[] = [];
  for (let b = 0; b < blocks.length && out.length < total; b++) {
    const [start, size] = blocks[b];
    const block = f.read(start, size);
    let at = 0;
    while (at + 8 <= size && out.length < total) {
      const type = block.readUInt16LE(at);
      const msgSize = block.readUInt16LE(at + 2);
      const data = block.subarray(at + 8, at + 8 + msgSize);
      if (type === 0x10) blocks.push([f.addr(data, 0), f.len(data, f.offsetSize)]);
      out.push({ type, data });
      at += 8 + msgSize;
      at = (at + 7) & ~7;
    }
  }
  return out;
}

/** Child name -> object header address of a symbol-table group. */
function groupMembers(f: FileBytes, headerAddr: number): Map<string, number> {
  const st = headerMessages(f, headerAddr).find(m => m.type === 0x11);
  if (!st) throw new LzfFallbackError('a group without a symbol table (a newer group format) is not read here');
  const btree = f.addr(st.data, 0);
  const heap = f.read(f.addr(st.data, f.offsetSize), 8 + 2 * f.lengthSize + f.offsetSize);
  if (heap.toString('latin1', 0, 4) !== 'HEAP') throw new LzfFallbackError('a group\'s local heap has no HEAP signature');
  const heapSize = f.len(heap, 8);
  const heapData = f.read(f.addr(heap, 8 + 2 * f.lengthSize), heapSize);
  const name = (offset: number) => {
    const end = heapData.indexOf(0, offset);
    return heapData.toString('utf8', offset, end < 0 ? heapData.length : end);
  };
  const members = new Map<string, number>();
  const entrySize = 2 * f.offsetSize + 24;
  const visit = (node: number) => {
    const head = f.read(node, 8 + 2 * f.offsetSize);
    const sig = head.toString('latin1', 0, 4);
    if (sig === 'SNOD') {
      const n = head.readUInt16LE(6);
      const entries = f.read(node + 8, n * entrySize);
      for (let i = 0; i < n; i++) members.set(name(f.addr(entries, i * entrySize)), f.addr(entries, i * entrySize + f.offsetSize));
      return;
    }
    if (sig !== 'TREE' || head[4] !== 0) throw new LzfFallbackError('a group B-tree node is malformed');
    const used = head.readUInt16LE(6);
    const body = f.read(node + 8 + 2 * f.offsetSize, (used + 1) * f.lengthSize + used * f.offsetSize);
    for (let i = 0; i < used; i++) visit(f.addr(body, (i + 1) * f.lengthSize + i * f.offsetSize));
  };
  visit(btree);
  return members;
}

/** Chunk file address, stored size, filter mask and first element, from a version-1 chunk B-tree. */
function chunkList(f: FileBytes, btree: number, rank: number): Array<{ addr: number; size: number; mask: number; start: number }> {
  const keySize = 8 + 8 * (rank + 1);
  const chunks: Array<{ addr: number; size: number; mask: number; start: number }> = [];
  const visit = (node: number) => {
    const head = f.read(node, 8 + 2 * f.offsetSize);
    if (head.toString('latin1', 0, 4) !== 'TREE' || head[4] !== 1) throw new LzfFallbackError('a chunk B-tree node is malformed');
    const level = head[5];
    const used = head.readUInt16LE(6);
    const body = f.read(node + 8 + 2 * f.offsetSize, (used + 1) * keySize + used * f.offsetSize);
    for (let i = 0; i < used; i++) {
      const key = i * (keySize + f.offsetSize);
      const child = f.addr(body, key + keySize);
      if (level > 0) { visit(child); continue; }
      const start = Number(body.readBigUInt64LE(key + 8));
      chunks.push({ addr: child, size: body.readUInt32LE(key), mask: body.readUInt32LE(key + 4), start });
    }
  };
  visit(btree);
  return chunks;
}

/**
 * All strings of the 1-D variable-length string dataset at `dsPath` (e.g. '/obs/_index') of `file`, whose only
 * filter is LZF.
 */
export function readLzfVlenStrings(file: string, dsPath: string): string[] {
  const fd = fs.openSync(file, 'r');
  try {
    const probe = Buffer.alloc(24);
    fs.readSync(fd, probe, 0, 24, 0);
    if (probe.toString('latin1', 1, 4) !== 'HDF' || probe[0] !== 0x89) throw new LzfFallbackError('no HDF5 signature at byte 0 (a user block is not read here)');
    const version = probe[8];
    if (version > 1) throw new LzfFallbackError(`superblock version ${version}: only versions 0 and 1 are read here`);
    const f = new FileBytes(fd, probe[13], probe[14]);
    // Root group symbol table entry: after the fixed fields, 4 addresses (base, free space, end of file, driver).
    const rootEntryAt = 24 + (version === 1 ? 4 : 0) + 4 * f.offsetSize;
    const rootEntry = f.read(rootEntryAt, 2 * f.offsetSize);
    let header = f.addr(rootEntry, f.offsetSize);
    for (const part of dsPath.split('/').filter(Boolean)) {
      const next = groupMembers(f, header).get(part);
      if (next === undefined) throw new LzfFallbackError(`no '${part}' in the path ${dsPath}`);
      header = next;
    }
    const messages = headerMessages(f, header);
    const space = messages.find(m => m.type === 0x1);
    const layout = messages.find(m => m.type === 0x8);
    if (!space || !layout) throw new LzfFallbackError('the dataset has no dataspace or layout message');
    const rank = space.data[1];
    if (rank !== 1) throw new LzfFallbackError('only 1-D string datasets are read here');
    const dimsAt = space.data[0] === 1 ? 8 : 4;
    const n = f.len(space.data, dimsAt);
    if (layout.data[0] !== 3 || layout.data[1] !== 2) throw new LzfFallbackError('only chunked layout (version 3) is read here');
    const dimensionality = layout.data[2];
    const btree = f.addr(layout.data, 3);
    const chunkLen = layout.data.readUInt32LE(3 + f.offsetSize);
    const elementSize = layout.data.readUInt32LE(3 + f.offsetSize + 4 * (dimensionality - 1));
    const refSize = 4 + f.offsetSize + 4;
    if (dimensionality !== 2 || elementSize !== refSize) throw new LzfFallbackError('unexpected chunk shape for variable-length strings');
    const out = new Array<string>(n).fill('');
    const heaps = new Map<number, Map<number, Buffer>>();
    const decoder = new TextDecoder('utf-8');
    const heapObject = (collection: number, index: number): Buffer => {
      let objects = heaps.get(collection);
      if (!objects) {
        const head = f.read(collection, 8 + f.lengthSize);
        if (head.toString('latin1', 0, 4) !== 'GCOL') throw new LzfFallbackError('a global heap collection has no GCOL signature');
        const size = f.len(head, 8);
        const body = f.read(collection, size);
        objects = new Map();
        let at = 8 + f.lengthSize;
        while (at + 8 + f.lengthSize <= size) {
          const idx = body.readUInt16LE(at);
          if (idx === 0) break;
          const objSize = f.len(body, at + 8);
          const dataAt = at + 8 + f.lengthSize;
          objects.set(idx, body.subarray(dataAt, dataAt + objSize));
          at = dataAt + ((objSize + 7) & ~7);
        }
        heaps.set(collection, objects);
      }
      const obj = objects.get(index);
      if (!obj) throw new LzfFallbackError(`global heap object ${index} is missing`);
      return obj;
    };
    for (const chunk of chunkList(f, btree, 1)) {
      const stored = f.read(chunk.addr, chunk.size);
      const raw = chunk.mask & 1 ? stored : lzfDecompress(stored, chunkLen * refSize);
      const count = Math.min(chunkLen, n - chunk.start, Math.floor(raw.length / refSize));
      const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.length);
      for (let i = 0; i < count; i++) {
        const at = i * refSize;
        const length = bytes.readUInt32LE(at);
        const collection = f.addr(bytes, at + 4);
        if (length === 0 || collection <= 0) continue;
        const obj = heapObject(collection, bytes.readUInt32LE(at + 4 + f.offsetSize));
        out[chunk.start + i] = decoder.decode(obj.subarray(0, length));
      }
    }
    return out;
  } finally {
    fs.closeSync(fd);
  }
}
