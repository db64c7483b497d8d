/**
 * The WebAssembly kernels of the logistic regressions (generated and compiled by scripts/wasm-kernels.mjs into
 * logreg-kernels.wasm beside this file) and the shared memory they work in: the multinomial fit's passes
 * (softmax.ts) and the column passes of the grouped one-vs-rest L1 solver (l1-group.ts).
 *
 * A fit that uses them places its matrix and buffers in one shared WebAssembly.Memory (an arena sized up front),
 * whose buffer is a SharedArrayBuffer: worker threads receive the memory with each job and view the same bytes, so
 * nothing is copied, and a kernel takes a typed array's byteOffset as its pointer. wasm32 addresses 4 GiB; a fit
 * whose arena would not fit falls back to the JavaScript kernels, as does a class count outside 2..WASM_MAX_CLASSES.
 */
import * as fs from 'fs';
import * as path from 'path';

/** the class counts scripts/wasm-kernels.mjs generates multinomial kernels for */
export const WASM_MAX_CLASSES = 64;
/** the most binary problems one L1 group kernel serves (MAX_L1_GROUP there) */
export const WASM_MAX_L1_GROUP = 16;
const WASM_FILE = path.join(__dirname, 'logreg-kernels.wasm');
const PAGE = 65536;
const MAX_PAGES = 65536;
const ALIGN = 16;

/** What a job carries to a worker thread: the memory, and an id under which the thread caches its instance. */
export interface WasmHandle {
  readonly memory: WebAssembly.Memory;
  readonly id: number;
}

/** z[i*K + k] += v * W[j*K + k] over the stored values (i, v) of columns [j0, j1) of the row block at `base` */
export type ScoresKernel = (colPtr: number, base: number, rowIdx: number, values: number, W: number, z: number, j0: number, j1: number) => void;
/** grad[j*K + k] (= 0 first when `first`) += sum of v * r[i*K + k] over the same */
export type GradKernel = (colPtr: number, base: number, rowIdx: number, values: number, r: number, grad: number, j0: number, j1: number, first: number) => void;

let compiled: WebAssembly.Module | null | undefined;
let loadError = '';

function wasmModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(fs.readFileSync(WASM_FILE));
    } catch (e) {
      loadError = (e as Error).message;
      compiled = null;
    }
  }
  return compiled;
}

/** Whether the kernels are built and cover K classes; `why` says what is missing otherwise. */
export function wasmKernelsAvailable(K: number): { ok: boolean; why: string } {
  if (!Number.isInteger(K) || K < 2 || K > WASM_MAX_CLASSES) return { ok: false, why: `no kernel for ${K} classes (2..${WASM_MAX_CLASSES})` };
  if (!wasmModule()) return { ok: false, why: `cannot load ${WASM_FILE}: ${loadError}` };
  return { ok: true, why: '' };
}

/** Whether the kernel file loads (the L1 solver's groups always fit 1..WASM_MAX_L1_GROUP). */
export function l1KernelsAvailable(): { ok: boolean; why: string } {
  return wasmModule() ? { ok: true, why: '' } : { ok: false, why: `cannot load ${WASM_FILE}: ${loadError}` };
}

let cached: { id: number; exports: Record<string, unknown> } | null = null;

/**
 * The module's exports over the arena's memory: one instance per thread and arena. (An instance per job made the
 * full multinomial fit about 25% slower; the cache keeps a finished fit's arena referenced until the thread's next
 * fit, which only cross-validation has, as fitLogReg stops its threads at the end of the fit.)
 */
function kernelExports(handle: WasmHandle, what: string): Record<string, unknown> {
  const mod = wasmModule();
  if (!mod) throw new Error(`${what}: cannot load ${WASM_FILE}: ${loadError}`);
  if (!cached || cached.id !== handle.id) {
    cached = { id: handle.id, exports: new WebAssembly.Instance(mod, { env: { memory: handle.memory } }).exports };
  }
  return cached.exports;
}

