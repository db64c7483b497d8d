/**
 * Annotation throughput: the same scBERT classifier (random weights, 2,000 genes, dim 32, 2 layers) run over the
 * same cells by our annotator (worker-exported ONNX, onnxruntime-node CPU, tokenising as the worker does, batches
 * of --batch cells) and by torch CPU (Debian's torch 1.13, the worker's tokeniser), in one run: cells/s of
 * tokenise + forward + softmax on both sides (reading and writing the files excluded), their ratio, and the largest
 * probability difference over the first 64 cells.
 * Usage: node out/bench/annotate.js [--cells 4000] [--genes 2000] [--batch 32]
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { annotateTask } from '../src/core/annotate/annotate';
import { openH5ad } from '../src/core/h5ad/read';

const ROOT = path.resolve(__dirname, '..', '..');
const PYTHON = process.env.SCWB_REF_PYTHON ?? '/usr/bin/python3';
const REF = path.join(ROOT, 'bench', 'annotate_reference.py');

function arg(name: string, fallback: number): number {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? Number(process.argv[k + 1]) : fallback;
}

function py<T>(args: string[]): T {
  return JSON.parse(execFileSync(PYTHON, [REF, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 })) as T;
}

async function main(): Promise<void> {
  const cells = arg('cells', 4000);
  const genes = arg('genes', 2000);
  const batch = arg('batch', 32);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scwb-bench-annotate-'));
  try {
    const made = py<{ model: string; data: string }>(['make', dir, String(cells), String(genes)]);
    const torch = py<{ cellsPerSec: number; seconds: number; threads: number; probabilities: number[][] }>(['torch', dir, String(batch)]);
    const res = await annotateTask({ model: made.model, dataset: made.data, out: path.join(dir, 'out.h5ad'), batchSize: batch });
    const r = await openH5ad(path.join(dir, 'out.h5ad'));
    const probs = r.readObsm('scwb_probabilities');
    r.close();
    let maxDiff = 0;
    torch.probabilities.forEach((row, i) => row.forEach((p, k) => { maxDiff = Math.max(maxDiff, Math.abs(p - probs.data[i * row.length + k])); }));
    const ratio = res.cellsPerSec / torch.cellsPerSec;
    console.log(JSON.stringify({ cells, genes, batch, cpus: os.cpus().length, onnxCellsPerSec: Math.round(res.cellsPerSec), torchCellsPerSec: Math.round(torch.cellsPerSec), torchThreads: torch.threads, ratio: Number(ratio.toFixed(2)), maxProbDiff: maxDiff }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
