/**
 * The published experiments as presets (see ../shared/notes/science.md for the protocols):
 * - Boiarsky et al. 2023 (scBERT): Table 1, Table 2 ablations, Figure 2 few-shot;
 * - Boiarsky et al. 2023 (scGPT): Figure 3 few-shot and Supplementary Table 5 ablations;
 * - Qi et al. 2025 (benchmark): downstream linear / kNN probes of a frozen encoder (docs/worker-benchmark.md).
 * Dataset files and checkpoints are not known here: the grid editor binds them. Cell counts are the published ones
 * (they feed the GPU-hour estimate until a file is bound).
 */
import { parsePreset, type GridDataset, type GridInput, type Preset, type PresetInput } from './schema';

const ZHENG68K: GridDataset = {
  name: 'Zheng68K', path: '', queryPath: '', labelColumn: 'celltype',
  split: { kind: 'stratified', testSize: 0.2, seed: 2022 }, cells: 68450, queryCells: 0,
};

function refQuery(name: string, labelColumn: string, cells: number, queryCells: number): GridDataset {
  return { name, path: '', queryPath: '', labelColumn, split: { kind: 'reference-query' }, cells, queryCells };
}

const MS = refQuery('ms', 'Factor Value[inferred cell type - authors labels]', 7844, 13468);
const MYELOID = refQuery('myeloid', 'cell_type', 9748, 3430);
const PANCREAS = refQuery('pancreas', 'Celltype', 10600, 4218);
const SCGPT_DATASETS = [MS, MYELOID, PANCREAS];

/** Seeds as published (science.md). */
export const PUBLISHED_SEEDS = {
  scbertFull: [1000, 2000, 3000, 4000, 2021, 2022, 2023],
  /** few-shot runs: 2021 * k, k = 0, 1, 2 */
  scbertFewShot: [0, 2021, 4042],
  scbertAblation: [0, 1000, 2000, 3000, 4000, 5000, 10000, 2021, 2022, 2023],
  lrFewShot: [0, 1, 2],
  lrFull: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  scgpt: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  probeTrials: [0, 1, 2, 3, 4],
} as const;

export const FEW_SHOT_FRACTIONS = [0.1, 0.25, 0.5, 0.75, 1];
/** The scGPT baseline's C grid (5-fold CV per fraction and seed). */
export const SCGPT_LR_C_GRID = [1e-3, 1e-2, 1e-1, 1, 1e1, 1e2, 1e3, 1e4];

/** 'published' precision: scBERT fp32; scGPT fp16 with a GradScaler (fp32 on a CPU). bf16 is a recorded deviation. */
const SCBERT = { kind: 'finetune', model: 'scbert', checkpoint: '', batchSize: 32, precision: 'published' } as const;
const SCGPT = { kind: 'finetune', model: 'scgpt', checkpoint: '', batchSize: 32, precision: 'published', maxSeqLen: 3001 } as const;
const LR_SCBERT = { kind: 'baseline', penalty: 'l1', C: 0.1 } as const;
const LR_SCGPT = { kind: 'baseline', penalty: 'l1', cvGrid: SCGPT_LR_C_GRID, folds: 5 } as const;

