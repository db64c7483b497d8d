/**
 * A file larger than h5wasm's 2 GiB WASM heap: 160,000 cells x 20,000 genes, 10% stored (320 M values, ~2.4 GiB
 * on disk), made once with h5py (test/python/host_make_large.py) into bench/.data/. Our reader streams it through the dataset-statistics task
 * (4,096-row hyperslab blocks in a worker thread) and the total of X must equal h5py's, value for value summed.
 * Usage: node out/bench/large-file.js
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { DatasetStats } from '../src/core/h5ad/tasks';
import { runTask } from '../src/core/workers/run-task';

const ROOT = path.resolve(__dirname, '..', '..');
const FILE = path.join(ROOT, 'bench', '.data', 'larger_than_wasm_heap.h5ad');
const PY = path.join(ROOT, 'bench', 'large_file_reference.py');
const MAKE = path.join(ROOT, 'test', 'python', 'host_make_large.py');
const PYTHON = process.env.SCWB_REF_PYTHON ?? '/usr/bin/python3';

async function main(): Promise<void> {
  if (!fs.existsSync(FILE)) {
    fs.mkdirSync(path.dirname(FILE), { recursive: true });
    execFileSync(PYTHON, [MAKE, FILE, '160000', '20000', '0.1'], { stdio: 'inherit' });
  }
  const size = fs.statSync(FILE).size;
  const t0 = performance.now();
  const stats = await runTask<DatasetStats>('h5ad/tasks', 'datasetStats', { path: FILE });
  const seconds = (performance.now() - t0) / 1000;
  const ours = { sum: stats.totalCounts.mean * stats.totalCounts.n, nnz: stats.stored };
  const ref = JSON.parse(execFileSync(PYTHON, [PY, FILE], { encoding: 'utf8' })) as { sum: number; nnz: number; seconds: number; max_rss_mib: number };
  const relErr = Math.abs(ours.sum - ref.sum) / ref.sum;
  console.log(`file ${(size / 2 ** 30).toFixed(2)} GiB, ${stats.nObs} x ${stats.nVars}, ${ref.nnz} stored values`);
  console.log(`ours (datasetStats, worker thread): ${seconds.toFixed(1)} s, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB, stored ${ours.nnz}, total ${ours.sum}`);
  console.log(`h5py (sum of X/data in 64 Mi slices): ${ref.seconds.toFixed(1)} s, peak RSS ${ref.max_rss_mib.toFixed(0)} MiB, total ${ref.sum}`);
  console.log(`stored values equal: ${ours.nnz === ref.nnz}; relative difference of the totals: ${relErr.toExponential(2)}`);
  if (ours.nnz !== ref.nnz || relErr > 1e-9) process.exitCode = 1;
}

main().catch(e => { console.error(e); process.exitCode = 1; });
