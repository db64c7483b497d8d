/**
 * Low-level HDF5 access for the .h5ad reader: typed-array conversions, attributes, dtype names, hyperslab reads
 * bounded in size (the WASM heap never shrinks and stops at 2 GiB), and turning h5wasm's thrown HDF5 error
 * stacks into one readable problem text.
 */
import type { H5Wasm } from './h5wasm';
import { LzfFallbackError, readLzfVlenStrings } from './lzf-strings';
import { H5adError } from './types';

export type H5File = InstanceType<H5Wasm['File']>;
export type H5Group = InstanceType<H5Wasm['Group']>;
export type H5Dataset = InstanceType<H5Wasm['Dataset']>;
export type H5Metadata = H5Dataset['metadata'];
type H5Entity = ReturnType<H5Group['get']>;

export type NumericArray =
  | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array
  | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

/** HDF5 type classes (H5T_class_t) as h5wasm reports them in `metadata.type`. */
export const H5T = { INTEGER: 0, FLOAT: 1, STRING: 3, COMPOUND: 6, REFERENCE: 7, ENUM: 8, VLEN: 9, ARRAY: 10 } as const;

/**
 * Elements read per HDF5 call. Bounds the WASM heap used by one read (64 MiB of float64) whatever the
 * caller asks for; larger ranges are read piecewise into the JS-side output.
 */
export const MAX_ELEMENTS_PER_READ = 8 * 1024 * 1024;

/** One open file plus the knowledge needed to phrase errors about it. */
export class H5Context {
  constructor(readonly h5: H5Wasm, readonly file: H5File, readonly path: string) {}

  fail(problem: string): never {
    throw new H5adError(this.path, problem);
  }