const RAW: PresetInput[] = [
  {
    id: 'scbert-table1', title: 'scBERT Table 1: fine-tune vs logistic regression', source: 'Boiarsky et al. 2023, Table 1',
    publishedExperiment: 'Table1', experiment: 'Zheng68K Table 1', statistics: 'published',
    description: 'scBERT fine-tuned on Zheng68K (80/20 stratified split, seed 2022) against L1 logistic regression (C=0.1) on the same split. '
      + 'The published n=10 counts seven full runs and the three few-shot runs at fraction 1.0 (seeds 0, 2021, 4042, training rows from the few-shot script\'s stream); seed 2021 is counted twice, as published.',
    grids: [
      { title: 'scBERT fine-tune', datasets: [ZHENG68K], models: [SCBERT], ablations: ['none'], fractions: [1], seeds: [...PUBLISHED_SEEDS.scbertFull] },
      { title: 'scBERT few-shot runs at 1.0', datasets: [ZHENG68K], models: [SCBERT], ablations: ['none'], fractions: [1], seeds: [...PUBLISHED_SEEDS.scbertFewShot], fewShotRuns: true },
      { title: 'LR L1 C=0.1', datasets: [ZHENG68K], models: [LR_SCBERT], fractions: [1], seeds: [...PUBLISHED_SEEDS.lrFull] },
    ],
  },
  {
    id: 'scbert-table2', title: 'scBERT Table 2: ablations', source: 'Boiarsky et al. 2023, Table 2',
    publishedExperiment: 'Table2', experiment: 'Zheng68K Table 2', statistics: 'published',
    description: 'scBERT without the gene2vec positional embedding (a checkpoint pre-trained without gene2vec) and without pre-training (random weights with the gene2vec position table, same freezing), beside the full model with the same ten seeds; Student\'s t-test as published.',
    grids: [
      { title: 'scBERT ablations', datasets: [ZHENG68K], models: [SCBERT], ablations: ['none', 'no-gene2vec', 'no-pretraining'], fractions: [1], seeds: [...PUBLISHED_SEEDS.scbertAblation] },
    ],
  },
  {
    id: 'scbert-figure2', title: 'scBERT Figure 2: few-shot', source: 'Boiarsky et al. 2023, Figure 2',
    publishedExperiment: 'Fig2', experiment: 'Zheng68K Figure 2', statistics: 'published',
    description: 'Fractions of the fixed training split drawn with np.random.choice (not stratified); test set fixed. scBERT seeds 2021*k (k = 0, 1, 2), each one seeded stream drawing the fractions 1.0, 0.75, 0.5, 0.25, 0.1 in turn, best-validation-accuracy checkpoint; LR seeds 0..2, and 0..9 at fraction 1.0.',
    grids: [
      { title: 'scBERT few-shot', datasets: [ZHENG68K], models: [SCBERT], fractions: FEW_SHOT_FRACTIONS, seeds: [...PUBLISHED_SEEDS.scbertFewShot], fewShotRuns: true },
      { title: 'LR few-shot', datasets: [ZHENG68K], models: [LR_SCBERT], fractions: FEW_SHOT_FRACTIONS, seeds: [...PUBLISHED_SEEDS.lrFewShot] },
      { title: 'LR at 1.0 (seeds 3..9)', datasets: [ZHENG68K], models: [LR_SCBERT], fractions: [1], seeds: [3, 4, 5, 6, 7, 8, 9] },
    ],
  },
  {
    id: 'scgpt-figure3', title: 'scGPT Figure 3: few-shot on reference/query', source: 'Boiarsky et al. 2023, Figure 3',
    publishedExperiment: 'Fig3', experiment: 'scGPT Figure 3',
    description: 'scGPT fine-tuned on stratified fractions of each reference set (90/10 train/validation), tested on the query set, seeds 1..10; LR (L1, C by 5-fold CV) on the same subsets.',
    grids: [
      { title: 'scGPT few-shot', datasets: SCGPT_DATASETS, models: [SCGPT], fractions: FEW_SHOT_FRACTIONS, seeds: [...PUBLISHED_SEEDS.scgpt], stratifiedFewShot: true },
      { title: 'LR few-shot', datasets: SCGPT_DATASETS, models: [LR_SCGPT], fractions: FEW_SHOT_FRACTIONS, seeds: [...PUBLISHED_SEEDS.scgpt], stratifiedFewShot: true },
    ],
  },
  {
    id: 'scgpt-supp-table5', title: 'scGPT Supp. Table 5: ablations', source: 'Boiarsky et al. 2023, Supplementary Table 5',
    publishedExperiment: 'SuppTable5', experiment: 'scGPT Supp. Table 5',
    description: 'scGPT as published, without pre-training (30 epochs), and without pre-training with frozen gene/value embeddings, on the three reference/query datasets.',
    grids: [
      { title: 'scGPT ablations', datasets: SCGPT_DATASETS, models: [SCGPT], ablations: ['none', 'no-pretraining', 'frozen-embeddings'], fractions: [1], seeds: [...PUBLISHED_SEEDS.scgpt], stratifiedFewShot: true },
    ],
  },
  {
    id: 'benchmark-probes', title: 'Benchmark: downstream probes of a frozen encoder', source: 'Qi et al. 2025 (docs/worker-benchmark.md)',
    publishedExperiment: '', experiment: 'Benchmark probes',
    description: 'A frozen pre-trained encoder (<cls> features) probed with a linear layer (Adam 0.005, batch 64, 50 epochs, best test accuracy over checks every 5 epochs) and kNN (k = 10) on an unseeded-in-the-paper random 70/30 split, 5 trials (seeded here). Choose the encoder (an encoder.pt from Pre-train Encoder…).',
    grids: [
      {
        title: 'linear and kNN probes',
        datasets: [
          { ...MYELOID, split: { kind: 'random', testSize: 0.3 }, queryCells: 0 },
          { ...MS, split: { kind: 'random', testSize: 0.3 }, queryCells: 0 },
          { ...PANCREAS, split: { kind: 'random', testSize: 0.3 }, queryCells: 0 },
        ],
        models: [
          { kind: 'probe', method: 'linear', encoder: 'benchmark' },
          { kind: 'probe', method: 'knn', encoder: 'benchmark', k: 10 },
        ],
        fractions: [1], seeds: [...PUBLISHED_SEEDS.probeTrials],
      },
    ],
  },
];

/** Every preset, validated once. */
export const PRESETS: readonly Preset[] = RAW.map(p => parsePreset(p, `preset ${p.id}`));

export function presetById(id: string): Preset {
  const p = PRESETS.find(x => x.id === id);
  if (!p) throw new Error(`no preset '${id}' (known: ${PRESETS.map(x => x.id).join(', ')})`);
  return structuredClone(p);
}

/** An empty experiment for the editor: one grid with the scBERT Table 1 dataset and model, one seed. */
export function emptyPreset(): Preset {
  const grid: GridInput = { title: 'grid 1', datasets: [{ ...ZHENG68K, name: 'my dataset', labelColumn: 'cell_type' }], models: [SCBERT], fractions: [1], seeds: [0] };
  return parsePreset({ id: 'custom', title: 'New experiment', source: 'custom', experiment: 'New experiment', grids: [grid] });
}
