/**
 * The queue's CPU runner: an LR baseline item runs through the existing baseline runner (runBaselinesInWorker: a
 * worker thread, so the extension host stays responsive), one (fraction, seed) run per item.
 */
import * as crypto from 'crypto';
import { runBaselinesInWorker, type BaselineGridInput } from '../runs/baseline';
import type { RunSplit } from '../runs/schema';
import type { RunStore } from '../runs/store';
import { CancelledError } from '../workers/task';
import { outcomeOfRuns, type QueueRunner } from './executor';
import type { QueueSplit } from './schema';

/** The run store's split for a queue split (the benchmark's random split is for probes only). */
export function runSplitOf(split: QueueSplit, what: string): RunSplit {
  if (split.kind === 'random') throw new Error(`${what}: the unstratified random split is the probe protocol's; use a stratified or reference/query split`);
  return split;
}

export function baselineRunner(runStore: RunStore, opts: { threads?: number } = {}): QueueRunner {
  return {
    async start(item, ctx) {
      const spec = item.spec;
      if (spec.kind !== 'baseline') throw new Error(`not a baseline item: ${spec.kind}`);
      const input: BaselineGridInput = {
        datasetPath: spec.datasetPath, labelColumn: spec.labelColumn, split: runSplitOf(spec.split, item.label), model: spec.model,
        fractions: [spec.fraction], seeds: [spec.seed], stratifiedFewShot: spec.stratifiedFewShot, experiment: spec.experiment,
        storeRoot: runStore.root, publishedDataset: spec.publishedDataset, batch: crypto.randomBytes(6).toString('hex'), threads: opts.threads,
      };
      const abort = new AbortController();
      const done = runBaselinesInWorker(input, { signal: abort.signal }).then(
        async result => {
          const ids = result.runs.map(r => r.id);
          await ctx.setRunIds(ids);
          const records = await Promise.all(ids.map(id => runStore.get(id)));
          return outcomeOfRuns(records);
        },
        e => (e instanceof CancelledError ? { status: 'cancelled' as const, error: null } : { status: 'failed' as const, error: (e as Error).message }),
      );
      return { done, cancel: () => abort.abort() };
    },
  };
}
