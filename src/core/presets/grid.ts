/**
 * Expands an experiment (a preset's grids, dataset x model x ablation x fraction x seed) into queue items, counts
 * them and estimates their GPU hours from the throughput anchors of ../shared/notes/science.md.
 *
 * Estimate (stated in the editor, `ESTIMATE_ASSUMPTIONS`): seconds = epochs x (training cells / throughput +
 * validation cells / (3 x throughput)) + test cells / (3 x throughput), i.e. a forward pass costs a third of a
 * training step. Throughputs are one H100's, per model and precision; scGPT's depends on the padded sequence
 * length (linear in tokens between the two anchors). Baselines run on the CPU and count no GPU hours.
 * With an `EstimateContext` (./estimate.ts) the bound files' cells, the device the environment check found and
 * the throughput completed runs measured replace the published figures, and each estimate says what it is based on.
 */
import * as path from 'path';
import { finetuneModelRef, FINETUNE_DEFAULTS } from '../finetune/prepare';
import { CPU_REFERENCE, deviceLabel, pickMeasured, type EstimateContext } from './estimate';
import { protocolChoicesOf } from '../protocols/choices';
import { matchPublished, type PublishedNumber } from '../results/published';
import { baselineModelRef } from '../runs/baseline';
import type { FinetuneAblation } from '../runs/schema';
import type { QueueSpec, QueueSplit } from '../queue/schema';
import type { Grid, GridDataset, GridModel, Preset } from './schema';

/** Cells per second of one H100 (science.md "Throughput anchors"). */
export const THROUGHPUT = {
  scbert: { fp32: 34.7, bf16: 42.9 },
  /** scGPT-size model, bf16 with SDPA, padded to `tokens` */
  scgpt: [{ tokens: 1201, cellsPerSec: 475 }, { tokens: 3001, cellsPerSec: 159 }],
  /** fp32 / bf16 speed ratio, measured on scBERT and assumed for scGPT */
  fp32Factor: 34.7 / 42.9,
  /** a forward (evaluation) pass costs this fraction of a training step */
  forwardCost: 1 / 3,
  /** the benchmark encoder (6 layers, 256 dim, 512 tokens) is taken as scGPT-size at 1,201 tokens (conservative) */
  benchmarkTokens: 1201,
} as const;

export const ESTIMATE_ASSUMPTIONS = [
  'One NVIDIA H100 per run; scBERT fine-tune 34.7 cells/s (fp32) / 42.9 (bf16) at batch 32, measured on the published code.',
  'scGPT: 475 cells/s padded to 1,201 tokens and 159 cells/s at 3,001 (bf16, SDPA), linear in the sequence length between; fp32 assumed 19% slower as for scBERT.',
  'An evaluation pass costs a third of a training step per cell; validation after every epoch, the test set once.',
  'Probes: one forward pass of the frozen encoder over every cell (the benchmark encoder counted as scGPT-size at 1,201 tokens); the linear/kNN probe itself is negligible.',
  'Baselines (LR) run on the CPU and add no GPU hours.',
  'Cells: those of the bound files (n_obs); a file not chosen or not readable counts the published cells.',
  'Device: the first GPU the worker\'s environment check finds, else the CPU. Fine-tune throughput: the latest completed run of the same model, device kind and checkpoint in this workspace (median of its epochs\' cells/s); without one, the figures above (any GPU counted as an H100).',
  'CPU without a measurement: the H100 figures scaled by the CPU reference (one full-size scBERT training step at batch 4 takes ~76 s on 2 cores, 0.053 cells/s, fp32).',
];

export interface GridCombination {
  grid: number;
  dataset: GridDataset;
  model: GridModel;
  ablation: FinetuneAblation;
  fraction: number;
  seed: number;
}

export interface GridSkip {
  grid: number;
  reason: string;
  count: number;
}

/** Every combination of a grid (ablations apply to fine-tunes only), and those that cannot exist. */
export function gridCombinations(grid: Grid, index = 0): { combos: GridCombination[]; skipped: GridSkip[] } {
  const combos: GridCombination[] = [];
  const skipped = new Map<string, number>();
  const fractions = unique(grid.fractions);
  const seeds = unique(grid.seeds);
  for (const dataset of grid.datasets) {
    for (const model of grid.models) {
      const ablations: FinetuneAblation[] = model.kind === 'finetune' ? unique(grid.ablations) : ['none'];
      for (const ablation of ablations) {
        if (model.kind === 'finetune' && model.model === 'scgpt' && ablation === 'no-gene2vec') {
          const reason = 'no-gene2vec is an scBERT ablation (scGPT has no gene2vec embedding)';
          skipped.set(reason, (skipped.get(reason) ?? 0) + fractions.length * seeds.length);
          continue;
        }
        for (const fraction of fractions) for (const seed of seeds) combos.push({ grid: index, dataset, model, ablation, fraction, seed });
      }
    }
  }
  return { combos, skipped: [...skipped].map(([reason, count]) => ({ grid: index, reason, count })) };
}

