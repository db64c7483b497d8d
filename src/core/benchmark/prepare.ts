/**
 * Prepares pre-training and probe runs of the AAAI 2025 benchmark for the worker (docs/worker-benchmark.md).
 *
 * - `preparePretrainRun`: one run folder, `kind: "pretrain"`, `parameters.pretrain`, split.json with the rows
 *   pre-trained on (`train`), a held-out `validation` drawn by the unstratified random split (kind 'random') and
 *   `test: []`. Pre-training uses no labels (`labelColumn: ""`).
 * - `prepareProbeGrid`: one run per (trial, method), `kind: "probe"`, `parameters.probe`. Each trial is a split of
 *   the labelled cells: by default a seeded stratified 70/30 split (seeds 0..trials-1); the published protocol
 *   (`protocol: "published"`) is an unstratified random 70/30 split with a seed drawn per trial and recorded in
 *   run.json's `split.seed`, so a "random" trial can be repeated exactly. Beside the probes, the LR baseline runs
 *   in this process on raw expression with the same rows of each trial (`runBaselineGrid`), so the results table
 *   shows the encoder's gain. The first probe run per (encoder, dataset) writes the cell embeddings
 *   (`writeEmbeddings`) for the embedding plot.
 *
 * Everything is checked before the first folder is made.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { resolveCheckpoint } from '../finetune/prepare';
import { sha256File } from '../hash';
import { H5adError } from '../h5ad/types';
import { codeVersion, datasetStem, runBaselineGrid, settle, settleBatch, type BaselineModelSpec } from '../runs/baseline';
import {
  FINETUNE_DEVICES, PRETRAIN_MODELS, PRETRAIN_STRUCTURES, PROBE_METHODS, PretrainParametersSchema, ProbeParametersSchema,
  type DatasetRef, type ModelRef, type Pooling, type PretrainModel, type PretrainParameters, type PretrainStructure,
  type ProbeMethod, type ProbeParameters, type RunSplit,
} from '../runs/schema';
import { RUN_FILE, RunStore } from '../runs/store';
import { randomSplit, stratifiedShuffleSplit, uniqueLabels, SplitError, type SplitIndices } from '../splits';
import { runTask } from '../workers/run-task';
import { CancelledError, type TaskContext } from '../workers/task';
import { readTextFileSync } from '../safe-read';
import { readDatasetInput } from './dataset-input';

/** Published defaults (science notes part B; docs/worker-benchmark.md). */
export const PRETRAIN_DEFAULTS = {
  valueMode: 'log1p' as const, nBins: 51, maskRatio: 0.4, pooling: 'cls' as const, epochs: 10, batchSize: 128, lr: 2e-4,
  warmupSteps: 10_000, logEvery: 10, validationFraction: 0.05,
  /**
   * the published structures: genes after <cls> (the README's --train_maxseq: 512 for the transformer, 511 for CNN and
   * linear); the scwb transformer: tokens with <cls>
   */
  maxSeqLen: {
    transformer: 512, cnn_base: 511, cnn_ours: 511, linear_ours: 511, linear_base: 511, 'scwb-transformer': 512,
  } as Record<PretrainStructure, number>,
};
/**
 * scBERT pre-training from scratch (model scbert without a checkpoint; the worker's pretrain_scbert.py): the published
 * dist_pretrain.py settings that this side sets (batch 3 per step, 100 epochs, lr 1e-4; the worker adds gradient
 * accumulation over 60 batches, 15% of the non-zero tokens masked, fp32). Without gene2vec, as the checkpoint the
 * no-gene2vec ablation needs (published panglao_full_without_g2v).
 */
export const SCBERT_SCRATCH_DEFAULTS = { epochs: 100, batchSize: 3, lr: 1e-4 };
export const PROBE_DEFAULTS = { testSize: 0.3, trials: 5, k: 10, epochs: 50, lr: 0.005, batchSize: 64, evalEvery: 5 };
/** The raw-expression baseline beside the probes: the project's published LR baseline. */
export const PROBE_BASELINE: BaselineModelSpec = { penalty: 'l1', C: 0.1 };

