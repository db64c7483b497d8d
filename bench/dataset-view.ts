/**
 * Opening the dataset view on a Zheng68K-sized file (68,450 x 16,906 CSR, made by `node out/bench/h5ad-read.js`
 * into bench/.data/zheng68k_sized.h5ad): the time to the first render (the summary, read in a worker thread) and
 * to the streamed statistics (counts and genes per cell, histograms, composition of cell_type), measured through the
 * same worker tasks the view uses, against anndata doing the same in Python (backed open for the summary; full read
 * plus numpy for the statistics). Usage: node out/bench/dataset-view.js [FILE]
 * Target: under 2 s to first render.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { DatasetStats } from '../src/core/h5ad/tasks';
import type { DatasetSummary } from '../src/core/h5ad/types';
import { runTask } from '../src/core/workers/run-task';

const ROOT = path.resolve(__dirname, '..', '..');
const FILE = process.argv[2] ?? path.join(ROOT, 'bench', '.data', 'zheng68k_sized.h5ad');
const PYTHON = process.env.SCWB_REF_PYTHON ?? '/usr/bin/python3';

async function main(): Promise<void> {
  if (!fs.existsSync(FILE)) throw new Error(`${FILE} is missing: run node out/bench/h5ad-read.js first (it makes the file)`);
  // A fresh worker per task, exactly as the view does (h5wasm is loaded and compiled in each worker).
  const t0 = performance.now();
  const summary = await runTask<DatasetSummary>('h5ad/tasks', 'summarize', { path: FILE });
  const firstRender = (performance.now() - t0) / 1000;
  let firstProgress = NaN;
  const t1 = performance.now();
  const stats = await runTask<DatasetStats>('h5ad/tasks', 'datasetStats', { path: FILE, column: 'cell_type' }, {
    onProgress: () => { if (Number.isNaN(firstProgress)) firstProgress = (performance.now() - t1) / 1000; },
  });
  const statsSeconds = (performance.now() - t1) / 1000;
  const rss = process.resourceUsage().maxRSS / 1024;
  const py = JSON.parse(execFileSync(PYTHON, [path.join(ROOT, 'bench', 'dataset_view_reference.py'), FILE, 'cell_type'], { encoding: 'utf8' })) as
    { summary_s: number; stats_s: number; max_rss_mib: number; cells: number };
  if (py.cells !== summary.nObs || stats.rowsScanned !== summary.nObs) throw new Error('the two sides disagree on the number of cells');
  console.log(`file: ${FILE} (${summary.nObs} x ${summary.nVars}, ${(summary.fileSize / 2 ** 20).toFixed(0)} MiB)`);
  console.log('| step | ours | anndata | ratio |');
  console.log('| --- | --- | --- | --- |');
  console.log(`| first render (summary) | ${firstRender.toFixed(2)} s | ${py.summary_s.toFixed(2)} s (backed open) | ${(firstRender / py.summary_s).toFixed(2)}x |`);
  console.log(`| statistics streamed in | ${statsSeconds.toFixed(2)} s (first progress after ${firstProgress.toFixed(2)} s) | ${py.stats_s.toFixed(2)} s (read_h5ad + numpy) | ${(statsSeconds / py.stats_s).toFixed(2)}x |`);
  console.log(`| peak RSS | ${rss.toFixed(0)} MiB (host process; the worker streams 4,096-row blocks) | ${py.max_rss_mib.toFixed(0)} MiB | ${(rss / py.max_rss_mib).toFixed(2)}x |`);
}

main().catch(e => { console.error(e); process.exitCode = 1; });