function unique<T>(xs: readonly T[]): T[] {
  return Array.from(new Set(xs));
}

/** Cells of a bound file (n_obs) when the context knows it, else the preset's published count. */
function fileCells(file: string, published: number, ctx: EstimateContext | undefined): { cells: number; measured: boolean } {
  const n = file ? ctx?.cells[file] : undefined;
  return n !== undefined ? { cells: n, measured: true } : { cells: published, measured: false };
}

/** Training-side cells (before the few-shot fraction) and test cells of a dataset. */
function cellsOf(d: GridDataset, ctx?: EstimateContext): { train: number; test: number } {
  const main = fileCells(d.path, d.cells, ctx).cells;
  if (d.split.kind === 'reference-query') return { train: main, test: fileCells(d.queryPath, d.queryCells, ctx).cells };
  const test = Math.ceil(main * d.split.testSize);
  return { train: main - test, test };
}

/** "3,000 cells of demo.h5ad" or "68,450 cells (published count of Zheng68K)". */
function cellsText(d: GridDataset, ctx?: EstimateContext): string {
  const main = fileCells(d.path, d.cells, ctx);
  const n = (x: number) => x.toLocaleString('en-US');
  let text = main.measured ? `${n(main.cells)} cells of ${path.basename(d.path)}` : `${n(main.cells)} cells (published count of ${d.name})`;
  if (d.split.kind === 'reference-query') {
    const q = fileCells(d.queryPath, d.queryCells, ctx);
    text += q.measured ? ` + ${n(q.cells)} of ${path.basename(d.queryPath)}` : ` + ${n(q.cells)} query cells (published)`;
  }
  return text;
}

function scgptCellsPerSec(tokens: number): number {
  const [a, b] = THROUGHPUT.scgpt;
  const secA = 1 / a.cellsPerSec;
  const secB = 1 / b.cellsPerSec;
  const sec = secA + ((tokens - a.tokens) * (secB - secA)) / (b.tokens - a.tokens);
  return 1 / Math.max(sec, secA / 4);
}

/** Epochs a fine-tune combination trains (published defaults). */
export function combinationEpochs(model: Extract<GridModel, { kind: 'finetune' }>, ablation: FinetuneAblation): number {
  if (model.epochs) return model.epochs;
  if (model.model === 'scgpt') return ablation === 'none' ? FINETUNE_DEFAULTS.scgpt.epochs : FINETUNE_DEFAULTS.scgpt.ablationEpochs;
  return FINETUNE_DEFAULTS.scbert.epochs;
}

/** One combination's estimated hours on the device, and what the estimate is based on ('' for a baseline). */
export interface ComboEstimate {
  hours: number;
  basis: string;
}

/** The CPU reference relative to the H100 scBERT fp32 anchor: what an H100 figure becomes on the CPU. */
const CPU_SCALE = CPU_REFERENCE.scbertCellsPerSec / THROUGHPUT.scbert.fp32;

/**
 * Estimated hours of one combination on the context's device (0 for a baseline). Without a context: one H100 at
 * the published throughput over the published cell counts.
 */
export function estimateCombination(c: GridCombination, ctx?: EstimateContext): ComboEstimate {
  const { train, test } = cellsOf(c.dataset, ctx);
  const m = c.model;
  if (m.kind === 'baseline') return { hours: 0, basis: '' };
  const cpu = ctx?.device.kind === 'cpu';
  const where = ctx ? deviceLabel(ctx.device) : 'one H100';
  const reference = cpu ? 'CPU reference throughput (H100 figures scaled to ~76 s per full-size scBERT step at batch 4)' : 'published H100 throughput';
  const based = (what: string) => `based on ${cellsText(c.dataset, ctx)}, ${where}, ${what}`;
  if (m.kind === 'probe') {
    const h100 = m.encoder === 'scbert' ? THROUGHPUT.scbert.bf16 : scgptCellsPerSec(m.encoder === 'scgpt' ? 3001 : THROUGHPUT.benchmarkTokens);
    const tput = cpu ? h100 * CPU_SCALE : h100;
    return { hours: (train + test) / (tput / THROUGHPUT.forwardCost) / 3600, basis: based(reference) };
  }
  const epochs = combinationEpochs(m, c.ablation);
  // fp16 runs as fast as the bf16 anchors; 'published' is scBERT fp32 and scGPT fp16; a CPU computes in fp32
  const fp32 = cpu || m.precision === 'fp32' || (m.model === 'scbert' && m.precision === 'published');
  let tput: number;
  if (m.model === 'scbert') tput = fp32 ? THROUGHPUT.scbert.fp32 : THROUGHPUT.scbert.bf16;
  else tput = scgptCellsPerSec(m.maxSeqLen ?? 3001) * (fp32 ? THROUGHPUT.fp32Factor : 1);
  if (cpu) tput *= CPU_SCALE;
  let source = reference;
  const measured = ctx ? pickMeasured(ctx.measured, m.model, ctx.device.kind, m.checkpoint || null) : null;
  if (measured) {
    tput = measured.cellsPerSec;
    source = `${measured.cellsPerSec.toFixed(1)} cells/s measured in run ${measured.runName}`;
  }
  const subset = Math.max(1, Math.round(train * c.fraction));
  const forward = tput / THROUGHPUT.forwardCost;
  let trainCells: number;
  let validation: number;
  if (m.model === 'scgpt') {
    validation = Math.round(subset * 0.1);
    trainCells = subset - validation;
  } else {
    trainCells = subset;
    validation = test; // the scBERT protocol validates on the test set
  }
  const seconds = epochs * (trainCells / tput + validation / forward) + test / forward;
  return { hours: seconds / 3600, basis: based(`${epochs} epoch${epochs === 1 ? '' : 's'}, ${source}`) };
}

