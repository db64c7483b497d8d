/**
 * Experiment grids and presets (issue 13): a grid is dataset x model x ablation x fraction x seed; a preset is a
 * named list of grids with the published settings (src/core/presets/presets.ts). Everything that comes from a
 * file or a webview is checked with these schemas.
 */
import * as z from 'zod';
import { FINETUNE_ABLATIONS, FINETUNE_MODELS, PRECISIONS, ProtocolChoicesSchema } from '../runs/schema';

/** How a dataset is divided into training and test cells (`random` is the benchmark's unstratified 70/30). */
export const GridSplitSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('stratified'), testSize: z.number().gt(0).lt(1), seed: z.number().int() }),
  z.object({ kind: z.literal('reference-query') }),
  z.object({ kind: z.literal('random'), testSize: z.number().gt(0).lt(1) }),
]);
export type GridSplit = z.infer<typeof GridSplitSchema>;

/** One value of the dataset axis. `path` (and `queryPath` for reference/query) are bound by the user. */
export const GridDatasetSchema = z.object({
  /** the published dataset name (matches resources/published_numbers.csv), e.g. 'Zheng68K', 'ms' */
  name: z.string().min(1),
  path: z.string().default(''),
  queryPath: z.string().default(''),
  labelColumn: z.string().min(1),
  split: GridSplitSchema,
  /** cells of the training side (reference file, or the whole file before the split): the GPU-hour estimate */
  cells: z.number().int().positive(),
  /** cells of the query file (reference/query only) */
  queryCells: z.number().int().nonnegative().default(0),
});
export type GridDataset = z.infer<typeof GridDatasetSchema>;

export const PROBE_ENCODERS = ['benchmark', 'scbert', 'scgpt'] as const;

/** One value of the model axis. */
export const GridModelSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('finetune'),
    model: z.enum(FINETUNE_MODELS),
    /** scBERT .pth or scGPT folder; '' = choose in the editor (null-checkpoint runs are the no-pretraining ablation) */
    checkpoint: z.string().default(''),
    epochs: z.number().int().positive().optional(),
    batchSize: z.number().int().positive().default(32),
    /** 'published': scBERT fp32, scGPT fp16 with a GradScaler (fp32 on a CPU); anything else is a deviation */
    precision: z.enum(PRECISIONS).default('published'),
    maxSeqLen: z.number().int().positive().optional(),
    /** other protocol elements the user changes (docs/protocols.md); absent: the published values */
    protocol: ProtocolChoicesSchema.omit({ precision: true }).optional(),
  }),
  z.object({
    kind: z.literal('baseline'),
    penalty: z.enum(['l1', 'l2']).default('l1'),
    /** a fixed C, or cross-validation over cvGrid */
    C: z.number().positive().optional(),
    cvGrid: z.array(z.number().positive()).optional(),
    folds: z.number().int().min(2).optional(),
  }).refine(m => (m.C === undefined) !== (m.cvGrid === undefined), { message: 'a baseline needs either C or cvGrid, not both' }),
  z.object({
    kind: z.literal('probe'),
    method: z.enum(['linear', 'knn']),
    encoder: z.enum(PROBE_ENCODERS),
    /** encoder.pt of a pre-training run, a scBERT .pth or a scGPT folder; '' = choose in the editor */
    encoderPath: z.string().default(''),
    k: z.number().int().positive().default(10),
    epochs: z.number().int().positive().default(50),
    lr: z.number().positive().default(0.005),
    batchSize: z.number().int().positive().default(64),
    evalEvery: z.number().int().positive().default(5),
    pooling: z.enum(['cls', 'mean']).default('cls'),
  }),
]);
export type GridModel = z.infer<typeof GridModelSchema>;

export const GridSchema = z.object({
  /** a short title of this block, e.g. 'scBERT fine-tune' */
  title: z.string().default(''),
  datasets: z.array(GridDatasetSchema).min(1),
  models: z.array(GridModelSchema).min(1),
  /** applies to fine-tune models only (others run once per combination) */
  ablations: z.array(z.enum(FINETUNE_ABLATIONS)).min(1).default(['none']),
  fractions: z.array(z.number().gt(0).lte(1)).min(1),
  seeds: z.array(z.number().int().min(0).max(0xffffffff)).min(1),
  /** few-shot subsets stratified by label (scGPT protocol) instead of np.random.choice (scBERT protocol) */
  stratifiedFewShot: z.boolean().default(false),
  /**
   * scBERT: these are runs of the published few-shot script, whose training rows come from its per-seed stream
   * also at fraction 1.0 (Figure 2; Table 1's three few-shot runs). Fractions below 1 always draw from the stream.
   */
  fewShotRuns: z.boolean().default(false),
});
export type Grid = z.infer<typeof GridSchema>;
export type GridInput = z.input<typeof GridSchema>;

export const PresetSchema = z.object({
  id: z.string().regex(/^[a-z0-9-]+$/),
  title: z.string().min(1),
  /** where the protocol comes from, e.g. 'Boiarsky et al. 2023, Table 1' */
  source: z.string().min(1),
  /** the published-numbers experiment it reproduces (`experiment` column), '' when none */
  publishedExperiment: z.string().default(''),
  description: z.string().default(''),
  /** the results-panel experiment the runs are filed under */
  experiment: z.string().min(1),
  /** the statistics of its results table: the paper's (Student's t-test, np.std x 2.262 CI) or Welch's */
  statistics: z.enum(['published', 'welch']).default('welch'),
  grids: z.array(GridSchema).min(1),
});
export type Preset = z.infer<typeof PresetSchema>;
export type PresetInput = z.input<typeof PresetSchema>;

/** Parses a preset (or a grid-editor document) and names what is wrong. */
export function parsePreset(value: unknown, source = 'preset'): Preset {
  const r = PresetSchema.safeParse(value);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new Error(`${source}: ${first.path.join('.') || '(root)'}: ${first.message}`);
  }
  return r.data;
}