const STRUCTURE_NAMES: Record<PretrainStructure, string> = {
  transformer: 'transformer', cnn_base: 'cnn_base', cnn_ours: 'cnn_ours', linear_ours: 'linear_ours', linear_base: 'linear_base',
  'scwb-transformer': 'scwb transformer',
};
/** The published structures' (the README's) pre-training: with the MVC loss (cnn_base/cnn_ours/linear_ours train only by it). */
export const isPublishedStructure = (s: PretrainStructure): boolean => s !== 'scwb-transformer';
const FAMILY: Record<PretrainModel, string> = { benchmark: 'Benchmark encoder', scbert: 'scBERT', scgpt: 'scGPT' };

export interface PretrainInput {
  datasetPath: string;
  model?: PretrainModel;
  structure?: PretrainStructure;
  /** an earlier run's encoder.pt (benchmark), the scBERT .pth or scGPT folder (continued pre-training); null: random */
  checkpoint?: string | null;
  vocab?: string | null;
  valueMode?: 'log1p' | 'bins';
  nBins?: number;
  maxSeqLen?: number;
  maskRatio?: number;
  mvc?: boolean;
  weightedSampling?: boolean;
  pooling?: Pooling;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  warmupSteps?: number;
  config?: Record<string, unknown> | null;
  valueLayer?: string | null;
  device?: PretrainParameters['device'];
  nproc?: number;
  amp?: boolean;
  logEvery?: number;
  /** cells held out for the validation loss, in (0, 1); default 0.05 */
  validationFraction?: number;
  /** seed of the hold-out and of the worker's draws; default 0 */
  seed?: number;
  /** default '<dataset stem> pre-train' */
  experiment?: string;
  storeRoot: string;
  batch?: string;
}

export interface PreparedRun {
  id: string;
  runDir: string;
  seed: number;
  nTrain: number;
  nValidation: number;
  nTest: number;
}

export interface PretrainPlan {
  experiment: string;
  storeRoot: string;
  batch: string;
  model: ModelRef;
  run: PreparedRun;
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}
const posInt = (x: number | undefined) => x === undefined || (Number.isInteger(x) && x > 0);

/** The results-table identity of a pre-trained encoder. */
export function pretrainModelRef(model: PretrainModel, structure: PretrainStructure, fromScratch = false): ModelRef {
  if (model === 'benchmark') return { family: FAMILY.benchmark, label: `${STRUCTURE_NAMES[structure]} encoder`, variant: structure };
  if (model === 'scbert' && fromScratch) return { family: FAMILY.scbert, label: 'scBERT (from scratch, no gene2vec)', variant: 'from scratch, no gene2vec' };
  return { family: FAMILY[model], label: `${FAMILY[model]} (continued pre-training)`, variant: 'continued pre-training' };
}

function resolvePretrainCheckpoint(model: PretrainModel, checkpoint: string): string {
  if (model !== 'benchmark') return resolveCheckpoint(model, checkpoint);
  const abs = path.resolve(checkpoint);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch {
    throw new Error(`checkpoint ${abs}: no such file`);
  }
  if (!st.isFile()) throw new Error(`checkpoint ${abs}: a benchmark encoder checkpoint is a file (an earlier pre-training run's encoder.pt)`);
  return abs;
}

export async function datasetRef(file: string, ctx: TaskContext, from: number, to: number, shape: { nObs: number; nVars: number }): Promise<DatasetRef> {
  return {
    path: path.resolve(file), nObs: shape.nObs, nVars: shape.nVars,
    sha256: await sha256File(file, (d, t) => ctx.progress(from + (to - from) * (t ? d / t : 1), 'hashing the dataset'), () => ctx.cancelled),
  };
}