/** Estimated hours of one combination (0 for a baseline); see `estimateCombination`. */
export function estimateHours(c: GridCombination, ctx?: EstimateContext): number {
  return estimateCombination(c, ctx).hours;
}

export interface GridSummary {
  runs: number;
  gpuRuns: number;
  cpuRuns: number;
  /** hours of the non-baseline runs on `device` (GPU hours on a GPU) */
  gpuHours: number;
  /** where the estimate assumes the runs go: 'one H100' (no context), 'CPU' or the GPU's name */
  device: string;
  /** what each model's estimate is based on, e.g. 'scBERT: based on 3,000 cells of demo.h5ad, CPU, 1 epoch, ...' */
  basis: string[];
  perGrid: { title: string; runs: number; gpuHours: number }[];
  skipped: GridSkip[];
  assumptions: string[];
}

export function summarizePreset(preset: Preset, ctx?: EstimateContext): GridSummary {
  const perGrid: GridSummary['perGrid'] = [];
  const skipped: GridSkip[] = [];
  const basis = new Set<string>();
  let runs = 0;
  let gpuRuns = 0;
  let gpuHours = 0;
  preset.grids.forEach((g, i) => {
    const { combos, skipped: s } = gridCombinations(g, i);
    skipped.push(...s);
    let hours = 0;
    for (const c of combos) {
      const e = estimateCombination(c, ctx);
      hours += e.hours;
      if (e.basis) basis.add(`${modelLabel(c.model, c.ablation)}: ${e.basis}`);
    }
    const gpu = combos.filter(c => c.model.kind !== 'baseline').length;
    perGrid.push({ title: g.title || `grid ${i + 1}`, runs: combos.length, gpuHours: hours });
    runs += combos.length;
    gpuRuns += gpu;
    gpuHours += hours;
  });
  return {
    runs, gpuRuns, cpuRuns: runs - gpuRuns, gpuHours, device: ctx ? deviceLabel(ctx.device) : 'one H100', basis: [...basis], perGrid, skipped, assumptions: ESTIMATE_ASSUMPTIONS,
  };
}

/** The label of a model value in tables and the editor. */
export function modelLabel(m: GridModel, ablation: FinetuneAblation = 'none'): string {
  if (m.kind === 'finetune') return finetuneModelRef(m.model, ablation).label;
  if (m.kind === 'baseline') return baselineModelRef(m.C !== undefined ? { penalty: m.penalty, C: m.C } : { penalty: m.penalty, cvGrid: m.cvGrid ?? [] }).label;
  return `${m.method === 'knn' ? `kNN (k=${m.k})` : 'linear probe'} on ${m.encoder} encoder`;
}

export interface PublishedTarget {
  grid: number;
  dataset: string;
  model: string;
  fraction: number;
  accuracy: PublishedNumber | null;
  macroF1: PublishedNumber | null;
}

