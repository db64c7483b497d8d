/**
 * The evaluation bookkeeping of one Zheng68K experiment (68,450 cells, 11 types): StratifiedShuffleSplit
 * (test_size 0.2, seed 2022), three 10% few-shot draws with np.random.choice, per-class metrics, macro F1 and the
 * confusion matrix on the 13,690 test cells, a t-based CI and a Welch test over seeds. Ours vs sklearn/numpy/scipy
 * on the same labels, each in its own process (import time excluded, peak RSS per process).
 * Usage: node out/bench/splits-metrics.js [--repeats N]
 */
import { execFileSync } from 'child_process';
import * as path from 'path';
import { classificationReport, f1Score } from '../src/core/metrics';
import { MT19937 } from '../src/core/random/mt19937';
import { fewShotSubset, stratifiedShuffleSplit } from '../src/core/splits';
import { summarizeSeeds, welchTTest } from '../src/core/stats';

const ROOT = path.resolve(__dirname, '..', '..');
const PYTHON = process.env.SCWB_REF_PYTHON ?? '/usr/bin/python3';
const COUNTS = [20644, 16666, 8776, 6187, 5908, 3061, 2862, 2099, 1873, 277, 97];

interface Measure { seconds: number; maxRssMiB: number; check: number; macro: number }

function data(): { labels: string[]; pred: string[] } {
  const labels: string[] = [];
  COUNTS.forEach((c, k) => { for (let i = 0; i < c; i++) labels.push(`type ${String.fromCharCode(65 + k)}`); });
  const g = new MT19937(99);
  g.shuffle(labels);
  const pred = labels.map(l => (g.randomSample() < 0.75 ? l : `type ${String.fromCharCode(65 + g.randint(0, COUNTS.length))}`));
  return { labels, pred };
}

function ours(labels: string[], pred: string[], repeats: number): Measure {
  const t0 = process.hrtime.bigint();
  let check = 0;
  let macro = 0;
  for (let r = 0; r < repeats; r++) {
    const { train, test } = stratifiedShuffleSplit(labels, { testSize: 0.2, seed: 2022 });
    const few = [0, 1, 2].map(k => fewShotSubset(train, 0.1, 2021 * k));
    const yTrue = test.map(i => labels[i]);
    const yPred = test.map(i => pred[i]);
    classificationReport(yTrue, yPred, { zeroDivision: 0 });
    macro = f1Score(yTrue, yPred, 'macro');
    summarizeSeeds([0.81, 0.82, 0.80, 0.83, 0.79, 0.84, 0.815]);
    welchTTest([0.81, 0.82, 0.80, 0.83, 0.79, 0.84, 0.815], [0.78, 0.79, 0.8, 0.77, 0.76, 0.8, 0.79]);
    check = train.slice(0, 1000).reduce((a, b) => a + b, 0) + few.reduce((a, f) => a + f.slice(0, 100).reduce((x, y) => x + y, 0), 0);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9 / repeats;
  return { seconds, maxRssMiB: process.resourceUsage().maxRSS / 1024, check, macro };
}

function main(): void {
  const k = process.argv.indexOf('--repeats');
  const repeats = k > 0 ? Number(process.argv[k + 1]) : 5;
  const { labels, pred } = data();
  if (process.argv.includes('--child')) {
    process.stdout.write(JSON.stringify(ours(labels, pred, repeats)) + '\n');
    return;
  }
  const mine = JSON.parse(execFileSync(process.execPath, [__filename, '--child', '--repeats', String(repeats)], { encoding: 'utf8' })) as Measure;
  const ref = JSON.parse(execFileSync(PYTHON, [path.join(ROOT, 'bench', 'splits_metrics_reference.py')],
    { input: JSON.stringify({ labels, pred, repeats }), encoding: 'utf8', maxBuffer: 1 << 28 })) as Measure;
  if (mine.check !== ref.check || mine.macro !== ref.macro) throw new Error(`results differ: ours ${JSON.stringify(mine)} vs python ${JSON.stringify(ref)}`);
  console.log(`split + 3 few-shot draws + metrics + seed stats on 68,450 cells (mean of ${repeats}), identical results:`);
  console.log(`  ours   ${(mine.seconds * 1000).toFixed(1)} ms, peak RSS ${mine.maxRssMiB.toFixed(0)} MiB`);
  console.log(`  python ${(ref.seconds * 1000).toFixed(1)} ms, peak RSS ${ref.maxRssMiB.toFixed(0)} MiB`);
  console.log(`  time ratio ours/python ${(mine.seconds / ref.seconds).toFixed(2)}`);
}

main();