/** Creates the pre-training run (status queued). */
export async function preparePretrainRun(input: PretrainInput, ctx: TaskContext): Promise<PretrainPlan> {
  const model = input.model ?? 'benchmark';
  check(PRETRAIN_MODELS.includes(model), `model must be one of ${PRETRAIN_MODELS.join(', ')}, got '${String(model)}'`);
  const structure = input.structure ?? 'transformer';
  check(PRETRAIN_STRUCTURES.includes(structure), `structure must be one of ${PRETRAIN_STRUCTURES.join(', ')}, got '${String(structure)}'`);
  // scBERT without a checkpoint: pre-training from scratch without gene2vec, as published (dist_pretrain.py)
  const scratch = model === 'scbert' && (input.checkpoint === undefined || input.checkpoint === null);
  if (model === 'scgpt') check(input.checkpoint !== undefined && input.checkpoint !== null, `continued pre-training of ${FAMILY[model]} needs its published checkpoint`);
  const checkpoint = input.checkpoint ? resolvePretrainCheckpoint(model, input.checkpoint) : null;
  const vocab = input.vocab ? path.resolve(input.vocab) : null;
  if (vocab) check(fs.existsSync(vocab), `vocabulary ${vocab}: no such file`);
  const validationFraction = input.validationFraction ?? PRETRAIN_DEFAULTS.validationFraction;
  check(validationFraction > 0 && validationFraction < 1, `the validation fraction must be in (0, 1), got ${validationFraction}`);
  const seed = input.seed ?? 0;
  check(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff, `seed ${seed} must be an integer in 0..2^32-1`);
  for (const [name, v] of [['epochs', input.epochs], ['batch size', input.batchSize], ['nproc', input.nproc], ['max sequence length', input.maxSeqLen], ['log every', input.logEvery]] as const) {
    check(posInt(v), `${name} must be a positive integer, got ${v}`);
  }
  check(input.lr === undefined || (input.lr > 0 && Number.isFinite(input.lr)), `lr must be a positive number, got ${input.lr}`);
  check(input.maskRatio === undefined || (input.maskRatio > 0 && input.maskRatio < 1), `the mask ratio must be in (0, 1), got ${input.maskRatio}`);
  check(input.device === undefined || FINETUNE_DEVICES.includes(input.device), `device must be one of ${FINETUNE_DEVICES.join(', ')}, got '${String(input.device)}'`);

  const { nObs, nVars } = await readDatasetInput(input.datasetPath, { noX: 'the file has no X matrix to pre-train on', valueLayer: input.valueLayer });
  let rows: SplitIndices;
  try {
    rows = randomSplit(nObs, validationFraction, seed);
  } catch (e) {
    throw new SplitError(`${input.datasetPath}: cannot hold out ${validationFraction} of ${nObs} cells for validation: ${(e as Error).message}`);
  }
  const pretrain: PretrainParameters = PretrainParametersSchema.parse({
    model, structure, checkpoint, vocab, valueMode: input.valueMode ?? PRETRAIN_DEFAULTS.valueMode, nBins: input.nBins ?? PRETRAIN_DEFAULTS.nBins,
    maxSeqLen: input.maxSeqLen ?? PRETRAIN_DEFAULTS.maxSeqLen[structure], maskRatio: input.maskRatio ?? PRETRAIN_DEFAULTS.maskRatio,
    mvc: input.mvc ?? (model === 'benchmark' && isPublishedStructure(structure)), weightedSampling: input.weightedSampling ?? false, pooling: input.pooling ?? PRETRAIN_DEFAULTS.pooling,
    epochs: input.epochs ?? (scratch ? SCBERT_SCRATCH_DEFAULTS : PRETRAIN_DEFAULTS).epochs,
    batchSize: input.batchSize ?? (scratch ? SCBERT_SCRATCH_DEFAULTS : PRETRAIN_DEFAULTS).batchSize,
    lr: input.lr ?? (scratch ? SCBERT_SCRATCH_DEFAULTS : PRETRAIN_DEFAULTS).lr, warmupSteps: input.warmupSteps ?? PRETRAIN_DEFAULTS.warmupSteps, config: input.config ?? null,
    valueLayer: input.valueLayer ?? null, device: input.device ?? 'auto', nproc: input.nproc ?? 1, amp: input.amp ?? true,
    logEvery: input.logEvery ?? PRETRAIN_DEFAULTS.logEvery,
  });
  const dataset = await datasetRef(input.datasetPath, ctx, 0.05, 0.9, { nObs, nVars });
  if (ctx.cancelled) throw new CancelledError();
  const ref = pretrainModelRef(model, structure, scratch);
  const store = new RunStore(input.storeRoot);
  const batch = input.batch ?? crypto.randomBytes(6).toString('hex');
  const experiment = input.experiment?.trim() || `${datasetStem(input.datasetPath)} pre-train`;
  const split: RunSplit = { kind: 'random', testSize: validationFraction, seed };
  const record = await store.create({
    kind: 'pretrain', name: `${ref.label} pre-training seed=${seed}`, experiment, dataset, labelColumn: '', split, seed, fraction: 1,
    model: ref, parameters: { batch, pretrain }, codeVersion: codeVersion(),
  });
  await store.writeSplit(record.id, { train: rows.train, validation: rows.test, test: [] });
  await store.appendLog(record.id, `prepared ${ref.label} pre-training (${model}${model === 'benchmark' ? `, ${structure}` : ''}, checkpoint ${checkpoint ?? (scratch ? 'none: from scratch without gene2vec, as published' : 'none: random initialisation')}) on ${dataset.path} (sha256 ${dataset.sha256})`);
  await store.appendLog(record.id, `${rows.train.length} cells to pre-train on, ${rows.test.length} held out for the validation loss (random split ${validationFraction}, seed ${seed})`);
  ctx.progress(1, 'prepared');
  return {
    experiment, storeRoot: store.root, batch, model: ref,
    run: { id: record.id, runDir: store.runDir(record.id), seed, nTrain: rows.train.length, nValidation: rows.test.length, nTest: 0 },
  };
}

