/**
 * On-disk shapes of a run folder (`<store>/<id>/`): run.json, metrics.json and the lines of events.jsonl.
 * Every file carries `schemaVersion`; reading checks it with zod so a hand-edited or foreign file is reported
 * by name instead of surfacing later as `undefined` in a table.
 */
import { jsonProblem } from '../safe-text';
import * as z from 'zod';

export const RUN_SCHEMA_VERSION = 1;

export const RUN_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled', 'interrupted'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Statuses after which a run never changes again on its own. */
export const FINAL_STATUSES: readonly RunStatus[] = ['completed', 'failed', 'cancelled', 'interrupted'];

export const RunSplitSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('stratified'), testSize: z.number().positive(), seed: z.number().int() }),
  z.object({ kind: z.literal('reference-query'), queryPath: z.string().min(1) }),
  z.object({ kind: z.literal('group'), column: z.string().min(1), testSize: z.number().positive(), seed: z.number().int() }),
  /** unstratified: `train_test_split(test_size, shuffle=True, random_state=seed)` (probes' published protocol, pre-training hold-out) */
  z.object({ kind: z.literal('random'), testSize: z.number().positive(), seed: z.number().int() }),
]);
/** How the cells were divided into training and test sets. */
export type RunSplit = z.infer<typeof RunSplitSchema>;

export const DatasetRefSchema = z.object({
  path: z.string().min(1),
  /** hex sha256 of the file's bytes (streamed), so a run records exactly which file it used */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  nObs: z.number().int().nonnegative().optional(),
  nVars: z.number().int().nonnegative().optional(),
});
export type DatasetRef = z.infer<typeof DatasetRefSchema>;

export const ModelRefSchema = z.object({
  /** model family used to group rows and to match published numbers: 'LR', 'scBERT', 'scGPT', ... */
  family: z.string().min(1),
  /** human label that tells configurations apart in a table, e.g. 'LR L1 C=0.1' */
  label: z.string().min(1),
  /** ablation or variant name ('' for the standard model), e.g. 'no pretraining' */
  variant: z.string().default(''),
});
export type ModelRef = z.infer<typeof ModelRefSchema>;

export const OwnerSchema = z.object({
  pid: z.number().int(),
  hostname: z.string(),
  /** start time of the owning process as the OS reports it (Linux: /proc/<pid>/stat field 22); null elsewhere */
  processStart: z.string().nullable(),
});
/** The process that executes a run; used to tell a live run from one whose process died. */
export type RunOwner = z.infer<typeof OwnerSchema>;

export const RunSummarySchema = z.object({
  accuracy: z.number(),
  macroF1: z.number(),
  weightedF1: z.number(),
  nTrain: z.number().int().nonnegative(),
  nTest: z.number().int().nonnegative(),
});
/** Headline metrics copied into run.json so list views need not open metrics.json. */
export type RunSummary = z.infer<typeof RunSummarySchema>;

/** perturbation.json of a perturbation-prediction probe (docs/worker-benchmark.md): test MSEs of the MVC output */
export const PerturbationSummarySchema = z.object({
  mse: z.number(),
  mseNoShift: z.number(),
  mseControlShift: z.number(),
  nControl: z.number().int().nonnegative(),
  nTrain: z.number().int().nonnegative(),
  nTest: z.number().int().nonnegative(),
});
export type PerturbationSummary = z.infer<typeof PerturbationSummarySchema>;

export const RUN_KINDS = ['baseline', 'finetune', 'pretrain', 'probe'] as const;
export type RunKind = (typeof RUN_KINDS)[number];
export const SlurmJobRefSchema = z.object({
  /** `sbatch --parsable`'s job id */
  jobId: z.string().min(1),
  /** the cluster of a federation, when sbatch named one */
  cluster: z.string().optional(),
  submittedAt: z.string(),
  /** the batch script (in the run folder) */
  script: z.string().min(1),
  /** the job state Slurm last reported (squeue %T / sacct State), and sacct's ExitCode */
  state: z.string().optional(),
  exitCode: z.string().optional(),
});
/** run.json `slurm`: the Slurm job that runs the run (absent for a local run). */
export type SlurmJobRef = z.infer<typeof SlurmJobRefSchema>;

