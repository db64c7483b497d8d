/**
 * After the worker: a fine-tune or probe run the worker completed has predictions.csv but no metrics (a pre-training
 * run has encoder.pt instead, which is checked). Its metrics are computed
 * here exactly as the baseline computes its own (src/core/runs/run-metrics.ts), so both kinds share one results
 * table. Finalizing is idempotent and may happen long after the run ended (a run that finished while VS Code was
 * closed is finalized when the workspace is next opened, or by `scwb results`).
 */
import * as fs from 'fs';
import { settle } from '../runs/baseline';
import { runMetricsOf } from '../runs/run-metrics';
import { FINAL_STATUSES, PerturbationSummarySchema, RunFileError, type RunRecord } from '../runs/schema';
import { PREDICTIONS_FILE, RunStore } from '../runs/store';
import { WORKER_EXIT } from './invocation';

function fail(store: RunStore, id: string, message: string): Promise<void> {
  return store.update(id, { status: 'failed', error: message, endedAt: new Date().toISOString(), summary: null })
    .then(async () => {
      await store.appendEvent(id, { type: 'status', status: 'failed', message });
      await store.appendLog(id, `failed: ${message}`);
    });
}

/** The scores a perturbation-prediction probe writes (docs/worker-benchmark.md). */
export const PERTURBATION_FILE = 'perturbation.json';

/** A completed perturbation-prediction run: its perturbation.json scores into run.json, or the run fails naming the file. */
async function finalizePerturbation(store: RunStore, record: RunRecord): Promise<RunRecord> {
  if (record.perturbation) return record;
  const file = store.file(record.id, PERTURBATION_FILE);
  try {
    let text: string;
    try {
      text = await fs.promises.readFile(file, 'utf8');
    } catch {
      throw new RunFileError(file, 'missing: the worker reported the run completed but wrote no perturbation scores');
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new RunFileError(file, `not JSON: ${(e as Error).message}`);
    }
    const res = PerturbationSummarySchema.safeParse(parsed);
    if (!res.success) throw new RunFileError(file, `not the scores of a perturbation run: ${res.error.issues.map(i => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    await store.appendLog(record.id, `perturbation scores from ${PERTURBATION_FILE}: test MSE ${res.data.mse.toFixed(5)} (no shift ${res.data.mseNoShift.toFixed(5)}, control shift ${res.data.mseControlShift.toFixed(5)})`);
    return await store.update(record.id, { perturbation: res.data });
  } catch (e) {
    await fail(store, record.id, e instanceof Error ? e.message : String(e));
    return store.get(record.id);
  }
}

/** Run kinds the training worker executes (and this module finalizes). */
export const WORKER_KINDS: readonly RunRecord['kind'][] = ['finetune', 'pretrain', 'probe'];

/** The file a completed pre-training run leaves (docs/worker-benchmark.md). */
export const ENCODER_FILE = 'encoder.pt';

/**
 * Writes metrics.json, the run's summary and metric events for a completed fine-tune or probe run that has none
 * yet; a missing or malformed predictions.csv fails the run with a message naming the file. A completed pre-training
 * run without encoder.pt fails likewise. Other runs come back as read.
 */
export async function finalizeFinetuneRun(store: RunStore, id: string): Promise<RunRecord> {
  const record = await store.get(id);
  if (record.kind === 'pretrain' && record.status === 'completed') {
    const encoder = store.file(id, ENCODER_FILE);
    const st = await fs.promises.lstat(encoder).catch(() => null);
    if (st?.isFile()) return record;
    await fail(store, id, `${encoder}: missing: the worker reported the pre-training completed but wrote no encoder`);
    return store.get(id);
  }
  if ((record.kind !== 'finetune' && record.kind !== 'probe') || record.status !== 'completed') return record;
  if (record.kind === 'probe' && (record.parameters.probe as { method?: string } | undefined)?.method === 'perturbation') {
    return finalizePerturbation(store, record);
  }
  const existing = await store.readMetrics(id).catch(() => null);
  if (existing && record.summary) return record;
  const file = store.file(id, PREDICTIONS_FILE);
  try {
    const rows = await store.readPredictions(id);
    if (rows === null) throw new RunFileError(file, 'missing: the worker reported the run completed but wrote no predictions');
    const split = await store.readSplit(id);
    if (split && rows.length !== split.test.length) {
      throw new RunFileError(file, `${rows.length} rows, but split.json has ${split.test.length} test cells`);
    }
    if (split) {
      const want = new Set(split.test);
      const stray = rows.find(r => !want.has(r.index));
      if (stray) throw new RunFileError(file, `row for index ${stray.index}, which is not a test cell of split.json`);
    }
    const metrics = existing ?? await (async () => {
      const m = runMetricsOf(rows.map(r => r.trueLabel), rows.map(r => r.predictedLabel));
      for (const [name, value] of [['accuracy', m.accuracy], ['macroF1', m.macroF1], ['weightedF1', m.weightedF1]] as const) {
        await store.appendEvent(id, { type: 'metric', name, value });
      }
      return store.writeMetrics(id, m);
    })();
    await store.appendLog(id, `metrics from ${PREDICTIONS_FILE}: accuracy ${metrics.accuracy.toFixed(4)}, macro F1 ${metrics.macroF1.toFixed(4)} on ${metrics.nTest} test cells`);
    return await store.update(id, {
      summary: {
        accuracy: metrics.accuracy, macroF1: metrics.macroF1, weightedF1: metrics.weightedF1,
        nTrain: split?.train.length ?? 0, nTest: metrics.nTest,
      },
    });
  } catch (e) {
    await fail(store, id, e instanceof Error ? e.message : String(e));
    return store.get(id);
  }
}

export interface FinalizeOptions {
  /** only these runs (default: every fine-tune, pre-training and probe run of the store) */
  ids?: readonly string[];
  /**
   * The worker process of these runs has exited with this status: runs it never started (still queued) become
   * cancelled (exit 130) or failed, so no run waits forever for a process that is gone.
   */
  workerExitCode?: number | null;
}

/** Finalizes the worker's runs (see finalizeFinetuneRun); a run that cannot be read is skipped. */
export async function finalizeFinetuneRuns(store: RunStore, opts: FinalizeOptions = {}): Promise<RunRecord[]> {
  const ids = opts.ids ?? (await store.list()).filter(r => WORKER_KINDS.includes(r.kind)).map(r => r.id);
  const out: RunRecord[] = [];
  for (const id of ids) {
    let record: RunRecord;
    try {
      record = await finalizeFinetuneRun(store, id);
    } catch {
      continue;
    }
    if (opts.workerExitCode !== undefined && WORKER_KINDS.includes(record.kind) && !FINAL_STATUSES.includes(record.status)) {
      const code = opts.workerExitCode;
      // 130, or killed by SIGINT/SIGTERM (128 + 2 / 15) before its own handler was up: a stop, not a failure
      const cancelled = code === WORKER_EXIT.cancelled || code === 128 + 2 || code === 128 + 15;
      // A 'running' run of a worker that has exited is the store's to judge (owner gone -> interrupted).
      if (record.status === 'queued') {
        await settle(store, id, cancelled ? 'cancelled' : 'failed',
          cancelled ? null : `the training worker exited (status ${code ?? 'unknown'}) before it started this run; see the task's terminal`);
      }
      record = await store.get(id);
    }
    out.push(record);
  }
  return out;
}
