/**
 * The published fine-tuning protocols, element by element (docs/protocols.md): for each element the value the
 * published code uses and where that code lives. The deep-dive paper's scripts are clinicalml/sc-foundation-eval;
 * scGPT's model code is bowang-lab/scGPT. protocol.ts compares a run's or a preset's values against these.
 */
import type { FinetuneAblation, FinetuneModel } from '../runs/schema';

export const SOURCES = {
  scbertFinetune: 'clinicalml/sc-foundation-eval scBERT/dist_finetune.py',
  scbertFewShot: 'clinicalml/sc-foundation-eval scBERT/dist_finetune_fewshot.py',
  scbertNoPretraining: 'clinicalml/sc-foundation-eval scBERT/dist_finetune_nopretraining.py',
  scbertNoGene2vec: 'clinicalml/sc-foundation-eval scBERT/nog2v_explore.ipynb',
  scbertCollate: 'clinicalml/sc-foundation-eval scBERT/collate_final_results_finetune.ipynb',
  scgptFewShot: 'clinicalml/sc-foundation-eval scGPT/scGPT_run_all_celltypeannot_fewshot.py',
  scgptNoPretrain: 'clinicalml/sc-foundation-eval scGPT/scGPT_run_all_celltypeannot_nopretrain_nofreeze.py',
  scgptFreeze: 'clinicalml/sc-foundation-eval scGPT/scGPT_run_all_celltypeannot_nopretrain_freeze.py',
  scgptModel: 'bowang-lab/scGPT scgpt/model/model.py',
} as const;

/** Published values of the run-level elements per model (ablation-specific ones are functions of the ablation). */
export const PUBLISHED = {
  scbert: {
    precision: 'fp32', adamEps: 1e-8, headDropout: 0, keep: 'best-accuracy', classWeights: 'dataset', shuffle: true,
    epochs: 10, batchSize: 32, lr: 1e-4, split: 'stratified 80/20, random_state 2022',
  },
  scgpt: {
    /** fp16 autocast with a GradScaler on CUDA; the same script on a CPU runs fp32 */
    precision: 'fp16', adamEps: 1e-4, keep: 'best-loss', classWeights: 'none', shuffle: false,
    epochs: 20, ablationEpochs: 30, batchSize: 32, lr: 1e-4, geneEmbInit: 'uniform', split: 'reference/query files',
    validation: 'train_test_split(test_size=0.1), unseeded',
  },
} as const;

/** The published few-shot fractions in the order dist_finetune_fewshot.py draws them from one seeded stream. */
export const SCBERT_FEW_SHOT_ORDER = [1.0, 0.75, 0.5, 0.25, 0.1] as const;

/** The t quantile the published scBERT notebook hard-codes for its 95% CI (t_{0.975, 9}, i.e. n = 10). */
export const PUBLISHED_T_95 = 2.262;

/** How the model is initialised, as published, per ablation. */
export function publishedInit(model: FinetuneModel, ablation: FinetuneAblation): { value: string; source: string } {
  if (model === 'scbert') {
    if (ablation === 'no-pretraining') return { value: 'random weights, gene2vec position table', source: SOURCES.scbertNoPretraining };
    if (ablation === 'no-gene2vec') return { value: 'checkpoint pre-trained without gene2vec (strict load)', source: SOURCES.scbertNoGene2vec };
    return { value: 'pre-trained checkpoint', source: SOURCES.scbertFinetune };
  }
  if (ablation === 'no-pretraining') return { value: 'random weights', source: SOURCES.scgptNoPretrain };
  if (ablation === 'frozen-embeddings') return { value: 'random weights, gene/value embeddings frozen', source: SOURCES.scgptFreeze };
  return { value: 'pre-trained checkpoint', source: SOURCES.scgptFewShot };
}