  /** Runs an h5wasm call; HDF5 errors become an H5adError saying what was being read. */
  guard<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof H5adError) throw e;
      this.fail(`cannot read ${what}: ${describeHdf5Error(e)}`);
    }
  }

  /** The object at `path`, or null when nothing is there. */
  get(path: string): H5Entity | null {
    return this.guard(path, () => {
      const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
      // h5wasm's get() on a missing member of a missing group raises; look before leaping.
      if (parent && !this.get(parent)) return null;
      const group = parent ? (this.file.get(parent) as H5Group) : this.file;
      if (!(group instanceof this.h5.Group)) return null;
      const name = path.slice(path.lastIndexOf('/') + 1);
      if (!group.keys().includes(name)) return null;
      return group.get(name);
    });
  }

  isDataset(e: unknown): e is H5Dataset {
    return e instanceof this.h5.Dataset;
  }

  isGroup(e: unknown): e is H5Group {
    return e instanceof this.h5.Group;
  }

  dataset(path: string): H5Dataset | null {
    const e = this.get(path);
    return this.isDataset(e) ? e : null;
  }

  group(path: string): H5Group | null {
    const e = this.get(path);
    return this.isGroup(e) ? e : null;
  }

  /** An attribute's value, or undefined when the object has no such attribute. */
  attr(obj: H5Group | H5Dataset, name: string): unknown {
    return this.guard(`attribute '${name}' of ${obj.path}`, () => {
      const attrs = obj.attrs;
      return name in attrs ? attrs[name].value : undefined;
    });
  }

  attrString(obj: H5Group | H5Dataset, name: string): string | undefined {
    const v = this.attr(obj, name);
    if (typeof v === 'string') return v;
    if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'string') return v[0];
    return undefined;
  }

  /** Numeric array attribute (a shape), int64 included. */
  attrNumbers(obj: H5Group | H5Dataset, name: string): number[] | undefined {
    const v = this.attr(obj, name);
    if (v === undefined || v === null) return undefined;
    if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number | bigint>, Number);
    if (Array.isArray(v)) return v.map(Number);
    if (typeof v === 'number' || typeof v === 'bigint') return [Number(v)];
    return undefined;
  }

  /** String list attribute such as `column-order` (absent or empty -> []). */
  attrStrings(obj: H5Group | H5Dataset, name: string): string[] {
    const v = this.attr(obj, name);
    if (typeof v === 'string') return [v];
    if (Array.isArray(v)) return v.map(String);
    return [];
  }

  /** Truthy attribute (`ordered` is an HDF5 enum or a uint8 depending on the writer). */
  attrBool(obj: H5Group | H5Dataset, name: string): boolean {
    const v = this.attr(obj, name);
    if (ArrayBuffer.isView(v)) return (v as unknown as ArrayLike<number>)[0] ? true : false;
    return Boolean(v) && v !== 'False' && v !== 'false';
  }

  metadata(ds: H5Dataset): H5Metadata {
    return this.guard(ds.path, () => ds.metadata);
  }

  shape(ds: H5Dataset): number[] {
    return this.metadata(ds).shape ?? [];
  }

  filterNames(ds: H5Dataset): string[] {
    return this.guard(ds.path, () => ds.filters.map(f => filterName(f.id, f.name)));
  }

  /** The whole dataset (for small things: indices of obs/var, categories, obsm). */
  readAll(ds: H5Dataset): unknown {
    if (this.isUnreadableLzfStrings(ds)) return this.lzfStrings(ds);
    return this.guard(ds.path, () => ds.value);
  }

  /** Elements [start, end) of a 1-D dataset (or rows of an N-D one) via a hyperslab. */
  readSlice(ds: H5Dataset, start: number, end: number): unknown {
    if (end <= start) return emptyLike(this.metadata(ds));
    if (this.isUnreadableLzfStrings(ds)) return this.lzfStrings(ds).slice(start, end);
    return this.guard(`${ds.path} [${start}, ${end})`, () => ds.slice([[start, end]]));
  }

  /**
   * Variable-length strings compressed with LZF whose filter has no client values (Debian's h5py 3.7 under
   * anndata 0.8 with compression='lzf' writes obs/var names and categories so; anndata 0.7's files carry
   * [4, 261, chunk bytes] and read fine) cannot be decompressed by h5wasm-plugins' LZF plugin: without
   * cd_values[2] the filter sizes its output buffer from the compressed size, decompression runs out of room
   * (E2BIG), and reading errno then calls `__errno_location`, which h5wasm's main module does not export:
   * WebAssembly aborts. HDF5 never sees such a dataset: it is read from the file's bytes (lzf-strings.ts), or,
   * where that reader does not know the file's structures, refused with a way out instead of a trap.
   */
  private isUnreadableLzfStrings(ds: H5Dataset): boolean {
    const meta = this.metadata(ds);
    if (meta.type !== H5T.STRING || !meta.vlen) return false;
    const filters = this.guard(ds.path, () => ds.filters);
    return filters.some(f => f.id === LZF_FILTER_ID && !((f.cd_values?.length ?? 0) >= 3 && f.cd_values[2] > 0));
  }

  private readonly lzfCache = new Map<string, string[]>();

  private lzfStrings(ds: H5Dataset): string[] {
    const cached = this.lzfCache.get(ds.path);
    if (cached) return cached;
    let values: string[];
    try {
      values = readLzfVlenStrings(this.path, ds.path);
    } catch (e) {
      if (!(e instanceof LzfFallbackError)) throw e;
      return this.fail(`'${ds.path}' holds variable-length strings compressed with LZF, which the WebAssembly LZF ` +
        `plugin cannot decompress and this reader's own LZF path cannot read here (${e.message}); rewrite the file ` +
        "with gzip or without compression, e.g. anndata.read_h5ad(path).write_h5ad(new_path, compression='gzip')");
    }
    const expected = this.shape(ds)[0] ?? 0;
    if (values.length !== expected) this.fail(`'${ds.path}': read ${values.length} LZF-compressed strings, expected ${expected}`);
    this.lzfCache.set(ds.path, values);
    return values;
  }

  /**
   * Elements [start, end) of a 1-D numeric dataset copied into `target` at `offset`, in pieces of at most
   * MAX_ELEMENTS_PER_READ. When the stored type matches the target's, HDF5 writes into a heap buffer that is
   * copied once into the target; otherwise the values are converted (int64 -> int32, int -> float32...).
   */
  readNumericInto(ds: H5Dataset, start: number, end: number, target: NumericArray, offset: number, piece = MAX_ELEMENTS_PER_READ): void {
    const meta = this.metadata(ds);
    const sameType = typedArrayFor(meta) === target.constructor;
    for (let lo = start; lo < end; lo += piece) {
      const hi = Math.min(end, lo + piece);
      const at = offset + (lo - start);
      if (sameType) this.readRawInto(ds, meta, lo, hi, target, at);
      else copyConverted(this.readSlice(ds, lo, hi) as NumericArray, target, at);
    }
  }

  /**
   * The members of a compound dataset (anndata <= 0.6 obs/var/obsm), decoded from the raw bytes:
   * numbers (enums and arrays of numbers included) as Float64Array, rows x width; fixed-length strings as
   * string[]. h5wasm's own decoding builds a JS array per row and field, far too slow for many cells.
   */
  readCompoundMembers(ds: H5Dataset): Map<string, { values: Float64Array | string[]; width: number }> {
    const meta = this.metadata(ds);
    const members = meta.compound_type?.members ?? [];
    const n = (meta.shape ?? [])[0] ?? 0;
    const bytes = this.readRawBytes(ds, meta, n);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out = new Map<string, { values: Float64Array | string[]; width: number }>();
    for (const m of members) {
      if (m.type === H5T.STRING && !m.vlen) {
        const decoder = new TextDecoder(m.cset === 1 ? 'utf-8' : 'latin1');
        const values: string[] = new Array(n);
        for (let i = 0; i < n; i++) {
          const at = bytes.byteOffset + i * meta.size + m.offset;
          let end = 0;
          while (end < m.size && bytes[i * meta.size + m.offset + end] !== 0) end++;
          values[i] = decoder.decode(new Uint8Array(bytes.buffer, at, end));
        }
        out.set(m.name, { values, width: 1 });
        continue;
      }
      const base = m.type === H5T.ARRAY ? m.array_type : m;
      if (!base || !(base.type === H5T.INTEGER || base.type === H5T.FLOAT || base.type === H5T.ENUM)) continue;
      const width = m.type === H5T.ARRAY ? (base.shape ?? m.array_type?.shape ?? []).reduce((a: number, b: number) => a * b, 1) : 1;
      const signed = base.type === H5T.ENUM ? true : base.signed;
      const read = numberReader(view, base.type === H5T.FLOAT, base.size, signed, base.littleEndian);
      if (!read) continue;
      const values = new Float64Array(n * width);
      for (let i = 0; i < n; i++) {
        const rowAt = i * meta.size + m.offset;
        for (let j = 0; j < width; j++) values[i * width + j] = read(rowAt + j * base.size);
      }
      out.set(m.name, { values, width });
    }
    return out;
  }

  private readRawBytes(ds: H5Dataset, meta: H5Metadata, n: number): Uint8Array {
    const mod = this.h5.Module;
    const bytes = n * meta.size;
    if (bytes === 0) return new Uint8Array(0);
    return this.guard(ds.path, () => {
      const ptr = mod._malloc(bytes);
      if (!ptr) throw new Error(`out of WASM memory allocating ${bytes} bytes`);
      try {
        mod.get_dataset_data(ds.file_id, ds.path, null, null, null, BigInt(ptr));
        return mod.HEAPU8.slice(ptr, ptr + bytes);
      } finally {
        mod._free(ptr);
      }
    });
  }

  private readRawInto(ds: H5Dataset, meta: H5Metadata, lo: number, hi: number, target: NumericArray, at: number): void {
    const mod = this.h5.Module;
    const n = hi - lo;
    const bytes = n * meta.size;
    this.guard(`${ds.path} [${lo}, ${hi})`, () => {
      const ptr = mod._malloc(bytes);
      if (!ptr) throw new Error(`out of WASM memory allocating ${bytes} bytes`);
      try {
        mod.get_dataset_data(ds.file_id, ds.path, [BigInt(n)], [BigInt(lo)], [1n], BigInt(ptr));
        // The heap may have grown (and its buffer been replaced) during the read: take the view afterwards.
        const Ctor = target.constructor as unknown as { new(b: ArrayBufferLike, o: number, l: number): NumericArray };
        const src = new Ctor(mod.HEAPU8.buffer, ptr, n);
        (target as unknown as { set(a: ArrayLike<number | bigint>, o: number): void }).set(src as ArrayLike<number | bigint>, at);
      } finally {
        mod._free(ptr);
      }
    });
  }
}

