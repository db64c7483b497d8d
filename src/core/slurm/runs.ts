/**
 * Runs on Slurm: submit a prepared worker run as a batch job, follow the job, cancel it. The worker still writes
 * run.json, events and predictions on the cluster node (the run folder is on a shared filesystem); the job's
 * state is written into run.json only when the worker cannot say it: while the job waits (the run stays queued),
 * and when the job ended without the worker recording an end (failed before it started, killed, out of time or
 * memory, cancelled while pending).
 */
import * as path from 'path';
import { settle } from '../runs/baseline';
import { finalizeFinetuneRun } from '../finetune/finalize';
import { workerInvocation } from '../finetune/invocation';
import { FINAL_STATUSES, type RunRecord } from '../runs/schema';
import type { RunStore } from '../runs/store';
import { SlurmClient, isFinalSlurmState, slurmRunStatus, type SlurmJobState } from './client';
import { slurmOutputFile, slurmWorld, writeSbatchScript, type SlurmJobOptions } from './script';

export interface SubmitRunOptions {
  /** the Python interpreter on the cluster nodes */
  python: string;
  options: SlurmJobOptions;
  client: SlurmClient;
  /** continue the run from its last checkpoint */
  resume?: boolean;
  device?: 'auto' | 'cpu' | 'cuda';
}

/** Writes the run's sbatch script, submits it and records the job in run.json. */
export async function submitRunToSlurm(store: RunStore, id: string, opts: SubmitRunOptions): Promise<RunRecord> {
  const record = await store.get(id);
  if (record.kind !== 'finetune') throw new Error(`run ${id} is a ${record.kind} run; only worker runs (fine-tune) go to Slurm`);
  if (opts.resume ? !['cancelled', 'failed', 'interrupted'].includes(record.status) : record.status !== 'queued') {
    throw new Error(`run ${id} is ${record.status}; ${opts.resume ? 'only a cancelled, failed or interrupted run resumes' : 'only a queued run can be submitted'}`);
  }
  if (record.slurm?.state && !isFinalSlurmState(record.slurm.state)) {
    throw new Error(`run ${id} already has Slurm job ${record.slurm.jobId} (${record.slurm.state})`);
  }
  const runDir = store.runDir(id);
  const { world } = slurmWorld(opts.options);
  const invocation = workerInvocation({ python: opts.python, runDirs: [runDir], resume: opts.resume, nproc: world, device: opts.device, cwd: runDir });
  const script = await writeSbatchScript({
    invocation, runDir, options: { jobName: `scwb-${id}`, ...opts.options }, title: `run ${id}${record.name ? `: ${record.name}` : ''}`,
  });
  const { jobId, cluster } = await opts.client.submit(script, runDir);
  const submittedAt = new Date().toISOString();
  const updated = await store.update(id, r => ({
    slurm: { jobId, ...(cluster ? { cluster } : {}), submittedAt, script, state: 'PENDING' },
    // a resumed run waits in the queue again
    ...(opts.resume && FINAL_STATUSES.includes(r.status) ? { status: 'queued' as const, error: null, endedAt: null, owner: null } : {}),
  }));
  await store.appendLog(id, `submitted to Slurm as job ${jobId}${cluster ? ` on cluster ${cluster}` : ''} (${path.basename(script)}; output in ${slurmOutputFile(jobId)})`);
  return updated;
}

export interface SlurmRunView {
  record: RunRecord;
  job: SlurmJobState;
}

/**
 * Asks Slurm for the run's job and records what it says: the job state in run.json's `slurm`, and, when the job
 * is over but the worker left the run queued or running, the run's end (cancelled, or failed naming the state,
 * exit code and log). A completed fine-tune run is finalized (metrics from predictions.csv).
 */
export async function refreshSlurmRun(store: RunStore, id: string, client: SlurmClient): Promise<SlurmRunView> {
  let record = await store.get(id);
  const ref = record.slurm;
  if (!ref) throw new Error(`run ${id} was not submitted to Slurm`);
  const job = await client.state(ref.jobId);
  if (!job.state) return { record, job };
  if (job.state !== ref.state || (job.exitCode ?? undefined) !== ref.exitCode) {
    record = await store.update(id, r => ({
      slurm: { ...(r.slurm ?? ref), state: job.state!, ...(job.exitCode ? { exitCode: job.exitCode } : {}) },
    }));
  }
  if (isFinalSlurmState(job.state)) {
    if (!FINAL_STATUSES.includes(record.status)) {
      const slurmStatus = slurmRunStatus(job.state);
      const log = slurmOutputFile(ref.jobId);
      if (slurmStatus === 'cancelled') {
        await settle(store, id, 'cancelled', null);
        await store.appendLog(id, `Slurm job ${ref.jobId} was cancelled${record.status === 'queued' ? ' before the worker started' : ''}`);
      } else {
        const how = job.state === 'COMPLETED' ? 'ended' : `ended ${job.state}`;
        await settle(store, id, 'failed',
          `Slurm job ${ref.jobId} ${how}${job.exitCode ? ` (exit code ${job.exitCode})` : ''} without the worker recording the end of the run; see ${log} in the run folder`);
      }
    }
    record = record.kind === 'finetune' ? await finalizeFinetuneRun(store, id) : await store.get(id);
  }
  return { record, job };
}

/** scancel of the run's job; the worker (when it runs) checkpoints and marks the run cancelled, else refresh does. */
export async function cancelSlurmRun(store: RunStore, id: string, client: SlurmClient): Promise<SlurmRunView> {
  const record = await store.get(id);
  if (!record.slurm) throw new Error(`run ${id} was not submitted to Slurm`);
  await client.cancel(record.slurm.jobId);
  await store.appendLog(id, `scancel ${record.slurm.jobId}`);
  return refreshSlurmRun(store, id, client);
}

/** Refreshes until Slurm is done with the job and the run has ended (tests and `scwb slurm status --wait`). */
export async function waitForSlurmRun(store: RunStore, id: string, client: SlurmClient, opts: { intervalMs?: number; onState?: (v: SlurmRunView) => void } = {}): Promise<SlurmRunView> {
  let unknown = 0;
  for (;;) {
    const view = await refreshSlurmRun(store, id, client);
    opts.onState?.(view);
    if (view.job.state && isFinalSlurmState(view.job.state) && FINAL_STATUSES.includes(view.record.status)) return view;
    unknown = view.job.state ? 0 : unknown + 1;
    // Slurm forgot the job (no accounting) and the run says nothing more: nothing left to wait for
    if (!view.job.state && (FINAL_STATUSES.includes(view.record.status) || unknown >= 30)) return view;
    await new Promise(res => setTimeout(res, opts.intervalMs ?? 1000));
  }
}
