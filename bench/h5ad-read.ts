/**
 * Reading a Zheng68K-sized .h5ad (68,450 x 16,906 CSR, 5% non-zero float32 counts, obs with a categorical
 * cell_type): our reader (X in 4,096-row blocks into one CsrMatrix, plus obs) against h5py + scipy and
 * against anndata.read_h5ad, uncompressed and gzip. Each measurement runs in its own child process so that its
 * peak RSS is its own. Usage: node out/bench/h5ad-read.js [--runs N]
 * Targets: at most 1.5x h5py+scipy's time and 0.5x anndata's, peak memory below anndata's.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadH5Wasm } from '../src/core/h5ad/h5wasm';
import { openH5ad } from '../src/core/h5ad/read';

const ROOT = path.resolve(__dirname, '..', '..');
const DATA = path.join(ROOT, 'bench', '.data');
const PY = path.join(ROOT, 'bench', 'h5ad_read_reference.py');
const PYTHON = process.env.SCWB_REF_PYTHON ?? '/usr/bin/python3';
const FILES = { uncompressed: path.join(DATA, 'zheng68k_sized.h5ad'), gzip: path.join(DATA, 'zheng68k_sized_gzip.h5ad') };

interface Measure { seconds: number; maxRssMiB: number; nnz: number; sum: number; loadSeconds?: number }

/**
 * Child mode: read X and obs, report time, peak RSS and a checksum. Loading and compiling h5wasm happens
 * before the clock starts, as Python's imports of h5py/scipy/anndata do; it is reported as loadSeconds.
 */
async function child(file: string, blockRows: number): Promise<void> {
  const l0 = process.hrtime.bigint();
  await loadH5Wasm();
  const loadSeconds = Number(process.hrtime.bigint() - l0) / 1e9;
  const t0 = process.hrtime.bigint();
  const reader = await openH5ad(file);
  const X = reader.readAllRows(undefined, { blockRows });
  const obs = reader.obs();
  reader.close();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (obs.index.length !== X.nRows) throw new Error('obs and X disagree');
  let sum = 0;
  for (let i = 0; i < X.data.length; i++) sum += X.data[i];
  const m: Measure = { seconds, maxRssMiB: process.resourceUsage().maxRSS / 1024, nnz: X.indptr[X.nRows], sum, loadSeconds };
  process.stdout.write(JSON.stringify(m) + '\n');
}

function runChild(cmd: string, args: string[]): Measure {
  return JSON.parse(execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 20 }).trim().split('\n').pop()!) as Measure;
}

function best(ms: Measure[]): Measure {
  return ms.reduce((a, b) => (b.seconds < a.seconds ? { ...b, maxRssMiB: Math.max(a.maxRssMiB, b.maxRssMiB) } : { ...a, maxRssMiB: Math.max(a.maxRssMiB, b.maxRssMiB) }));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(argv[1], Number(argv[2]));
  const runs = argv[0] === '--runs' ? Number(argv[1]) : 2;
  const blockRows = 4096;
  fs.mkdirSync(DATA, { recursive: true });
  if (!fs.existsSync(FILES.uncompressed) || !fs.existsSync(FILES.gzip)) {
    console.log('generating the Zheng68K-sized files with anndata/h5py (about a minute)...');
    execFileSync(PYTHON, [PY, 'make', DATA], { stdio: 'inherit' });
  }
  console.log(`load average: ${os.loadavg().map((x: number) => x.toFixed(1)).join(' ')} (${os.cpus().length} cores)`);
  console.log(`h5ad read: 68,450 x 16,906 CSR float32, X + obs; best of ${runs} runs, each in its own process; peak RSS is the max over runs`);
  for (const [variant, file] of Object.entries(FILES)) {
    const ours: Measure[] = [];
    const h5py: Measure[] = [];
    const ad: Measure[] = [];
    // Interleaved so that a busy moment on the shared machine hits all three alike.
    for (let i = 0; i < runs; i++) {
      ours.push(runChild(process.execPath, [__filename, '--child', file, String(blockRows)]));
      h5py.push(runChild(PYTHON, [PY, 'h5py', file]));
      ad.push(runChild(PYTHON, [PY, 'anndata', file]));
    }
    const [o, h, a] = [best(ours), best(h5py), best(ad)];
    if (o.nnz !== h.nnz || Math.abs(o.sum - h.sum) > 1e-6 * Math.abs(h.sum)) throw new Error(`our read differs from h5py: ${JSON.stringify([o, h])}`);
    const size = (fs.statSync(file).size / 2 ** 20).toFixed(0);
    console.log(`\n${variant} (${size} MiB, ${o.nnz.toLocaleString('en-US')} stored values)`);
    console.log(`  ours (h5wasm, ${blockRows}-row blocks)  ${o.seconds.toFixed(2)} s  ${o.maxRssMiB.toFixed(0)} MiB   (+ ${o.loadSeconds!.toFixed(2)} s loading h5wasm, not counted, like Python's imports)`);
    console.log(`  h5py + scipy                      ${h.seconds.toFixed(2)} s  ${h.maxRssMiB.toFixed(0)} MiB   ours/h5py  ${(o.seconds / h.seconds).toFixed(2)}x (target <= 1.5x)`);
    console.log(`  anndata.read_h5ad                 ${a.seconds.toFixed(2)} s  ${a.maxRssMiB.toFixed(0)} MiB   ours/anndata ${(o.seconds / a.seconds).toFixed(2)}x (target <= 0.5x), memory ${(o.maxRssMiB / a.maxRssMiB).toFixed(2)}x (target < 1)`);
    console.log(`  all runs (s): ours ${ours.map(m => m.seconds.toFixed(2)).join(' ')} | h5py ${h5py.map(m => m.seconds.toFixed(2)).join(' ')} | anndata ${ad.map(m => m.seconds.toFixed(2)).join(' ')}`);
  }
}

main().catch(e => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
