/**
 * Prepares fine-tune runs for the training worker (docs/worker.md): one run folder per (few-shot fraction, seed)
 * with run.json (`kind: "finetune"`, `parameters.finetune`) and split.json (train / validation / test rows).
 *
 * The train/test split is the LR baseline's (src/core/runs/split-rows.ts), so a fine-tuned model and the baseline are
 * scored on the same cells. Training rows follow each published protocol (`fewShotDrawOf`, docs/protocols.md): scBERT
 * full runs take the whole training split, its few-shot runs draw from the few-shot script's seeded stream; scGPT
 * draws stratified subsets (as the baseline does for the same seed). Validation rows follow each published protocol:
 * - scBERT: the test set itself (the published code picks the best epoch on the reported set; on a reference/query
 *   split the worker reads a validation list equal to test as the query's test cells, docs/worker.md);
 * - scGPT: a 10% stratified hold-out of the few-shot training rows,
 *   `train_test_split(train, test_size=0.1, stratify=y, random_state=seed)`; training uses the other 90%.
 *
 * Everything is checked and computed before the first folder is made, so a bad input leaves no half-made grid.
 * `prepareFinetuneGrid` runs in the calling thread (hashing a large dataset takes a while): callers that must stay
 * responsive use `prepareFinetuneInWorker`.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { isDemoCheckpoint, withDemoMark } from '../checkpoints/demo-weights';
import { sha256File } from '../hash';
import { labelValues } from '../h5ad/labels';
import { openH5ad } from '../h5ad/read';
import { H5adError } from '../h5ad/types';
import { normalizeVariant } from '../results/published';
import { codeVersion, datasetStem, settle, settleBatch } from '../runs/baseline';
import {
  FINETUNE_ABLATIONS, FINETUNE_DEVICES, FinetuneParametersSchema, PROTOCOL_CHOICE_KEYS, ProtocolChoicesSchema,
  type DatasetRef, type FewShotDraw, type FinetuneAblation, type FinetuneModel, type FinetuneParameters, type ModelRef,
  type ProtocolChoices, type RunSplit,
  VALIDATION_SPLITS, type ValidationSplit,
} from '../runs/schema';
import { deviationNames, protocolElements } from '../protocols/protocol';
import { SCBERT_FEW_SHOT_ORDER } from '../protocols/published';
import { fewShotTrainRows, singleFileSplit, splitClasses } from '../runs/split-rows';
import { RunStore } from '../runs/store';
import { SplitError, fewShotStreamSubset, referenceQueryIndices, trainTestSplit, type Label, type SplitIndices } from '../splits';
import { runTask } from '../workers/run-task';
import { CancelledError, type TaskContext } from '../workers/task';

export interface FinetuneGridInput {
  datasetPath: string;
  /** test on all of this file and train on all of the dataset (reference/query); overrides `split` */
  queryPath?: string;
  labelColumn: string;
  /** default: stratified 80/20 with seed 2022 (the scBERT protocol and the baseline's default) */
  split?: RunSplit;
  model: FinetuneModel;
  /** scBERT .pth file, scGPT model folder (or its best_model.pt), or null: random initialisation */
  checkpoint: string | null;
  ablation?: FinetuneAblation;
  /** few-shot fractions of the training split, each in (0, 1]; default [1] */
  fractions?: number[];
  /** few-shot seeds; default [0] */
  seeds?: number[];
  /** stratified few-shot subsets; default: true for scGPT (as published), false for scBERT */
  stratifiedFewShot?: boolean;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  device?: FinetuneParameters['device'];
  nproc?: number;
  amp?: boolean;
  logEvery?: number;
  maxSeqLen?: number;
  /** read values from layers/<name>; default for scGPT: `X_binned` when the dataset has it */
  valueLayer?: string | null;
  ignoreKeys?: string[];
  /** model hyper-parameters for the worker (tests, random initialisation without a checkpoint) */
  config?: Record<string, unknown> | null;
  /** default: the experiment of the newest LR baseline on this dataset and split, else '<dataset stem> fine-tune' */
  experiment?: string;
  storeRoot: string;
  publishedDataset?: string;
  /** tags every run of this call (parameters.batch) */
  batch?: string;
  /** protocol elements the user changes (docs/protocols.md); absent or null: the published values */
  protocol?: ProtocolChoices;
  /** scBERT: runs of the published few-shot script (rows from its per-seed stream also at fraction 1.0) */
  fewShotRun?: boolean;
  /** the preset the runs come from (run.json protocol.preset) */
  preset?: string;
  /** scGPT's validation hold-out: stratified (default) or random, the published non-stratified split (run.json protocol.validation) */
  validationSplit?: ValidationSplit;
}