export const FEW_SHOT_DRAWS = ['all', 'stream', 'reseed', 'stratified'] as const;
/**
 * How a run's training rows were drawn: `all` the whole training split in split order (dist_finetune.py),
 * `stream` scBERT's few-shot stream (one np.random.seed per seed, fractions drawn in the published order),
 * `reseed` np.random.seed(seed) then one np.random.choice (the LR baseline), `stratified` train_test_split.
 */
export type FewShotDraw = (typeof FEW_SHOT_DRAWS)[number];

/**
 * scGPT's validation hold-out of the training rows: `stratified` (train_test_split stratified on the label, seeded by
 * the run seed; the default) or `random` (not stratified, as the published script's train_test_split(test_size=0.1),
 * but seeded by the run seed).
 */
export const VALIDATION_SPLITS = ['stratified', 'random'] as const;
export type ValidationSplit = (typeof VALIDATION_SPLITS)[number];

export const RunProtocolSchema = z.object({
  /** the preset the run came from ('' = none) */
  preset: z.string().default(''),
  fewShotDraw: z.enum(FEW_SHOT_DRAWS).optional(),
  /** scGPT: how the validation rows were held out of the training rows; absent: stratified */
  validation: z.enum(VALIDATION_SPLITS).optional(),
  /** element names whose value differs from the published one, as prepared */
  deviations: z.array(z.string()).default([]),
});
/** run.json `protocol`. */
export type RunProtocol = z.infer<typeof RunProtocolSchema>;

export const WorkerFactsSchema = z.object({
  /** torch.__version__ and the Python version of the worker that trained the run */
  torch: z.string(),
  python: z.string(),
  /** 'cpu' or 'cuda:N (GPU name)' */
  device: z.string(),
  /** torch.version.cuda on a CUDA device, else null */
  cuda: z.string().nullable(),
  /** the compute dtype: autocast's (bfloat16, float16) or float32 */
  dtype: z.string(),
  /** 'performer' (scBERT), 'sdpa' (scaled_dot_product_attention, torch >= 2) or 'softmax' (torch 1.13) */
  attention: z.string(),
  processes: z.number().int().positive(),
});
/** run.json `worker`: what a fine-tune run was computed with (written by the worker when training starts). */
export type WorkerFacts = z.infer<typeof WorkerFactsSchema>;

export const RunRecordSchema = z.object({
  schemaVersion: z.literal(RUN_SCHEMA_VERSION),
  id: z.string().min(1),
  /** pretrain and probe: docs/worker-benchmark.md */
  kind: z.enum(RUN_KINDS),
  name: z.string(),
  note: z.string().default(''),
  experiment: z.string().min(1),
  dataset: DatasetRefSchema,
  /** the query file of a reference/query split */
  query: DatasetRefSchema.optional(),
  /** dataset name used to match published numbers when the file stem differs (e.g. 'Zheng68K') */
  publishedDataset: z.string().optional(),
  /** the obs column with the cell types; '' for pre-training runs, which use no labels */
  labelColumn: z.string(),
  split: RunSplitSchema,
  /** few-shot seed (np.random.seed(k) of the training subset) */
  seed: z.number().int(),
  /** few-shot fraction of the training split, in (0, 1] */
  fraction: z.number().gt(0).lte(1),
  /** stratified few-shot subsets (train_test_split) instead of np.random.choice */
  stratifiedFewShot: z.boolean().default(false),
  model: ModelRefSchema,
  /** model and solver settings as given, plus what the run chose (e.g. the C picked by cross-validation) */
  parameters: z.record(z.string(), z.unknown()),
  codeVersion: z.string(),
  createdAt: z.string(),
  startedAt: z.string().nullable().default(null),
  endedAt: z.string().nullable().default(null),
  status: z.enum(RUN_STATUSES),
  error: z.string().nullable().default(null),
  owner: OwnerSchema.nullable().default(null),
  summary: RunSummarySchema.nullable().default(null),
  /** a completed perturbation-prediction probe: its scores (perturbation.json) */
  perturbation: PerturbationSummarySchema.optional(),
  slurm: SlurmJobRefSchema.optional(),
  /** fine-tunes: the protocol as prepared (src/core/protocols): elements that differ from the published ones */
  protocol: RunProtocolSchema.optional(),
  /** fine-tunes: the protocol values the worker used (precision, adamEps, ...), written by the worker */
  resolvedProtocol: z.record(z.string(), z.unknown()).optional(),
  worker: WorkerFactsSchema.optional(),
}).refine(r => r.kind === 'pretrain' || r.labelColumn.length > 0, { path: ['labelColumn'], message: 'a label column is required (only pre-training runs have none)' });
/** run.json */
export type RunRecord = z.infer<typeof RunRecordSchema>;