export const PROBE_PROTOCOLS = ['seeded', 'published'] as const;
export type ProbeProtocol = (typeof PROBE_PROTOCOLS)[number];

export interface ProbeEncoder {
  model: PretrainModel;
  /** encoder.pt, an scBERT .pth or an scGPT model folder */
  path: string;
}

export interface ProbeInput {
  datasetPath: string;
  labelColumn: string;
  encoder: ProbeEncoder;
  /** display name of the encoder in the results (default: the pre-training run's model label, else the file name) */
  encoderName?: string;
  methods?: ProbeMethod[];
  /** 'seeded' (default): stratified splits with seeds 0..trials-1 (or `seeds`); 'published': random splits, drawn seeds */
  protocol?: ProbeProtocol;
  trials?: number;
  /**
   * the split seeds (one trial each); overrides `trials`. With the published protocol only together with
   * `seedsDrawn` (seeds drawn earlier, e.g. by a queued preset), since that protocol otherwise draws its own
   */
  seeds?: number[];
  seedsDrawn?: boolean;
  testSize?: number;
  pooling?: Pooling;
  /** published benchmark encoders: 'weighted' (default, as published) or 'uniform' gene sampling per trial */
  geneSampling?: ProbeParameters['geneSampling'];
  k?: number;
  epochs?: number;
  lr?: number;
  batchSize?: number;
  evalEvery?: number;
  /** default: 'best-test' for the published protocol (as published), 'last' for the seeded one */
  select?: 'best-test' | 'last';
  valueLayer?: string | null;
  device?: ProbeParameters['device'];
  /** write embeddings.npy on the first run: default when no completed probe of this (encoder, dataset) has them */
  writeEmbeddings?: boolean;
  /** the LR baseline on raw expression with each trial's rows (default true) */
  baseline?: boolean;
  /** 'classification' (default: linear probe / kNN on the label column) or 'perturbation-prediction' (perturbation.ts) */
  task?: 'classification' | 'perturbation-prediction';
  /** perturbation prediction: the control cells' label (default 'ctrl') */
  control?: string;
  /** perturbation prediction: hold whole perturbations out (zero-shot) */
  zeroShot?: boolean;
  /** default '<dataset stem> probes' */
  experiment?: string;
  storeRoot: string;
  batch?: string;
}

export interface ProbePlan {
  experiment: string;
  storeRoot: string;
  batch: string;
  encoderName: string;
  classes: string[];
  splits: RunSplit[];
  runs: (PreparedRun & { method: ProbeParameters['method']; trial: number; writeEmbeddings: boolean })[];
  /** the raw-expression LR runs beside the probes (one per trial), already completed (or failed) */
  baselineRunIds: string[];
}

