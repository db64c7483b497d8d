/**
 * The Slurm client programs, each started with execFile and an argument array (never a shell string):
 * `sbatch --parsable`, `squeue -h -j ID -o %T`, `sacct -n -P -X -j ID -o State,ExitCode` (with `-c`, the job
 * completion file, when the cluster has no accounting database) and `scancel ID`. A command prefix (an argument
 * array such as `nsenter --net=/run/netns/x`) may come before each program.
 */
import { execFile } from 'child_process';
import type { RunStatus } from '../runs/schema';

export interface SlurmClientOptions {
  /** argument array put before each program, e.g. ['nsenter', '--net=/run/netns/slurm'] */
  commandPrefix?: readonly string[];
  /** the environment of the client programs (default process.env); its PATH finds sbatch etc. */
  env?: NodeJS.ProcessEnv;
  /** per command (default 60 s): a hung controller must not hang the caller */
  timeoutMs?: number;
}

export interface SlurmCommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A Slurm program could not be started or failed; the message says which and why. */
export class SlurmCommandError extends Error {
  constructor(message: string, readonly result?: SlurmCommandResult) {
    super(message);
    this.name = 'SlurmCommandError';
  }
}

/** What Slurm says of a job. `state` is null when neither squeue nor sacct knows it. */
export interface SlurmJobState {
  state: string | null;
  /** sacct's ExitCode `status:signal`, when known */
  exitCode: string | null;
  source: 'squeue' | 'sacct' | 'none';
  /** why the state is unknown */
  message?: string;
}

const QUEUED = new Set(['PENDING', 'CONFIGURING', 'REQUEUED', 'REQUEUE_FED', 'REQUEUE_HOLD', 'RESV_DEL_HOLD']);
const RUNNING = new Set(['RUNNING', 'COMPLETING', 'STAGE_OUT', 'RESIZING', 'SIGNALING', 'SUSPENDED', 'STOPPED']);

/** The first word of a state ("CANCELLED by 0" -> "CANCELLED", "CANCELLED+" -> "CANCELLED"). */
export function normalizeSlurmState(state: string): string {
  return state.trim().split(/\s+/)[0].replace(/\+$/, '').toUpperCase();
}

/** A run's status for a Slurm job state: PENDING -> queued, RUNNING -> running, COMPLETED -> completed, ... */
export function slurmRunStatus(state: string): RunStatus {
  const s = normalizeSlurmState(state);
  if (QUEUED.has(s)) return 'queued';
  if (RUNNING.has(s)) return 'running';
  if (s === 'COMPLETED') return 'completed';
  if (s === 'CANCELLED') return 'cancelled';
  // FAILED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, BOOT_FAIL, DEADLINE, PREEMPTED, REVOKED, SPECIAL_EXIT, unknown words
  return 'failed';
}

/** Whether Slurm is done with the job. */
export function isFinalSlurmState(state: string): boolean {
  const st = slurmRunStatus(state);
  return st !== 'queued' && st !== 'running';
}

/** sbatch --parsable prints `jobid` or `jobid;cluster`. */
export function parseParsable(stdout: string): { jobId: string; cluster?: string } {
  const line = stdout.trim().split('\n').pop() ?? '';
  const m = /^(\d+(?:_\d+)?)(?:;(\S+))?$/.exec(line.trim());
  if (!m) throw new SlurmCommandError(`sbatch --parsable printed no job id: ${JSON.stringify(stdout.trim().slice(0, 200))}`);
  return m[2] ? { jobId: m[1], cluster: m[2] } : { jobId: m[1] };
}

export class SlurmClient {
  constructor(readonly options: SlurmClientOptions = {}) {}

  /** Runs one Slurm program; resolves with its exit status and output, rejects only when it cannot start. */
  run(program: string, args: readonly string[], cwd?: string): Promise<SlurmCommandResult> {
    const prefix = this.options.commandPrefix ?? [];
    const [cmd, ...rest] = prefix.length ? [...prefix, program, ...args] : [program, ...args];
    return new Promise((resolve, reject) => {
      execFile(cmd, rest, { cwd, env: this.options.env ?? process.env, timeout: this.options.timeoutMs ?? 60_000, maxBuffer: 1 << 22, encoding: 'utf8' },
        (err, stdout, stderr) => {
          const e = err as (NodeJS.ErrnoException & { code?: string | number; killed?: boolean }) | null;
          if (e && typeof e.code === 'string') {
            reject(new SlurmCommandError(e.code === 'ENOENT'
              ? `'${cmd}' was not found: is Slurm installed here and on PATH (or set the Slurm command prefix)?`
              : `could not run '${cmd}': ${e.message}`));
            return;
          }
          if (e?.killed) {
            reject(new SlurmCommandError(`'${[cmd, ...rest].join(' ')}' did not answer within ${(this.options.timeoutMs ?? 60_000) / 1000} s`));
            return;
          }
          resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout, stderr });
        });
    });
  }

  /** Whether sbatch can be started (it is on PATH, or reachable through the prefix). */
  async available(): Promise<boolean> {
    try {
      return (await this.run('sbatch', ['--version'])).code === 0;
    } catch {
      return false;
    }
  }

  /** `sbatch --parsable SCRIPT` started in `cwd`; the job id (and cluster on a federation). */
  async submit(script: string, cwd: string): Promise<{ jobId: string; cluster?: string }> {
    const r = await this.run('sbatch', ['--parsable', script], cwd);
    if (r.code !== 0) throw new SlurmCommandError(`sbatch failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`, r);
    return parseParsable(r.stdout);
  }

  /**
   * The job's state: squeue while Slurm holds it, then sacct (the accounting database, else the job completion
   * file with `-c`). Never throws for an unknown job: `state` is null with the reason.
   */
  async state(jobId: string): Promise<SlurmJobState> {
    const problems: string[] = [];
    try {
      const q = await this.run('squeue', ['-h', '-j', jobId, '-o', '%T']);
      const line = q.stdout.trim().split('\n').filter(Boolean).pop();
      if (q.code === 0 && line) return { state: normalizeSlurmState(line), exitCode: null, source: 'squeue' };
      if (q.code !== 0 && !/invalid job id/i.test(q.stderr)) problems.push(`squeue: ${q.stderr.trim() || `exit ${q.code}`}`);
    } catch (e) {
      problems.push((e as Error).message);
    }
    for (const extra of [[], ['-c']]) {
      try {
        const a = await this.run('sacct', [...extra, '-n', '-P', '-X', '-j', jobId, '-o', 'State,ExitCode']);
        const rows = a.stdout.split('\n').map(l => l.trim()).filter(Boolean);
        if (a.code === 0 && rows.length) {
          const [state, exitCode] = rows[rows.length - 1].split('|');
          return { state: normalizeSlurmState(state), exitCode: exitCode ?? null, source: 'sacct' };
        }
        if (a.code !== 0) problems.push(`sacct ${extra.join(' ')}: ${a.stderr.trim() || `exit ${a.code}`}`.replace('  ', ' '));
      } catch (e) {
        problems.push((e as Error).message);
        break;
      }
    }
    return { state: null, exitCode: null, source: 'none', message: problems.length ? problems.join('; ') : `Slurm does not know job ${jobId} (anymore)` };
  }

  async cancel(jobId: string): Promise<void> {
    const r = await this.run('scancel', [jobId]);
    if (r.code !== 0) throw new SlurmCommandError(`scancel ${jobId} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`, r);
  }
}
