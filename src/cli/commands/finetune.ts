/**
 * `scwb finetune`: prepares fine-tune runs in the run store, runs the bundled training worker on them in this
 * terminal, computes their metrics and prints a JSON summary. `--resume RUN_DIR...` continues stopped runs.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CliCommand, CliIO, UsageError, numberFlag, splitFromFlags, parseFlags, stringFlag } from '../command';
import { PROTOCOL_BOOLEANS, PROTOCOL_FLAGS, PROTOCOL_USAGE, protocolFromFlags } from '../protocol-flags';
import { finalizeFinetuneRuns } from '../../core/finetune/finalize';
import { workerInvocation, type WorkerRunCommand } from '../../core/finetune/invocation';
import { ensureLrBaselines, lrBaselineSummary } from '../../core/finetune/lr-baseline';
import { prepareFinetuneInWorker, type FinetuneGridInput } from '../../core/finetune/prepare';
import { checkFinetuneInput } from '../../core/preflight/finetune';
import { FINETUNE_ABLATIONS, FINETUNE_DEVICES, RUN_SCHEMA_VERSION, VALIDATION_SPLITS, type FinetuneAblation, type ValidationSplit } from '../../core/runs/schema';
import { RUN_FILE, RunStore, defaultStoreRoot } from '../../core/runs/store';
import { CancelledError } from '../../core/workers/task';
import { SlurmClient } from '../../core/slurm/client';
import { submitRunToSlurm, waitForSlurmRun } from '../../core/slurm/runs';
import type { SlurmJobOptions } from '../../core/slurm/script';
import { readProblem, readTextFileSync } from '../../core/safe-read';
import { jsonProblem } from '../../core/safe-text';

const USAGE = `usage: scwb finetune DATASET.h5ad --model scbert|scgpt --checkpoint PATH|none --label COL [options]
       scwb finetune --resume RUN_DIR... [--python PATH] [--device ...] [--nproc N] [--slurm ...]

Fine-tunes scBERT or scGPT with the bundled PyTorch worker (resources/worker) on the same train/test rows as
\`scwb baseline\`: one run per (fraction, seed) in the run store, run one after another by one worker process in
this terminal. Checked first, before any run is prepared (exit status 2 with the reason and the fix on stderr):
the label column, the split and every few-shot draw (scGPT's stratified validation hold-out needs 2 cells of each
class), and the checkpoint against the data (value scale, gene overlap and identifiers, scBERT's gene count,
scGPT token ids within the model's vocabulary). The worker's output goes to stderr; stdout gets a JSON summary (run ids, status, accuracy).
Exit status: the worker's (0 all completed, 1 a run failed, 130 cancelled). Ctrl-C (SIGINT) or SIGTERM is passed on
to the worker, which checkpoints and marks the run cancelled; --resume continues it.

model:
  --model scbert|scgpt          which model (required)
  --checkpoint PATH|none        scBERT .pth file or scGPT model folder; none = random initialisation (required)
  --ablation NAME               none (default), no-pretraining, no-gene2vec (scBERT), frozen-embeddings
split (as scwb baseline; default stratified 0.2, seed 2022):
  --query QUERY.h5ad            train on all of DATASET (reference), test on all of QUERY
  --test-size 0.2 --seed 2022   StratifiedShuffleSplit on the label
  --group COL                   whole groups (donors) on one side
grid:
  --fractions 0.1,0.5,1         few-shot fractions of the training split (default 1)
  --seeds 0,1,2                 few-shot seeds (default 0)
  --stratified-few-shot / --random-few-shot   stratified subsets (default for scGPT) or np.random.choice (scBERT)
  --validation-split stratified|random   scGPT's 10% validation hold-out: stratified on the label (default) or
                                random, the published script's non-stratified split (seeded by the run seed here)
training (defaults: the published protocol of the model):
  --epochs N  --batch-size N  --lr X  --max-seq-len N  --value-layer NAME
  --device auto|cpu|cuda        (default auto)
  --nproc N                     processes (GPUs) per run, data-parallel (default 1)
  --ignore-keys K1,K2           checkpoint keys allowed to stay unloaded
  --config FILE.json            model hyper-parameters for the worker (e.g. a tiny model for a test)
${PROTOCOL_USAGE}
Slurm (instead of this terminal: one batch job per run, script and slurm-<job>.out in the run folder):
  --slurm                       submit with sbatch; prints the job ids and returns (see \`scwb slurm status\`)
  --wait                        with --slurm: wait for the jobs, then print the summary as a local run does
  --partition P --account A --time T (e.g. 04:00:00) --mem M (per node, e.g. 32G)
  --gpus N                      GPUs per node (--gres=gpu:N; --gpu-flag gpus-per-node for --gpus-per-node=N)
  --nodes N                     nodes; >1 runs multi-node DDP: one srun task per GPU
  --tasks-per-node N            CPU processes per node without GPUs (gloo data-parallel)
  --cpus-per-task N
  --sbatch-args='--qos=high --constraint=a100'   more #SBATCH options (one token each)
other:
  --python PATH                 Python with PyTorch (default: python3)
  --experiment NAME             experiment the runs belong to (default: '<dataset stem> <model>')
  --store DIR                   run store folder (default: ./.scwb/runs)
  --published-dataset NAME      dataset name to match published numbers (e.g. Zheng68K)
  --prepare-only                create the runs and print them, start nothing (no LR baseline either)
  --no-baseline                 do not run the LR baseline (below)
LR baseline: before the worker starts, the published LR baseline (L1, C=0.1) runs in the same experiment on the
same file, split, fractions, seeds and few-shot draw, for each (fraction, seed) without an LR run yet (existing LR
runs with those keys, in any experiment, are reused); values that are not log-normalised get the log transform the
published baseline expects, computed on the fly and recorded in run.json. One line on stderr says what ran.
  --progress                    print preparation progress to stderr`;

const SLURM_FLAGS = ['slurm', 'wait', 'partition', 'account', 'time', 'mem', 'gpus', 'gpu-flag', 'nodes', 'tasks-per-node', 'cpus-per-task', 'sbatch-args'];
const KNOWN = new Set(['model', 'checkpoint', 'label', 'ablation', 'query', 'test-size', 'seed', 'group', 'fractions', 'seeds',
  'stratified-few-shot', 'random-few-shot', 'validation-split', 'epochs', 'batch-size', 'lr', 'max-seq-len', 'value-layer', 'device', 'nproc',
  'ignore-keys', 'config', 'python', 'experiment', 'store', 'published-dataset', 'prepare-only', 'no-baseline', 'progress', 'resume', ...SLURM_FLAGS, ...PROTOCOL_FLAGS]);
const BOOLEANS = ['stratified-few-shot', 'random-few-shot', 'prepare-only', 'no-baseline', 'progress', 'resume', 'slurm', 'wait', ...PROTOCOL_BOOLEANS];

function numberList(flags: Map<string, string | true>, name: string): number[] | undefined {
  const v = stringFlag(flags, name);
  if (v === undefined) return undefined;
  const values = v.split(',').map(s => s.trim()).filter(Boolean).map(Number);
  if (!values.length || values.some(x => !Number.isFinite(x))) throw new UsageError(`--${name} must be a comma-separated list of numbers, got '${v}'`);
  return values;
}

function intFlag(flags: Map<string, string | true>, name: string): number | undefined {
  if (!flags.has(name)) return undefined;
  const n = numberFlag(flags, name, 0);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got ${n}`);
  return n;
}

function deviceFlag(flags: Map<string, string | true>): FinetuneGridInput['device'] {
  const device = stringFlag(flags, 'device');
  if (device !== undefined && !(FINETUNE_DEVICES as readonly string[]).includes(device)) throw new UsageError(`--device must be auto, cpu or cuda, got '${device}'`);
  return device as FinetuneGridInput['device'];
}

export interface FinetuneCliRequest {
  /** null with --resume */
  input: FinetuneGridInput | null;
  resumeDirs: string[];
  python: string;
  device: FinetuneGridInput['device'];
  nproc: number | undefined;
  prepareOnly: boolean;
  /** run the missing LR baselines of the grid before the worker (not with --no-baseline, --prepare-only or --resume) */
  baseline: boolean;
  progress: boolean;
  /** --slurm: the job options; null runs the worker in this terminal */
  slurm: SlurmJobOptions | null;
  wait: boolean;
}

