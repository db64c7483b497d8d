/** The .npy reader against files numpy writes: versions 1.0/2.0/3.0, '<f4' and '<f8'; every other layout refused. */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { NpyError, parseNpy, readNpyInFolder } from '../../../src/core/embedding/npy';
import { runPythonJson, tempDir } from '../../helpers/shared';

type Written = Record<string, { file: string; shape: number[]; values: number[] | null }>;

describe('embedding: .npy reader', () => {
  let dir = '';
  let written: Written = {};
  before(() => {
    dir = tempDir('scwb-npy-');
    written = runPythonJson<Written>('embedding_reference.py', ['npy', dir]);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const name of ['f4_v1', 'f8_v1', 'f4_v2', 'f4_v3', 'f8_v3', 'empty_rows']) {
    it(`reads ${name} exactly as numpy wrote it`, async () => {
      const w = written[name];
      const m = await readNpyInFolder(w.file, dir);
      assert.deepStrictEqual([m.rows, m.cols], w.shape);
      assert.strictEqual(m.dtype, name.startsWith('f8') ? '<f8' : '<f4');
      assert.ok(name.startsWith('f8') ? m.data instanceof Float64Array : m.data instanceof Float32Array);
      assert.deepStrictEqual(Array.from(m.data), w.values);
    });
  }

  const refused: [string, RegExp][] = [
    ['fortran', /Fortran order/],
    ['big_endian', /dtype '>f4' is not read.*big-endian/],
    ['int32', /dtype '<i4' is not read/],
    ['float16', /dtype '<f2' is not read/],
    ['three_d', /shape \(2, 3, 4\).*must be 2-D/],
    ['one_d', /shape \(7\).*must be 2-D/],
    ['structured', /structured dtype/],
    ['truncated', /truncated: shape \(5, 3\) needs 60 bytes of data but it has 55/],
    ['trailing', /4 bytes after the data/],
    ['header_cut', /cut short/],
  ];
  for (const [name, pattern] of refused) {
    it(`refuses ${name} with an error naming the file`, async () => {
      const w = written[name];
      await assert.rejects(readNpyInFolder(w.file, dir), (e: Error) => {
        assert.ok(e instanceof NpyError, String(e));
        assert.strictEqual(e.file, w.file);
        assert.ok(e.message.startsWith(w.file + ': '), e.message);
        assert.match(e.message, pattern);
        return true;
      });
    });
  }

  it('refuses a file that is not .npy, and an unknown format version', () => {
    assert.throws(() => parseNpy(Buffer.from('PK\x03\x04 not numpy at all'), '/x/a.npy'), /\/x\/a\.npy: not a numpy \.npy file/);
    const bytes = fs.readFileSync(written.f4_v1.file);
    bytes[6] = 4;
    assert.throws(() => parseNpy(bytes, '/x/b.npy'), /unsupported \.npy format version 4\.0/);
  });

  it('refuses a malformed header (unknown key, missing key)', () => {
    const make = (header: string) => {
      const h = Buffer.from(header.padEnd(54) + '\n', 'latin1');
      const len = Buffer.alloc(2);
      len.writeUInt16LE(h.length);
      return Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]), len, h, Buffer.alloc(8)]);
    };
    // This header leaves the data at byte 65, not a multiple of 4: the values are copied to an aligned array.
    const ok = make("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }");
    ok.writeFloatLE(1.5, ok.length - 8);
    ok.writeFloatLE(-2, ok.length - 4);
    assert.deepStrictEqual(Array.from(parseNpy(ok, 'ok.npy').data), [1.5, -2]);
    assert.throws(() => parseNpy(make("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), 'x': 1}"), 'k.npy'), /k\.npy: unexpected header key 'x'/);
    assert.throws(() => parseNpy(make("{'descr': '<f4', 'shape': (1, 2)}"), 'm.npy'), /m\.npy: malformed header: no 'fortran_order'/);
    assert.throws(() => parseNpy(make("{'descr': '<f4', 'fortran_order': 0, 'shape': (1, 2)}"), 'b.npy'), /fortran_order must be True or False/);
  });

  it('never reads a symbolic link that leads outside the run folder, but follows one inside it', async () => {
    const runDir = path.join(dir, 'run');
    fs.mkdirSync(runDir, { recursive: true });
    const outside = path.join(runDir, 'embeddings.npy');
    fs.symlinkSync(written.f4_v1.file, outside);
    await assert.rejects(readNpyInFolder(outside, runDir), /embeddings\.npy: is a symbolic link to .*f4_v1\.npy, outside the run folder/);
    fs.copyFileSync(written.f4_v2.file, path.join(runDir, 'real.npy'));
    const inside = path.join(runDir, 'inside.npy');
    fs.symlinkSync('real.npy', inside);
    assert.deepStrictEqual(Array.from((await readNpyInFolder(inside, runDir)).data), written.f4_v2.values);
    await assert.rejects(readNpyInFolder(path.join(runDir, 'missing.npy'), runDir), /missing\.npy: file not found/);
    fs.mkdirSync(path.join(runDir, 'folder.npy'));
    await assert.rejects(readNpyInFolder(path.join(runDir, 'folder.npy'), runDir), /folder\.npy: is not a regular file/);
  });
});
