/** Readers of model files: PyTorch zip (pickle read without executing it), safetensors, and ONNX (protobuf walk). */
import * as fs from 'fs';
import { openRegularSync, readRegularFileSync } from '../safe-read';
import { jsonProblem } from '../safe-text';
import { asCheckpointError, CheckpointError } from './errors';
import { DescribedObject, PickleDict, PickleMalformed, PickleRefused, PickleTuple, readPickle, TensorRef, torchStorageLoader } from './pickle';
import { ZipReader } from './zip';

export interface TensorInfo {
  name: string;
  shape: number[];
  dtype: string;
  numel: number;
  /** saved as an nn.Parameter (false: a plain tensor or buffer; undefined: the format does not say) */
  parameter?: boolean;
}

export interface TopLevelEntry {
  key: string;
  /** e.g. "int 5", "state dict of 91 tensors", "dict of 3 entries" */
  description: string;
}

export interface TorchFileContents {
  topLevel: TopLevelEntry[];
  /** where the model's tensors were found: '' for a raw state dict, else the top-level key */
  stateDictKey: string | undefined;
  tensors: TensorInfo[];
  problems: string[];
}

const ITEM_SIZE: Record<string, number> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
  complex64: 8, complex128: 16, qint8: 1, quint8: 1, qint32: 4,
};

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (typeof v === 'number') return Number.isInteger(v) ? `int ${v}` : `float ${v}`;
  if (typeof v === 'bigint') return `int ${v}`;
  if (typeof v === 'boolean') return `bool ${v}`;
  if (typeof v === 'string') return `str ${JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v)}`;
  if (v instanceof TensorRef) return `tensor ${v.dtype} [${v.shape.join(', ')}]`;
  if (v instanceof PickleDict) {
    const n = countTensors(v);
    return n === v.size && n > 0 ? `state dict of ${n} tensors` : `dict of ${v.size} entries${n ? ` (${n} tensors)` : ''}`;
  }
  if (v instanceof PickleTuple) return `tuple of ${v.items.length}`;
  if (Array.isArray(v)) return `list of ${v.length}`;
  if (v instanceof Uint8Array) return `bytes (${v.length})`;
  if (v instanceof DescribedObject) return v.type;
  return typeof v;
}

function countTensors(d: PickleDict): number {
  return d.entries.filter(([, v]) => v instanceof TensorRef).length;
}

function isStateDict(v: unknown): v is PickleDict {
  return v instanceof PickleDict && v.size > 0 && v.entries.every(([k, t]) => typeof k === 'string' && t instanceof TensorRef);
}