/** The Slurm job options of the command line, or null without --slurm. */
export function slurmOptionsFromFlags(flags: Map<string, string | true>): SlurmJobOptions | null {
  const given = SLURM_FLAGS.filter(f => f !== 'slurm' && flags.has(f));
  if (flags.get('slurm') !== true) {
    if (given.length) throw new UsageError(`--${given[0]} applies only with --slurm`);
    return null;
  }
  const gpuFlag = stringFlag(flags, 'gpu-flag');
  if (gpuFlag !== undefined && gpuFlag !== 'gres' && gpuFlag !== 'gpus-per-node') throw new UsageError(`--gpu-flag must be gres or gpus-per-node, got '${gpuFlag}'`);
  const extra = stringFlag(flags, 'sbatch-args');
  return {
    partition: stringFlag(flags, 'partition'), account: stringFlag(flags, 'account'), time: stringFlag(flags, 'time'),
    memory: stringFlag(flags, 'mem'), gpusPerNode: intFlag(flags, 'gpus'), gpuFlag, nodes: intFlag(flags, 'nodes'),
    tasksPerNode: intFlag(flags, 'tasks-per-node'), cpusPerTask: intFlag(flags, 'cpus-per-task'),
    extraArgs: extra ? extra.split(/\s+/).filter(Boolean) : undefined,
  };
}

