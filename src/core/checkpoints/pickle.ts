/**
 * A pickle reader that never runs anything. It interprets the opcodes that torch.save writes (protocol 2, and the
 * protocol-4 opcodes for files saved with a higher protocol) into plain descriptive values. GLOBAL may only name an
 * allow-list of torch/collections/numpy callables, and REDUCE builds a description of what the call would have made
 * (a tensor's storage, shape and stride; an ordered dict) instead of calling anything. Any other GLOBAL is refused.
 */

/** A reference to a module attribute named by GLOBAL (never resolved). */
export class PickleGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualified(): string { return `${this.module}.${this.name}`; }
}

/** A dict or OrderedDict, keys in insertion order; set/get/has take constant time (a map from key to entry). */
export class PickleDict {
  readonly entries: [unknown, unknown][] = [];
  private readonly index = new Map<unknown, number>();
  set(k: unknown, v: unknown): void {
    const i = this.index.get(k);
    if (i !== undefined) this.entries[i][1] = v;
    else { this.index.set(k, this.entries.length); this.entries.push([k, v]); }
  }
  get(k: unknown): unknown { const i = this.index.get(k); return i === undefined ? undefined : this.entries[i][1]; }
  has(k: unknown): boolean { return this.index.has(k); }
  get size(): number { return this.entries.length; }
}

export class PickleTuple {
  constructor(readonly items: unknown[]) {}
}

/** A persistent id ('storage', StorageType, key, location, numel) of torch's zip format. */
export class StorageRef {
  constructor(readonly key: string, readonly dtype: string, readonly location: string, readonly numel: number) {}
}

/** What torch._utils._rebuild_tensor_v2 would have built. */
export class TensorRef {
  isParameter = false;
  constructor(readonly storage: StorageRef, readonly offset: number, readonly shape: number[], readonly stride: number[], public requiresGrad: boolean) {}
  get dtype(): string { return this.storage.dtype; }
  get numel(): number { return this.shape.reduce((a, b) => a * b, 1); }
}

/** An object we describe but do not build (numpy dtype or scalar). */
export class DescribedObject {
  constructor(readonly type: string, readonly value: unknown) {}
}

export class PickleRefused extends Error {}
export class PickleMalformed extends Error {}

/**
 * Bounds that keep a hostile pickle from costing more than its size: MARKs open at once (nesting), operations
 * (hence values made), and the bytes of one integer (LONG1/LONG4). torch.save's pickles stay far below each.
 */
export const PICKLE_LIMITS = { marks: 10_000, opcodes: 16_000_000, longBytes: 1024 };

const STORAGE_DTYPES: Record<string, string> = {
  FloatStorage: 'float32', DoubleStorage: 'float64', HalfStorage: 'float16', BFloat16Storage: 'bfloat16',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8',
  BoolStorage: 'bool', ComplexFloatStorage: 'complex64', ComplexDoubleStorage: 'complex128',
  QInt8Storage: 'qint8', QUInt8Storage: 'quint8', QInt32Storage: 'qint32', UntypedStorage: 'uint8',
};
const TORCH_DTYPES = new Set(['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool', 'complex64', 'complex128']);

const ALLOWED = new Set([
  'torch._utils._rebuild_tensor', 'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state', 'torch._tensor._rebuild_from_type_v2', 'torch.Tensor',
  'torch.nn.parameter.Parameter', 'collections.OrderedDict', 'builtins.set', '__builtin__.set', 'builtins.frozenset',
  '__builtin__.frozenset', 'numpy.dtype', 'numpy.core.multiarray.scalar', 'numpy._core.multiarray.scalar',
  'torch.storage.UntypedStorage', '_codecs.encode',
]);

function allowed(g: PickleGlobal): boolean {
  if (ALLOWED.has(g.qualified)) return true;
  if (g.module === 'torch' && (g.name in STORAGE_DTYPES || TORCH_DTYPES.has(g.name))) return true;
  return false;
}

function num(v: unknown, what: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  throw new PickleMalformed(`${what} is not a number`);
}

