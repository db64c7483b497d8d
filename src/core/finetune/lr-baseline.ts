/**
 * A fine-tune experiment carries its LR baseline: after a fine-tune grid is prepared, the published baseline
 * (L1 one-vs-rest, C = 0.1) runs on the same file, split, fractions, seeds and few-shot draw, in the same
 * experiment, for every (fraction, seed) that has no LR run yet. LR runs with those keys anywhere in the store are
 * reused (the results table borrows them, results/baseline-reuse.ts), not run again. Values that are not
 * log-normalised get the on-the-fly log transform the published baseline expects (the pre-flight's advice),
 * recorded in run.json as Run Baseline records it; values no transform fits (scaled, empty) skip the baseline with
 * the reason.
 */
import * as path from 'path';
import { decideBaselineValues, type BaselineValueDecision } from '../preflight/baseline';
import { PRESETS } from '../presets/presets';
import { splitKey } from '../results/baseline-reuse';
import { runBaselinesInWorker, type BaselineGridInput, type BaselineGridResult, type BaselineModelSpec } from '../runs/baseline';
import type { RunRecord, RunSplit } from '../runs/schema';
import { RunStore } from '../runs/store';
import { runTask } from '../workers/run-task';
import type { FinetuneGridPlan } from './prepare';

/** The published LR baseline (Boiarsky et al.). */
export const PUBLISHED_LR: BaselineModelSpec = { penalty: 'l1', C: 0.1 };

export interface LrBaselineOutcome {
  /** (fraction, seed) pairs that already had an LR run with the same file and split */
  reused: number;
  /** LR runs made now */
  ran: number;
  /** why no baseline ran although some were missing (values no transform fits) */
  skipped: string | null;
  /** the on-the-fly transform used ('none': the values as stored) */
  transform: string | null;
  results: BaselineGridResult[];
}

/** LR runs that will never give a result: not counted as existing (an interrupted one left no summary). */
const DEAD = new Set(['failed', 'cancelled', 'interrupted']);

/**
 * Whether a queued fine-tune item runs its LR baseline beside it. Items of a paper preset do not: the preset is the
 * published grid, with its own LR seeds and fractions (Table 1: LR seeds 0..9 beside fine-tune seeds 1000..4042)
 * or none at all (Table 2 compares against the full model), and LR runs added for the fine-tune seeds would change
 * the LR row's n, its CI and the tests against it. Hand-made grids ('' or 'custom') carry their LR as Run Fine-tune does.
 */
export function queuedFinetuneRunsLr(preset: string | undefined): boolean {
  return !PRESETS.some(p => p.id === preset);
}

/** An LR run that will run but has no record yet (a queued baseline item): its file path, split, fraction and seed. */
export interface PendingLr {
  datasetPath: string;
  split: RunSplit;
  fraction: number;
  seed: number;
}

/**
 * The (fraction, seed) pairs of `finetunes` without an LR run (not failed or cancelled) on the same file and split,
 * and without a `pending` one (same file path, split, fraction and seed).
 */
export function missingLrPairs(finetunes: readonly RunRecord[], all: readonly RunRecord[], pending: readonly PendingLr[] = []): { fraction: number; seed: number }[] {
  const have = new Set<string>();
  for (const r of all) {
    if (r.kind !== 'baseline' || r.model.family !== 'LR' || DEAD.has(r.status)) continue;
    have.add(`${r.dataset.sha256}|${splitKey(r.split)}|${r.fraction}|${r.seed}`);
  }
  const queued = new Set(pending.map(p => `${path.resolve(p.datasetPath)}|${splitKey(p.split)}|${p.fraction}|${p.seed}`));
  const out = new Map<string, { fraction: number; seed: number }>();
  for (const f of finetunes) {
    const key = `${f.dataset.sha256}|${splitKey(f.split)}|${f.fraction}|${f.seed}`;
    if (have.has(key) || queued.has(`${path.resolve(f.dataset.path)}|${splitKey(f.split)}|${f.fraction}|${f.seed}`)) continue;
    out.set(key, { fraction: f.fraction, seed: f.seed });
  }
  return [...out.values()];
}