/** Turns the command line into what the command does (exported for tests). */

/** `--config FILE.json`: the model hyper-parameters handed to the worker (a JSON object), or undefined. */
export function configFlag(flags: Map<string, string | true>, cwd: string): Record<string, unknown> | undefined {
  const configFile = stringFlag(flags, 'config');
  if (!configFile) return undefined;
  const file = path.resolve(cwd, configFile);
  let value: unknown;
  try {
    value = JSON.parse(readTextFileSync(file));
  } catch (e) {
    throw new UsageError(`--config ${file}: ${e instanceof SyntaxError ? jsonProblem(e) : readProblem(e)}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`--config ${file}: expected a JSON object of model hyper-parameters`);
  return value as Record<string, unknown>;
}

export function finetuneRequestFromArgs(args: string[], cwd = process.cwd()): FinetuneCliRequest {
  const { flags, positionals } = parseFlags(args, BOOLEANS);
  for (const name of flags.keys()) if (!KNOWN.has(name)) throw new UsageError(`unknown option --${name}`);
  const python = stringFlag(flags, 'python') ?? 'python3';
  const device = deviceFlag(flags);
  const nproc = intFlag(flags, 'nproc');
  const common = { python, device, nproc, progress: flags.get('progress') === true, slurm: slurmOptionsFromFlags(flags), wait: flags.get('wait') === true };
  if (flags.get('resume') === true) {
    const allowed = new Set(['resume', 'python', 'device', 'nproc', 'progress', ...SLURM_FLAGS]);
    for (const name of flags.keys()) if (!allowed.has(name)) throw new UsageError(`--${name} does not apply to --resume (the run folders hold the settings)`);
    if (!positionals.length) throw new UsageError('--resume needs one or more RUN_DIR (folders of the run store)');
    return { input: null, resumeDirs: positionals.map(p => path.resolve(cwd, p)), prepareOnly: false, baseline: false, ...common };
  }
  if (positionals.length !== 1) throw new UsageError('give exactly one DATASET.h5ad');
  const model = stringFlag(flags, 'model');
  if (model !== 'scbert' && model !== 'scgpt') throw new UsageError(`--model scbert|scgpt is required${model ? `, got '${model}'` : ''}`);
  const checkpointArg = stringFlag(flags, 'checkpoint');
  if (!checkpointArg) throw new UsageError('--checkpoint PATH is required (or --checkpoint none for random initialisation)');
  const label = stringFlag(flags, 'label');
  if (!label) throw new UsageError('--label COL is required (the obs column with the cell types)');
  const ablation = stringFlag(flags, 'ablation') ?? 'none';
  if (!(FINETUNE_ABLATIONS as readonly string[]).includes(ablation)) throw new UsageError(`--ablation must be one of ${FINETUNE_ABLATIONS.join(', ')}, got '${ablation}'`);
  const split = splitFromFlags(flags, cwd);
  if (flags.has('stratified-few-shot') && flags.has('random-few-shot')) throw new UsageError('give --stratified-few-shot or --random-few-shot, not both');
  const stratifiedFewShot = flags.has('stratified-few-shot') ? true : flags.has('random-few-shot') ? false : undefined;
  const validationSplit = stringFlag(flags, 'validation-split');
  if (validationSplit !== undefined && !(VALIDATION_SPLITS as readonly string[]).includes(validationSplit)) throw new UsageError(`--validation-split must be ${VALIDATION_SPLITS.join(' or ')}, got '${validationSplit}'`);
  if (validationSplit === 'random' && model !== 'scgpt') throw new UsageError('--validation-split is scGPT\'s (scBERT validates on the test set, as published)');
  const config = configFlag(flags, cwd);
  const lr = flags.has('lr') ? numberFlag(flags, 'lr', 0) : undefined;
  const store = stringFlag(flags, 'store');
  const ignoreKeys = stringFlag(flags, 'ignore-keys');
  const input: FinetuneGridInput = {
    datasetPath: path.resolve(cwd, positionals[0]), labelColumn: label, split, model,
    checkpoint: checkpointArg === 'none' ? null : path.resolve(cwd, checkpointArg),
    ablation: ablation as FinetuneAblation, fractions: numberList(flags, 'fractions'), seeds: numberList(flags, 'seeds'),
    stratifiedFewShot, epochs: intFlag(flags, 'epochs'), batchSize: intFlag(flags, 'batch-size'), lr,
    maxSeqLen: intFlag(flags, 'max-seq-len'), valueLayer: stringFlag(flags, 'value-layer'), device, nproc,
    ignoreKeys: ignoreKeys ? ignoreKeys.split(',').map(s => s.trim()).filter(Boolean) : undefined, config,
    experiment: stringFlag(flags, 'experiment'), storeRoot: store ? path.resolve(cwd, store) : defaultStoreRoot(cwd),
    publishedDataset: stringFlag(flags, 'published-dataset'), ...protocolFromFlags(flags, cwd),
    ...(validationSplit ? { validationSplit: validationSplit as ValidationSplit } : {}),
  };
  const prepareOnly = flags.get('prepare-only') === true;
  return { input, resumeDirs: [], prepareOnly, baseline: !prepareOnly && flags.get('no-baseline') !== true, ...common };
}

/** The store and id of each run folder given to --resume, checked to be fine-tune runs. */
async function resumeTargets(dirs: string[]): Promise<{ store: RunStore; ids: string[] }> {
  const roots = new Set(dirs.map(d => path.dirname(d)));
  if (roots.size !== 1) throw new UsageError('--resume: give run folders of one run store');
  const store = new RunStore([...roots][0]);
  const ids: string[] = [];
  for (const dir of dirs) {
    if (!fs.existsSync(path.join(dir, RUN_FILE))) throw new Error(`${dir}: not a run folder (no ${RUN_FILE})`);
    const record = await store.get(path.basename(dir));
    if (record.kind !== 'finetune') {
      throw new Error(`${path.join(dir, RUN_FILE)}: a ${record.kind} run, not a fine-tune run${record.kind === 'pretrain' ? ' (resume it with scwb pretrain --resume)' : ''}`);
    }
    if (record.schemaVersion !== RUN_SCHEMA_VERSION) throw new Error(`${path.join(dir, RUN_FILE)}: unsupported schema version`);
    ids.push(record.id);
  }
  return { store, ids };
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGKILL: 9, SIGHUP: 1 };

/**
 * Runs the worker on the run folders with its stdout and stderr on our stderr, passing SIGINT/SIGTERM on; resolves
 * with its exit status (128 + signal number when a signal ended it).
 */
export function runWorker(python: string, runDirs: string[], opts: { resume?: boolean; device?: FinetuneGridInput['device']; nproc?: number; command?: WorkerRunCommand }): Promise<number> {
  const inv = workerInvocation({ python, runDirs, resume: opts.resume, device: opts.device, nproc: opts.nproc, command: opts.command });
  return new Promise<number>((resolve, reject) => {
    // Its own process group: a Ctrl-C in the terminal reaches the worker once, through us, not twice. So that a
    // `kill -9` of this process leaves no worker training unsupervised, the worker watches SCWB_PARENT_PID and
    // stops with a checkpoint when we are gone (resources/worker/scwb_worker/supervision.py).
    const child = spawn(inv.command, inv.args, {
      cwd: inv.cwd, env: { ...process.env, ...inv.env, SCWB_PARENT_PID: String(process.pid) }, stdio: ['ignore', process.stderr, process.stderr], detached: true,
    });
    const forward = (signal: NodeJS.Signals) => () => { if (child.exitCode === null) child.kill(signal); };
    const onInt = forward('SIGINT');
    const onTerm = forward('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    const done = () => {
      process.removeListener('SIGINT', onInt);
      process.removeListener('SIGTERM', onTerm);
    };
    child.once('error', e => {
      done();
      const err = e as NodeJS.ErrnoException;
      reject(err.code === 'ENOENT'
        ? new Error(`the Python interpreter '${python}' was not found; give --python PATH to a Python 3 with PyTorch`)
        : new Error(`could not start the training worker with '${python}': ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      done();
      resolve(code ?? 128 + (signal ? SIGNAL_NUMBERS[signal] ?? 1 : 1));
    });
  });
}