/** Reads a torch.save zip: top-level keys, the state dict's tensors, and checks each tensor's storage. */
export function readTorchZip(file: string): TorchFileContents {
  const zip = ZipReader.open(file);
  try {
    const pkl = [...zip.entries.values()].find(e => /^[^/]+\/data\.pkl$/.test(e.name) || e.name === 'data.pkl');
    if (!pkl) throw new CheckpointError(file, 'a zip file but not a PyTorch checkpoint (no <name>/data.pkl inside)');
    const prefix = pkl.name.slice(0, pkl.name.length - 'data.pkl'.length);
    let root: unknown;
    try {
      root = readPickle(zip.readEntry(pkl), torchStorageLoader).value;
    } catch (e) {
      if (e instanceof PickleRefused) throw new CheckpointError(file, e.message.startsWith('refused') ? e.message : `refused: ${e.message}; nothing was executed`);
      if (e instanceof PickleMalformed) throw new CheckpointError(file, `malformed pickle in ${pkl.name}: ${e.message}`);
      throw e;
    }
    const problems: string[] = [];
    let stateDictKey: string | undefined;
    let sd: PickleDict | undefined;
    const topLevel: TopLevelEntry[] = [];
    if (isStateDict(root)) {
      stateDictKey = '';
      sd = root;
    } else if (root instanceof PickleDict) {
      for (const [k, v] of root.entries) topLevel.push({ key: String(k), description: describe(v) });
      for (const key of ['model_state_dict', 'state_dict', 'model', 'module', 'net']) {
        const v = root.get(key);
        if (isStateDict(v)) { stateDictKey = key; sd = v; break; }
      }
      if (!sd) problems.push('no model state dict found (expected a dict of tensors, or one under model_state_dict / state_dict / model)');
    } else {
      topLevel.push({ key: '(root)', description: describe(root) });
      if (root instanceof TensorRef) problems.push('the file holds a single tensor, not a model');
      else problems.push('the file holds no dict of tensors');
    }
    const tensors: TensorInfo[] = [];
    for (const [k, v] of sd?.entries ?? []) {
      const t = v as TensorRef;
      const name = String(k);
      tensors.push({ name, shape: t.shape, dtype: t.dtype, numel: t.numel, parameter: t.isParameter });
      // the tensor must lie inside its storage, and the storage's bytes must be in the zip
      const entry = zip.entries.get(`${prefix}data/${t.storage.key}`);
      const item = ITEM_SIZE[t.dtype];
      if (!entry) problems.push(`${name}: its storage data/${t.storage.key} is missing from the file`);
      else if (item && entry.size !== t.storage.numel * item) problems.push(`${name}: storage data/${t.storage.key} holds ${entry.size} bytes, expected ${t.storage.numel * item}`);
      if (t.numel > 0) {
        const extent = t.offset + t.shape.reduce((a, s, i) => a + (s - 1) * (t.stride[i] ?? 0), 0) + 1;
        if (extent > t.storage.numel) problems.push(`${name}: shape [${t.shape.join(', ')}] reaches past its storage (${t.storage.numel} elements)`);
      }
    }
    return { topLevel, stateDictKey, tensors, problems };
  } finally {
    zip.close();
  }
}

const SAFETENSORS_DTYPES: Record<string, string> = {
  F64: 'float64', F32: 'float32', F16: 'float16', BF16: 'bfloat16', I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8',
  U8: 'uint8', BOOL: 'bool', U16: 'uint16', U32: 'uint32', U64: 'uint64', F8_E4M3: 'float8_e4m3fn', F8_E5M2: 'float8_e5m2',
};

