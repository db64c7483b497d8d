/**
 * Comparisons only where they are valid: a row is compared with the LR baseline only at the same dataset, split and
 * fraction, and a fine-tune experiment carries its LR baseline. A fine-tune experiment without LR runs of its own
 * on the same dataset file, split, fraction and seed borrows them (read only) from the experiment where they ran:
 * LR is cheap and deterministic, so the same (file, split, fraction, seed) gives the same numbers.
 */
import * as path from 'path';
import type { RunRecord, RunSplit } from '../runs/schema';

/** A split as text, equal for equal splits: "stratified 0.2 seed 2022", "reference-query query.h5ad", … */
export function splitKey(split: RunSplit): string {
  switch (split.kind) {
    case 'reference-query': return `reference-query ${path.resolve(split.queryPath)}`;
    case 'group': return `group ${split.column} ${split.testSize} seed ${split.seed}`;
    default: return `${split.kind} ${split.testSize} seed ${split.seed}`;
  }
}

/** The short text of a split for tables: "stratified 0.2 (seed 2022)", "query q.h5ad". */
export function splitLabel(split: RunSplit): string {
  switch (split.kind) {
    case 'reference-query': return `query ${path.basename(split.queryPath)}`;
    case 'group': return `by ${split.column} ${split.testSize} (seed ${split.seed})`;
    default: return `${split.kind} ${split.testSize} (seed ${split.seed})`;
  }
}

/** Every run draws its own split with its own seed (probes and their LR baselines: one split per trial). */
export function splitsPerTrial(runs: readonly RunRecord[]): boolean {
  return runs.length > 0 && runs.every(r => r.split.kind !== 'reference-query' && r.split.seed === r.seed);
}

/**
 * The split a run's row is grouped by. In an experiment whose runs each draw their split with their own seed
 * (splitsPerTrial), the trials are the replicates and their splits one split of the experiment; otherwise the
 * split itself (splitKey).
 */
export function runSplitKey(r: RunRecord, perTrial: boolean): string {
  const s = r.split;
  if (perTrial && s.kind !== 'reference-query') return s.kind === 'group' ? `group ${s.column} ${s.testSize} seed per trial` : `${s.kind} ${s.testSize} seed per trial`;
  return splitKey(s);
}

/** The text of runSplitKey for tables. */
export function runSplitLabel(r: RunRecord, perTrial: boolean): string {
  const s = r.split;
  if (perTrial && s.kind !== 'reference-query') return s.kind === 'group' ? `by ${s.column} ${s.testSize} (seed per trial)` : `${s.kind} ${s.testSize} (seed per trial)`;
  return splitLabel(s);
}

const isLr = (r: RunRecord) => r.kind === 'baseline' && r.model.family === 'LR';

/**
 * The LR baseline runs an experiment borrows: for each (dataset, split, fraction, seed) of its fine-tune runs that
 * has no LR run in the experiment, the completed LR runs of other experiments with the same file, split, fraction
 * and seed (all LR settings found; newest experiment first when several hold one). Each comes back as a copy whose
 * `experiment` is `experiment` and whose note names where it ran.
 */
export function borrowedBaselines(experiment: string, own: readonly RunRecord[], all: readonly RunRecord[]): RunRecord[] {
  const finetunes = own.filter(r => r.kind === 'finetune' && r.status === 'completed' && r.summary);
  if (finetunes.length === 0) return [];
  const key = (r: RunRecord) => `${r.dataset.sha256}|${splitKey(r.split)}|${r.fraction}|${r.seed}`;
  const ownLr = new Set(own.filter(isLr).map(r => `${splitKey(r.split)}|${r.fraction}`));
  const wanted = new Map<string, RunRecord>();
  for (const f of finetunes) if (!ownLr.has(`${splitKey(f.split)}|${f.fraction}`)) wanted.set(key(f), f);
  if (wanted.size === 0) return [];
  const out: RunRecord[] = [];
  const taken = new Set<string>();
  const candidates = all.filter(r => r.experiment !== experiment && isLr(r) && r.status === 'completed' && r.summary)
    .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
  for (const r of candidates) {
    // the same file is the same bytes (sha256): an LR run on an earlier version of a file at the same path is not it
    const f = wanted.get(key(r));
    if (!f) continue;
    const one = `${key(f)}|${r.model.label}`;
    if (taken.has(one)) continue;
    taken.add(one);
    out.push({ ...r, experiment, dataset: { ...r.dataset, path: f.dataset.path }, note: `LR baseline reused from experiment "${r.experiment}"` });
  }
  return out;
}