export const PerClassSchema = z.object({
  name: z.string(),
  precision: z.number(),
  recall: z.number(),
  f1: z.number(),
  support: z.number().int().nonnegative(),
});
export type PerClassMetrics = z.infer<typeof PerClassSchema>;

export const RunMetricsSchema = z.object({
  schemaVersion: z.literal(RUN_SCHEMA_VERSION),
  accuracy: z.number(),
  macroF1: z.number(),
  weightedF1: z.number(),
  /** labels of the confusion matrix, sorted (sklearn's unique_labels of true and predicted) */
  classes: z.array(z.string()),
  perClass: z.array(PerClassSchema),
  /** confusion[i][j]: cells of true class i predicted as class j */
  confusion: z.array(z.array(z.number().int().nonnegative())),
  nTest: z.number().int().nonnegative(),
}).refine(m => m.perClass.length === m.classes.length && m.confusion.length === m.classes.length
  && m.confusion.every(r => r.length === m.classes.length), { message: 'classes, perClass and confusion sizes differ' });
/** metrics.json */
export type RunMetrics = z.infer<typeof RunMetricsSchema>;

export const RunSplitRowsSchema = z.object({
  schemaVersion: z.literal(RUN_SCHEMA_VERSION),
  train: z.array(z.number().int().nonnegative()),
  /** fine-tune runs: rows (of the dataset) that pick the best epoch; see docs/worker.md */
  validation: z.array(z.number().int().nonnegative()).optional(),
  test: z.array(z.number().int().nonnegative()),
});
/** split.json */
export type RunSplitRows = Omit<z.infer<typeof RunSplitRowsSchema>, 'schemaVersion'>;

export const FINETUNE_MODELS = ['scbert', 'scgpt'] as const;
export type FinetuneModel = (typeof FINETUNE_MODELS)[number];
export const FINETUNE_ABLATIONS = ['none', 'no-pretraining', 'no-gene2vec', 'frozen-embeddings'] as const;
export type FinetuneAblation = (typeof FINETUNE_ABLATIONS)[number];
export const FINETUNE_DEVICES = ['auto', 'cpu', 'cuda'] as const;

export const PRECISIONS = ['published', 'fp32', 'bf16', 'fp16'] as const;
export type Precision = (typeof PRECISIONS)[number];
export const KEEP_CHOICES = ['best-accuracy', 'best-loss', 'last'] as const;
export const CLASS_WEIGHT_CHOICES = ['dataset', 'train', 'none'] as const;
export const GENE_EMB_INITS = ['uniform', 'normal'] as const;

/**
 * The protocol elements a fine-tune may set (docs/protocols.md). Absent or null: the published value, which the
 * worker resolves per model ("published" precision: scBERT fp32; scGPT fp16 with a GradScaler on CUDA, fp32 on CPU).
 */
export const ProtocolChoicesShape = {
  precision: z.enum(PRECISIONS).nullable().optional(),
  adamEps: z.number().positive().nullable().optional(),
  headDropout: z.number().min(0).lt(1).nullable().optional(),
  keep: z.enum(KEEP_CHOICES).nullable().optional(),
  classWeights: z.enum(CLASS_WEIGHT_CHOICES).nullable().optional(),
  shuffle: z.boolean().nullable().optional(),
  geneEmbInit: z.enum(GENE_EMB_INITS).nullable().optional(),
  /** gene2vec .npy (16,906 x 200) for scBERT without pre-training; absent: pos_emb from the checkpoint */
  gene2vec: z.string().min(1).nullable().optional(),
};
export const ProtocolChoicesSchema = z.object(ProtocolChoicesShape);
export type ProtocolChoices = z.infer<typeof ProtocolChoicesSchema>;
export const PROTOCOL_CHOICE_KEYS = Object.keys(ProtocolChoicesShape) as (keyof ProtocolChoices)[];