/** Reads a .safetensors header (8-byte little-endian length, then a JSON header); the data is not read. */
export function readSafetensors(file: string): { tensors: TensorInfo[]; metadata: Record<string, string>; problems: string[] } {
  const { fd, size } = asCheckpointError(file, () => openRegularSync(file));
  try {
    const head = Buffer.alloc(8);
    if (size < 8 || fs.readSync(fd, head, 0, 8, 0) < 8) throw new CheckpointError(file, 'too short for a safetensors file (no header length)');
    const n = Number(head.readBigUInt64LE(0));
    if (n > 100_000_000 || 8 + n > size) throw new CheckpointError(file, `safetensors header length ${n} does not fit in the file (${size} bytes)`);
    const hb = Buffer.alloc(n);
    if (fs.readSync(fd, hb, 0, n, 8) < n) throw new CheckpointError(file, 'the safetensors header ends early');
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(hb.toString('utf8')) as Record<string, unknown>;
    } catch (e) {
      // RangeError: nesting too deep for the parser; SyntaxError: broken JSON. Either way: name the file.
      throw new CheckpointError(file, `safetensors header is not valid JSON: ${e instanceof RangeError ? 'nested too deeply' : jsonProblem(e)}`);
    }
    if (!header || typeof header !== 'object' || Array.isArray(header)) throw new CheckpointError(file, 'safetensors header is not a JSON object');
    const tensors: TensorInfo[] = [];
    const problems: string[] = [];
    let metadata: Record<string, string> = {};
    const dataSize = size - 8 - n;
    const spans: { name: string; start: number; end: number }[] = [];
    for (const [name, v] of Object.entries(header)) {
      if (name === '__metadata__') {
        // The format allows only a flat string -> string map here.
        if (!v || typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every(x => typeof x === 'string')) {
          throw new CheckpointError(file, 'safetensors __metadata__ must be an object of strings');
        }
        metadata = v as Record<string, string>;
        continue;
      }
      const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (!t || typeof t !== 'object' || typeof t.dtype !== 'string' || !Array.isArray(t.shape) || !Array.isArray(t.data_offsets)) {
        throw new CheckpointError(file, `safetensors entry ${JSON.stringify(name)} lacks dtype, shape or data_offsets`);
      }
      if (!t.shape.every(d => Number.isSafeInteger(d) && d >= 0)) {
        throw new CheckpointError(file, `safetensors entry ${JSON.stringify(name)}: shape must be a list of non-negative integers`);
      }
      const shape = t.shape as number[];
      const offsets = t.data_offsets;
      if (offsets.length !== 2 || !offsets.every(o => Number.isSafeInteger(o) && o >= 0)) {
        throw new CheckpointError(file, `safetensors entry ${JSON.stringify(name)}: data_offsets must be two non-negative integers`);
      }
      const [start, end] = offsets as number[];
      if (start > end || end > dataSize) {
        throw new CheckpointError(file, `safetensors entry ${JSON.stringify(name)}: data offsets ${start}..${end} lie outside the data (${dataSize} bytes)`);
      }
      const numel = shape.reduce((a, b) => a * b, 1);
      if (!Number.isSafeInteger(numel)) throw new CheckpointError(file, `safetensors entry ${JSON.stringify(name)}: shape [${shape.join(', ')}] has too many elements`);
      tensors.push({ name, shape, dtype: SAFETENSORS_DTYPES[t.dtype] ?? t.dtype.toLowerCase(), numel });
      if (end > start) spans.push({ name, start, end }); // an empty tensor holds no bytes
      const item = ITEM_SIZE[SAFETENSORS_DTYPES[t.dtype]];
      if (item && end - start !== numel * item) problems.push(`${name}: ${end - start} bytes for ${numel} ${t.dtype} values`);
    }
    // Two tensors must not share bytes (checked in one pass over the spans sorted by start).
    spans.sort((a, b) => a.start - b.start || a.end - b.end);
    for (let i = 1; i < spans.length; i++) {
      const a = spans[i - 1];
      const b = spans[i];
      if (b.start < a.end) throw new CheckpointError(file, `safetensors entries ${JSON.stringify(a.name)} (${a.start}..${a.end}) and ${JSON.stringify(b.name)} (${b.start}..${b.end}) overlap`);
    }
    return { tensors, metadata, problems };
  } finally {
    fs.closeSync(fd);
  }
}

export interface OnnxValueInfo { name: string; elemType: string; shape: (number | string)[] }
export interface OnnxSummary { irVersion: number; producer: string; opsets: { domain: string; version: number }[]; inputs: OnnxValueInfo[]; outputs: OnnxValueInfo[]; initializers: TensorInfo[]; nodes: number }

/** ONNX models are protobuf messages, which cannot exceed 2 GiB (larger weights live in external data files). */
const ONNX_FILE_LIMIT = 2 ** 31 - 1;

const ONNX_TYPES: Record<number, string> = { 1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string', 9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 16: 'bfloat16' };

/** Protobuf fields of one message: [field number, wire type, value] (varint as number, length-delimited as a slice). */
function* fields(buf: Buffer, file: string): Generator<[number, number, number | Buffer]> {
  let p = 0;
  const varint = (): number => {
    let v = 0; let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (p >= buf.length) throw new CheckpointError(file, 'malformed ONNX protobuf (a number runs past the end)');
      const b = buf[p++];
      v += (b & 0x7f) * mul;
      if (!(b & 0x80)) return v;
      mul *= 128;
    }
    throw new CheckpointError(file, 'malformed ONNX protobuf (a number is too long)');
  };
  while (p < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) yield [field, wire, varint()];
    else if (wire === 2) {
      const n = varint();
      if (p + n > buf.length) throw new CheckpointError(file, `malformed or truncated ONNX protobuf (field ${field} needs ${n} bytes, ${buf.length - p} left)`);
      yield [field, wire, buf.subarray(p, p + n)];
      p += n;
    } else if (wire === 1) { p += 8; } else if (wire === 5) { p += 4; } else throw new CheckpointError(file, `malformed ONNX protobuf (wire type ${wire})`);
    if (p > buf.length) throw new CheckpointError(file, 'truncated ONNX protobuf');
  }
}

