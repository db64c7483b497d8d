/**
 * A fine-tune's protocol, element by element, against the published one (published.ts): what `scwb protocol`
 * prints, what the grid editor shows before anything runs and what run.json records (`protocol.deviations`).
 *
 * An element's `ours` is what the run uses: the worker's `resolvedProtocol` when the run has one, else what
 * run.json asks for (absent choices are the published values, docs/worker.md). A `documented` element differs on
 * purpose and is not a deviation (e.g. scGPT's validation split is seeded here; the published one is not
 * reproducible).
 */
import type { FewShotDraw, FinetuneAblation, FinetuneModel, ProtocolChoices } from '../runs/schema';
import { PUBLISHED, SOURCES, publishedInit } from './published';

export interface ProtocolElement {
  element: string;
  ours: unknown;
  published: unknown;
  source: string;
  deviation: boolean;
  /** a known, documented difference (not a deviation) */
  documented?: string;
  /** which runs of a preset the element describes, e.g. 'scBERT · no-pretraining' (preset reports) */
  scope?: string;
}

export interface ProtocolSubject {
  model: FinetuneModel;
  ablation: FinetuneAblation;
  fraction: number;
  choices: ProtocolChoices;
  /** legacy run.json `amp` (true: bf16) */
  amp?: boolean;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  /** true when a checkpoint is given (false: random initialisation) */
  hasCheckpoint: boolean;
  /** how the training rows are drawn; undefined: not known yet */
  fewShotDraw?: FewShotDraw;
  /** the run is one of the published few-shot script's runs (scBERT: fraction 1.0 also draws from the stream) */
  fewShotRun?: boolean;
  split?: { kind: string; testSize?: number; seed?: number };
  device?: string;
  /** scGPT's validation hold-out (run.json protocol.validation); undefined: stratified */
  validation?: 'stratified' | 'random';
  /** the worker's resolvedProtocol */
  resolved?: Record<string, unknown> | null;
}

function same(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b));
  return a === b;
}

/** The precision a run computes in: 'published' resolved per model and device (scGPT on a CPU runs fp32). */
export function effectivePrecision(model: FinetuneModel, choice: string | null | undefined, amp: boolean | undefined, device: string | undefined): string {
  const c = choice ?? (amp === undefined ? 'published' : amp ? 'bf16' : 'fp32');
  if (model === 'scbert') return c === 'published' ? 'fp32' : c;
  if (device === 'cpu' && (c === 'published' || c === 'fp16')) return 'fp32';
  return c === 'published' ? 'fp16' : c;
}

/** The published way of drawing a run's training rows. */
export function publishedFewShotDraw(model: FinetuneModel, fraction: number, fewShotRun: boolean): FewShotDraw {
  if (model === 'scgpt') return 'stratified';
  return fraction < 1 || fewShotRun ? 'stream' : 'all';
}