export const command: CliCommand = {
  name: 'finetune',
  summary: 'fine-tune scBERT or scGPT (few-shot fractions x seeds) with the bundled PyTorch worker',
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    const req = finetuneRequestFromArgs(args);
    let store: RunStore;
    let ids: string[];
    let experiment: string | null = null;
    if (req.input) {
      const problems = await checkFinetuneInput({
        datasetPath: req.input.datasetPath, labelColumn: req.input.labelColumn, split: req.input.split, model: req.input.model,
        checkpoint: req.input.checkpoint, valueLayer: req.input.valueLayer, fractions: req.input.fractions, seeds: req.input.seeds,
        stratifiedFewShot: req.input.stratifiedFewShot, ignoreKeys: req.input.ignoreKeys, validationSplit: req.input.validationSplit,
      });
      if (problems.length) {
        io.err(`scwb finetune: cannot start (nothing was prepared):\n${problems.map(p => `  ${p.message}\n    fix: ${p.fix}`).join('\n')}\n`);
        return 2;
      }
      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.once('SIGINT', onSigint);
      let lastShown = -1;
      try {
        const plan = await prepareFinetuneInWorker(req.input, {
          signal: abort.signal,
          onProgress: req.progress ? (f, m) => {
            const pct = Math.floor(f * 100);
            if (pct !== lastShown) { lastShown = pct; io.err(`${String(pct).padStart(3)}% ${m ?? ''}\n`); }
          } : undefined,
        });
        store = new RunStore(plan.storeRoot);
        ids = plan.runs.map(r => r.id);
        experiment = plan.experiment;
        if (req.baseline) {
          try {
            const lr = await ensureLrBaselines(plan, { signal: abort.signal });
            io.err(`scwb finetune: ${lrBaselineSummary(lr, req.input.datasetPath)}\n`);
          } catch (e) {
            if (e instanceof CancelledError) throw e;
            io.err(`scwb finetune: no LR baseline run: ${e instanceof Error ? e.message : String(e)}\n`);
          }
        }
      } catch (e) {
        if (e instanceof CancelledError) {
          io.err('scwb finetune: cancelled before the worker started\n');
          return 130;
        }
        throw e;
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
    } else {
      ({ store, ids } = await resumeTargets(req.resumeDirs));
    }
    if (req.slurm && !req.prepareOnly) return submitToSlurm(req, store, ids, experiment, io);
    let code: number | null = null;
    if (!req.prepareOnly) {
      try {
        code = await runWorker(req.python, ids.map(id => store.runDir(id)), { resume: !req.input, device: req.device, nproc: req.nproc });
      } catch (e) {
        await finalizeFinetuneRuns(store, { ids, workerExitCode: 127 });
        throw e;
      }
    }
    const records = await finalizeFinetuneRuns(store, { ids, ...(code === null ? {} : { workerExitCode: code }) });
    io.out(JSON.stringify({
      experiment: experiment ?? records[0]?.experiment ?? null, store: store.root, exitCode: code,
      runs: records.map(r => ({
        id: r.id, runDir: store.runDir(r.id), fraction: r.fraction, seed: r.seed, status: r.status,
        accuracy: r.summary?.accuracy ?? null, macroF1: r.summary?.macroF1 ?? null, error: r.error,
      })),
    }, null, 2) + '\n');
    if (code === null) return 0;
    // The worker's status, unless finalizing failed a run it reported completed.
    return code === 0 && records.some(r => r.status !== 'completed') ? 1 : code;
  },
};

