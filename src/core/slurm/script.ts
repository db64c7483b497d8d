/**
 * The sbatch script of a run: the worker invocation of src/core/finetune/invocation.ts (any worker run kind: its
 * command, argument array, environment and folder) as a bash batch script with the job's resources as #SBATCH
 * lines. One process runs the worker directly; several (GPUs per node x nodes, or CPU tasks) run as one `srun` task
 * each, with RANK/LOCAL_RANK/WORLD_SIZE from SLURM_PROCID/SLURM_LOCALID/SLURM_NTASKS and the `file://` rendezvous in
 * the run folder (a shared filesystem), so no port is opened. Output and errors go to `slurm-<jobid>.out` in the
 * run folder, because sbatch is started in the run folder and the paths in #SBATCH lines are relative to it.
 */
import * as path from 'path';
import { writeFileAtomic } from '../fs-atomic';
import type { WorkerInvocation } from '../finetune/invocation';
import { bashArray, bashQuote, isEnvName } from './quote';

/** The script's name in the run folder. */
export const SLURM_SCRIPT_FILE = 'slurm.sbatch';
/** Slurm writes the job's stdout and stderr here (in the run folder); %j is the job id. */
export const SLURM_OUTPUT_PATTERN = 'slurm-%j.out';

export function slurmOutputFile(jobId: string): string {
  return SLURM_OUTPUT_PATTERN.replace('%j', jobId);
}

export interface SlurmJobOptions {
  partition?: string;
  account?: string;
  /** wall-clock limit in a Slurm format: MM, HH:MM:SS, D-HH, D-HH:MM ... */
  time?: string;
  /** nodes (default 1); more than one runs multi-node DDP through srun */
  nodes?: number;
  /** GPUs per node; also the processes per node (one rank per GPU) */
  gpusPerNode?: number;
  /** how GPUs are asked for: `--gres=gpu:N` (default) or `--gpus-per-node=N` */
  gpuFlag?: 'gres' | 'gpus-per-node';
  /** processes per node without GPUs (CPU data-parallel, gloo); ignored when gpusPerNode is set */
  tasksPerNode?: number;
  cpusPerTask?: number;
  /** memory per node as sbatch's --mem takes it: 16G, 8000M, 8000 */
  memory?: string;
  /** more #SBATCH options, one token each, e.g. --qos=high or --constraint=a100 */
  extraArgs?: readonly string[];
  /** shell lines run before the worker, e.g. `module load cuda/12.1` (the user's own, written as given) */
  setup?: readonly string[];
  jobName?: string;
}

/** What a job runs and where. */
export interface SlurmScriptInput {
  invocation: WorkerInvocation;
  /** the run folder: the script, the output and the DDP rendezvous go here */
  runDir: string;
  options: SlurmJobOptions;
  /** a comment line naming the run, e.g. its id and name */
  title?: string;
}

/** Bad options: the message names the option and what is wrong. */
export class SlurmOptionError extends Error {}

function positiveInt(name: string, v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < 1) throw new SlurmOptionError(`Slurm ${name} must be a positive integer, got ${v}`);
  return v;
}

function token(name: string, v: string | undefined, pattern: RegExp, expected: string): string | undefined {
  if (v === undefined || v === '') return undefined;
  if (!pattern.test(v)) throw new SlurmOptionError(`Slurm ${name} '${v}' is not valid: expected ${expected}`);
  return v;
}

/** Processes per node and in all of the job. */
export function slurmWorld(options: SlurmJobOptions): { nodes: number; perNode: number; world: number } {
  const nodes = positiveInt('nodes', options.nodes) ?? 1;
  const gpus = options.gpusPerNode === 0 ? undefined : positiveInt('GPUs per node', options.gpusPerNode);
  const perNode = gpus ?? positiveInt('tasks per node', options.tasksPerNode) ?? 1;
  return { nodes, perNode, world: nodes * perNode };
}

