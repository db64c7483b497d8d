/**
 * A strict reader of the .npy files the probe worker writes (`embeddings.npy`, see docs/worker-benchmark.md): a 2-D array
 * of little-endian float32 ('<f4') or float64 ('<f8'), C order, in format version 1.0, 2.0 or 3.0.
 *
 * The format (numpy's `numpy.lib.format`): the magic string "\x93NUMPY", one byte major and one byte minor version,
 * the header length (uint16 little-endian in 1.0, uint32 in 2.0 and 3.0), then the header — a Python dict literal
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (n, d), }` padded with spaces and ended by a newline (latin-1 in
 * 1.0/2.0, UTF-8 in 3.0) — and the raw data. Anything else (another dtype, big-endian, Fortran order, a shape that
 * is not 2-D, a file shorter or longer than its header says) is refused with an error naming the file.
 *
 * Embeddings come from run folders, which may come from an untrusted repository: the reader never follows a
 * symbolic link that leads outside the run folder, and reads only regular files.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readRegularFile } from '../safe-read';

export class NpyError extends Error {
  constructor(readonly file: string, readonly problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'NpyError';
  }
}

export interface NpyMatrix {
  rows: number;
  cols: number;
  dtype: '<f4' | '<f8';
  /** row-major values */
  data: Float32Array | Float64Array;
}

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

/** Parses the bytes of an .npy file (`file` names it in errors). */
export function parseNpy(bytes: Uint8Array, file: string): NpyMatrix {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (problem: string): never => { throw new NpyError(file, problem); };
  if (buf.length < 8 || !buf.subarray(0, 6).equals(MAGIC)) fail('not a numpy .npy file (no \\x93NUMPY magic string)');
  const major = buf[6];
  const minor = buf[7];
  if (minor !== 0 || major < 1 || major > 3) fail(`unsupported .npy format version ${major}.${minor} (1.0, 2.0 and 3.0 are read)`);
  const lenBytes = major === 1 ? 2 : 4;
  if (buf.length < 8 + lenBytes) fail('the file is cut short inside its header');
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const dataStart = 8 + lenBytes + headerLen;
  if (buf.length < dataStart) fail(`the file is cut short: its header says ${headerLen} bytes but the file has ${buf.length - 8 - lenBytes}`);
  const header = buf.subarray(8 + lenBytes, dataStart).toString(major === 3 ? 'utf8' : 'latin1');
  const fields = parseHeader(header, fail);
  const dtype = fields.descr;
  if (dtype !== '<f4' && dtype !== '<f8') {
    const hint = dtype === '>f4' || dtype === '>f8' ? ' (big-endian: save it with .astype("<f4"))' : '';
    fail(`dtype '${dtype}' is not read: embeddings must be little-endian float32 ('<f4') or float64 ('<f8')${hint}`);
  }
  if (fields.fortranOrder) fail('the array is in Fortran order; save it in C order (np.ascontiguousarray) — the reader does not transpose');
  if (fields.shape.length !== 2) fail(`the array has shape (${fields.shape.join(', ')}); embeddings must be 2-D (cells x dimensions)`);
  const [rows, cols] = fields.shape;
  const item = dtype === '<f4' ? 4 : 8;
  const expected = rows * cols * item;
  const actual = buf.length - dataStart;
  if (actual < expected) fail(`the file is truncated: shape (${rows}, ${cols}) needs ${expected} bytes of data but it has ${actual}`);
  if (actual > expected) fail(`the file has ${actual - expected} bytes after the data of shape (${rows}, ${cols}); it is not one .npy array`);
  if (!littleEndianHost()) fail('this reader needs a little-endian machine');
  // A view on the bytes when the data is aligned (numpy pads the header to a multiple of 16 or 64), else a copy.
  let offset = buf.byteOffset + dataStart;
  let backing = buf.buffer;
  if (offset % item !== 0) {
    const copy = new Uint8Array(expected);
    copy.set(buf.subarray(dataStart, dataStart + expected));
    backing = copy.buffer;
    offset = 0;
  }
  const count = rows * cols;
  const data = dtype === '<f4' ? new Float32Array(backing, offset, count) : new Float64Array(backing, offset, count);
  return { rows, cols, dtype: dtype as NpyMatrix['dtype'], data };
}