/** The multinomial kernels for K classes. */
export function softmaxKernels(handle: WasmHandle, K: number): { scores: ScoresKernel; grad: GradKernel } {
  const exports = kernelExports(handle, 'softmax kernels');
  const scores = exports[`scores${K}`] as ScoresKernel | undefined;
  const grad = exports[`grad${K}`] as GradKernel | undefined;
  if (!scores || !grad) throw new Error(`softmax kernels: no kernel for ${K} classes`);
  return { scores, grad };
}

/** The L1 group kernels (scripts/wasm-kernels.mjs documents the layouts); pointers are byte offsets in the arena. */
export interface L1Kernels {
  /** grad[j*G + k], hdiag[j*G + k] = sums of v * dloss[i, k], v^2 * d2loss[i, k] over the columns cols[0, nc) */
  grad(colPtr: number, rowIdx: number, values: number, rc: number, cols: number, nc: number, grad: number, hdiag: number): void;
  /** out[k] = sum of v * dxd[i, k] over column j */
  dot(colPtr: number, rowIdx: number, values: number, qp: number, j: number, out: number): void;
  /** dxd[i, k] += v * z[k] * curv[i, k] over column j */
  axpy(colPtr: number, rowIdx: number, values: number, qp: number, j: number, z: number): void;
  /** xd[i*G + k] += v * d[k] over column j */
  xd(colPtr: number, rowIdx: number, values: number, xd: number, j: number, d: number): void;
}

export function l1Kernels(handle: WasmHandle, G: number): L1Kernels {
  const exports = kernelExports(handle, 'L1 kernels');
  const pick = (name: string) => {
    const f = exports[`${name}${G}`];
    if (typeof f !== 'function') throw new Error(`L1 kernels: no kernel for groups of ${G} problems (1..${WASM_MAX_L1_GROUP})`);
    return f as (...args: number[]) => void;
  };
  return { grad: pick('l1grad'), dot: pick('l1dot'), axpy: pick('l1axpy'), xd: pick('l1xd') };
}

const padded = (bytes: number) => Math.ceil(bytes / ALIGN) * ALIGN;

/**
 * A shared WebAssembly memory of a fixed size, handed out front to back as typed arrays. `bytes` lists the sizes
 * that will be requested, so the memory is made once at its final size (a shared memory never moves, but growing
 * it would leave earlier views short of the new pages).
 */
export class WasmArena {
  readonly handle: WasmHandle;
  private next = ALIGN;
  private readonly size: number;

  private constructor(memory: WebAssembly.Memory, size: number) {
    this.handle = { memory, id: Math.floor(Math.random() * 2 ** 52) };
    this.size = size;
  }

  /** null when the requests do not fit in wasm32's 4 GiB, or the runtime cannot make shared wasm memory */
  static create(bytes: readonly number[]): WasmArena | null {
    const size = ALIGN + bytes.reduce((a, b) => a + padded(b), 0);
    const pages = Math.max(1, Math.ceil(size / PAGE));
    if (pages > MAX_PAGES) return null;
    let memory: WebAssembly.Memory;
    try {
      memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    } catch {
      return null;
    }
    return new WasmArena(memory, pages * PAGE);
  }

  private take(bytes: number): number {
    const at = this.next;
    if (at + bytes > this.size) throw new Error(`wasm arena: ${bytes} bytes requested, ${this.size - at} left`);
    this.next = at + padded(bytes);
    return at;
  }

  int32(n: number): Int32Array {
    return new Int32Array(this.handle.memory.buffer, this.take(4 * n), n);
  }

  float32(n: number): Float32Array {
    return new Float32Array(this.handle.memory.buffer, this.take(4 * n), n);
  }

  float64(n: number): Float64Array {
    return new Float64Array(this.handle.memory.buffer, this.take(8 * n), n);
  }
}
