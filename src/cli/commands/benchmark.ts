/**
 * `scwb pretrain` and `scwb probe` (the AAAI 2025 benchmark, docs/worker-benchmark.md): prepare the runs in the run store,
 * run the bundled worker on them in this terminal, finalize them and print a JSON summary.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CliCommand, CliIO, UsageError, numberFlag, parseFlags, stringFlag } from '../command';
import {
  PRETRAIN_DEFAULTS, PROBE_DEFAULTS, PROBE_PROTOCOLS, encoderFromPath, preparePretrainInWorker, prepareProbeInWorker,
  type PretrainInput, type ProbeInput, type ProbeProtocol,
} from '../../core/benchmark/prepare';
import { finalizeFinetuneRuns } from '../../core/finetune/finalize';
import type { WorkerRunCommand } from '../../core/finetune/invocation';
import {
  FINETUNE_DEVICES, PRETRAIN_MODELS, PRETRAIN_STRUCTURES, PROBE_METHODS,
  type PretrainModel, type PretrainStructure, type ProbeMethod,
} from '../../core/runs/schema';
import { RUN_FILE, RunStore, defaultStoreRoot } from '../../core/runs/store';
import { CancelledError } from '../../core/workers/task';
import { configFlag, runWorker } from './finetune';

type Flags = Map<string, string | true>;

function intFlag(flags: Flags, name: string, min = 1): number | undefined {
  if (!flags.has(name)) return undefined;
  const n = numberFlag(flags, name, 0);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer of at least ${min}, got ${n}`);
  return n;
}

function floatFlag(flags: Flags, name: string): number | undefined {
  return flags.has(name) ? numberFlag(flags, name, 0) : undefined;
}

function choice<T extends string>(flags: Flags, name: string, allowed: readonly T[]): T | undefined {
  const v = stringFlag(flags, name);
  if (v !== undefined && !(allowed as readonly string[]).includes(v)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got '${v}'`);
  return v as T | undefined;
}

function checkKnown(flags: Flags, known: Set<string>): void {
  for (const name of flags.keys()) if (!known.has(name)) throw new UsageError(`unknown option --${name}`);
}

interface Common {
  python: string;
  prepareOnly: boolean;
  progress: boolean;
}

function common(flags: Flags): Common {
  return { python: stringFlag(flags, 'python') ?? 'python3', prepareOnly: flags.get('prepare-only') === true, progress: flags.get('progress') === true };
}

const PRETRAIN_USAGE = `usage: scwb pretrain DATASET.h5ad [options]
       scwb pretrain --resume RUN_DIR... [--python PATH] [--device ...] [--nproc N]

Pre-trains an encoder of the AAAI 2025 single-cell benchmark on DATASET (no labels needed), or continues the
pre-training of a published scBERT/scGPT checkpoint on it, with the bundled PyTorch worker (docs/worker-benchmark.md). One
run in the run store; its encoder.pt is what \`scwb probe --encoder\` takes. stdout gets a JSON summary; exit status
is the worker's (0 completed, 1 failed, 130 cancelled).

  --model benchmark|scbert|scgpt     (default benchmark)
  --structure transformer|cnn|linear (benchmark; default transformer)
  --checkpoint PATH                  encoder.pt to continue; scBERT .pth / scGPT folder (required for scGPT;
                                     scBERT without one: pre-training from scratch without gene2vec, as published)
  --vocab FILE                       gene -> token id (scGPT vocab.json format); default: the dataset's genes
  --value-mode log1p|bins  --n-bins 51  --max-seq-len 512 (511 for cnn/linear)  --mask-ratio 0.4
  --mvc  --weighted-sampling  --pooling cls|mean
  --epochs ${PRETRAIN_DEFAULTS.epochs}  --batch-size ${PRETRAIN_DEFAULTS.batchSize} (global)  --lr ${PRETRAIN_DEFAULTS.lr}  --warmup-steps ${PRETRAIN_DEFAULTS.warmupSteps}
  --validation-fraction ${PRETRAIN_DEFAULTS.validationFraction}  cells held out (random split) for the validation loss
  --seed 0  --value-layer NAME  --config FILE.json (model sizes, e.g. a tiny model)
  --device auto|cpu|cuda  --nproc N  --no-amp  --log-every N
  --python PATH  --experiment NAME  --store DIR  --prepare-only  --progress
  --resume RUN_DIR...                continue cancelled/failed/interrupted pre-training runs from checkpoints/last.pt`;

const PRETRAIN_KNOWN = new Set(['model', 'structure', 'checkpoint', 'vocab', 'value-mode', 'n-bins', 'max-seq-len', 'mask-ratio', 'mvc',
  'weighted-sampling', 'pooling', 'epochs', 'batch-size', 'lr', 'warmup-steps', 'validation-fraction', 'seed', 'value-layer', 'config',
  'device', 'nproc', 'no-amp', 'log-every', 'python', 'experiment', 'store', 'prepare-only', 'progress', 'resume']);
const PRETRAIN_BOOLEANS = ['mvc', 'weighted-sampling', 'no-amp', 'prepare-only', 'progress', 'resume'];

/** `scwb pretrain --resume RUN_DIR...`: the run folders (of one store, pre-training runs) and the launch options. */
export function pretrainResumeFromArgs(args: string[], cwd = process.cwd()): { dirs: string[]; device?: 'auto' | 'cpu' | 'cuda'; nproc?: number } & Common {
  const { flags, positionals } = parseFlags(args, PRETRAIN_BOOLEANS);
  checkKnown(flags, PRETRAIN_KNOWN);
  const allowed = new Set(['resume', 'python', 'device', 'nproc', 'progress']);
  for (const name of flags.keys()) if (!allowed.has(name)) throw new UsageError(`--${name} does not apply to --resume (the run folders hold the settings)`);
  if (!positionals.length) throw new UsageError('--resume needs one or more RUN_DIR (folders of the run store)');
  return { dirs: positionals.map(p => path.resolve(cwd, p)), device: choice(flags, 'device', FINETUNE_DEVICES), nproc: intFlag(flags, 'nproc'), ...common(flags) };
}

