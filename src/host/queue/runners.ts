/**
 * The queue's GPU runners. Fine-tune items: prepares the item's run folder (prepareFinetuneInWorker, as Run
 * Fine-tune does) and launches it through the scwb-finetune Task with CUDA_VISIBLE_DEVICES set to the slot's GPU
 * (on the cpu slot: `--device cpu`). Cancel terminates the task (the worker ends the run as cancelled). After a
 * window reload a worker that still runs is followed through its run.json and stopped with SIGTERM.
 * Probe items (docs/worker-benchmark.md) go the same way: prepareProbeInWorker for the item's one trial and method (with the
 * raw-expression LR of that trial beside the linear probe), then the worker's `probe` sub-command.
 */
import * as vscode from 'vscode';
import { prepareProbeInWorker, type ProbeInput } from '../../core/benchmark/prepare';
import { finalizeFinetuneRuns } from '../../core/finetune/finalize';
import { ensureLrBaselines, queuedFinetuneRunsLr, type PendingLr } from '../../core/finetune/lr-baseline';
import { prepareFinetuneInWorker, type FinetuneGridInput, type FinetuneGridPlan } from '../../core/finetune/prepare';
import { protocolChoicesOf } from '../../core/protocols/choices';
import { outcomeOfRuns, type ItemOutcome, type QueueRunner, type RunHandle } from '../../core/queue/executor';
import type { QueueItem } from '../../core/queue/schema';
import type { WorkerRunCommand } from '../../core/finetune/invocation';
import { runSplitOf } from '../../core/queue/runners';
import { FINAL_STATUSES } from '../../core/runs/schema';
import type { RunStore } from '../../core/runs/store';
import { CancelledError } from '../../core/workers/task';
import { FINETUNE_TASK_TYPE, type FinetuneTaskOutcome, type FinetuneTasks } from '../tasks';

type Device = 'cpu' | 'cuda';
/** What a GPU item needs: its worker sub-command and how to prepare its run folders (in a worker thread). */
interface GpuItemPlan {
  command: WorkerRunCommand;
  /**
   * the runs the worker runs, runs made beside them (a probe's raw-expression LR, already finished), and runs that
   * run alongside in a worker thread (a fine-tune's LR baseline): their ids once they end, never a rejection
   */
  prepare(signal: AbortSignal): Promise<{ runs: { id: string; runDir: string }[]; beside?: string[]; alongside?: Promise<string[]> }>;
}

export interface FinetuneRunnerOptions {
  /** LR baselines queued but not started: the fine-tune's own LR baseline does not run them again */
  pendingLr?: () => Promise<PendingLr[]>;
}

export function finetuneRunner(runStore: RunStore, tasks: FinetuneTasks, opts: FinetuneRunnerOptions = {}): QueueRunner {
  return gpuRunner(runStore, tasks, (item, device) => {
    const spec = item.spec;
    if (spec.kind !== 'finetune') throw new Error(`not a fine-tune item: ${spec.kind}`);
    const split = runSplitOf(spec.split, item.label);
    const input: FinetuneGridInput = {
      datasetPath: spec.datasetPath, labelColumn: spec.labelColumn,
      ...(split.kind === 'reference-query' ? { queryPath: split.queryPath } : { split }),
      model: spec.model, checkpoint: spec.checkpoint, ablation: spec.ablation, fractions: [spec.fraction], seeds: [spec.seed],
      stratifiedFewShot: spec.stratifiedFewShot, epochs: spec.epochs, batchSize: spec.batchSize, lr: spec.lr, amp: spec.amp,
      maxSeqLen: spec.maxSeqLen, logEvery: spec.logEvery, config: spec.config ?? null, device: spec.device === 'auto' ? device : spec.device,
      experiment: spec.experiment, storeRoot: runStore.root, publishedDataset: spec.publishedDataset,
      protocol: protocolChoicesOf(spec), fewShotRun: spec.fewShotRun, preset: item.preset,
    };
    return {
      command: 'finetune',
      prepare: async signal => {
        const plan = await prepareFinetuneInWorker(input, { signal });
        return { runs: plan.runs, ...(queuedFinetuneRunsLr(item.preset) ? { alongside: lrBeside(plan, item, signal, opts) } : {}) };
      },
    };
  });
}

/**
 * A queued fine-tune of a hand-made grid carries its LR baseline as Run Fine-tune does (core/finetune/lr-baseline.ts):
 * the published LR on the same file, split, fraction and seed unless one exists or is queued (paper presets carry
 * the published LR grid instead: queuedFinetuneRunsLr). It runs in a worker thread beside the
 * fine-tune; a failure is reported and never fails the fine-tune's item.
 */
