/**
 * How the training worker is started (docs/worker.md, docs/worker-benchmark.md): the chosen Python with
 * `-m scwb_worker finetune|pretrain|probe` and one `--run-dir` per run, as an argument array (never a shell string), with the bundled package on PYTHONPATH.
 */
import * as path from 'path';
import { PACKAGE_ROOT } from '../paths';

/** The folder that holds the `scwb_worker` package. */
export const WORKER_PYTHONPATH = path.join(PACKAGE_ROOT, 'resources', 'worker');

/** The worker's run sub-commands: fine-tuning (docs/worker.md), pre-training and probing (docs/worker-benchmark.md). */
export const WORKER_RUN_COMMANDS = ['finetune', 'pretrain', 'probe'] as const;
export type WorkerRunCommand = (typeof WORKER_RUN_COMMANDS)[number];

export interface WorkerInvocationInput {
  /** the sub-command; default 'finetune' */
  command?: WorkerRunCommand;
  /** the Python interpreter (path or command name) */
  python: string;
  runDirs: readonly string[];
  /** continue each run from its last checkpoint */
  resume?: boolean;
  /** processes (GPUs) per run; >1 runs data-parallel */
  nproc?: number;
  device?: 'auto' | 'cpu' | 'cuda';
  /** working folder; default: the first run's store folder */
  cwd?: string;
  /** the environment the process would inherit (its PYTHONPATH is kept after ours); default process.env */
  baseEnv?: NodeJS.ProcessEnv;
}

export interface WorkerInvocation {
  command: string;
  args: string[];
  /** variables to set on top of the inherited environment */
  env: Record<string, string>;
  cwd: string;
}

export function workerInvocation(input: WorkerInvocationInput): WorkerInvocation {
  if (!input.python) throw new Error('no Python interpreter given for the training worker');
  if (!input.runDirs.length) throw new Error('no run folder given to the training worker');
  const sub = input.command ?? 'finetune';
  if (!WORKER_RUN_COMMANDS.includes(sub)) throw new Error(`unknown worker command '${String(sub)}'`);
  const args = ['-m', 'scwb_worker', sub];
  for (const dir of input.runDirs) args.push('--run-dir', path.resolve(dir));
  if (input.resume) {
    if (sub === 'probe') throw new Error('probe runs do not resume (they restart; docs/worker-benchmark.md)');
    args.push('--resume');
  }
  if (input.nproc !== undefined && sub === 'probe') {
    if (input.nproc !== 1) throw new Error('probe runs use one process');
  } else if (input.nproc !== undefined) {
    if (!Number.isInteger(input.nproc) || input.nproc < 1) throw new Error(`nproc must be a positive integer, got ${input.nproc}`);
    args.push('--nproc', String(input.nproc));
  }
  if (input.device && input.device !== 'auto') args.push('--device', input.device);
  const inherited = (input.baseEnv ?? process.env).PYTHONPATH;
  return {
    command: input.python,
    args,
    env: {
      PYTHONPATH: inherited ? `${WORKER_PYTHONPATH}${path.delimiter}${inherited}` : WORKER_PYTHONPATH,
      PYTHONUNBUFFERED: '1',
    },
    cwd: input.cwd ?? path.dirname(path.resolve(input.runDirs[0])),
  };
}

/** The worker's exit statuses (docs/worker.md). */
export const WORKER_EXIT = { ok: 0, failed: 1, usage: 2, cancelled: 130 } as const;