/** run.json `parameters.finetune`: what the training worker reads (docs/worker.md). */
export const FinetuneParametersSchema = z.object({
  model: z.enum(FINETUNE_MODELS),
  /** scBERT .pth file or scGPT model folder (absolute), or null for random initialisation */
  checkpoint: z.string().min(1).nullable(),
  ablation: z.enum(FINETUNE_ABLATIONS),
  /** checkpoint keys the user accepts to leave unloaded */
  ignoreKeys: z.array(z.string()).default([]),
  epochs: z.number().int().positive(),
  batchSize: z.number().int().positive(),
  lr: z.number().positive(),
  maxSeqLen: z.number().int().positive().optional(),
  /** class names in head order: label k of the head is classes[k] */
  classes: z.array(z.string()).min(2),
  /** read values from layers/<name> instead of X */
  valueLayer: z.string().min(1).nullable().default(null),
  device: z.enum(FINETUNE_DEVICES),
  nproc: z.number().int().positive(),
  /** legacy switch (true: bf16 autocast on CUDA); `precision` supersedes it; absent: the published precision */
  amp: z.boolean().optional(),
  logEvery: z.number().int().positive().default(10),
  /** model hyper-parameters overriding what the checkpoint implies (scwb_worker.models keys) */
  config: z.record(z.string(), z.unknown()).nullable().default(null),
  ...ProtocolChoicesShape,
});
export type FinetuneParameters = z.infer<typeof FinetuneParametersSchema>;

export const PRETRAIN_MODELS = ['benchmark', 'scbert', 'scgpt'] as const;
export type PretrainModel = (typeof PRETRAIN_MODELS)[number];
/**
 * The AAAI 2025 benchmark encoders as published (`--model_structure` names), then scWorkbench's own transformer
 * (docs/worker-benchmark.md).
 */
export const PRETRAIN_STRUCTURES = ['transformer', 'cnn_base', 'cnn_ours', 'linear_ours', 'linear_base', 'scwb-transformer'] as const;
export type PretrainStructure = (typeof PRETRAIN_STRUCTURES)[number];
/** cls: the <cls> output; mean: the mean over all places (the published average pooling); mean-genes: over the genes */
export const POOLINGS = ['cls', 'mean', 'mean-genes'] as const;
export type Pooling = (typeof POOLINGS)[number];
/** how a probe's published encoder keeps maxSeqLen genes of a cell with more: by weight (as published) or uniformly */
export const GENE_SAMPLINGS = ['weighted', 'uniform'] as const;

/** run.json `parameters.pretrain` (docs/worker-benchmark.md). */
export const PretrainParametersSchema = z.object({
  model: z.enum(PRETRAIN_MODELS),
  structure: z.enum(PRETRAIN_STRUCTURES),
  /** an earlier run's encoder.pt (continued), a published scBERT .pth or scGPT folder, or null: random initialisation */
  checkpoint: z.string().min(1).nullable(),
  /** gene name -> token id (scGPT vocab.json format); null: the dataset's var names */
  vocab: z.string().min(1).nullable(),
  valueMode: z.enum(['log1p', 'bins']),
  nBins: z.number().int().min(2),
  maxSeqLen: z.number().int().positive(),
  maskRatio: z.number().gt(0).lt(1),
  mvc: z.boolean(),
  weightedSampling: z.boolean(),
  pooling: z.enum(POOLINGS),
  epochs: z.number().int().positive(),
  batchSize: z.number().int().positive(),
  lr: z.number().positive(),
  warmupSteps: z.number().int().nonnegative(),
  config: z.record(z.string(), z.unknown()).nullable(),
  valueLayer: z.string().min(1).nullable(),
  device: z.enum(FINETUNE_DEVICES),
  nproc: z.number().int().positive(),
  amp: z.boolean(),
  logEvery: z.number().int().positive(),
});
export type PretrainParameters = z.infer<typeof PretrainParametersSchema>;

export const PROBE_METHODS = ['linear', 'knn'] as const;
export type ProbeMethod = (typeof PROBE_METHODS)[number];
/** run.json probe methods: the classification probes, and perturbation prediction (the benchmark's MSE task) */
export const PROBE_RUN_METHODS = [...PROBE_METHODS, 'perturbation'] as const;