function items(v: unknown, what: string): unknown[] {
  if (v instanceof PickleTuple) return v.items;
  if (Array.isArray(v)) return v;
  throw new PickleMalformed(`${what} is not a tuple`);
}

function tensorFrom(args: unknown[]): TensorRef {
  const [storage, offset, size, stride, requiresGrad] = args;
  if (!(storage instanceof StorageRef)) throw new PickleMalformed('a tensor without a storage');
  return new TensorRef(storage, num(offset, 'tensor offset'), items(size, 'tensor size').map(x => num(x, 'tensor size')),
    items(stride, 'tensor stride').map(x => num(x, 'tensor stride')), requiresGrad === true);
}

const NUMPY_SCALAR_READERS: Record<string, (b: Buffer) => number | bigint | boolean> = {
  '<f8': b => b.readDoubleLE(0), '<f4': b => b.readFloatLE(0), '<i8': b => b.readBigInt64LE(0), '<i4': b => b.readInt32LE(0),
  '<u8': b => b.readBigUInt64LE(0), '<u4': b => b.readUInt32LE(0), '|b1': b => b[0] !== 0, '|i1': b => b.readInt8(0), '|u1': b => b[0],
};

/** The call REDUCE would make, described instead of run. */
function apply(fn: unknown, rawArgs: unknown): unknown {
  if (!(fn instanceof PickleGlobal)) throw new PickleRefused('the file asks to call something that is not a named function');
  const args = items(rawArgs, `arguments of ${fn.qualified}`);
  switch (fn.qualified) {
    case 'torch._utils._rebuild_tensor':
    case 'torch._utils._rebuild_tensor_v2':
      return tensorFrom(args);
    case 'torch._utils._rebuild_parameter':
    case 'torch._utils._rebuild_parameter_with_state': {
      const t = args[0];
      if (!(t instanceof TensorRef)) throw new PickleMalformed('a parameter without a tensor');
      t.isParameter = true;
      t.requiresGrad = args[1] === true;
      return t;
    }
    case 'torch._tensor._rebuild_from_type_v2':
      return apply(args[0], args[2]);
    case 'collections.OrderedDict': {
      const d = new PickleDict();
      if (args.length && args[0] !== null) for (const kv of items(args[0], 'OrderedDict items')) { const [k, v] = items(kv, 'OrderedDict item'); d.set(k, v); }
      return d;
    }
    case 'builtins.set': case '__builtin__.set': case 'builtins.frozenset': case '__builtin__.frozenset':
      return args.length ? [...items(args[0], 'set items')] : [];
    case '_codecs.encode': // protocol 2 writes bytes as _codecs.encode(text, 'latin1'): decoded here, nothing called
      if (typeof args[0] !== 'string' || (args[1] !== 'latin1' && args[1] !== 'latin-1')) throw new PickleRefused('refused: _codecs.encode with an unexpected encoding; nothing was executed');
      return new Uint8Array(Buffer.from(args[0], 'latin1'));
    case 'numpy.dtype':
      return new DescribedObject('numpy.dtype', String(args[0]));
    case 'numpy.core.multiarray.scalar':
    case 'numpy._core.multiarray.scalar': {
      const [dt, bytes] = args;
      const code = dt instanceof DescribedObject ? String((dt as DescribedObject & { code?: string }).code ?? dt.value) : '?';
      const reader = NUMPY_SCALAR_READERS[code];
      if (reader && bytes instanceof Uint8Array) return reader(Buffer.from(bytes));
      return new DescribedObject('numpy scalar', code);
    }
    default:
      throw new PickleRefused(`the file asks to call ${fn.qualified}, which is not a tensor rebuild`);
  }
}


/**
 * Interprets one pickle. `persistentLoad` turns a persistent id (torch's storage tuples) into a value. Throws
 * PickleRefused for a GLOBAL outside the allow-list (nothing is ever executed) and PickleMalformed for broken data.
 */
