/**
 * Slurm in VS Code: the `scwb.runTarget` and `scwb.slurm.*` settings, submitting prepared runs, following their
 * jobs (a poll while any Slurm run of the store is not over), and Cancel Slurm Job in the Runs view.
 */
import * as vscode from 'vscode';
import { FINAL_STATUSES, type RunRecord } from '../../core/runs/schema';
import type { RunStore } from '../../core/runs/store';
import { SlurmClient, isFinalSlurmState } from '../../core/slurm/client';
import { cancelSlurmRun, refreshSlurmRun, submitRunToSlurm } from '../../core/slurm/runs';
import type { SlurmJobOptions } from '../../core/slurm/script';
import { requireTrust } from '../trust';
import type { RunsTree, RunsTreeNode } from '../runs/tree';

const POLL_MS = 15_000;

export type RunTarget = 'local' | 'slurm';

/** The job options and client the settings describe. */
export function slurmSettings(): { options: SlurmJobOptions; client: SlurmClient; python: string | undefined; target: RunTarget } {
  const c = vscode.workspace.getConfiguration('scwb');
  const str = (k: string) => (c.get<string>(k) ?? '').trim() || undefined;
  const num = (k: string) => { const v = c.get<number>(k); return typeof v === 'number' && v > 0 ? v : undefined; };
  const list = (k: string) => (c.get<string[]>(k) ?? []).filter(s => typeof s === 'string' && s.trim() !== '');
  const prefix = list('slurm.commandPrefix');
  return {
    target: c.get<string>('runTarget') === 'slurm' ? 'slurm' : 'local',
    python: str('slurm.python'),
    client: new SlurmClient(prefix.length ? { commandPrefix: prefix } : {}),
    options: {
      partition: str('slurm.partition'), account: str('slurm.account'), time: str('slurm.time'), memory: str('slurm.memory'),
      nodes: num('slurm.nodes'), gpusPerNode: num('slurm.gpusPerNode'), cpusPerTask: num('slurm.cpusPerTask'),
      gpuFlag: c.get<string>('slurm.gpuFlag') === 'gpus-per-node' ? 'gpus-per-node' : 'gres',
      extraArgs: list('slurm.extraArgs'), setup: list('slurm.setup'),
    },
  };
}

/**
 * Where to train: asks "this machine / Slurm" when sbatch can be started (the setting's target first), else this
 * machine. `undefined` when the user dismissed the question.
 */
export async function chooseRunTarget(given?: RunTarget): Promise<RunTarget | undefined> {
  const s = slurmSettings();
  if (given) return given;
  if (!await s.client.available()) {
    if (s.target === 'slurm') void vscode.window.showWarningMessage('scwb.runTarget is "slurm" but sbatch cannot be started here: training on this machine instead.');
    return 'local';
  }
  const where = [s.options.partition && `partition ${s.options.partition}`, s.options.gpusPerNode && `${s.options.gpusPerNode} GPU(s) per node`,
    s.options.nodes && s.options.nodes > 1 && `${s.options.nodes} nodes`, s.options.time && `time ${s.options.time}`].filter(Boolean).join(', ');
  const items: (vscode.QuickPickItem & { target: RunTarget })[] = [
    { label: 'This machine', target: 'local', detail: 'the worker runs in a terminal here' },
    { label: 'Slurm', target: 'slurm', detail: `one sbatch job per run${where ? ` (${where})` : ''}; settings scwb.slurm.*` },
  ];
  if (s.target === 'slurm') items.reverse();
  return (await vscode.window.showQuickPick(items, { title: 'Run on', placeHolder: 'Where to train' }))?.target;
}

/** Submits each prepared run as its own job; returns the job ids. A failed submit fails the run that did not go. */
export async function submitRunsToSlurm(store: RunStore, ids: readonly string[], python: string, device?: 'auto' | 'cpu' | 'cuda'): Promise<string[]> {
  const s = slurmSettings();
  const jobs: string[] = [];
  for (const id of ids) {
    try {
      const rec = await submitRunToSlurm(store, id, { python: s.python ?? python, options: s.options, client: s.client, device });
      jobs.push(rec.slurm!.jobId);
    } catch (e) {
      const message = `could not submit to Slurm: ${(e as Error).message}`;
      await store.update(id, r => (FINAL_STATUSES.includes(r.status) ? {} : { status: 'failed', error: message, endedAt: new Date().toISOString() }));
      await store.appendLog(id, message);
      throw e;
    }
  }
  return jobs;
}

/** How long after a run ended its job is still asked for its final state (Slurm may lag the worker a little). */
const AFTER_END_MS = 10 * 60 * 1000;

function needsPoll(r: RunRecord, now = Date.now()): boolean {
  if (!r.slurm) return false;
  if (!FINAL_STATUSES.includes(r.status)) return true;
  const jobOpen = !r.slurm.state || !isFinalSlurmState(r.slurm.state);
  return jobOpen && (!r.endedAt || now - Date.parse(r.endedAt) < AFTER_END_MS);
}

/** Follows the Slurm runs of the store (trusted workspaces only: it writes run.json) and Cancel Slurm Job. */
export function registerSlurm(runs: RunsTree): vscode.Disposable[] {
  let busy = false;
  const poll = async () => {
    const store = runs.store;
    if (busy || !store || !vscode.workspace.isTrusted) return;
    busy = true;
    try {
      const pending = (await store.list()).filter(needsPoll);
      if (!pending.length) return;
      const { client } = slurmSettings();
      let changed = false;
      for (const r of pending) {
        try {
          const view = await refreshSlurmRun(store, r.id, client);
          changed ||= view.record.status !== r.status || view.record.slurm?.state !== r.slurm?.state;
        } catch {
          // Slurm unreachable now: the next poll tries again
        }
      }
      if (changed) runs.refresh();
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void poll(), POLL_MS);
  void poll();
  return [
    { dispose: () => clearInterval(timer) },
    vscode.commands.registerCommand('scwb.runs.cancelSlurmJob', async (node?: RunsTreeNode | { runId: string }) => {
      if (!requireTrust('cancel Slurm jobs')) return undefined;
      const store = runs.store;
      const id = node && 'runId' in node ? node.runId : node && node.kind === 'run' ? node.run.id : undefined;
      if (!store || !id) return undefined;
      try {
        const view = await cancelSlurmRun(store, id, slurmSettings().client);
        runs.refresh();
        void vscode.window.showInformationMessage(`Cancelled Slurm job ${view.record.slurm?.jobId} (${view.job.state ?? 'state unknown'}).`);
        return view.record;
      } catch (e) {
        void vscode.window.showErrorMessage(`Cancel Slurm Job failed: ${(e as Error).message}`);
        return undefined;
      }
    }),
    vscode.commands.registerCommand('scwb.runs.refreshSlurm', async () => { await poll(); runs.refresh(); }),
  ];
}
