/** In-memory source and sink for the preprocessing driver, fed with matrices dumped by test/python/preprocess_data.py. */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { Column, DataFrame } from '../../../src/core/h5ad/types';
import type { CsrMatrix } from '../../../src/core/sparse';
import type { OutputLayout, RowSink, RowSource } from '../../../src/core/preprocess/pipeline';
import { runPythonJson } from '../../helpers/shared';

export interface DumpMeta {
  nObs: number;
  nVars: number;
  dtype: 'float32' | 'float64';
  varNames: string[];
  obsNames: string[];
  obs: Record<string, string[]>;
}

export interface Dump {
  dir: string;
  meta: DumpMeta;
  X: CsrMatrix;
}

/**
 * Runs preprocess_data.py commands (dump / generate) in one Python process, each into `<root>/<name>`
 * (`$OUT` in the arguments), and loads the results.
 */
export function makeDumps<K extends string>(root: string, commands: Record<K, string[]>): Record<K, Dump> {
  const names = Object.keys(commands) as K[];
  const file = path.join(root, 'dump-commands.json');
  fs.writeFileSync(file, JSON.stringify(names.map(n => commands[n].map(a => (a === '$OUT' ? path.join(root, n) : a)))));
  runPythonJson('preprocess_data.py', ['batch', file]);
  return Object.fromEntries(names.map(n => [n, loadDump(path.join(root, n))])) as Record<K, Dump>;
}

export function loadDump(dir: string): Dump {
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as DumpMeta;
  const buf = (name: string) => {
    const b = fs.readFileSync(path.join(dir, name));
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  };
  const X: CsrMatrix = {
    nRows: meta.nObs,
    nCols: meta.nVars,
    indptr: new Int32Array(buf('indptr.i32')),
    indices: new Int32Array(buf('indices.i32')),
    data: meta.dtype === 'float64' ? new Float64Array(buf('data.f64')) : new Float32Array(buf('data.f32')),
  };
  return { dir, meta, X };
}

/** Rows [start, end) of a CSR matrix with a local indptr. */
export function sliceRows(X: CsrMatrix, start: number, end: number): CsrMatrix {
  const s = X.indptr[start];
  const e = X.indptr[end];
  return {
    nRows: end - start,
    nCols: X.nCols,
    indptr: X.indptr.slice(start, end + 1).map(v => v - s),
    indices: X.indices.slice(s, e),
    data: X.data.slice(s, e),
  };
}

export function memorySource(
  label: string, X: CsrMatrix, varNames: string[], obs: Record<string, string[]> = {}, varColumns: Column[] = [],
): RowSource & { reads: number } {
  const obsFrame: DataFrame = {
    index: Array.from({ length: X.nRows }, (_, i) => `cell${i}`),
    indexName: '_index',
    columns: Object.entries(obs).map(([name, values]): Column => ({ kind: 'string', name, values })),
  };
  const src = {
    path: label,
    nObs: X.nRows,
    reads: 0,
    var: (): DataFrame => ({ index: varNames, indexName: '_index', columns: varColumns }),
    obs: () => obsFrame,
    readRows(start: number, end: number) {
      src.reads++;
      return sliceRows(X, start, end);
    },
  };
  return src;
}

export function dumpSource(d: Dump, label = path.join(d.dir, 'input.h5ad')): RowSource & { reads: number } {
  return memorySource(label, d.X, d.meta.varNames, d.meta.obs);
}

export interface SinkResult {
  layout: OutputLayout;
  X: CsrMatrix;
  layers: Record<string, CsrMatrix>;
  keptCells: Int32Array;
  obsColumns: Column[];
  uns: Record<string, unknown>;
}