/** Whether an encoder path is a file or folder of the given model kind; throws naming the path. */
export function resolveEncoder(encoder: ProbeEncoder): ProbeEncoder {
  check(PRETRAIN_MODELS.includes(encoder.model), `encoder model must be one of ${PRETRAIN_MODELS.join(', ')}, got '${String(encoder.model)}'`);
  if (encoder.model === 'benchmark') return { model: 'benchmark', path: resolvePretrainCheckpoint('benchmark', encoder.path) };
  return { model: encoder.model, path: resolveCheckpoint(encoder.model, encoder.path) };
}

/**
 * The encoder's model kind from its path: an scGPT model folder (or best_model.pt), an scBERT `.pth`, else a
 * benchmark encoder (encoder.pt). An encoder.pt of a continued scBERT/scGPT pre-training says so in its run.json.
 */
export function encoderFromPath(file: string): ProbeEncoder {
  const abs = path.resolve(file);
  const st = fs.statSync(abs, { throwIfNoEntry: false });
  if (!st) throw new Error(`encoder ${abs}: no such file or folder`);
  if (st.isDirectory() || path.basename(abs) === 'best_model.pt') return { model: 'scgpt', path: abs };
  const run = pretrainRunOf(abs);
  if (run) return { model: run.model, path: abs };
  return { model: abs.endsWith('.pth') ? 'scbert' : 'benchmark', path: abs };
}

/** The pre-training run that wrote this encoder.pt (its run.json beside it), if any. */
export function pretrainRunOf(encoderPath: string): { model: PretrainModel; label: string } | null {
  if (path.basename(encoderPath) !== 'encoder.pt') return null;
  try {
    const rec = JSON.parse(readTextFileSync(path.join(path.dirname(encoderPath), RUN_FILE))) as { kind?: string; model?: { label?: string }; parameters?: { pretrain?: { model?: string } } };
    const model = rec.parameters?.pretrain?.model;
    if (rec.kind !== 'pretrain' || !PRETRAIN_MODELS.includes(model as PretrainModel)) return null;
    return { model: model as PretrainModel, label: rec.model?.label ?? 'encoder' };
  } catch {
    return null;
  }
}

/** The results-table identity of a probe: "<encoder> linear probe" / "<encoder> kNN". */
export function probeModelRef(encoder: ProbeEncoder, encoderName: string, method: ProbeMethod): ModelRef {
  const suffix = method === 'linear' ? 'linear probe' : 'kNN';
  return { family: FAMILY[encoder.model], label: `${encoderName} ${suffix}`, variant: suffix };
}

export function defaultEncoderName(encoder: ProbeEncoder): string {
  const run = pretrainRunOf(encoder.path);
  if (run) return `${run.label} (${path.basename(path.dirname(encoder.path))})`;
  return path.basename(encoder.path).replace(/\.(pt|pth)$/i, '');
}

/** Seeds of the published protocol: one drawn per trial (recorded in run.json, so the trial can be repeated). */
export function drawTrialSeeds(trials: number): number[] {
  const seeds = new Set<number>();
  while (seeds.size < trials) seeds.add(crypto.randomInt(0, 2 ** 31 - 1));
  return [...seeds];
}

/** Whether a completed probe of this encoder on this dataset already wrote embeddings.npy. */
async function hasEmbeddings(store: RunStore, encoderPath: string, datasetPath: string): Promise<boolean> {
  const runs = await store.list().catch(() => []);
  return runs.some(r => {
    if (r.kind !== 'probe' || r.status !== 'completed' || r.dataset.path !== datasetPath) return false;
    const p = r.parameters.probe as { encoder?: { path?: string }; writeEmbeddings?: boolean } | undefined;
    return p?.encoder?.path === encoderPath && p.writeEmbeddings === true && fs.existsSync(store.file(r.id, 'embeddings.npy'));
  });
}

