/**
 * Writing a Zheng68K-sized .h5ad (68,450 x 16,906 CSR, ~5% non-zero float32 counts, obs with a categorical
 * cell_type): our streamed writer (X appended in 4,096-row blocks) against anndata.write_h5ad of the same
 * matrix, uncompressed and gzip. The matrix is generated once into raw arrays under bench/.data/ and both sides
 * load it in their own child process, so each peak RSS is its own (both include holding the 448 MB matrix).
 * Usage: node out/bench/h5ad-write.js [--runs N]
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { H5adWriter } from '../src/core/h5ad/write';
import { SimRng } from '../src/core/simulate-rng';

const ROOT = path.resolve(__dirname, '..', '..');
const RAW = path.join(ROOT, 'bench', '.data', 'h5ad-write-raw');
const PY = path.join(ROOT, 'bench', 'h5ad_write_reference.py');
const PYTHON = process.env.SCWB_REF_PYTHON ?? '/usr/bin/python3';
const N_ROWS = 68450;
const N_COLS = 16906;
const TYPES = ['CD8+ Cytotoxic T', 'CD8+/CD45RA+ Naive Cytotoxic', 'CD56+ NK', 'CD4+/CD25 T Reg', 'CD19+ B', 'CD14+ Monocyte'];

interface Measure { seconds: number; maxRssMiB: number; size: number }

/** ~5% non-zero per row (geometric gaps), small positive counts. Written once as raw little-endian arrays. */
function generate(): void {
  fs.mkdirSync(RAW, { recursive: true });
  const rng = new SimRng(68450);
  const p = 0.05;
  const logQ = Math.log(1 - p);
  const indptr = new Int32Array(N_ROWS + 1);
  const indices: Int32Array[] = [];
  const data: Float32Array[] = [];
  let nnz = 0;
  const rowIdx = new Int32Array(N_COLS);
  const rowVal = new Float32Array(N_COLS);
  for (let r = 0; r < N_ROWS; r++) {
    let n = 0;
    for (let j = Math.floor(Math.log(rng.uniform()) / logQ); j < N_COLS; j += 1 + Math.floor(Math.log(rng.uniform()) / logQ)) {
      rowIdx[n] = j;
      rowVal[n] = 1 + Math.floor(-Math.log(rng.uniform()) * 1.5);
      n++;
    }
    indices.push(rowIdx.slice(0, n));
    data.push(rowVal.slice(0, n));
    nnz += n;
    indptr[r + 1] = nnz;
  }
  const write = (name: string, parts: (Int32Array | Float32Array)[]): void => {
    const fd = fs.openSync(path.join(RAW, name), 'w');
    for (const a of parts) fs.writeSync(fd, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    fs.closeSync(fd);
  };
  write('indptr.i32', [indptr]);
  write('indices.i32', indices);
  write('data.f32', data);
  fs.writeFileSync(path.join(RAW, 'meta.json'), JSON.stringify({ nRows: N_ROWS, nCols: N_COLS, nnz, types: TYPES }));
}

function load<T extends Int32Array | Float32Array>(name: string, make: (b: ArrayBuffer) => T): T {
  // Read straight into the typed array's buffer: a Buffer plus a copy would double the peak RSS.
  const file = path.join(RAW, name);
  const target = new ArrayBuffer(fs.statSync(file).size);
  const fd = fs.openSync(file, 'r');
  const bytes = new Uint8Array(target);
  for (let at = 0; at < bytes.length;) at += fs.readSync(fd, bytes, at, Math.min(1 << 26, bytes.length - at), at);
  fs.closeSync(fd);
  return make(target);
}

/** Child mode: load the raw arrays, then time the streamed write of X + obs + var. */
async function child(out: string, compression: string): Promise<void> {
  const indptr = load('indptr.i32', b => new Int32Array(b));
  const indices = load('indices.i32', b => new Int32Array(b));
  const data = load('data.f32', b => new Float32Array(b));
  const blockRows = 4096;
  const t0 = process.hrtime.bigint();
  const w = await H5adWriter.create(out, { nVars: N_COLS, compression: compression === 'gzip' ? 'gzip' : undefined, overwrite: true });
  for (let start = 0; start < N_ROWS; start += blockRows) {
    const end = Math.min(N_ROWS, start + blockRows);
    const a = indptr[start];
    const b = indptr[end];
    w.appendRows({
      nRows: end - start, nCols: N_COLS, indptr: indptr.slice(start, end + 1).map(v => v - a),
      indices: indices.subarray(a, b), data: data.subarray(a, b),
    });
  }
  await w.finish({
    obs: {
      index: Array.from({ length: N_ROWS }, (_, i) => `cell_${i}`), indexName: '_index',
      columns: [{ kind: 'categorical', name: 'cell_type', categories: TYPES, codes: Int32Array.from({ length: N_ROWS }, (_, i) => i % TYPES.length), ordered: false }],
    },
    var: { index: Array.from({ length: N_COLS }, (_, j) => `gene_${j}`), indexName: '_index', columns: [] },
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const size = fs.statSync(out).size;
  fs.rmSync(out);
  const m: Measure = { seconds, maxRssMiB: process.resourceUsage().maxRSS / 1024, size };
  process.stdout.write(JSON.stringify(m) + '\n');
}

function runChild(cmd: string, args: string[]): Measure {
  return JSON.parse(execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 20 }).trim().split('\n').pop()!) as Measure;
}

function best(ms: Measure[]): Measure {
  const fastest = ms.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  return { ...fastest, maxRssMiB: Math.max(...ms.map(m => m.maxRssMiB)) };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(argv[1], argv[2]);
  const runs = argv[0] === '--runs' ? Number(argv[1]) : 2;
  if (!fs.existsSync(path.join(RAW, 'meta.json'))) {
    console.log('generating the Zheng68K-sized raw CSR arrays...');
    generate();
  }
  const meta = JSON.parse(fs.readFileSync(path.join(RAW, 'meta.json'), 'utf8')) as { nnz: number };
  console.log(`h5ad write: ${N_ROWS.toLocaleString('en-US')} x ${N_COLS.toLocaleString('en-US')} CSR float32 (${meta.nnz.toLocaleString('en-US')} stored values) + obs/var; best of ${runs} runs, each in its own process; peak RSS is the max over runs`);
  for (const variant of ['none', 'gzip']) {
    const ours: Measure[] = [];
    const ad: Measure[] = [];
    for (let i = 0; i < runs; i++) {
      ours.push(runChild(process.execPath, [__filename, '--child', path.join(RAW, `ours-${variant}.h5ad`), variant]));
      ad.push(runChild(PYTHON, [PY, RAW, path.join(RAW, `anndata-${variant}.h5ad`), variant]));
    }
    const [o, a] = [best(ours), best(ad)];
    console.log(`\n${variant === 'none' ? 'uncompressed' : 'gzip (level 4)'}`);
    console.log(`  ours (h5wasm, 4,096-row blocks)  ${o.seconds.toFixed(2)} s  ${o.maxRssMiB.toFixed(0)} MiB  ${(o.size / 2 ** 20).toFixed(0)} MiB file`);
    console.log(`  anndata.write_h5ad               ${a.seconds.toFixed(2)} s  ${a.maxRssMiB.toFixed(0)} MiB  ${(a.size / 2 ** 20).toFixed(0)} MiB file   ours/anndata time ${(o.seconds / a.seconds).toFixed(2)}x, memory ${(o.maxRssMiB / a.maxRssMiB).toFixed(2)}x`);
    console.log(`  all runs (s): ours ${ours.map(m => m.seconds.toFixed(2)).join(' ')} | anndata ${ad.map(m => m.seconds.toFixed(2)).join(' ')}`);
  }
}

main().catch(e => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