export interface PreparedFinetuneRun {
  id: string;
  runDir: string;
  fraction: number;
  seed: number;
  nTrain: number;
  nValidation: number;
  nTest: number;
}

export interface FinetuneGridPlan {
  experiment: string;
  storeRoot: string;
  batch: string;
  model: ModelRef;
  classes: string[];
  runs: PreparedFinetuneRun[];
}

/** Published defaults per model: epochs (scGPT without pre-training trains 30), and the few-shot seeds. */
export const FINETUNE_DEFAULTS = {
  scbert: { epochs: 10, seeds: [0, 2021, 4042], stratifiedFewShot: false },
  scgpt: { epochs: 20, ablationEpochs: 30, seeds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], stratifiedFewShot: true, maxSeqLen: 3001 },
  batchSize: 32,
  lr: 1e-4,
} as const;

const FAMILY: Record<FinetuneModel, string> = { scbert: 'scBERT', scgpt: 'scGPT' };

/**
 * The results-table identity of a fine-tuned model. Variants are named as the published numbers name them
 * (resources/published_numbers.csv), so matching rows sit beside the published values.
 */
export function finetuneModelRef(model: FinetuneModel, ablation: FinetuneAblation): ModelRef {
  const family = FAMILY[model];
  const names: Record<FinetuneModel, Record<FinetuneAblation, [string, string]>> = {
    scbert: {
      'none': ['', ''], 'no-pretraining': ['no pre-training', 'no pretraining'],
      'no-gene2vec': ['no gene2vec', 'no gene2vec'], 'frozen-embeddings': ['frozen embeddings', 'frozen embeddings'],
    },
    scgpt: {
      'none': ['', ''], 'no-pretraining': ['no pre-training', 'no pretrain'],
      'no-gene2vec': ['no gene2vec', 'no gene2vec'], 'frozen-embeddings': ['no pre-training, frozen embeddings', 'no pretrain freeze'],
    },
  };
  const [suffix, variant] = names[model][ablation];
  return { family, label: suffix ? `${family} ${suffix}` : family, variant: normalizeVariant(variant) };
}

function checkNumber(name: string, v: number | undefined, ok: (x: number) => boolean, what: string): void {
  if (v !== undefined && !ok(v)) throw new Error(`${name} must be ${what}, got ${v}`);
}

/** Resolves a checkpoint as the worker expects it: the scBERT file, or the scGPT folder. Throws naming the path. */
export function resolveCheckpoint(model: FinetuneModel, checkpoint: string): string {
  const abs = path.resolve(checkpoint);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch {
    throw new Error(`checkpoint ${abs}: no such file or folder`);
  }
  if (model === 'scbert') {
    if (!st.isFile()) throw new Error(`checkpoint ${abs}: an scBERT checkpoint is a .pth file, not a folder`);
    return abs;
  }
  const dir = st.isDirectory() ? abs : path.dirname(abs);
  if (!st.isDirectory() && path.basename(abs) !== 'best_model.pt') {
    throw new Error(`checkpoint ${abs}: an scGPT checkpoint is a model folder (best_model.pt, vocab.json, args.json)`);
  }
  for (const f of ['best_model.pt', 'vocab.json']) {
    if (!fs.existsSync(path.join(dir, f))) throw new Error(`checkpoint ${dir}: the scGPT model folder has no ${f}`);
  }
  return dir;
}

interface Normalised {
  fractions: number[];
  seeds: number[];
  ablation: FinetuneAblation;
  checkpoint: string | null;
  split: RunSplit;
  stratifiedFewShot: boolean;
  protocol: ProtocolChoices;
}

