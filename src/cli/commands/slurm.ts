/**
 * `scwb slurm status RUN_DIR... [--wait]` and `scwb slurm cancel RUN_DIR...`: the Slurm job of runs submitted with
 * `scwb finetune --slurm` (or Run Fine-tune on Slurm), through squeue/sacct and scancel.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CliCommand, CliIO, UsageError, parseFlags } from '../command';
import { SlurmClient } from '../../core/slurm/client';
import { cancelSlurmRun, refreshSlurmRun, waitForSlurmRun, type SlurmRunView } from '../../core/slurm/runs';
import { RUN_FILE, RunStore } from '../../core/runs/store';

const USAGE = `usage: scwb slurm status RUN_DIR... [--wait]
       scwb slurm cancel RUN_DIR...

status: asks Slurm (squeue, then sacct) for the job of each run and records what the worker could not (a job that
        ended before the worker started or was killed); --wait polls until every job and run has ended.
cancel: scancel of each run's job; a running worker checkpoints and marks the run cancelled (resume it with
        scwb finetune --resume RUN_DIR [--slurm]).
Prints one JSON object per run: {id, runDir, status, jobId, slurmState, exitCode, error}. Exit status 1 when a run
given was not submitted to Slurm or cannot be read.`;

function target(dir: string): { store: RunStore; id: string } {
  const abs = path.resolve(dir);
  if (!fs.existsSync(path.join(abs, RUN_FILE))) throw new Error(`${abs}: not a run folder (no ${RUN_FILE})`);
  return { store: new RunStore(path.dirname(abs)), id: path.basename(abs) };
}

function line(view: SlurmRunView, runDir: string): string {
  const r = view.record;
  return JSON.stringify({
    id: r.id, runDir, status: r.status, jobId: r.slurm?.jobId ?? null, slurmState: view.job.state ?? r.slurm?.state ?? null,
    exitCode: view.job.exitCode ?? r.slurm?.exitCode ?? null, error: r.error, ...(view.job.message ? { slurmMessage: view.job.message } : {}),
  });
}

export const command: CliCommand = {
  name: 'slurm',
  summary: 'status or cancel of the Slurm jobs of runs (scwb finetune --slurm)',
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    const [action, ...rest] = args;
    if (action !== 'status' && action !== 'cancel') throw new UsageError(`give status or cancel, got '${action ?? ''}'`);
    const { flags, positionals } = parseFlags(rest, ['wait']);
    for (const name of flags.keys()) if (name !== 'wait' || action !== 'status') throw new UsageError(`unknown option --${name}`);
    if (!positionals.length) throw new UsageError('give one or more RUN_DIR (folders of the run store)');
    const client = new SlurmClient();
    let code = 0;
    for (const dir of positionals) {
      try {
        const { store, id } = target(dir);
        const view = action === 'cancel' ? await cancelSlurmRun(store, id, client)
          : flags.get('wait') === true ? await waitForSlurmRun(store, id, client, { intervalMs: 2000 })
            : await refreshSlurmRun(store, id, client);
        io.out(line(view, store.runDir(id)) + '\n');
      } catch (e) {
        io.err(`scwb slurm ${action}: ${(e as Error).message}\n`);
        code = 1;
      }
    }
    return code;
  },
};