/** The published numbers each (dataset, model, ablation, fraction) of the experiment should reproduce. */
export function publishedTargets(preset: Preset, published: readonly PublishedNumber[]): PublishedTarget[] {
  const out: PublishedTarget[] = [];
  const seen = new Set<string>();
  preset.grids.forEach((g, i) => {
    for (const c of gridCombinations(g, i).combos) {
      if (c.model.kind === 'probe') continue;
      const ref = c.model.kind === 'finetune' ? finetuneModelRef(c.model.model, c.ablation)
        : baselineModelRef(c.model.C !== undefined ? { penalty: c.model.penalty, C: c.model.C } : { penalty: c.model.penalty, cvGrid: c.model.cvGrid ?? [] });
      const key = `${c.dataset.name}\u0000${ref.label}\u0000${c.fraction}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const k = { dataset: c.dataset.name, family: ref.family, variant: ref.variant, fraction: c.fraction };
      // Prefer the row of the experiment this preset reproduces (a figure and a table may both report a value).
      const pick = (metric: 'accuracy' | 'macro_f1') => {
        const rows = matchPublished(published, k, metric);
        return rows.find(r => r.experiment === preset.publishedExperiment) ?? rows[0] ?? null;
      };
      out.push({ grid: i, dataset: c.dataset.name, model: ref.label, fraction: c.fraction, accuracy: pick('accuracy'), macroF1: pick('macro_f1') });
    }
  });
  return out;
}

export interface ExpandedItem {
  label: string;
  spec: QueueSpec;
  estimateHours: number;
}

/**
 * The queue items of an experiment. Throws one error listing everything the user still has to choose (dataset
 * files, checkpoints, encoders), so nothing is queued half-bound.
 */
export function expandPreset(preset: Preset, ctx?: EstimateContext): ExpandedItem[] {
  const problems = bindingProblems(preset);
  if (problems.length) throw new Error(`the experiment is not ready to queue: ${problems.join('; ')}`);
  const items: ExpandedItem[] = [];
  preset.grids.forEach((g, i) => {
    for (const c of gridCombinations(g, i).combos) items.push({ label: comboLabel(c, g), spec: comboSpec(c, g, preset.experiment), estimateHours: estimateHours(c, ctx) });
  });
  return items;
}

/** What the user must still choose before the experiment can be queued. */
export function bindingProblems(preset: Preset): string[] {
  const problems: string[] = [];
  preset.grids.forEach((g, i) => {
    const where = `grid ${i + 1}${g.title ? ` (${g.title})` : ''}`;
    for (const d of g.datasets) {
      if (!d.path) problems.push(`${where}: choose the file of dataset '${d.name}'`);
      if (d.split.kind === 'reference-query' && !d.queryPath) problems.push(`${where}: choose the query file of dataset '${d.name}'`);
    }
    for (const m of g.models) {
      if (m.kind === 'finetune' && !m.checkpoint && g.ablations.some(a => a !== 'no-pretraining')) {
        problems.push(`${where}: choose the ${m.model === 'scbert' ? 'scBERT checkpoint (.pth)' : 'scGPT model folder'} (only the no-pretraining ablation runs without one)`);
      }
      if (m.kind === 'probe' && !m.encoderPath) problems.push(`${where}: choose the ${m.encoder} encoder to probe`);
    }
  });
  return Array.from(new Set(problems));
}

function comboLabel(c: GridCombination, g: Grid): string {
  const fewShot = g.fewShotRuns && c.fraction === 1 && c.model.kind === 'finetune' && c.model.model === 'scbert' ? ' (few-shot run)' : '';
  return `${c.dataset.name} · ${modelLabel(c.model, c.ablation)} · f=${c.fraction}${fewShot} · seed ${c.seed}`;
}

function comboSplit(d: GridDataset): QueueSplit {
  if (d.split.kind === 'reference-query') return { kind: 'reference-query', queryPath: d.queryPath };
  return d.split;
}

function comboSpec(c: GridCombination, g: Grid, experiment: string): QueueSpec {
  const common = {
    datasetPath: c.dataset.path, labelColumn: c.dataset.labelColumn, split: comboSplit(c.dataset), publishedDataset: c.dataset.name,
    experiment, fraction: c.fraction, seed: c.seed, stratifiedFewShot: g.stratifiedFewShot,
  };
  const m = c.model;
  if (m.kind === 'finetune') {
    return {
      kind: 'finetune', ...common, model: m.model, checkpoint: m.checkpoint || null,
      ablation: c.ablation, epochs: m.epochs, batchSize: m.batchSize, maxSeqLen: m.maxSeqLen, device: 'auto',
      ...(m.precision !== 'published' ? { precision: m.precision } : {}), ...protocolChoicesOf(m.protocol ?? {}),
      ...(g.fewShotRuns && m.model === 'scbert' ? { fewShotRun: true } : {}),
    };
  }
  if (m.kind === 'baseline') {
    return { kind: 'baseline', ...common, model: m.C !== undefined ? { penalty: m.penalty, C: m.C } : { penalty: m.penalty, cvGrid: m.cvGrid ?? [], folds: m.folds } };
  }
  return {
    kind: 'probe', ...common,
    probe: {
      encoder: { model: m.encoder, path: m.encoderPath }, method: m.method, pooling: m.pooling, k: m.k, epochs: m.epochs, lr: m.lr,
      batchSize: m.batchSize, evalEvery: m.evalEvery, select: 'best-test', geneSampling: m.geneSampling, control: null, zeroShot: false, writeEmbeddings: false, valueLayer: null,
      device: 'auto',
    },
  };
}
