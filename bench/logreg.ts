/**
 * Logistic-regression baselines at Zheng68K size: 68,450 x 16,906 generated hard data (11 unequal classes, ~5%
 * stored values, log-normalised), 80/20 StratifiedShuffleSplit. L1 C=0.1 one-vs-rest (ours: newGLMNET on worker
 * threads; scikit-learn: liblinear) and L2 C=0.1 multinomial (ours: L-BFGS on worker threads; scikit-learn: lbfgs),
 * max_iter 100 both. Every fit runs in its own process (peak RSS per fit); times cover the fit only (loading and
 * splitting the matrix excluded on both sides).
 * Usage: node out/bench/logreg.js [--rows N] [--cols N] [--threads N] [--models l1,l2] [--kernels wasm|js]
 * (--kernels js: the multinomial fit with the JavaScript kernels instead of the WebAssembly ones)
 * Data are generated once into bench/.data/ (test/python/logreg_bench.py generate) and read by both sides.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { fitLogReg, predict, type Penalty } from '../src/core/baselines/logreg';
import { selectRows } from '../src/core/baselines/matrix';
import { f1Score } from '../src/core/metrics';
import type { CsrMatrix } from '../src/core/sparse';

const ROOT = path.resolve(__dirname, '..', '..');
const PYTHON = process.env.SCWB_REF_PYTHON ?? '/usr/bin/python3';
const SCRIPT = path.join(ROOT, 'test', 'python', 'logreg_bench.py');

interface Measure {
  model: string;
  seconds: number;
  cpuSeconds: number;
  accuracy: number;
  macroF1: number;
  peakMiB: number;
  nIter: number[];
}

function arg(name: string, fallback: string): string {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? process.argv[k + 1] : fallback;
}

function readBin<T>(dir: string, name: string, ctor: { new(b: ArrayBuffer): T }): T {
  const b = fs.readFileSync(path.join(dir, name));
  // a large file's Buffer owns its whole ArrayBuffer: use it rather than copying it
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return new ctor(b.buffer as ArrayBuffer);
  return new ctor(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** Reads the whole matrix and returns its train and test rows (the whole matrix is dropped on return). */
function loadSplit(dir: string, meta: { rows: number; cols: number }, train: Int32Array, test: Int32Array): { Xtr: CsrMatrix; Xte: CsrMatrix } {
  const X: CsrMatrix = {
    nRows: meta.rows, nCols: meta.cols, indptr: readBin(dir, 'X_indptr.i32', Int32Array),
    indices: readBin(dir, 'X_indices.i32', Int32Array), data: readBin(dir, 'X_data.f32', Float32Array),
  };
  return { Xtr: selectRows(X, train), Xte: selectRows(X, test) };
}

/** Child process: our fit of one model on the train rows, scored on the test rows. */
async function child(dir: string, model: Penalty, threads: number, wasm: boolean): Promise<void> {
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as { rows: number; cols: number; classCounts: number[] };
  const y = readBin(dir, 'y.i32', Int32Array);
  const train = readBin(dir, 'train.i32', Int32Array);
  const test = readBin(dir, 'test.i32', Int32Array);
  const { Xtr, Xte } = loadSplit(dir, meta, train, test);
  // The whole matrix is garbage now: collect it, as Python's `del X` frees it at once (peak RSS would otherwise
  // count garbage V8 had no reason to collect yet). Loading happens in its own function because a variable of a
  // block in this function would stay referenced from the interpreter's registers until it returns.
  (globalThis as { gc?: () => void }).gc?.();
  const K = meta.classCounts.length;
  const ytr = Int32Array.from(train, i => y[i]);
  const yte = Int32Array.from(test, i => y[i]);
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const m = await fitLogReg(Xtr, ytr, K, { penalty: model, C: 0.1, maxIter: 100, threads, wasm });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const pred = predict(m, Xte);
  fs.writeFileSync(path.join(dir, `ours_${model}_pred.i32`), pred);
  let hit = 0;
  for (let i = 0; i < yte.length; i++) if (pred[i] === yte[i]) hit++;
  const out: Measure = {
    model, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, accuracy: hit / yte.length, macroF1: f1Score(Array.from(yte), Array.from(pred), 'macro'),
    peakMiB: process.resourceUsage().maxRSS / 1024, nIter: m.nIter,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

function agreement(dir: string, model: string): number {
  const a = readBin(dir, `ours_${model}_pred.i32`, Int32Array);
  const b = readBin(dir, `sk_${model}_pred.i32`, Int32Array);
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

async function main(): Promise<void> {
  const rows = Number(arg('rows', '68450'));
  const cols = Number(arg('cols', '16906'));
  const threads = Number(arg('threads', '2'));
  const dir = path.join(ROOT, 'bench', '.data', `logreg-${rows}x${cols}-s1`);
  if (process.argv.includes('--child')) {
    await child(arg('dir', dir), arg('child', 'l1') as Penalty, threads, arg('kernels', 'wasm') !== 'js');
    return;
  }
  const models = arg('models', 'l1,l2').split(',') as Penalty[];
  if (!fs.existsSync(path.join(dir, 'meta.json'))) {
    console.log(`generating ${rows} x ${cols} into ${dir} ...`);
    execFileSync(PYTHON, [SCRIPT, 'generate', dir, String(rows), String(cols), '1'], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as { nnz: number; density: number; classCounts: number[] };
  console.log(`data: ${rows} x ${cols}, ${meta.nnz} stored values (${(100 * meta.density).toFixed(2)}%), classes ${meta.classCounts.join('/')}`);
  for (const model of models) {
    const ours = JSON.parse(execFileSync(process.execPath, ['--expose-gc', __filename, '--child', model, '--dir', dir, '--threads', String(threads), '--kernels', arg('kernels', 'wasm')], { encoding: 'utf8', maxBuffer: 1 << 24 })) as Measure;
    const ref = JSON.parse(execFileSync(PYTHON, [SCRIPT, 'fit', dir, model, '100'], { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'inherit'] })) as Measure;
    const name = model === 'l1' ? 'L1 OvR C=0.1 (liblinear)' : 'L2 multinomial C=0.1 (lbfgs)';
    console.log(`\n${name}`);
    console.log(`| | fit time | CPU time | accuracy | macro-F1 | peak RSS | iterations |`);
    console.log(`|---|---|---|---|---|---|---|`);
    for (const [who, r] of [[`ours (${threads} threads)`, ours], ['scikit-learn 1.2.1', ref]] as const) {
      console.log(`| ${who} | ${r.seconds.toFixed(1)} s | ${r.cpuSeconds.toFixed(1)} s | ${(100 * r.accuracy).toFixed(2)}% | ${(100 * r.macroF1).toFixed(2)}% | ${Math.round(r.peakMiB)} MiB | ${r.nIter.join(' ')} |`);
    }
    console.log(`time ratio ours/sklearn ${(ours.seconds / ref.seconds).toFixed(2)}, accuracy difference ${(100 * (ours.accuracy - ref.accuracy)).toFixed(2)} points, ` +
      `same test prediction on ${(100 * agreement(dir, model)).toFixed(2)}% of cells`);
  }
}

main().catch(e => {
  console.error(e);
  process.exitCode = 1;
});
