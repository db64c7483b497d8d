/**
 * The real single-node Slurm of scripts/slurm-local.sh for tests. scripts/test.sh starts it and exports
 * SCWB_SLURM_BIN (the folder of its client wrappers); a test run on its own starts it here (root needed) and stops
 * it at the end. When Slurm cannot start, the tests that need it fail with the script's message: never skipped.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { PROJECT_ROOT } from './shared';

const SCRIPT = path.join(PROJECT_ROOT, 'scripts', 'slurm-local.sh');
let startedHere = false;
let bin: string | null = null;

/** The folder with sbatch, squeue, sacct, scancel and srun of the local cluster; starts it when needed. */
export function localSlurmBin(): string {
  if (bin) return bin;
  if (process.env.SCWB_SLURM_BIN) {
    bin = process.env.SCWB_SLURM_BIN;
    return bin;
  }
  const r = spawnSync('bash', [SCRIPT, 'start'], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`the local Slurm of scripts/slurm-local.sh did not start (exit ${r.status}; it needs root and Debian's slurm-wlm): ${r.stderr}${r.stdout}`);
  }
  startedHere = true;
  bin = r.stdout.trim().split('\n').pop()!;
  return bin;
}

/** An environment whose PATH finds the local cluster's clients first. */
export function slurmEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, PATH: `${localSlurmBin()}${path.delimiter}${base.PATH ?? ''}` };
}

/** Stops the cluster if this process started it. */
export function stopLocalSlurmIfOurs(): void {
  if (!startedHere) return;
  spawnSync('bash', [SCRIPT, 'stop'], { encoding: 'utf8' });
  startedHere = false;
  bin = null;
}