/** The command line of `scwb pretrain` as a prepare input (exported for tests). */
export function pretrainRequestFromArgs(args: string[], cwd = process.cwd()): { input: PretrainInput } & Common {
  const { flags, positionals } = parseFlags(args, PRETRAIN_BOOLEANS);
  checkKnown(flags, PRETRAIN_KNOWN);
  if (positionals.length !== 1) throw new UsageError('give exactly one DATASET.h5ad');
  const checkpoint = stringFlag(flags, 'checkpoint');
  const vocab = stringFlag(flags, 'vocab');
  const store = stringFlag(flags, 'store');
  const input: PretrainInput = {
    datasetPath: path.resolve(cwd, positionals[0]),
    model: choice<PretrainModel>(flags, 'model', PRETRAIN_MODELS), structure: choice<PretrainStructure>(flags, 'structure', PRETRAIN_STRUCTURES),
    checkpoint: checkpoint ? path.resolve(cwd, checkpoint) : null, vocab: vocab ? path.resolve(cwd, vocab) : null,
    valueMode: choice(flags, 'value-mode', ['log1p', 'bins'] as const), nBins: intFlag(flags, 'n-bins', 2), maxSeqLen: intFlag(flags, 'max-seq-len'),
    maskRatio: floatFlag(flags, 'mask-ratio'), mvc: flags.has('mvc'), weightedSampling: flags.has('weighted-sampling'),
    pooling: choice(flags, 'pooling', ['cls', 'mean'] as const), epochs: intFlag(flags, 'epochs'), batchSize: intFlag(flags, 'batch-size'),
    lr: floatFlag(flags, 'lr'), warmupSteps: intFlag(flags, 'warmup-steps', 0), validationFraction: floatFlag(flags, 'validation-fraction'),
    seed: intFlag(flags, 'seed', 0), valueLayer: stringFlag(flags, 'value-layer'), config: configFlag(flags, cwd),
    device: choice(flags, 'device', FINETUNE_DEVICES), nproc: intFlag(flags, 'nproc'), amp: !flags.has('no-amp'), logEvery: intFlag(flags, 'log-every'),
    experiment: stringFlag(flags, 'experiment'), storeRoot: store ? path.resolve(cwd, store) : defaultStoreRoot(cwd),
  };
  return { input, ...common(flags) };
}

const PROBE_USAGE = `usage: scwb probe DATASET.h5ad --encoder PATH --label COL [options]

Probes a frozen encoder (a pre-training run's encoder.pt, an scBERT .pth or an scGPT model folder) on DATASET's
labels with the bundled worker (docs/worker-benchmark.md): a linear probe (Adam ${PROBE_DEFAULTS.lr}, batch ${PROBE_DEFAULTS.batchSize}, ${PROBE_DEFAULTS.epochs} epochs) and kNN
(k = ${PROBE_DEFAULTS.k}), one run per (trial, method). Beside them, the LR baseline (L1, C = 0.1) on raw expression runs here
with the same rows of each trial, so the encoder's gain shows in \`scwb results\`. stdout gets a JSON summary.

  --encoder PATH               the encoder (required); --encoder-model benchmark|scbert|scgpt when not evident
  --label COL                  obs column with the cell types (required)
  --method linear,knn          (default both)
  --protocol seeded|published  seeded (default): stratified ${PROBE_DEFAULTS.testSize * 100}% test splits, seeds 0..trials-1;
                               published: unstratified random ${PROBE_DEFAULTS.testSize * 100}% test splits, a seed drawn per trial (recorded)
  --trials ${PROBE_DEFAULTS.trials}  --seeds 0,1,2 (seeded)  --test-size ${PROBE_DEFAULTS.testSize}
  --k ${PROBE_DEFAULTS.k}  --epochs ${PROBE_DEFAULTS.epochs}  --lr ${PROBE_DEFAULTS.lr}  --batch-size ${PROBE_DEFAULTS.batchSize}  --eval-every ${PROBE_DEFAULTS.evalEvery}
  --select best-test|last      kept linear probe (default: best-test for published, last for seeded)
  --pooling cls|mean  --value-layer NAME  --device auto|cpu|cuda
  --embeddings / --no-embeddings   write embeddings.npy on the first run (default: when none exist yet)
  --no-baseline                skip the raw-expression LR runs
  --python PATH  --experiment NAME  --store DIR  --prepare-only  --progress`;