/** Collects what the driver writes; `result` is set by finish, `aborted` by abort. */
export function memorySink(): RowSink & { result?: SinkResult; aborted: boolean; appended: number } {
  let layout: OutputLayout | undefined;
  const xs: CsrMatrix[] = [];
  const layers: Record<string, CsrMatrix[]> = {};
  const sink = {
    aborted: false,
    appended: 0,
    result: undefined as SinkResult | undefined,
    begin(l: OutputLayout) {
      layout = l;
      for (const name of l.layers) layers[name] = [];
    },
    append(rows: { X: CsrMatrix; layers: Record<string, CsrMatrix> }) {
      assert.ok(layout, 'append before begin');
      assert.strictEqual(rows.X.nCols, layout.varNames.length);
      assert.deepStrictEqual(Object.keys(rows.layers).sort(), [...layout.layers].sort());
      xs.push(rows.X);
      for (const [k, m] of Object.entries(rows.layers)) layers[k].push(m);
      sink.appended++;
    },
    finish(r: { keptCells: Int32Array; obsColumns: Column[]; uns: Record<string, unknown> }) {
      assert.ok(layout);
      const nCols = layout.varNames.length;
      sink.result = {
        layout, X: concatRows(xs, nCols), keptCells: r.keptCells, obsColumns: r.obsColumns, uns: r.uns,
        layers: Object.fromEntries(Object.entries(layers).map(([k, ms]) => [k, concatRows(ms, nCols)])),
      };
    },
    abort() {
      sink.aborted = true;
    },
  };
  return sink;
}

export function concatRows(blocks: CsrMatrix[], nCols: number): CsrMatrix {
  const nRows = blocks.reduce((s, b) => s + b.nRows, 0);
  const nnz = blocks.reduce((s, b) => s + b.indptr[b.nRows], 0);
  const indptr = new Int32Array(nRows + 1);
  const indices = new Int32Array(nnz);
  const data = new Float64Array(nnz);
  let row = 0;
  let at = 0;
  for (const b of blocks) {
    for (let r = 0; r < b.nRows; r++) indptr[row + r + 1] = at + b.indptr[r + 1];
    indices.set(b.indices.subarray(0, b.indptr[b.nRows]), at);
    data.set(b.data.subarray(0, b.indptr[b.nRows]), at);
    row += b.nRows;
    at += b.indptr[b.nRows];
  }
  return { nRows, nCols, indptr, indices, data };
}

export interface ReferenceOutput {
  varNames: string[];
  keptCells: number[];
  X: { indptr: number[]; indices: number[]; data: number[] };
  bins?: number[];
  idInVocab?: number[];
  [key: string]: unknown;
}

export interface ReferenceJob {
  recipe: 'scbert' | 'scgpt' | 'benchmark';
  dump: Dump;
  params: object;
}

/** Runs the numpy references of several recipe runs in one Python process. */
export function pythonReferences<K extends string>(root: string, jobs: Record<K, ReferenceJob>): Record<K, ReferenceOutput> {
  const names = Object.keys(jobs) as K[];
  const file = path.join(root, 'reference-jobs.json');
  fs.writeFileSync(file, JSON.stringify(names.map(n => ({ recipe: jobs[n].recipe, datadir: jobs[n].dump.dir, params: jobs[n].params }))));
  const outs = runPythonJson<ReferenceOutput[]>('preprocess_reference.py', ['batch', file]);
  return Object.fromEntries(names.map((n, i) => [n, outs[i]])) as Record<K, ReferenceOutput>;
}

/** Same genes, cells, sparsity structure; values within `rtol`; identical bins when both have them. */
export function assertMatchesReference(got: SinkResult, ref: ReferenceOutput, binnedLayer?: string, rtol = 1e-6): void {
  assert.deepStrictEqual(got.layout.varNames, ref.varNames, 'gene order');
  assert.deepStrictEqual(Array.from(got.keptCells), ref.keptCells, 'cell set');
  assert.deepStrictEqual(Array.from(got.X.indptr), ref.X.indptr, 'indptr');
  assert.deepStrictEqual(Array.from(got.X.indices), ref.X.indices, 'indices');
  let worst = 0;
  ref.X.data.forEach((v, k) => {
    const rel = Math.abs(got.X.data[k] - v) / Math.max(Math.abs(v), 1e-30);
    if (rel > worst) worst = rel;
  });
  assert.ok(worst <= rtol, `largest relative difference ${worst} > ${rtol}`);
  if (binnedLayer !== undefined) {
    assert.ok(ref.bins, 'the reference has bins');
    const bins = got.layers[binnedLayer];
    assert.deepStrictEqual(Array.from(bins.indptr), ref.X.indptr);
    const mismatches = ref.bins.filter((b, k) => bins.data[k] !== b).length;
    assert.strictEqual(mismatches, 0, `${mismatches} of ${ref.bins.length} bins differ`);
  }
}
