/**
 * The queue's GPU runner for fine-tune items: prepares the item's run folder (prepareFinetuneInWorker, as Run
 * Fine-tune does) and launches it through the scwb-finetune Task with CUDA_VISIBLE_DEVICES set to the slot's GPU
 * (on the cpu slot: `--device cpu`). Cancel terminates the task (the worker ends the run as cancelled). After a
 * window reload a worker that still runs is followed through its run.json and stopped with SIGTERM.
 */
import * as vscode from 'vscode';
import { finalizeFinetuneRuns } from '../../core/finetune/finalize';
import { prepareFinetuneInWorker, type FinetuneGridInput } from '../../core/finetune/prepare';
import { outcomeOfRuns, type ItemOutcome, type QueueRunner, type RunHandle } from '../../core/queue/executor';
import { runSplitOf } from '../../core/queue/runners';
import { FINAL_STATUSES } from '../../core/runs/schema';
import type { RunStore } from '../../core/runs/store';
import { CancelledError } from '../../core/workers/task';
import { FINETUNE_TASK_TYPE, type FinetuneTaskOutcome, type FinetuneTasks } from '../tasks';

export function finetuneRunner(runStore: RunStore, tasks: FinetuneTasks): QueueRunner {
  return {
    async start(item, ctx) {
      const spec = item.spec;
      if (spec.kind !== 'finetune') throw new Error(`not a fine-tune item: ${spec.kind}`);
      const device = spec.device === 'auto' ? (ctx.slot.cudaDevice === null ? 'cpu' : 'cuda') : spec.device;
      const split = runSplitOf(spec.split, item.label);
      const input: FinetuneGridInput = {
        datasetPath: spec.datasetPath, labelColumn: spec.labelColumn,
        ...(split.kind === 'reference-query' ? { queryPath: split.queryPath } : { split }),
        model: spec.model, checkpoint: spec.checkpoint, ablation: spec.ablation, fractions: [spec.fraction], seeds: [spec.seed],
        stratifiedFewShot: spec.stratifiedFewShot, epochs: spec.epochs, batchSize: spec.batchSize, lr: spec.lr, amp: spec.amp,
        maxSeqLen: spec.maxSeqLen, logEvery: spec.logEvery, config: spec.config ?? null, device, experiment: spec.experiment,
        storeRoot: runStore.root, publishedDataset: spec.publishedDataset,
      };
      const abort = new AbortController();
      let cancelled = false;
      let execution: vscode.TaskExecution | undefined;
      const name = `Queue ${item.id.slice(1, 9)}: ${item.label}`;
      let resolveDone!: (o: ItemOutcome) => void;
      const done = new Promise<ItemOutcome>(resolve => { resolveDone = resolve; });
      const handle: RunHandle = {
        done,
        cancel: () => {
          cancelled = true;
          abort.abort();
          execution?.terminate();
        },
      };
      void (async () => {
        let runDirs: string[];
        try {
          const plan = await prepareFinetuneInWorker(input, { signal: abort.signal });
          runDirs = plan.runs.map(r => r.runDir);
          await ctx.setRunIds(plan.runs.map(r => r.id));
        } catch (e) {
          resolveDone(e instanceof CancelledError || cancelled ? { status: 'cancelled', error: null } : { status: 'failed', error: (e as Error).message });
          return;
        }
        const ended = new Promise<FinetuneTaskOutcome>(resolve => {
          const sub = tasks.onDidFinish(o => { if (o.name === name) { sub.dispose(); resolve(o); } });
        });
        try {
          execution = await tasks.execute({
            type: FINETUNE_TASK_TYPE, runDirs, device, queued: true,
            ...(ctx.slot.cudaDevice !== null ? { cudaVisibleDevices: ctx.slot.cudaDevice } : {}),
          }, vscode.workspace.workspaceFolders?.[0], name);
          if (cancelled) execution.terminate();
        } catch (e) {
          resolveDone({ status: 'failed', error: `could not start the fine-tune task: ${(e as Error).message}` });
          return;
        }
        const outcome = await ended;
        resolveDone(outcomeOfRuns(outcome.runs));
      })();
      return handle;
    },

    reattach(_item, runs) {
      const live = runs.filter(r => !FINAL_STATUSES.includes(r.status));
      if (!live.length) return null;
      const ids = runs.map(r => r.id);
      let stop = false;
      const done = (async (): Promise<ItemOutcome> => {
        for (;;) {
          await new Promise(res => setTimeout(res, 2000));
          const now = await Promise.all(ids.map(id => runStore.get(id).catch(() => null)));
          if (now.every(r => r && FINAL_STATUSES.includes(r.status))) break;
          if (stop) {
            for (const r of now) if (r?.owner && !FINAL_STATUSES.includes(r.status)) try { process.kill(r.owner.pid, 'SIGTERM'); } catch { /* gone */ }
          }
        }
        const records = await finalizeFinetuneRuns(runStore, { ids });
        return outcomeOfRuns(records);
      })();
      return { done, cancel: () => { stop = true; } };
    },
  };
}