const PROBE_KNOWN = new Set(['encoder', 'encoder-model', 'label', 'method', 'protocol', 'trials', 'seeds', 'test-size', 'k', 'epochs', 'lr',
  'batch-size', 'eval-every', 'select', 'pooling', 'value-layer', 'device', 'embeddings', 'no-embeddings', 'no-baseline', 'python',
  'experiment', 'store', 'prepare-only', 'progress']);
const PROBE_BOOLEANS = ['embeddings', 'no-embeddings', 'no-baseline', 'prepare-only', 'progress'];

/** The command line of `scwb probe` as a prepare input (exported for tests). */
export function probeRequestFromArgs(args: string[], cwd = process.cwd()): { input: ProbeInput } & Common {
  const { flags, positionals } = parseFlags(args, PROBE_BOOLEANS);
  checkKnown(flags, PROBE_KNOWN);
  if (positionals.length !== 1) throw new UsageError('give exactly one DATASET.h5ad');
  const encoderArg = stringFlag(flags, 'encoder');
  if (!encoderArg) throw new UsageError('--encoder PATH is required (encoder.pt of a pre-training run, an scBERT .pth or an scGPT folder)');
  const label = stringFlag(flags, 'label');
  if (!label) throw new UsageError('--label COL is required (the obs column with the cell types)');
  const encoderPath = path.resolve(cwd, encoderArg);
  const model = choice<PretrainModel>(flags, 'encoder-model', PRETRAIN_MODELS);
  const encoder = model ? { model, path: encoderPath } : encoderFromPath(encoderPath);
  const methodText = stringFlag(flags, 'method');
  const methods = methodText?.split(',').map(s => s.trim()).filter(Boolean);
  for (const m of methods ?? []) if (!(PROBE_METHODS as readonly string[]).includes(m)) throw new UsageError(`--method takes linear and/or knn, got '${m}'`);
  const seedsText = stringFlag(flags, 'seeds');
  const seeds = seedsText?.split(',').map(s => Number(s.trim()));
  if (seeds && seeds.some(s => !Number.isInteger(s) || s < 0)) throw new UsageError(`--seeds must be a comma-separated list of non-negative integers, got '${seedsText}'`);
  if (flags.has('embeddings') && flags.has('no-embeddings')) throw new UsageError('give --embeddings or --no-embeddings, not both');
  const store = stringFlag(flags, 'store');
  const input: ProbeInput = {
    datasetPath: path.resolve(cwd, positionals[0]), labelColumn: label, encoder, methods: methods as ProbeMethod[] | undefined,
    protocol: choice<ProbeProtocol>(flags, 'protocol', PROBE_PROTOCOLS), trials: intFlag(flags, 'trials'), seeds,
    testSize: floatFlag(flags, 'test-size'), k: intFlag(flags, 'k'), epochs: intFlag(flags, 'epochs'), lr: floatFlag(flags, 'lr'),
    batchSize: intFlag(flags, 'batch-size'), evalEvery: intFlag(flags, 'eval-every'), select: choice(flags, 'select', ['best-test', 'last'] as const),
    pooling: choice(flags, 'pooling', ['cls', 'mean'] as const), valueLayer: stringFlag(flags, 'value-layer'),
    device: choice(flags, 'device', FINETUNE_DEVICES),
    writeEmbeddings: flags.has('embeddings') ? true : flags.has('no-embeddings') ? false : undefined,
    baseline: !flags.has('no-baseline'), experiment: stringFlag(flags, 'experiment'),
    storeRoot: store ? path.resolve(cwd, store) : defaultStoreRoot(cwd),
  };
  return { input, ...common(flags) };
}

function progressPrinter(io: CliIO, on: boolean): ((f: number, m?: string) => void) | undefined {
  let lastShown = -1;
  return on ? (f, m) => {
    const pct = Math.floor(f * 100);
    if (pct !== lastShown) { lastShown = pct; io.err(`${String(pct).padStart(3)}% ${m ?? ''}\n`); }
  } : undefined;
}