async function lrBeside(plan: FinetuneGridPlan, item: QueueItem, signal: AbortSignal, opts: FinetuneRunnerOptions): Promise<string[]> {
  try {
    const pending = opts.pendingLr ? await opts.pendingLr() : [];
    const outcome = await ensureLrBaselines(plan, { signal, pending });
    if (outcome.skipped) void vscode.window.showWarningMessage(`${item.label}: ${outcome.skipped}`);
    return outcome.results.flatMap(r => r.runs.map(x => x.id));
  } catch (e) {
    if (!(e instanceof CancelledError)) void vscode.window.showWarningMessage(`${item.label}: the LR baseline beside the fine-tune failed: ${(e as Error).message}`);
    return [];
  }
}

/** Probe items: one trial (the item's seed) of one method; the linear probe's item also fits the trial's raw-expression LR. */
export function probeRunner(runStore: RunStore, tasks: FinetuneTasks): QueueRunner {
  return gpuRunner(runStore, tasks, (item, device) => {
    const spec = item.spec;
    if (spec.kind !== 'probe') throw new Error(`not a probe item: ${spec.kind}`);
    if (spec.split.kind === 'reference-query') throw new Error(`${item.label}: probes split one dataset (random or stratified), not reference/query files`);
    const p = spec.probe;
    if (p.method === 'perturbation') throw new Error(`${item.label}: the queue runs classification probes; run perturbation prediction with Probe Encoder… or scwb probe --task perturbation-prediction`);
    const input: ProbeInput = {
      datasetPath: spec.datasetPath, labelColumn: spec.labelColumn, encoder: p.encoder, methods: [p.method],
      protocol: spec.split.kind === 'random' ? 'published' : 'seeded', seeds: [spec.seed], seedsDrawn: true, testSize: spec.split.testSize,
      pooling: p.pooling, geneSampling: p.geneSampling, k: p.k, epochs: p.epochs, lr: p.lr, batchSize: p.batchSize, evalEvery: p.evalEvery, select: p.select,
      valueLayer: p.valueLayer, device: p.device === 'auto' ? device : p.device, baseline: p.method === 'linear',
      ...(p.writeEmbeddings ? { writeEmbeddings: true } : {}), experiment: spec.experiment, storeRoot: runStore.root,
    };
    return {
      command: 'probe',
      prepare: async signal => {
        const plan = await prepareProbeInWorker(input, { signal });
        return { runs: plan.runs, beside: plan.baselineRunIds };
      },
    };
  });
}

function gpuRunner(runStore: RunStore, tasks: FinetuneTasks, planOf: (item: QueueItem, device: Device) => GpuItemPlan): QueueRunner {
  return {
    async start(item, ctx) {
      const device: Device = ctx.slot.cudaDevice === null ? 'cpu' : 'cuda';
      const plan = planOf(item, device);
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
        let ids: string[];
        let alongside: Promise<string[]> | undefined;
        try {
          const prepared = await plan.prepare(abort.signal);
          runDirs = prepared.runs.map(r => r.runDir);
          ids = [...prepared.runs.map(r => r.id), ...prepared.beside ?? []];
          alongside = prepared.alongside;
          await ctx.setRunIds(ids);
        } catch (e) {
          resolveDone(e instanceof CancelledError || cancelled ? { status: 'cancelled', error: null } : { status: 'failed', error: (e as Error).message });
          return;
        }
        const ended = new Promise<FinetuneTaskOutcome>(resolve => {
          const sub = tasks.onDidFinish(o => { if (o.name === name) { sub.dispose(); resolve(o); } });
        });
        try {
          execution = await tasks.execute({
            type: FINETUNE_TASK_TYPE, runDirs, device, queued: true, ...(plan.command !== 'finetune' ? { command: plan.command } : {}),
            ...(ctx.slot.cudaDevice !== null ? { cudaVisibleDevices: ctx.slot.cudaDevice } : {}),
          }, vscode.workspace.workspaceFolders?.[0], name);
          if (cancelled) execution.terminate();
        } catch (e) {
          resolveDone({ status: 'failed', error: `could not start the ${plan.command} task: ${(e as Error).message}` });
          return;
        }
        const outcome = await ended;
        if (alongside) {
          const more = await alongside;
          if (more.length) await ctx.setRunIds([...ids, ...more]);
        }
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