function numberReader(view: DataView, isFloat: boolean, size: number, signed: boolean, le: boolean): ((at: number) => number) | undefined {
  if (isFloat) return size === 8 ? at => view.getFloat64(at, le) : size === 4 ? at => view.getFloat32(at, le) : undefined;
  switch (size) {
    case 1: return signed ? at => view.getInt8(at) : at => view.getUint8(at);
    case 2: return signed ? at => view.getInt16(at, le) : at => view.getUint16(at, le);
    case 4: return signed ? at => view.getInt32(at, le) : at => view.getUint32(at, le);
    case 8: return signed ? at => Number(view.getBigInt64(at, le)) : at => Number(view.getBigUint64(at, le));
    default: return undefined;
  }
}

function emptyLike(meta: H5Metadata): unknown {
  if (meta.type === H5T.STRING) return [];
  const Ctor = typedArrayFor(meta);
  return Ctor ? new Ctor(0) : [];
}

type TypedArrayCtor = { new(n: number): NumericArray };

/** The typed array h5wasm returns for a numeric HDF5 type (enums use their base integer). */
export function typedArrayFor(meta: H5Metadata): TypedArrayCtor | undefined {
  const isInt = meta.type === H5T.INTEGER || meta.type === H5T.ENUM;
  if (meta.type === H5T.FLOAT) return meta.size === 8 ? Float64Array : meta.size === 4 ? Float32Array : undefined;
  if (!isInt) return undefined;
  const signed = meta.type === H5T.ENUM ? meta.enum_type?.type === H5T.INTEGER && meta.signed : meta.signed;
  switch (meta.size) {
    case 1: return signed ? Int8Array : Uint8Array;
    case 2: return signed ? Int16Array : Uint16Array;
    case 4: return signed ? Int32Array : Uint32Array;
    case 8: return signed ? BigInt64Array : BigUint64Array;
    default: return undefined;
  }
}

