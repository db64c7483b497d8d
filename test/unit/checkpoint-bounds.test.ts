/**
 * A hostile model file costs no more than its size: a compressed data.pkl inflates only to its declared size (and
 * never past a ceiling), pickle opcodes are linear, nesting is bounded, and a safetensors header with overlapping or
 * out-of-range offsets, non-integer shapes or deep JSON is an error naming the file.
 */
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { CheckpointError } from '../../src/core/checkpoints/errors';
import { readSafetensors } from '../../src/core/checkpoints/formats';
import { PickleDict, PickleMalformed, readPickle } from '../../src/core/checkpoints/pickle';
import { PROJECT_ROOT, tempDir } from '../helpers/shared';

const INSPECT_JS = path.join(PROJECT_ROOT, 'out', 'src', 'core', 'checkpoints', 'inspect.js');
const SCWB = path.join(PROJECT_ROOT, 'bin', 'scwb.js');

/** A zip with one entry, `name`, whose central directory declares `declared` uncompressed bytes. */
function zipWith(name: string, data: Buffer, method: 0 | 8, declared: number): Buffer {
  const n = Buffer.from(name);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt16LE(method, 8);
  local.writeUInt32LE(data.length, 18); local.writeUInt32LE(declared, 22); local.writeUInt16LE(n.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(20, 4); central.writeUInt16LE(20, 6); central.writeUInt16LE(method, 10);
  central.writeUInt32LE(data.length, 20); central.writeUInt32LE(declared, 24); central.writeUInt16LE(n.length, 28);
  central.writeUInt32LE(0, 42);
  const cdOffset = 30 + n.length + data.length;
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0); eocd.writeUInt16LE(1, 8); eocd.writeUInt16LE(1, 10);
  eocd.writeUInt32LE(46 + n.length, 12); eocd.writeUInt32LE(cdOffset, 16);
  return Buffer.concat([local, n, data, central, n, eocd]);
}

/** `bytes` zero bytes, raw-deflated (streamed: the test never holds them inflated). */
function deflatedZeros(bytes: number): Promise<Buffer> {
  return new Promise(resolve => {
    const d = zlib.createDeflateRaw({ level: 1 });
    const out: Buffer[] = [];
    d.on('data', c => out.push(c));
    d.on('end', () => resolve(Buffer.concat(out)));
    const chunk = Buffer.alloc(64 << 20);
    for (let left = bytes; left > 0; left -= chunk.length) d.write(left >= chunk.length ? chunk : chunk.subarray(0, left));
    d.end();
  });
}

/** Inspects `file` in a child process; its error message and peak resident memory (MiB). */
function inspectInChild(file: string): { message: string; maxRssMb: number } {
  const code = `
    const { inspectCheckpoint } = require(${JSON.stringify(INSPECT_JS)});
    let message = '';
    try { inspectCheckpoint(${JSON.stringify(file)}); } catch (e) { message = e.message; }
    process.stdout.write(JSON.stringify({ message, maxRssMb: process.resourceUsage().maxRSS / 1024 }));`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  assert.strictEqual(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { message: string; maxRssMb: number };
}

const noPersistent = () => { throw new Error('no persistent ids here'); };
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
const binint = (n: number) => Buffer.concat([Buffer.from([0x4a]), (() => { const b = Buffer.alloc(4); b.writeInt32LE(n); return b; })()]);

/** Least of three timings (ms) of fn: noise on a shared machine only ever adds time. */
function fastest(fn: () => void): number {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = process.hrtime.bigint();
    fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e6);
  }
  return best;
}