/** run.json `parameters.probe` (docs/worker-benchmark.md). */
export const ProbeParametersSchema = z.object({
  encoder: z.object({ model: z.enum(PRETRAIN_MODELS), path: z.string().min(1) }),
  method: z.enum(PROBE_RUN_METHODS),
  classes: z.array(z.string()).min(2),
  /** perturbation: the label of the control cells (split.json `validation`) */
  control: z.string().min(1).nullable().default(null),
  /** perturbation: the test perturbations are held out of training altogether */
  zeroShot: z.boolean().default(false),
  pooling: z.enum(POOLINGS),
  k: z.number().int().positive(),
  epochs: z.number().int().positive(),
  lr: z.number().positive(),
  batchSize: z.number().int().positive(),
  evalEvery: z.number().int().positive(),
  select: z.enum(['best-test', 'last']),
  /** published benchmark encoders only: a fresh weighted (multinomial) draw of the genes per trial, as published */
  geneSampling: z.enum(GENE_SAMPLINGS).default('weighted'),
  writeEmbeddings: z.boolean(),
  valueLayer: z.string().min(1).nullable(),
  device: z.enum(FINETUNE_DEVICES),
});
export type ProbeParameters = z.infer<typeof ProbeParametersSchema>;

export const RunEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('progress'), time: z.string(), fraction: z.number(), message: z.string().optional() }),
  z.object({ type: z.literal('metric'), time: z.string(), name: z.string(), value: z.number(), step: z.number().optional() }),
  z.object({ type: z.literal('status'), time: z.string(), status: z.enum(RUN_STATUSES), message: z.string().optional() }),
  /** fine-tune: every `logEvery` optimizer steps and at the end of each epoch (epoch from 1, step global) */
  z.object({
    type: z.literal('train'), time: z.string(), epoch: z.number().int().positive(), step: z.number().int().nonnegative(),
    loss: z.number(), lr: z.number(), cellsPerSec: z.number().nonnegative(), gpuMemoryMiB: z.number().nonnegative().nullable(),
  }),
  /**
   * fine-tune and pre-training `--resume`: training restarts after optimizer step `step` (epoch from 1, batch within
   * it); the train/validation events after this one redo the steps past `step` (readers keep the last segment:
   * src/core/runs/segments.ts)
   */
  z.object({
    type: z.literal('resume'), time: z.string(), step: z.number().int().nonnegative(), epoch: z.number().int().positive(),
    batch: z.number().int().nonnegative(),
  }),
  /** fine-tune: after each epoch, on split.json's validation rows */
  z.object({
    type: z.literal('validation'), time: z.string(), epoch: z.number().int().positive(), step: z.number().int().nonnegative(),
    /** null for objectives without an accuracy (the MSE pre-training losses, docs/worker-benchmark.md) */
    loss: z.number(), accuracy: z.number().min(0).max(1).nullable(), best: z.boolean(),
  }),
]);
/** One line of events.jsonl. */
export type RunEvent = z.infer<typeof RunEventSchema>;
/** An event as callers give it; the store stamps the time when absent. */
export type RunEventInput = RunEvent extends infer E ? (E extends RunEvent ? Omit<E, 'time'> & { time?: string } : never) : never;

/** A file in a run folder that does not hold what its schema says; the message names the file and the field. */
export class RunFileError extends Error {
  constructor(readonly file: string, readonly problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'RunFileError';
  }
}

/** Parses and validates JSON text from `file` against `schema`, or throws RunFileError naming the file. */
export function parseRunFile<S extends z.ZodType>(file: string, text: string, schema: S): z.infer<S> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new RunFileError(file, jsonProblem(e));
  }
  const version = (value as { schemaVersion?: unknown } | null)?.schemaVersion;
  if (value && typeof value === 'object' && version !== undefined && version !== RUN_SCHEMA_VERSION) {
    throw new RunFileError(file, `schemaVersion ${JSON.stringify(version)} is not supported (this version reads ${RUN_SCHEMA_VERSION})`);
  }
  const res = schema.safeParse(value);
  if (!res.success) throw new RunFileError(file, describeIssues(res.error));
  return res.data;
}

function describeIssues(error: z.ZodError): string {
  return error.issues.slice(0, 3).map(i => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`).join('; ');
}