function copyConverted(src: NumericArray, target: NumericArray, at: number): void {
  const n = src.length;
  if (src instanceof BigInt64Array || src instanceof BigUint64Array) {
    if (target instanceof BigInt64Array || target instanceof BigUint64Array) {
      for (let i = 0; i < n; i++) target[at + i] = src[i];
    } else {
      for (let i = 0; i < n; i++) (target as Float64Array)[at + i] = Number(src[i]);
    }
  } else if (target instanceof BigInt64Array || target instanceof BigUint64Array) {
    for (let i = 0; i < n; i++) target[at + i] = BigInt(src[i]);
  } else {
    (target as Float64Array).set(src as Float64Array, at);
  }
}

/** numpy-style dtype name of an HDF5 type. */
export function dtypeName(meta: H5Metadata): string {
  switch (meta.type) {
    case H5T.INTEGER: return `${meta.signed ? 'int' : 'uint'}${meta.size * 8}`;
    case H5T.FLOAT: return `float${meta.size * 8}`;
    case H5T.ENUM: return isBooleanEnum(meta) ? 'bool' : 'enum';
    case H5T.STRING: return 'string';
    case H5T.COMPOUND: return 'compound';
    case H5T.REFERENCE: return 'reference';
    case H5T.ARRAY: return meta.array_type ? dtypeName(meta.array_type) : 'array';
    default: return 'unknown';
  }
}

/** h5py stores numpy bools as an enum {FALSE: 0, TRUE: 1}. */
export function isBooleanEnum(meta: H5Metadata): boolean {
  const m = meta.enum_type?.members;
  return meta.type === H5T.ENUM && !!m && Object.keys(m).length === 2 && m.FALSE === 0 && m.TRUE === 1;
}

export function isNumericType(meta: H5Metadata): boolean {
  return meta.type === H5T.INTEGER || meta.type === H5T.FLOAT;
}

const LZF_FILTER_ID = 32000;

const FILTER_NAMES: Record<number, string> = { 1: 'gzip', 2: 'shuffle', 3: 'fletcher32', 4: 'szip', 5: 'nbit', 6: 'scaleoffset', 32000: 'lzf', 32001: 'blosc', 32004: 'lz4', 32008: 'bitshuffle', 32015: 'zstd' };

function filterName(id: number, name: string): string {
  return FILTER_NAMES[id] ?? (name ? `${name} (filter ${id})` : `filter ${id}`);
}

/** Any numeric array (int64 included) as Float64Array. */
export function toFloat64(a: ArrayLike<number | bigint>): Float64Array {
  if (a instanceof Float64Array) return a;
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = Number(a[i]);
  return out;
}

/** Integer codes/indices as Int32Array. */
export function toInt32(a: ArrayLike<number | bigint>): Int32Array {
  if (a instanceof Int32Array) return a;
  const out = new Int32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = Number(a[i]);
  return out;
}

/** Matrix values: float64 stays float64, everything else becomes float32. */
export function toMatrixValues(a: ArrayLike<number | bigint>): Float32Array | Float64Array {
  if (a instanceof Float32Array || a instanceof Float64Array) return a;
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = Number(a[i]);
  return out;
}

export function toStrings(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(x => (typeof x === 'string' ? x : String(x)));
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number | bigint>, x => String(x));
  if (v === null || v === undefined) return [];
  return [String(v)];
}

/**
 * The useful line of an HDF5 error stack (h5wasm throws the whole diagnostic text): known causes get a
 * sentence a user can act on; otherwise the innermost message is kept, without source paths.
 */
export function describeHdf5Error(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const filter = /required filter '([^']*)' is not registered/.exec(text);
  if (filter) return `it is compressed with the HDF5 filter '${filter[1]}', which is not available to this reader (no plugin for it)`;
  const truncated = /truncated file: eof = (\d+).*stored_eof = (\d+)/.exec(text);
  if (truncated) return `the file is truncated: it has ${truncated[1]} bytes but its HDF5 header says ${truncated[2]} (an incomplete download or copy?)`;
  if (/file signature not found/.test(text)) return 'not an HDF5 file (no HDF5 signature found)';
  const lines = text.split('\n').filter(l => /^\s*#\d+:/.test(l));
  const messages = lines.map(l => l.replace(/^\s*#\d+:.*?\(\):\s*/, '').trim()).filter(m => m && !/plugin|directory/i.test(m));
  if (messages.length) return messages[messages.length - 1];
  return text.split('\n')[0].slice(0, 300);
}