/** --slurm: one batch job per run; prints the job ids, or with --wait the runs' ends. */
async function submitToSlurm(req: FinetuneCliRequest, store: RunStore, ids: string[], experiment: string | null, io: CliIO): Promise<number> {
  const client = new SlurmClient();
  const resume = !req.input;
  for (const id of ids) {
    const record = await submitRunToSlurm(store, id, { python: req.python, options: req.slurm!, client, resume, device: req.device });
    io.err(`run ${id}: Slurm job ${record.slurm?.jobId}\n`);
  }
  const records = [];
  for (const id of ids) {
    if (req.wait) {
      const view = await waitForSlurmRun(store, id, client, { intervalMs: 2000 });
      records.push(view.record);
    } else {
      records.push(await store.get(id));
    }
  }
  io.out(JSON.stringify({
    experiment: experiment ?? records[0]?.experiment ?? null, store: store.root,
    runs: records.map(r => ({
      id: r.id, runDir: store.runDir(r.id), fraction: r.fraction, seed: r.seed, status: r.status, slurmJobId: r.slurm?.jobId ?? null,
      slurmState: r.slurm?.state ?? null, accuracy: r.summary?.accuracy ?? null, macroF1: r.summary?.macroF1 ?? null, error: r.error,
    })),
  }, null, 2) + '\n');
  return req.wait && records.some(r => r.status !== 'completed') ? 1 : 0;
}
