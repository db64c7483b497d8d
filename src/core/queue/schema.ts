/**
 * The run queue's file, `.scwb/queue.json` (schema-validated on every read, written atomically under a lock by
 * src/core/queue/store.ts). Each item is one run: a fine-tune (GPU, through the scwb-finetune task), an LR baseline
 * (CPU, in a worker thread of the extension host) or a probe of a frozen encoder (GPU; docs/worker-benchmark.md).
 */
import * as z from 'zod';
import { FINETUNE_ABLATIONS, FINETUNE_MODELS, OwnerSchema, ProbeParametersSchema, ProtocolChoicesShape } from '../runs/schema';

export const QUEUE_SCHEMA_VERSION = 1;

export const QueueSplitSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('stratified'), testSize: z.number().gt(0).lt(1), seed: z.number().int() }),
  z.object({ kind: z.literal('reference-query'), queryPath: z.string().min(1) }),
  /** unstratified random split (the benchmark's 70/30), seeded by the item's seed */
  z.object({ kind: z.literal('random'), testSize: z.number().gt(0).lt(1) }),
]);
export type QueueSplit = z.infer<typeof QueueSplitSchema>;

const Common = {
  datasetPath: z.string().min(1),
  labelColumn: z.string().min(1),
  split: QueueSplitSchema,
  /** the dataset name of the published numbers */
  publishedDataset: z.string().optional(),
  experiment: z.string().min(1),
  fraction: z.number().gt(0).lte(1),
  seed: z.number().int().min(0).max(0xffffffff),
  stratifiedFewShot: z.boolean().default(false),
};

export const FinetuneSpecSchema = z.object({
  kind: z.literal('finetune'),
  ...Common,
  model: z.enum(FINETUNE_MODELS),
  checkpoint: z.string().min(1).nullable(),
  ablation: z.enum(FINETUNE_ABLATIONS),
  epochs: z.number().int().positive().optional(),
  batchSize: z.number().int().positive().optional(),
  lr: z.number().positive().optional(),
  amp: z.boolean().optional(),
  maxSeqLen: z.number().int().positive().optional(),
  logEvery: z.number().int().positive().optional(),
  /** model hyper-parameters (tests, random initialisation without a checkpoint) */
  config: z.record(z.string(), z.unknown()).nullable().optional(),
  /** 'auto' picks CUDA when the slot has a GPU */
  device: z.enum(['auto', 'cpu', 'cuda']).default('auto'),
  /** protocol elements (precision, adamEps, ...; docs/protocols.md); absent: the published values */
  ...ProtocolChoicesShape,
  /** scBERT: a run of the published few-shot script (its rows come from the per-seed stream also at fraction 1.0) */
  fewShotRun: z.boolean().optional(),
});

export const BaselineSpecSchema = z.object({
  kind: z.literal('baseline'),
  ...Common,
  model: z.union([
    z.object({ penalty: z.enum(['l1', 'l2']), C: z.number().positive() }),
    z.object({ penalty: z.enum(['l1', 'l2']), cvGrid: z.array(z.number().positive()).min(1), folds: z.number().int().min(2).optional() }),
  ]),
});

/** `parameters.probe` of docs/worker-benchmark.md, with the encoder it probes. */
export const ProbeSpecSchema = z.object({
  kind: z.literal('probe'),
  ...Common,
  /** the run's parameters.probe less `classes` (the dataset's labels, found when the run is prepared) */
  probe: ProbeParametersSchema.omit({ classes: true }),
});

export const QueueSpecSchema = z.discriminatedUnion('kind', [FinetuneSpecSchema, BaselineSpecSchema, ProbeSpecSchema]);
export type QueueSpec = z.infer<typeof QueueSpecSchema>;
export type FinetuneSpec = z.infer<typeof FinetuneSpecSchema>;
export type BaselineSpec = z.infer<typeof BaselineSpecSchema>;
export type ProbeSpec = z.infer<typeof ProbeSpecSchema>;

export const QUEUE_ITEM_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled', 'interrupted'] as const;
export type QueueItemStatus = (typeof QUEUE_ITEM_STATUSES)[number];
export const QUEUE_FINAL: readonly QueueItemStatus[] = ['completed', 'failed', 'cancelled', 'interrupted'];

export const QueueItemSchema = z.object({
  id: z.string().regex(/^q[0-9a-z-]+$/),
  label: z.string(),
  /** the preset it came from ('' = hand-made) */
  preset: z.string().default(''),
  spec: QueueSpecSchema,
  status: z.enum(QUEUE_ITEM_STATUSES),
  /** the slot it runs (ran) on, e.g. 'gpu:0', 'cpu', 'baseline' */
  slot: z.string().nullable().default(null),
  /** the run folders' ids in the run store once prepared */
  runIds: z.array(z.string()).default([]),
  /** estimated device hours (GPU, or CPU for a fine-tune on the cpu slot) */
  estimateHours: z.number().nonnegative().default(0),
  createdAt: z.string(),
  startedAt: z.string().nullable().default(null),
  endedAt: z.string().nullable().default(null),
  error: z.string().nullable().default(null),
  /** cancel asked while it ran; the executor ends it */
  cancelRequested: z.boolean().default(false),
});
export type QueueItem = z.infer<typeof QueueItemSchema>;

export const QueueFileSchema = z.object({
  schemaVersion: z.literal(QUEUE_SCHEMA_VERSION),
  paused: z.boolean().default(false),
  /** the window (extension host) that executes the queue; others only show it */
  executor: OwnerSchema.nullable().default(null),
  items: z.array(QueueItemSchema),
  /** a new random value on every whole write, so the journal names the very snapshot it extends (see store.ts) */
  generation: z.string().optional(),
});
export type QueueFile = z.infer<typeof QueueFileSchema>;

export function emptyQueue(): QueueFile {
  return { schemaVersion: QUEUE_SCHEMA_VERSION, paused: false, executor: null, items: [] };
}

/** Which kind of slot an item needs: fine-tunes and probes a GPU (or the cpu slot), baselines the CPU pool. */
export function itemResource(spec: QueueSpec): 'gpu' | 'baseline' {
  return spec.kind === 'baseline' ? 'baseline' : 'gpu';
}