/** Prepares (cancellable with Ctrl-C), runs the worker, finalizes, prints the summary; returns the exit status. */
async function launch<P>(io: CliIO, name: WorkerRunCommand, opts: Common & { device?: string },
  prepare: (signal: AbortSignal, onProgress?: (f: number, m?: string) => void) => Promise<P>,
  runsOf: (plan: P) => { store: RunStore; ids: string[]; extra: Record<string, unknown> }): Promise<number> {
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  let plan: P;
  try {
    plan = await prepare(abort.signal, progressPrinter(io, opts.progress));
  } catch (e) {
    if (e instanceof CancelledError) {
      io.err(`scwb ${name}: cancelled before the worker started\n`);
      return 130;
    }
    throw e;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
  const { store, ids, extra } = runsOf(plan);
  let code: number | null = null;
  if (!opts.prepareOnly) {
    try {
      code = await runWorker(opts.python, ids.map(id => store.runDir(id)), { command: name, device: opts.device as 'auto' | 'cpu' | 'cuda' | undefined });
    } catch (e) {
      await finalizeFinetuneRuns(store, { ids, workerExitCode: 127 });
      throw e;
    }
  }
  const records = await finalizeFinetuneRuns(store, { ids, ...(code === null ? {} : { workerExitCode: code }) });
  io.out(JSON.stringify({
    ...extra, store: store.root, exitCode: code,
    runs: records.map(r => ({
      id: r.id, runDir: store.runDir(r.id), model: r.model.label, seed: r.seed, split: r.split, status: r.status,
      accuracy: r.summary?.accuracy ?? null, macroF1: r.summary?.macroF1 ?? null, error: r.error,
    })),
  }, null, 2) + '\n');
  if (code === null) return 0;
  return code === 0 && records.some(r => r.status !== 'completed') ? 1 : code;
}

async function resumePretrain(req: ReturnType<typeof pretrainResumeFromArgs>, io: CliIO): Promise<number> {
  const roots = new Set(req.dirs.map(d => path.dirname(d)));
  if (roots.size !== 1) throw new UsageError('--resume: give run folders of one run store');
  const store = new RunStore([...roots][0]);
  const ids: string[] = [];
  for (const dir of req.dirs) {
    if (!fs.existsSync(path.join(dir, RUN_FILE))) throw new Error(`${dir}: not a run folder (no ${RUN_FILE})`);
    const record = await store.get(path.basename(dir));
    if (record.kind !== 'pretrain') throw new Error(`${path.join(dir, RUN_FILE)}: a ${record.kind} run, not a pre-training run`);
    ids.push(record.id);
  }
  let code: number;
  try {
    code = await runWorker(req.python, ids.map(id => store.runDir(id)), { command: 'pretrain', resume: true, device: req.device, nproc: req.nproc });
  } catch (e) {
    await finalizeFinetuneRuns(store, { ids, workerExitCode: 127 });
    throw e;
  }
  const records = await finalizeFinetuneRuns(store, { ids, workerExitCode: code });
  io.out(JSON.stringify({ store: store.root, exitCode: code, runs: records.map(r => ({ id: r.id, runDir: store.runDir(r.id), status: r.status, error: r.error })) }, null, 2) + '\n');
  return code === 0 && records.some(r => r.status !== 'completed') ? 1 : code;
}

export const pretrainCommand: CliCommand = {
  name: 'pretrain',
  summary: 'pre-train a benchmark encoder (transformer / CNN / linear) or continue scBERT/scGPT pre-training',
  usage: PRETRAIN_USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    if (args.includes('--resume')) return resumePretrain(pretrainResumeFromArgs(args), io);
    const req = pretrainRequestFromArgs(args);
    return launch(io, 'pretrain', { ...req, device: req.input.device },
      (signal, onProgress) => preparePretrainInWorker(req.input, { signal, onProgress }),
      plan => ({
        store: new RunStore(plan.storeRoot), ids: [plan.run.id],
        extra: { experiment: plan.experiment, encoder: path.join(plan.run.runDir, 'encoder.pt') },
      }));
  },
};

export const probeCommand: CliCommand = {
  name: 'probe',
  summary: 'probe a frozen encoder (linear probe, kNN) over trials, beside the LR baseline on raw expression',
  usage: PROBE_USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    const req = probeRequestFromArgs(args);
    return launch(io, 'probe', { ...req, device: req.input.device },
      (signal, onProgress) => prepareProbeInWorker(req.input, { signal, onProgress }),
      plan => ({
        store: new RunStore(plan.storeRoot), ids: plan.runs.map(r => r.id),
        extra: { experiment: plan.experiment, encoder: plan.encoderName, splits: plan.splits, baselineRuns: plan.baselineRunIds },
      }));
  },
};