describe('checkpoint reading is bounded by the file', () => {
  const dir = tempDir('scwb-ckpt-bounds-');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a data.pkl that inflates past its declared size (a zip bomb) is refused without inflating it: memory stays low', async () => {
    const bomb = path.join(dir, 'bomb.pth');
    fs.writeFileSync(bomb, zipWith('archive/data.pkl', await deflatedZeros(1 << 30), 8, 1000));
    const r = inspectInChild(bomb);
    assert.match(r.message, /bomb\.pth: zip entry archive\/data\.pkl inflates to more than the 1000 bytes it declares/);
    assert.ok(r.maxRssMb < 400, `peak memory ${r.maxRssMb.toFixed(0)} MiB`);
  });

  it('a data.pkl that declares more than the ceiling is refused before inflating', async () => {
    const big = path.join(dir, 'big.pth');
    fs.writeFileSync(big, zipWith('archive/data.pkl', await deflatedZeros(1 << 30), 8, 1 << 30));
    const r = inspectInChild(big);
    assert.match(r.message, /big\.pth: zip entry archive\/data\.pkl declares 1073741824 bytes, more than the 67108864 bytes read for a pickle/);
    assert.ok(r.maxRssMb < 400, `peak memory ${r.maxRssMb.toFixed(0)} MiB`);
  });

  it('a dict pickle reads in time linear in its entries (no search per key)', () => {
    // The same opcodes, once building a list and once a dict: with a constant-time key lookup the dict costs a small
    // multiple of the list; searching the keys for each new one (quadratic) costs thousands of times more.
    const n = 80_000;
    const pickle = (container: number, closer: number, perItem: (i: number) => Buffer[]) => {
      const parts: Buffer[] = [Buffer.from([0x80, 2, container, 0x28])];
      for (let i = 0; i < n; i++) parts.push(...perItem(i));
      parts.push(Buffer.from([closer, 0x2e]));
      return Buffer.concat(parts);
    };
    const dict = pickle(0x7d, 0x75, i => [binint(i), binint(i)]);
    const list = pickle(0x5d, 0x65, i => [binint(i), binint(i)]);
    const d = readPickle(dict, noPersistent).value as PickleDict;
    assert.strictEqual(d.size, n);
    assert.strictEqual(d.get(65_432), 65_432);
    assert.strictEqual((readPickle(list, noPersistent).value as number[]).length, 2 * n);
    const tList = fastest(() => readPickle(list, noPersistent));
    const tDict = fastest(() => readPickle(dict, noPersistent));
    assert.ok(tDict < 20 * Math.max(tList, 1), `${n} entries: list ${tList.toFixed(1)} ms, dict ${tDict.toFixed(1)} ms`);
  });

  it('an integer of absurd length (LONG4) is refused at once; integers a checkpoint holds still read', () => {
    const huge = Buffer.concat([Buffer.from([0x80, 2, 0x8b]), u32(1 << 20), Buffer.alloc(1 << 20, 0x7f), Buffer.from([0x2e])]);
    assert.throws(() => readPickle(huge, noPersistent), (e: Error) => e instanceof PickleMalformed && /an integer of 1048576 bytes/.test(e.message));
    const ok = Buffer.concat([Buffer.from([0x80, 2, 0x8b]), u32(9), Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x80, 0xff]), Buffer.from([0x2e])]);
    assert.strictEqual(readPickle(ok, noPersistent).value, -(2n ** 63n));
  });

  it('a long APPENDS run does not overflow the call stack; nesting deeper than the bound is refused', () => {
    const n = 500_000;
    const parts: Buffer[] = [Buffer.from([0x80, 2, 0x5d, 0x28])];
    for (let i = 0; i < n; i++) parts.push(Buffer.from([0x4b, i & 0xff]));
    parts.push(Buffer.from([0x65, 0x2e]));
    const list = readPickle(Buffer.concat(parts), noPersistent).value as number[];
    assert.strictEqual(list.length, n);
    const deep = Buffer.concat([Buffer.from([0x80, 2]), Buffer.alloc(20_000, 0x28), Buffer.from([0x2e])]);
    assert.throws(() => readPickle(deep, noPersistent), /nested more than 10000 levels deep/);
  });

  describe('safetensors', () => {
    const write = (name: string, header: unknown, dataBytes: number, raw?: string) => {
      const h = Buffer.from(raw ?? JSON.stringify(header));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(h.length));
      const file = path.join(dir, name);
      fs.writeFileSync(file, Buffer.concat([len, h, Buffer.alloc(dataBytes)]));
      return file;
    };
    const refused = (file: string, message: RegExp) => (e: unknown) => e instanceof CheckpointError && e.file === file && message.test(e.problem);

    it('refuses overlapping offsets, offsets past the data, and shapes that are not lists of integers', () => {
      const overlap = write('overlap.safetensors', { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, b: { dtype: 'F32', shape: [4], data_offsets: [8, 24] } }, 24);
      assert.throws(() => readSafetensors(overlap), refused(overlap, /entries "a" \(0\.\.16\) and "b" \(8\.\.24\) overlap/));
      const past = write('past.safetensors', { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8);
      assert.throws(() => readSafetensors(past), refused(past, /data offsets 0\.\.16 lie outside the data \(8 bytes\)/));
      const frac = write('frac.safetensors', { a: { dtype: 'F32', shape: [2.5, 2], data_offsets: [0, 20] } }, 20);
      assert.throws(() => readSafetensors(frac), refused(frac, /shape must be a list of non-negative integers/));
      const str = write('str.safetensors', { a: { dtype: 'F32', shape: ['4'], data_offsets: [0, 16] } }, 16);
      assert.throws(() => readSafetensors(str), refused(str, /shape must be a list of non-negative integers/));
      const ok = write('ok.safetensors', { a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] }, e: { dtype: 'F32', shape: [0], data_offsets: [16, 16] }, __metadata__: { format: 'pt' } }, 16);
      assert.deepStrictEqual(readSafetensors(ok).tensors.map(t => [t.name, t.numel]), [['a', 4], ['e', 0]]);
    });

    it('deeply nested JSON in the header is an error naming the file, from the command line too', () => {
      const depth = 200_000;
      const deepMeta = write('deep.safetensors', null, 0, `{"__metadata__":${'['.repeat(depth)}${']'.repeat(depth)}}`);
      assert.throws(() => readSafetensors(deepMeta), refused(deepMeta, /__metadata__ must be an object of strings|nested too deeply/));
      const deepShape = write('deepshape.safetensors', null, 0, `{"a":{"dtype":"F32","data_offsets":[0,0],"shape":${'['.repeat(depth)}${']'.repeat(depth)}}}`);
      assert.throws(() => readSafetensors(deepShape), refused(deepShape, /shape must be a list|nested too deeply/));
      for (const f of [deepMeta, deepShape]) {
        const r = spawnSync(process.execPath, [SCWB, 'checkpoint', 'inspect', f, '--json'], { encoding: 'utf8' });
        assert.strictEqual(r.status, 1, r.stderr);
        assert.ok(r.stderr.includes(f), r.stderr);
        assert.doesNotMatch(r.stderr, /Maximum call stack/);
      }
    });
  });
});