/** The #SBATCH lines of the options (validated). */
export function sbatchDirectives(options: SlurmJobOptions): string[] {
  const { nodes, perNode } = slurmWorld(options);
  const name = token('job name', options.jobName, /^[A-Za-z0-9_.:+@-]{1,128}$/, 'letters, digits and _ . : + @ - (no spaces)');
  const partition = token('partition', options.partition, /^[A-Za-z0-9_.,-]+$/, 'a partition name (or a comma-separated list)');
  const account = token('account', options.account, /^[A-Za-z0-9_.-]+$/, 'an account name');
  const time = token('time', options.time, /^(\d+|\d+:\d{1,2}(:\d{1,2})?|\d+-\d+(:\d{1,2}){0,2}|UNLIMITED|INFINITE)$/i,
    'minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS');
  const memory = token('memory', options.memory, /^\d+[KMGT]?$/i, 'a size such as 16G or 8000M');
  const cpus = positiveInt('CPUs per task', options.cpusPerTask);
  const gpus = options.gpusPerNode ? positiveInt('GPUs per node', options.gpusPerNode) : undefined;
  const lines = [
    ...(name ? [`--job-name=${name}`] : []),
    `--output=${SLURM_OUTPUT_PATTERN}`,
    '--open-mode=append',
    `--nodes=${nodes}`,
    `--ntasks-per-node=${perNode}`,
    ...(cpus ? [`--cpus-per-task=${cpus}`] : []),
    ...(memory ? [`--mem=${memory}`] : []),
    ...(gpus ? [options.gpuFlag === 'gpus-per-node' ? `--gpus-per-node=${gpus}` : `--gres=gpu:${gpus}`] : []),
    ...(partition ? [`--partition=${partition}`] : []),
    ...(account ? [`--account=${account}`] : []),
    ...(time ? [`--time=${time}`] : []),
  ];
  for (const extra of options.extraArgs ?? []) {
    const e = extra.trim();
    if (!e) continue;
    // sbatch splits #SBATCH lines at white space and reads quotes its own way: accept single plain tokens only.
    if (!/^-[^\s"'\\]*$/.test(e)) {
      throw new SlurmOptionError(`extra sbatch argument '${extra}' is not valid: give one option per entry, starting with '-', without spaces, quotes or backslashes (e.g. --qos=high)`);
    }
    lines.push(e);
  }
  return lines.map(l => `#SBATCH ${l}`);
}

/** Rank setup inside each srun task (a fixed string; the worker's words come after it as "$@"). */
const RANK_SHIM = 'export RANK="$SLURM_PROCID" LOCAL_RANK="$SLURM_LOCALID" WORLD_SIZE="$SLURM_NTASKS"; exec "$@"';

/** The batch script's text. */
export function renderSbatchScript(input: SlurmScriptInput): string {
  const { invocation: inv, options } = input;
  const { nodes, world } = slurmWorld(options);
  const runDir = path.resolve(input.runDir);
  const out: string[] = ['#!/bin/bash'];
  if (input.title) out.push(`# ${input.title.replace(/[\r\n]+/g, ' ')}`);
  out.push(
    '# Written by scWorkbench: the training worker as a Slurm batch job. Submitted from the run folder with',
    `# \`sbatch --parsable ${SLURM_SCRIPT_FILE}\`; stdout and stderr go to slurm-<job id>.out in the run folder.`,
    ...sbatchDirectives(options),
    '',
  );
  for (const line of options.setup ?? []) {
    if (/[\r\n]/.test(line)) throw new SlurmOptionError(`a Slurm setup line holds a line break: ${JSON.stringify(line)}`);
    out.push(line);
  }
  for (const [key, value] of Object.entries(inv.env)) {
    if (!isEnvName(key)) throw new SlurmOptionError(`'${key}' cannot be an environment variable name`);
    if (key === 'PYTHONPATH') {
      // the worker package first, then whatever the job inherited (as the local launch does)
      const ours = value.split(path.delimiter)[0];
      out.push(`export PYTHONPATH=${bashQuote(ours)}"\${PYTHONPATH:+:$PYTHONPATH}"`);
    } else {
      out.push(`export ${key}=${bashQuote(value)}`);
    }
  }
  out.push(`cd ${bashQuote(inv.cwd)} || exit 1`, `worker=${bashArray([inv.command, ...inv.args])}`);
  if (world === 1) {
    out.push('"${worker[@]}"', 'status=$?');
  } else {
    out.push(
      `# ${world} processes (${nodes} node${nodes === 1 ? '' : 's'}): one srun task per rank, meeting through a file in the run folder`,
      `export SCWB_DDP_STORE=${bashQuote(path.join(runDir, '.ddp-store-slurm-'))}"$SLURM_JOB_ID"`,
      ...(nodes === 1 ? ['export GLOO_SOCKET_IFNAME="${GLOO_SOCKET_IFNAME:-lo}"'] : []),
      'rm -f "$SCWB_DDP_STORE"',
      `srun --kill-on-bad-exit=0 bash -c ${bashQuote(RANK_SHIM)} scwb-rank "\${worker[@]}"`,
      'status=$?',
      'rm -f "$SCWB_DDP_STORE"',
    );
  }
  out.push('exit "$status"', '');
  return out.join('\n');
}

/** Writes the script into the run folder atomically and returns its path. */
export async function writeSbatchScript(input: SlurmScriptInput): Promise<string> {
  const file = path.join(path.resolve(input.runDir), SLURM_SCRIPT_FILE);
  await writeFileAtomic(file, renderSbatchScript(input));
  return file;
}