function littleEndianHost(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

interface HeaderFields {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

/**
 * The header dict: exactly the keys 'descr', 'fortran_order' and 'shape', with a string, a bool and a tuple of
 * non-negative integers. A small tokenizer, not a Python evaluator: anything else is refused.
 */
function parseHeader(text: string, fail: (p: string) => never): HeaderFields {
  let i = 0;
  const ws = () => { while (i < text.length && /\s/.test(text[i])) i++; };
  const expect = (c: string) => {
    ws();
    if (text[i] !== c) fail(`malformed header: expected '${c}' at character ${i} of ${JSON.stringify(text.trimEnd())}`);
    i++;
  };
  const str = (): string => {
    ws();
    const q = text[i];
    if (q !== "'" && q !== '"') fail(`malformed header: expected a string at character ${i}`);
    const end = text.indexOf(q, i + 1);
    if (end < 0) fail('malformed header: unterminated string');
    const s = text.slice(i + 1, end);
    i = end + 1;
    return s;
  };
  const int = (): number => {
    ws();
    const m = /^\d+/.exec(text.slice(i));
    if (!m) fail(`malformed header: expected an integer at character ${i}`);
    i += m![0].length;
    // numpy may write a long as 12L (Python 2).
    if (text[i] === 'L') i++;
    const n = Number(m![0]);
    if (!Number.isSafeInteger(n)) fail(`malformed header: dimension ${m![0]} is too large`);
    return n;
  };
  const value = (key: string): string | boolean | number[] => {
    ws();
    if (key === 'descr') {
      if (text[i] === '[') fail("a structured dtype (a list of fields) is not read: embeddings must be a plain float array");
      return str();
    }
    if (key === 'fortran_order') {
      if (text.startsWith('True', i)) { i += 4; return true; }
      if (text.startsWith('False', i)) { i += 5; return false; }
      return fail(`malformed header: fortran_order must be True or False at character ${i}`);
    }
    if (key === 'shape') {
      expect('(');
      const dims: number[] = [];
      for (;;) {
        ws();
        if (text[i] === ')') { i++; break; }
        dims.push(int());
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ')') { i++; break; }
        fail(`malformed header: expected ',' or ')' in shape at character ${i}`);
      }
      return dims;
    }
    return fail(`unexpected header key '${key}' (a .npy header has descr, fortran_order and shape)`);
  };
  expect('{');
  const seen = new Map<string, string | boolean | number[]>();
  for (;;) {
    ws();
    if (text[i] === '}') { i++; break; }
    const key = str();
    if (seen.has(key)) fail(`malformed header: key '${key}' twice`);
    expect(':');
    seen.set(key, value(key));
    ws();
    if (text[i] === ',') { i++; continue; }
    if (text[i] === '}') { i++; break; }
    fail(`malformed header: expected ',' or '}' at character ${i}`);
  }
  if (text.slice(i).trim() !== '') fail('malformed header: text after the closing brace');
  for (const k of ['descr', 'fortran_order', 'shape']) if (!seen.has(k)) fail(`malformed header: no '${k}'`);
  return { descr: seen.get('descr') as string, fortranOrder: seen.get('fortran_order') as boolean, shape: seen.get('shape') as number[] };
}

/**
 * The real path of `file`, checked to lie inside `folder` (itself resolved) and to be a regular file: a symbolic
 * link pointing outside the folder (or a FIFO, a device, a folder) is refused with an error naming the file.
 */
export async function checkedFileInFolder(file: string, folder: string): Promise<string> {
  let real: string;
  let realFolder: string;
  try {
    realFolder = await fs.promises.realpath(folder);
  } catch {
    throw new NpyError(folder, 'the run folder does not exist');
  }
  try {
    real = await fs.promises.realpath(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new NpyError(file, code === 'ENOENT' ? 'file not found' : `cannot be resolved (${code ?? String(e)})`);
  }
  const rel = path.relative(realFolder, real);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new NpyError(file, `is a symbolic link to ${real}, outside the run folder; scWorkbench reads run files only inside their run folder`);
  }
  const st = await fs.promises.stat(real);
  if (!st.isFile()) throw new NpyError(file, 'is not a regular file');
  return real;
}

/** Reads an .npy matrix from `file`, which must lie (after links are resolved) inside `runDir`. */
export async function readNpyInFolder(file: string, runDir: string): Promise<NpyMatrix> {
  const real = await checkedFileInFolder(file, runDir);
  const bytes = await readRegularFile(real, { maxBytes: 2 ** 32 - 1 });
  return parseNpy(bytes, file);
}