/** Creates the probe runs (queued) and runs the raw-expression LR baseline of each trial. */
export async function prepareProbeGrid(input: ProbeInput, ctx: TaskContext): Promise<ProbePlan> {
  check(!!input.labelColumn, 'a label column is required');
  const encoder = resolveEncoder(input.encoder);
  const methods = input.methods?.length ? Array.from(new Set(input.methods)) : [...PROBE_METHODS];
  for (const m of methods) check(PROBE_METHODS.includes(m), `method must be linear or knn, got '${String(m)}'`);
  const protocol = input.protocol ?? 'seeded';
  check(PROBE_PROTOCOLS.includes(protocol), `protocol must be seeded or published, got '${String(protocol)}'`);
  check(posInt(input.trials), `trials must be a positive integer, got ${input.trials}`);
  if (protocol === 'published' && !input.seedsDrawn) check(!input.seeds?.length, 'the published protocol draws its seeds; give seeds only with the seeded protocol');
  const seeds = protocol === 'published' && !input.seedsDrawn ? drawTrialSeeds(input.trials ?? PROBE_DEFAULTS.trials)
    : input.seeds?.length ? Array.from(new Set(input.seeds)) : Array.from({ length: input.trials ?? PROBE_DEFAULTS.trials }, (_, i) => i);
  for (const s of seeds) check(Number.isInteger(s) && s >= 0 && s <= 0xffffffff, `seed ${s} must be an integer in 0..2^32-1`);
  const testSize = input.testSize ?? PROBE_DEFAULTS.testSize;
  check(testSize > 0 && testSize < 1, `the test size must be in (0, 1), got ${testSize}`);
  for (const [name, v] of [['k', input.k], ['epochs', input.epochs], ['batch size', input.batchSize], ['evalEvery', input.evalEvery]] as const) {
    check(posInt(v), `${name} must be a positive integer, got ${v}`);
  }
  check(input.lr === undefined || (input.lr > 0 && Number.isFinite(input.lr)), `lr must be a positive number, got ${input.lr}`);

  const { nObs, nVars, labels } = await readDatasetInput(input.datasetPath, { noX: 'the file has no X matrix to embed', labelColumn: input.labelColumn, valueLayer: input.valueLayer });
  const classes = uniqueLabels(labels).classes.map(String);
  if (classes.length < 2) throw new H5adError(input.datasetPath, `the label column '${input.labelColumn}' has ${classes.length} class; a probe needs at least 2`);
  const splits: RunSplit[] = seeds.map(seed => (protocol === 'published' ? { kind: 'random', testSize, seed } : { kind: 'stratified', testSize, seed }));
  const rows: SplitIndices[] = splits.map(s => {
    try {
      return s.kind === 'random' ? randomSplit(nObs, s.testSize, s.seed) : stratifiedShuffleSplit(labels, { testSize, seed: (s as { seed: number }).seed });
    } catch (e) {
      throw new SplitError(`${input.datasetPath}, split seed ${(s as { seed: number }).seed}: ${(e as Error).message}`);
    }
  });

  const dataset = await datasetRef(input.datasetPath, ctx, 0.02, 0.3, { nObs, nVars });
  if (ctx.cancelled) throw new CancelledError();
  const store = new RunStore(input.storeRoot);
  const encoderName = input.encoderName?.trim() || defaultEncoderName(encoder);
  const writeFirst = input.writeEmbeddings ?? !await hasEmbeddings(store, encoder.path, dataset.path);
  const select = input.select ?? (protocol === 'published' ? 'best-test' : 'last');
  const batch = input.batch ?? crypto.randomBytes(6).toString('hex');
  const experiment = input.experiment?.trim() || `${datasetStem(input.datasetPath)} probes`;
  const version = codeVersion();
  const runs: ProbePlan['runs'] = [];
  for (let t = 0; t < seeds.length; t++) {
    for (const method of methods) {
      if (ctx.cancelled) {
        for (const r of runs) await settle(store, r.id, 'cancelled', null);
        throw new CancelledError();
      }
      const writeEmbeddings = writeFirst && runs.length === 0;
      const probe: ProbeParameters = ProbeParametersSchema.parse({
        encoder, method, classes, pooling: input.pooling ?? PRETRAIN_DEFAULTS.pooling, k: input.k ?? PROBE_DEFAULTS.k,
        epochs: input.epochs ?? PROBE_DEFAULTS.epochs, lr: input.lr ?? PROBE_DEFAULTS.lr, batchSize: input.batchSize ?? PROBE_DEFAULTS.batchSize,
        evalEvery: input.evalEvery ?? PROBE_DEFAULTS.evalEvery, select, geneSampling: input.geneSampling ?? 'weighted', writeEmbeddings, valueLayer: input.valueLayer ?? null,
        device: input.device ?? 'auto',
      });
      const model = probeModelRef(encoder, encoderName, method);
      const seed = seeds[t];
      const record = await store.create({
        kind: 'probe', name: `${model.label} trial ${t + 1} seed=${seed}`, experiment, dataset, labelColumn: input.labelColumn,
        split: splits[t], seed, fraction: 1, model, parameters: { batch, protocol, trial: t + 1, probe }, codeVersion: version,
      });
      await store.writeSplit(record.id, { train: rows[t].train, validation: [], test: rows[t].test });
      await store.appendLog(record.id, `prepared ${model.label} (${encoder.model} encoder ${encoder.path}) on ${dataset.path} (sha256 ${dataset.sha256}), label '${input.labelColumn}'`);
      await store.appendLog(record.id, `trial ${t + 1} of ${seeds.length} (${protocol} protocol): split ${JSON.stringify(splits[t])}: ${rows[t].train.length} train, ${rows[t].test.length} test`);
      runs.push({
        id: record.id, runDir: store.runDir(record.id), seed, nTrain: rows[t].train.length, nValidation: 0, nTest: rows[t].test.length,
        method, trial: t + 1, writeEmbeddings,
      });
    }
  }
  const baselineRunIds: string[] = [];
  if (input.baseline !== false) {
    for (let t = 0; t < splits.length; t++) {
      const from = 0.3 + 0.7 * t / splits.length;
      const to = 0.3 + 0.7 * (t + 1) / splits.length;
      try {
        const res = await runBaselineGrid({
          datasetPath: input.datasetPath, labelColumn: input.labelColumn, split: splits[t], model: PROBE_BASELINE,
          fractions: [1], seeds: [seeds[t]], experiment, storeRoot: store.root, batch,
        }, {
          get cancelled() { return ctx.cancelled; },
          progress: (f, m) => ctx.progress(from + (to - from) * f, `LR baseline on raw expression, trial ${t + 1}/${splits.length}: ${m ?? ''}`.trim()),
        });
        baselineRunIds.push(...res.runs.map(r => r.id));
      } catch (e) {
        if (e instanceof CancelledError) {
          for (const r of runs) await settle(store, r.id, 'cancelled', null);
        }
        throw e;
      }
    }
  }
  ctx.progress(1, 'prepared');
  return { experiment, storeRoot: store.root, batch, encoderName, classes, splits, runs, baselineRunIds };
}

export interface PrepareOptions {
  onProgress?: (fraction: number, message?: string) => void;
  signal?: AbortSignal;
}

async function inWorker<O>(name: string, input: { storeRoot: string; batch?: string }, opts: PrepareOptions): Promise<O> {
  const batch = input.batch ?? crypto.randomBytes(6).toString('hex');
  try {
    return await runTask<O>('benchmark/tasks', name, { ...input, batch }, { onProgress: opts.onProgress, signal: opts.signal, graceMs: 10_000 });
  } catch (e) {
    await settleBatch(new RunStore(input.storeRoot), batch, e);
    throw e;
  }
}

/** preparePretrainRun in a worker thread; on failure or cancel no run of this call stays queued. */
export function preparePretrainInWorker(input: PretrainInput, opts: PrepareOptions = {}): Promise<PretrainPlan> {
  return inWorker<PretrainPlan>('preparePretrain', input, opts);
}

/** prepareProbeGrid in a worker thread; on failure or cancel no run of this call stays queued. */
export function prepareProbeInWorker(input: ProbeInput, opts: PrepareOptions = {}): Promise<ProbePlan> {
  return inWorker<ProbePlan>('prepareProbe', input, opts);
}