export function readPickle(data: Uint8Array, persistentLoad: (pid: unknown) => unknown, start = 0): { value: unknown; end: number } {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let p = start;
  const need = (n: number) => { if (p + n > buf.length) throw new PickleMalformed(`the pickle ends early (at byte ${p}, needs ${n} more)`); };
  const u8 = () => { need(1); return buf[p++]; };
  const u16 = () => { need(2); const v = buf.readUInt16LE(p); p += 2; return v; };
  const u32 = () => { need(4); const v = buf.readUInt32LE(p); p += 4; return v; };
  const i32 = () => { need(4); const v = buf.readInt32LE(p); p += 4; return v; };
  const bytes = (n: number) => { need(n); const v = buf.subarray(p, p + n); p += n; return v; };
  const line = () => { const e = buf.indexOf(0x0a, p); if (e < 0) throw new PickleMalformed('the pickle ends inside a text line'); const s = buf.toString('latin1', p, e); p = e + 1; return s; };
  const pop = () => { if (!stack.length) throw new PickleMalformed(`stack underflow at byte ${p}`); return stack.pop(); };
  const top = () => { if (!stack.length) throw new PickleMalformed(`stack underflow at byte ${p}`); return stack[stack.length - 1]; };
  const popMark = () => { const m = marks.pop(); if (m === undefined) throw new PickleMalformed(`no MARK before byte ${p}`); return stack.splice(m); };
  const global = (module: string, name: string) => {
    const g = new PickleGlobal(module, name);
    if (!allowed(g)) throw new PickleRefused(`refused: the file asks to run ${g.qualified}; nothing was executed`);
    return g;
  };
  const signedLE = (b: Buffer): number | bigint => {
    if (b.length === 0) return 0;
    if (b.length > PICKLE_LIMITS.longBytes) throw new PickleMalformed(`an integer of ${b.length} bytes at byte ${p - b.length} (more than ${PICKLE_LIMITS.longBytes}; no checkpoint holds one)`);
    // One hex parse (linear in the length), not a shift per byte (quadratic).
    let v = BigInt('0x' + Buffer.from(b).reverse().toString('hex'));
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  let ops = 0;
  const count = () => {
    if (++ops > PICKLE_LIMITS.opcodes) throw new PickleMalformed(`more than ${PICKLE_LIMITS.opcodes} operations (at byte ${p}); not a checkpoint's pickle`);
  };
  const setItems = (target: unknown, kvs: unknown[]) => {
    if (!(target instanceof PickleDict)) throw new PickleMalformed('SETITEMS on something that is not a dict');
    for (let i = 0; i + 1 < kvs.length; i += 2) target.set(kvs[i], kvs[i + 1]);
  };
  const appendItems = (target: unknown, vs: unknown[]) => {
    if (!Array.isArray(target)) throw new PickleMalformed('APPENDS on something that is not a list');
    for (const v of vs) target.push(v); // not push(...vs): a long run of items would overflow the call stack
  };
  for (;;) {
    const at = p;
    const op = u8();
    count();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: bytes(8); break; // FRAME
      case 0x2e: return { value: pop(), end: p }; // STOP
      case 0x28: // MARK
        if (marks.length >= PICKLE_LIMITS.marks) throw new PickleMalformed(`nested more than ${PICKLE_LIMITS.marks} levels deep (at byte ${at})`);
        marks.push(stack.length);
        break;
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: { const n = u8(); stack.push(signedLE(bytes(n))); break; } // LONG1
      case 0x8b: { const n = u32(); stack.push(signedLE(bytes(n))); break; } // LONG4
      case 0x47: { need(8); stack.push(buf.readDoubleBE(p)); p += 8; break; } // BINFLOAT
      case 0x49: { const s = line(); stack.push(s === '01' ? true : s === '00' ? false : Number(s)); break; } // INT
      case 0x4c: stack.push(Number(line().replace(/L$/, ''))); break; // LONG
      case 0x46: stack.push(Number(line())); break; // FLOAT
      case 0x58: { const n = u32(); stack.push(bytes(n).toString('utf8')); break; } // BINUNICODE
      case 0x8c: { const n = u8(); stack.push(bytes(n).toString('utf8')); break; } // SHORT_BINUNICODE
      case 0x8d: { need(8); const n = Number(buf.readBigUInt64LE(p)); p += 8; stack.push(bytes(n).toString('utf8')); break; } // BINUNICODE8
      case 0x54: { const n = u32(); stack.push(bytes(n).toString('latin1')); break; } // BINSTRING
      case 0x55: { const n = u8(); stack.push(bytes(n).toString('latin1')); break; } // SHORT_BINSTRING
      case 0x42: { const n = u32(); stack.push(new Uint8Array(bytes(n))); break; } // BINBYTES
      case 0x43: { const n = u8(); stack.push(new Uint8Array(bytes(n))); break; } // SHORT_BINBYTES
      case 0x7d: stack.push(new PickleDict()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push(new PickleTuple([])); break; // EMPTY_TUPLE
      case 0x8f: stack.push([]); break; // EMPTY_SET
      case 0x64: { const kv = popMark(); const d = new PickleDict(); setItems(d, kv); stack.push(d); break; } // DICT
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x74: stack.push(new PickleTuple(popMark())); break; // TUPLE
      case 0x85: stack.push(new PickleTuple([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push(new PickleTuple([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(new PickleTuple([a, b, c])); break; } // TUPLE3
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const kv = popMark(); setItems(top(), kv); break; } // SETITEMS
      case 0x61: { const v = pop(); appendItems(top(), [v]); break; } // APPEND
      case 0x65: { const vs = popMark(); appendItems(top(), vs); break; } // APPENDS
      case 0x90: { const vs = popMark(); appendItems(top(), vs); break; } // ADDITEMS
      case 0x91: stack.push(popMark()); break; // FROZENSET
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x70: memo.set(Number(line()), top()); break; // PUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: case 0x67: { // BINGET, LONG_BINGET, GET
        const k = op === 0x68 ? u8() : op === 0x6a ? u32() : Number(line());
        if (!memo.has(k)) throw new PickleMalformed(`memo ${k} read before it was written (byte ${at})`);
        stack.push(memo.get(k));
        break;
      }
      case 0x63: { const module = line(); const name = line(); stack.push(global(module, name)); break; } // GLOBAL
      case 0x93: { const name = pop(); const module = pop(); stack.push(global(String(module), String(name))); break; } // STACK_GLOBAL
      case 0x52: { const args = pop(); const fn = pop(); stack.push(apply(fn, args)); break; } // REDUCE
      case 0x62: { // BUILD: set state on the object; we keep only what describes it
        const state = pop();
        const obj = top();
        if (obj instanceof DescribedObject && obj.type === 'numpy.dtype' && state instanceof PickleTuple) {
          // numpy dtype state: (version, byteorder, ...); the code is byteorder + the kind/size given at REDUCE
          const order = String(state.items[1] ?? '|');
          const base = String(obj.value);
          (obj as DescribedObject & { code?: string }).code = `${order === '=' ? '<' : order}${base}`;
        }
        break;
      }
      case 0x51: stack.push(persistentLoad(pop())); break; // BINPERSID
      case 0x50: stack.push(persistentLoad(line())); break; // PERSID
      case 0x81: case 0x92: { // NEWOBJ, NEWOBJ_EX
        if (op === 0x92) pop();
        pop();
        const cls = pop();
        throw new PickleRefused(`refused: the file asks to create a ${cls instanceof PickleGlobal ? cls.qualified : 'object'}; nothing was executed`);
      }
      case 0x69: { const module = line(); const name = line(); throw new PickleRefused(`refused: the file asks to run ${module}.${name}; nothing was executed`); } // INST
      case 0x6f: throw new PickleRefused('refused: the file asks to build an object (OBJ); nothing was executed');
      default:
        throw new PickleMalformed(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at}`);
    }
  }
}

/** The persistent-id loader of torch's zip format. */
export function torchStorageLoader(pid: unknown): StorageRef {
  const t = items(pid, 'persistent id');
  if (t[0] !== 'storage') throw new PickleMalformed(`unknown persistent id kind ${String(t[0])}`);
  const type = t[1];
  let dtype = 'unknown';
  if (type instanceof PickleGlobal) dtype = STORAGE_DTYPES[type.name] ?? (TORCH_DTYPES.has(type.name) ? type.name : 'unknown');
  return new StorageRef(String(t[2]), dtype, String(t[3]), num(t[4], 'storage size'));
}