function valueInfo(b: Buffer, file: string): OnnxValueInfo {
  const out: OnnxValueInfo = { name: '', elemType: '?', shape: [] };
  for (const [f, , v] of fields(b, file)) {
    if (f === 1 && Buffer.isBuffer(v)) out.name = v.toString('utf8');
    if (f === 2 && Buffer.isBuffer(v)) {
      for (const [tf, , tv] of fields(v, file)) {
        if (tf !== 1 || !Buffer.isBuffer(tv)) continue; // TypeProto.tensor_type
        for (const [ef, , ev] of fields(tv, file)) {
          if (ef === 1 && typeof ev === 'number') out.elemType = ONNX_TYPES[ev] ?? `type ${ev}`;
          if (ef === 2 && Buffer.isBuffer(ev)) {
            for (const [, , dim] of fields(ev, file)) {
              if (!Buffer.isBuffer(dim)) continue;
              let d: number | string = '?';
              for (const [df, , dv] of fields(dim, file)) {
                if (df === 1 && typeof dv === 'number') d = dv;
                if (df === 2 && Buffer.isBuffer(dv)) d = dv.toString('utf8');
              }
              out.shape.push(d);
            }
          }
        }
      }
    }
  }
  return out;
}

/** Reads an ONNX ModelProto's opsets, graph inputs/outputs and initializers (names and shapes); nothing is run. */
export function readOnnx(file: string): OnnxSummary {
  const buf = asCheckpointError(file, () => readRegularFileSync(file, { maxBytes: ONNX_FILE_LIMIT }));
  const s: OnnxSummary = { irVersion: 0, producer: '', opsets: [], inputs: [], outputs: [], initializers: [], nodes: 0 };
  let graph: Buffer | undefined;
  for (const [f, , v] of fields(buf, file)) {
    if (f === 1 && typeof v === 'number') s.irVersion = v;
    else if (f === 2 && Buffer.isBuffer(v)) s.producer = v.toString('utf8');
    else if (f === 7 && Buffer.isBuffer(v)) graph = v;
    else if (f === 8 && Buffer.isBuffer(v)) {
      const o = { domain: '', version: 0 };
      for (const [of, , ov] of fields(v, file)) {
        if (of === 1 && Buffer.isBuffer(ov)) o.domain = ov.toString('utf8');
        if (of === 2 && typeof ov === 'number') o.version = ov;
      }
      s.opsets.push(o);
    }
  }
  if (!graph || !s.opsets.length) throw new CheckpointError(file, 'not an ONNX model (no graph or no opset_import)');
  const initNames = new Set<string>();
  for (const [f, , v] of fields(graph, file)) {
    if (!Buffer.isBuffer(v)) continue;
    if (f === 1) s.nodes++;
    else if (f === 5) { // TensorProto initializer: dims(1), data_type(2), name(8)
      const t: TensorInfo = { name: '', shape: [], dtype: '?', numel: 0 };
      for (const [tf, w, tv] of fields(v, file)) {
        if (tf === 1 && typeof tv === 'number') t.shape.push(tv);
        if (tf === 1 && w === 2 && Buffer.isBuffer(tv)) { // packed dims
          let q = 0;
          while (q < tv.length) { let v = 0; let mul = 1; let b: number; do { b = tv[q++]; v += (b & 0x7f) * mul; mul *= 128; } while (b & 0x80 && q < tv.length); t.shape.push(v); }
        }
        if (tf === 2 && typeof tv === 'number') t.dtype = ONNX_TYPES[tv] ?? `type ${tv}`;
        if (tf === 8 && Buffer.isBuffer(tv)) t.name = tv.toString('utf8');
      }
      t.numel = t.shape.reduce((a, b) => a * b, 1);
      s.initializers.push(t);
      initNames.add(t.name);
    } else if (f === 11) { const vi = valueInfo(v, file); if (!initNames.has(vi.name)) s.inputs.push(vi); }
    else if (f === 12) s.outputs.push(valueInfo(v, file));
  }
  s.inputs = s.inputs.filter(i => !initNames.has(i.name));
  return s;
}