function normalise(input: FinetuneGridInput): Normalised {
  if (input.model !== 'scbert' && input.model !== 'scgpt') throw new Error(`model must be scbert or scgpt, got '${String(input.model)}'`);
  if (!input.labelColumn) throw new Error('a label column is required');
  const fractions = input.fractions?.length ? Array.from(new Set(input.fractions)) : [1];
  const seeds = input.seeds?.length ? Array.from(new Set(input.seeds)) : [0];
  for (const f of fractions) if (!(f > 0 && f <= 1)) throw new Error(`fraction ${f} is not in (0, 1]`);
  for (const s of seeds) if (!Number.isInteger(s) || s < 0 || s > 0xffffffff) throw new Error(`seed ${s} must be an integer in 0..2^32-1`);
  let ablation = input.ablation ?? 'none';
  if (!FINETUNE_ABLATIONS.includes(ablation)) throw new Error(`ablation must be one of ${FINETUNE_ABLATIONS.join(', ')}, got '${String(ablation)}'`);
  if (input.model === 'scgpt' && ablation === 'no-gene2vec') throw new Error('the no-gene2vec ablation is scBERT\'s (scGPT has no gene2vec embedding)');
  const checkpoint = input.checkpoint === null ? null : resolveCheckpoint(input.model, input.checkpoint);
  // No checkpoint is random initialisation: label it as the no-pre-training ablation it is.
  if (checkpoint === null && ablation === 'none') ablation = 'no-pretraining';
  checkNumber('epochs', input.epochs, x => Number.isInteger(x) && x > 0, 'a positive integer');
  checkNumber('batch size', input.batchSize, x => Number.isInteger(x) && x > 0, 'a positive integer');
  checkNumber('nproc', input.nproc, x => Number.isInteger(x) && x > 0, 'a positive integer');
  checkNumber('lr', input.lr, x => x > 0 && Number.isFinite(x), 'a positive number');
  if (input.device !== undefined && !FINETUNE_DEVICES.includes(input.device)) throw new Error(`device must be one of ${FINETUNE_DEVICES.join(', ')}, got '${String(input.device)}'`);
  const split = finetuneSplit(input);
  if (split.kind !== 'reference-query' && !(split.testSize > 0)) throw new Error('testSize must be positive');
  const stratifiedFewShot = input.stratifiedFewShot ?? FINETUNE_DEFAULTS[input.model].stratifiedFewShot;
  const parsed = ProtocolChoicesSchema.safeParse(input.protocol ?? {});
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new Error(`protocol option ${i.path.join('.')}: ${i.message}`);
  }
  const protocol: ProtocolChoices = {};
  for (const k of PROTOCOL_CHOICE_KEYS) {
    const v = parsed.data[k];
    if (v !== undefined && v !== null) (protocol as Record<string, unknown>)[k] = v;
  }
  if (input.model === 'scgpt' && (protocol.headDropout !== undefined || protocol.gene2vec !== undefined)) {
    throw new Error(`${protocol.headDropout !== undefined ? 'headDropout' : 'gene2vec'} is a scBERT setting (scGPT's classifier has no dropout; it has no gene2vec table)`);
  }
  if (input.model === 'scbert' && protocol.geneEmbInit !== undefined) throw new Error('geneEmbInit is a scGPT setting (scBERT\'s gene embedding is the gene2vec table)');
  if (protocol.gene2vec) {
    protocol.gene2vec = path.resolve(protocol.gene2vec);
    if (!fs.existsSync(protocol.gene2vec)) throw new Error(`gene2vec ${protocol.gene2vec}: no such file`);
  }
  return { fractions, seeds, ablation, checkpoint, split, stratifiedFewShot, protocol };
}

/**
 * How a run draws its training rows (run.json protocol.fewShotDraw): scGPT and stratified grids as before; scBERT
 * from the few-shot script's stream for its published fractions (and at 1.0 when `fewShotRun`), else at fraction 1
 * the whole training split as dist_finetune.py, else (a fraction the paper has not) one reseeded np.random.choice.
 */
/** The run's split: reference/query when a query file is given, else `split`, else stratified 80/20 with seed 2022. */
export function finetuneSplit(input: Pick<FinetuneGridInput, 'queryPath' | 'split'>): RunSplit {
  if (input.queryPath) return { kind: 'reference-query', queryPath: path.resolve(input.queryPath) };
  if (input.split?.kind === 'reference-query') return { kind: 'reference-query', queryPath: path.resolve(input.split.queryPath) };
  return input.split ?? { kind: 'stratified', testSize: 0.2, seed: 2022 };
}