/** Every element of one run's protocol. */
export function protocolElements(s: ProtocolSubject): ProtocolElement[] {
  const out: ProtocolElement[] = [];
  const r = s.resolved ?? {};
  const pick = <T>(key: keyof ProtocolChoices, fallback: T): unknown => (r[key] ?? s.choices[key] ?? fallback);
  const add = (element: string, ours: unknown, published: unknown, source: string, documented?: string) => {
    out.push({ element, ours, published, source, deviation: !documented && !same(ours, published), ...(documented ? { documented } : {}) });
  };
  const init = publishedInit(s.model, s.ablation);
  add('initialisation', ourInit(s), init.value, init.source);
  if (s.model === 'scbert') {
    const P = PUBLISHED.scbert;
    const precision = typeof r.precision === 'string' ? r.precision : effectivePrecision('scbert', s.choices.precision, s.amp, s.device);
    add('precision', precision, P.precision, SOURCES.scbertFinetune);
    add('adamEps', pick('adamEps', P.adamEps), P.adamEps, SOURCES.scbertFinetune);
    add('headDropout', pick('headDropout', P.headDropout), P.headDropout, SOURCES.scbertFinetune);
    add('keep', pick('keep', P.keep), P.keep, s.fraction < 1 || s.fewShotRun ? `${SOURCES.scbertFewShot}; ${SOURCES.scbertCollate}` : SOURCES.scbertFinetune);
    add('classWeights', pick('classWeights', P.classWeights), P.classWeights, SOURCES.scbertFinetune);
    add('shuffle', pick('shuffle', P.shuffle), P.shuffle, SOURCES.scbertFinetune);
    add('epochs', s.epochs ?? P.epochs, P.epochs, SOURCES.scbertFinetune);
    add('batchSize', s.batchSize ?? P.batchSize, P.batchSize, SOURCES.scbertFinetune);
    add('lr', s.lr ?? P.lr, P.lr, SOURCES.scbertFinetune);
    if (s.split) add('split', splitText(s.split), P.split, SOURCES.scbertFinetune);
    if (s.fewShotDraw) {
      const want = publishedFewShotDraw('scbert', s.fraction, !!s.fewShotRun);
      add('fewShotDraw', s.fewShotDraw, want, want === 'stream' ? SOURCES.scbertFewShot : SOURCES.scbertFinetune);
    }
    if (s.choices.geneEmbInit != null) add('geneEmbInit', s.choices.geneEmbInit, null, SOURCES.scbertFinetune);
  } else {
    const P = PUBLISHED.scgpt;
    const precision = typeof r.precision === 'string' ? r.precision : effectivePrecision('scgpt', s.choices.precision, s.amp, s.device);
    // the published script on a CPU runs fp32 (autocast and GradScaler are CUDA-only there)
    // (a run with device auto that the worker put on a CPU shows it by resolving the published precision to fp32)
    const askedPublished = (s.choices.precision ?? 'published') === 'published' && s.amp === undefined;
    const publishedPrecision = s.device === 'cpu' || (askedPublished && r.precision === 'fp32') ? 'fp32' : P.precision;
    add('precision', precision, publishedPrecision, SOURCES.scgptFewShot);
    add('adamEps', pick('adamEps', P.adamEps), P.adamEps, SOURCES.scgptFewShot);
    add('keep', pick('keep', P.keep), P.keep, SOURCES.scgptFewShot);
    add('classWeights', pick('classWeights', P.classWeights), P.classWeights, SOURCES.scgptFewShot);
    add('shuffle', pick('shuffle', P.shuffle), P.shuffle, SOURCES.scgptFewShot);
    const epochs = s.ablation === 'none' ? P.epochs : P.ablationEpochs;
    add('epochs', s.epochs ?? epochs, epochs, s.ablation === 'none' ? SOURCES.scgptFewShot : SOURCES.scgptNoPretrain);
    add('batchSize', s.batchSize ?? P.batchSize, P.batchSize, SOURCES.scgptFewShot);
    add('lr', s.lr ?? P.lr, P.lr, SOURCES.scgptFewShot);
    if (s.ablation !== 'none') add('geneEmbInit', pick('geneEmbInit', P.geneEmbInit), P.geneEmbInit, SOURCES.scgptModel);
    if (s.split) add('split', splitText(s.split), P.split, SOURCES.scgptFewShot);
    if (s.fewShotDraw) add('fewShotDraw', s.fewShotDraw, 'stratified', SOURCES.scgptFewShot);
    if (s.validation === 'random') {
      add('validation', 'random 10% hold-out (not stratified), seeded by the run seed', P.validation, SOURCES.scgptFewShot,
        'the published split: train_test_split(test_size=0.1) without stratify; it is unseeded there and so not reproducible, ours is seeded');
    } else {
      add('validation', 'stratified 10% hold-out, seeded by the run seed', P.validation, SOURCES.scgptFewShot,
        'the published split is unseeded and so not reproducible; ours is seeded and stratified');
    }
    if (s.choices.headDropout != null) add('headDropout', s.choices.headDropout, null, SOURCES.scgptFewShot);
  }
  return out;
}

function ourInit(s: ProtocolSubject): string {
  if (s.model === 'scbert') {
    if (s.ablation === 'no-pretraining') {
      if (s.choices.gene2vec) return 'random weights, gene2vec position table';
      return s.hasCheckpoint ? 'random weights, gene2vec position table' : 'random weights, random position table';
    }
    if (s.ablation === 'no-gene2vec') return s.hasCheckpoint ? 'checkpoint pre-trained without gene2vec (strict load)' : 'random weights';
    return s.hasCheckpoint ? 'pre-trained checkpoint' : 'random weights';
  }
  // scGPT's ablations never load the checkpoint's weights (its folder gives the vocabulary and model size)
  if (s.ablation === 'no-pretraining') return 'random weights';
  if (s.ablation === 'frozen-embeddings') return 'random weights, gene/value embeddings frozen';
  return s.hasCheckpoint ? 'pre-trained checkpoint' : 'random weights';
}

function splitText(split: { kind: string; testSize?: number; seed?: number }): string {
  if (split.kind === 'reference-query') return 'reference/query files';
  if (split.kind === 'stratified') return `stratified ${Math.round(100 * (1 - (split.testSize ?? 0)))}/${Math.round(100 * (split.testSize ?? 0))}, random_state ${split.seed}`;
  return `${split.kind} ${split.testSize ?? ''}`.trim();
}

/** Names of the elements that deviate. */
export function deviationNames(elements: readonly ProtocolElement[]): string[] {
  return Array.from(new Set(elements.filter(e => e.deviation).map(e => e.element)));
}