/** Missing pairs as few grids as possible: fractions that miss the same seeds run as one grid. */
export function lrGrids(pairs: readonly { fraction: number; seed: number }[]): { fractions: number[]; seeds: number[] }[] {
  const seedsOf = new Map<number, number[]>();
  for (const p of pairs) seedsOf.set(p.fraction, [...(seedsOf.get(p.fraction) ?? []), p.seed]);
  const grids = new Map<string, { fractions: number[]; seeds: number[] }>();
  for (const [fraction, seeds] of seedsOf) {
    const key = seeds.join(',');
    const g = grids.get(key);
    if (g) g.fractions.push(fraction);
    else grids.set(key, { fractions: [fraction], seeds });
  }
  return [...grids.values()];
}

export interface LrBaselineOptions {
  /** runs one grid; default runBaselinesInWorker */
  run?: (input: BaselineGridInput) => Promise<BaselineGridResult>;
  onProgress?: (fraction: number, message?: string) => void;
  signal?: AbortSignal;
  /** LR runs queued but not started (the queue's baseline items): not run again here */
  pending?: readonly PendingLr[];
}

/** Runs the missing LR baselines of a prepared fine-tune grid (see the file comment). */
export async function ensureLrBaselines(plan: FinetuneGridPlan, opts: LrBaselineOptions = {}): Promise<LrBaselineOutcome> {
  const store = new RunStore(plan.storeRoot);
  const all = await store.list();
  const ids = new Set(plan.runs.map(r => r.id));
  const finetunes = all.filter(r => ids.has(r.id));
  const missing = missingLrPairs(finetunes, all, opts.pending);
  const outcome: LrBaselineOutcome = { reused: new Set(finetunes.map(f => `${f.fraction}|${f.seed}`)).size - missing.length, ran: 0, skipped: null, transform: null, results: [] };
  if (missing.length === 0 || finetunes.length === 0) return outcome;
  const first = finetunes[0];
  // the value scan reads up to 2,000 cells of the file: in a worker thread (the extension host calls this)
  let decision = await runTask<BaselineValueDecision>('preflight/tasks', 'baselineValues', { path: first.dataset.path }, { signal: opts.signal });
  if (!decision.ok && decision.advice.transform) {
    decision = decideBaselineValues(decision.advice.scale, first.dataset.path, { kind: 'transform', transform: decision.advice.transform });
  }
  if (!decision.ok) {
    outcome.skipped = `no LR baseline run: ${decision.problem}`;
    return outcome;
  }
  outcome.transform = decision.valueTransform;
  const run = opts.run ?? ((input: BaselineGridInput) => runBaselinesInWorker(input, { onProgress: opts.onProgress, signal: opts.signal }));
  for (const g of lrGrids(missing)) {
    const res = await run({
      datasetPath: first.dataset.path, labelColumn: first.labelColumn, split: first.split, model: PUBLISHED_LR,
      fractions: g.fractions, seeds: g.seeds, stratifiedFewShot: first.stratifiedFewShot, experiment: plan.experiment,
      storeRoot: plan.storeRoot, publishedDataset: first.publishedDataset, valueTransform: decision.valueTransform, valueCheck: decision.valueCheck,
    });
    outcome.results.push(res);
    outcome.ran += res.runs.length;
  }
  return outcome;
}

/** One line for a log, the CLI's stderr or a notification. */
export function lrBaselineSummary(o: LrBaselineOutcome, dataset: string): string {
  if (o.skipped) return o.skipped;
  const parts: string[] = [];
  if (o.ran) parts.push(`ran ${o.ran} LR baseline run${o.ran === 1 ? '' : 's'} (L1, C=0.1${o.transform && o.transform !== 'none' ? `, ${o.transform} on the fly` : ''}) on ${path.basename(dataset)}`);
  if (o.reused) parts.push(`reused ${o.reused} existing LR baseline run${o.reused === 1 ? '' : 's'} with the same file, split, fraction and seed`);
  return parts.length ? `${parts.join('; ')}` : 'no LR baseline needed';
}