export function fewShotDrawOf(model: FinetuneModel, fraction: number, stratified: boolean, fewShotRun: boolean): FewShotDraw {
  if (stratified) return 'stratified';
  if (model !== 'scbert') return 'reseed';
  if (fraction === 1 && !fewShotRun) return 'all';
  return (SCBERT_FEW_SHOT_ORDER as readonly number[]).includes(fraction) ? 'stream' : 'reseed';
}

export function drawTrainRows(draw: FewShotDraw, train: readonly number[], labels: readonly Label[], fraction: number, seed: number): number[] {
  if (draw === 'all') return train.slice();
  if (draw === 'stream') return fewShotStreamSubset(train, fraction, seed, SCBERT_FEW_SHOT_ORDER);
  return fewShotTrainRows(train, labels, fraction, seed, draw === 'stratified');
}

export interface SplitLabels {
  trainLabels: Label[];
  testLabels: Label[];
  split: SplitIndices;
  nObs: number;
  nVars: number;
  queryShape: [number, number] | null;
  layers: string[];
}

export async function readSplitLabels(datasetPath: string, labelColumn: string, split: RunSplit): Promise<SplitLabels> {
  const reader = await openH5ad(datasetPath);
  try {
    const summary = reader.summary();
    if (!summary.X) throw new H5adError(datasetPath, 'the file has no X matrix to fine-tune on');
    const labels = labelValues(reader.obs(), labelColumn, datasetPath);
    const layers = Object.keys(summary.layers);
    if (split.kind === 'reference-query') {
      const query = await openH5ad(split.queryPath);
      try {
        const qs = query.summary();
        if (!qs.X) throw new H5adError(split.queryPath, 'the file has no X matrix to predict on');
        const queryLabels = labelValues(query.obs(), labelColumn, split.queryPath);
        return {
          trainLabels: labels, testLabels: queryLabels, split: referenceQueryIndices(summary.nObs, qs.nObs),
          nObs: summary.nObs, nVars: summary.nVars, queryShape: [qs.nObs, qs.nVars], layers,
        };
      } finally {
        query.close();
      }
    }
    return {
      trainLabels: labels, testLabels: labels, split: singleFileSplit(reader, labels, split, datasetPath),
      nObs: summary.nObs, nVars: summary.nVars, queryShape: null, layers,
    };
  } finally {
    reader.close();
  }
}

/**
 * The scGPT protocol's validation hold-out: 10% of the training rows, seeded by the run's seed; stratified on the
 * label unless `split` is 'random' (the published script's train_test_split(test_size=0.1) without stratify).
 */
export function scgptValidationSplit(trainRows: readonly number[], labels: readonly Label[], seed: number, split: ValidationSplit = 'stratified'): { train: number[]; validation: number[] } {
  const y = trainRows.map(i => labels[i]);
  let parts: SplitIndices;
  try {
    parts = trainTestSplit(trainRows.length, split === 'random' ? { testSize: 0.1, seed } : { testSize: 0.1, seed, stratify: y });
  } catch (e) {
    throw new SplitError(`cannot hold out a ${split} 10% validation set from ${trainRows.length} training cells: ${(e as Error).message}`);
  }
  return { train: parts.train.map(k => trainRows[k]), validation: parts.test.map(k => trainRows[k]) };
}

/** Creates the grid's run folders (status queued) and returns where they are. */
export async function prepareFinetuneGrid(input: FinetuneGridInput, ctx: TaskContext): Promise<FinetuneGridPlan> {
  const n = normalise(input);
  const isCancelled = () => ctx.cancelled;
  const data = await readSplitLabels(input.datasetPath, input.labelColumn, n.split);
  const classes = splitClasses(data.split, data.trainLabels, data.testLabels).map(String);
  if (classes.length < 2) throw new H5adError(input.datasetPath, `the label column '${input.labelColumn}' has ${classes.length} class; fine-tuning needs at least 2`);

  if (input.validationSplit !== undefined && !(VALIDATION_SPLITS as readonly string[]).includes(input.validationSplit)) {
    throw new Error(`validation split must be one of ${VALIDATION_SPLITS.join(', ')}, got '${String(input.validationSplit)}'`);
  }
  if (input.validationSplit === 'random' && input.model !== 'scgpt') throw new Error('the validation split is scGPT\'s setting (scBERT validates on the test set, as published)');
  const validationSplit: ValidationSplit = input.validationSplit ?? 'stratified';
  // Every run's rows, before any folder exists.
  const plans: { fraction: number; seed: number; draw: FewShotDraw; train: number[]; validation: number[] }[] = [];
  for (const fraction of n.fractions) {
    for (const seed of n.seeds) {
      if (ctx.cancelled) throw new CancelledError();
      let train: number[];
      const draw = fewShotDrawOf(input.model, fraction, n.stratifiedFewShot, !!input.fewShotRun);
      try {
        train = drawTrainRows(draw, data.split.train, data.trainLabels, fraction, seed);
      } catch (e) {
        throw new SplitError(`fraction ${fraction}, seed ${seed}: ${(e as Error).message}`);
      }
      if (train.length === 0) throw new SplitError(`fraction ${fraction} of ${data.split.train.length} training cells leaves no cell to train on`);
      if (input.model === 'scgpt') {
        const v = (() => {
          try {
            return scgptValidationSplit(train, data.trainLabels, seed, validationSplit);
          } catch (e) {
            throw new SplitError(`fraction ${fraction}, seed ${seed}: ${(e as Error).message}`);
          }
        })();
        plans.push({ fraction, seed, draw, ...v });
      } else {
        plans.push({ fraction, seed, draw, train, validation: data.split.test.slice() });
      }
    }
  }

  ctx.progress(0.05, 'hashing the dataset');
  const dataset: DatasetRef = {
    path: path.resolve(input.datasetPath), nObs: data.nObs, nVars: data.nVars,
    sha256: await sha256File(input.datasetPath, (d, t) => ctx.progress(0.05 + 0.85 * (t ? d / t : 1), 'hashing the dataset'), isCancelled),
  };
  let query: DatasetRef | undefined;
  if (n.split.kind === 'reference-query' && data.queryShape) {
    query = {
      path: n.split.queryPath, nObs: data.queryShape[0], nVars: data.queryShape[1],
      sha256: await sha256File(n.split.queryPath, undefined, isCancelled),
    };
  }

  const demoWeights = n.checkpoint !== null && isDemoCheckpoint(n.checkpoint);
  const model = demoWeights ? withDemoMark(finetuneModelRef(input.model, n.ablation)) : finetuneModelRef(input.model, n.ablation);
  const defaults = FINETUNE_DEFAULTS[input.model];
  const epochs = input.epochs ?? (input.model === 'scgpt' && n.ablation !== 'none' ? FINETUNE_DEFAULTS.scgpt.ablationEpochs : defaults.epochs);
  const valueLayer = input.valueLayer !== undefined ? input.valueLayer
    : input.model === 'scgpt' && data.layers.includes('X_binned') ? 'X_binned' : null;
  if (valueLayer !== null && !data.layers.includes(valueLayer)) throw new H5adError(input.datasetPath, `the file has no layer '${valueLayer}'`);
  const maxSeqLen = input.maxSeqLen ?? (input.model === 'scgpt' ? FINETUNE_DEFAULTS.scgpt.maxSeqLen : undefined);
  const finetune: FinetuneParameters = FinetuneParametersSchema.parse({
    model: input.model, checkpoint: n.checkpoint, ablation: n.ablation, ignoreKeys: input.ignoreKeys ?? [],
    epochs, batchSize: input.batchSize ?? FINETUNE_DEFAULTS.batchSize, lr: input.lr ?? FINETUNE_DEFAULTS.lr,
    ...(maxSeqLen !== undefined ? { maxSeqLen } : {}),
    classes, valueLayer, device: input.device ?? 'auto', nproc: input.nproc ?? 1,
    ...(input.amp !== undefined ? { amp: input.amp } : {}), ...n.protocol,
    logEvery: input.logEvery ?? 10, config: input.config ?? null,
  });

  const batch = input.batch ?? crypto.randomBytes(6).toString('hex');
  const store = new RunStore(input.storeRoot);
  // An experiment of its own (not the LR baseline's, whose name would then hold fine-tuned rows); the results borrow
  // the LR baseline runs of the same file, split, fraction and seed (results/baseline-reuse.ts).
  const experiment = input.experiment?.trim() || `${datasetStem(input.datasetPath)} fine-tune`;
  const version = codeVersion();
  const runs: PreparedFinetuneRun[] = [];
  ctx.progress(0.9, 'creating the runs');
  for (const p of plans) {
    if (ctx.cancelled) {
      for (const r of runs) await settle(store, r.id, 'cancelled', null);
      throw new CancelledError();
    }
    const elements = protocolElements({
      model: input.model, ablation: n.ablation, fraction: p.fraction, choices: finetune, amp: finetune.amp,
      epochs: finetune.epochs, batchSize: finetune.batchSize, lr: finetune.lr, hasCheckpoint: n.checkpoint !== null,
      fewShotDraw: p.draw, fewShotRun: !!input.fewShotRun, split: n.split, device: finetune.device, validation: validationSplit,
    });
    const deviations = deviationNames(elements);
    const record = await store.create({
      kind: 'finetune', name: `${model.label} f=${p.fraction} seed=${p.seed}`, experiment, dataset, query,
      publishedDataset: input.publishedDataset, labelColumn: input.labelColumn, split: n.split, seed: p.seed, fraction: p.fraction,
      stratifiedFewShot: n.stratifiedFewShot, model, parameters: { batch, finetune, ...(demoWeights ? { demoWeights: true } : {}) }, codeVersion: version,
      protocol: { preset: input.preset ?? '', fewShotDraw: p.draw, deviations, ...(input.model === 'scgpt' ? { validation: validationSplit } : {}) },
    });
    await store.writeSplit(record.id, { train: p.train, validation: p.validation, test: data.split.test });
    await store.appendLog(record.id, `prepared ${model.label} (${input.model}, ablation ${n.ablation}, checkpoint ${n.checkpoint ?? 'none: random initialisation'}) on ${dataset.path} (sha256 ${dataset.sha256}), label '${input.labelColumn}'`);
    await store.appendLog(record.id, `split ${JSON.stringify(n.split)}: ${data.split.train.length} train, ${data.split.test.length} test; few-shot draw ${p.draw} fraction ${p.fraction} seed ${p.seed}: ${p.train.length} training cells, ${p.validation.length} validation cells (${input.model === 'scgpt' ? `10% ${validationSplit} hold-out of the training cells` : 'the test set, as published'})`);
    await store.appendLog(record.id, deviations.length
      ? `protocol as prepared: deviates from the published one in ${elements.filter(e => e.deviation).map(e => `${e.element} (ours ${JSON.stringify(e.ours)}, published ${JSON.stringify(e.published)})`).join(', ')}`
      : 'protocol as prepared: the published one (scwb protocol RUN lists every element)');
    runs.push({
      id: record.id, runDir: store.runDir(record.id), fraction: p.fraction, seed: p.seed,
      nTrain: p.train.length, nValidation: p.validation.length, nTest: data.split.test.length,
    });
  }
  ctx.progress(1, 'prepared');
  return { experiment, storeRoot: store.root, batch, model, classes, runs };
}

export interface PrepareFinetuneOptions {
  onProgress?: (fraction: number, message?: string) => void;
  signal?: AbortSignal;
}

/**
 * prepareFinetuneGrid in a worker thread. When it fails or is cancelled, no run of this call is left queued: each
 * becomes cancelled or failed.
 */
export async function prepareFinetuneInWorker(input: FinetuneGridInput, opts: PrepareFinetuneOptions = {}): Promise<FinetuneGridPlan> {
  const batch = input.batch ?? crypto.randomBytes(6).toString('hex');
  try {
    return await runTask<FinetuneGridPlan>('finetune/tasks', 'prepareFinetune', { ...input, batch }, {
      onProgress: opts.onProgress, signal: opts.signal, graceMs: 10_000,
    });
  } catch (e) {
    await settleBatch(new RunStore(input.storeRoot), batch, e);
    throw e;
  }
}
