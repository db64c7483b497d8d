/**
 * Whether a run's dataset file is the dataset a published number was measured on, before the number is put beside
 * the run's: a preset or `--published-dataset` alias names the paper's dataset ("Zheng68K") even when it is bound
 * to another file, and a published 0.718 next to a user's own data with "Δ −0.390" is not a comparison.
 *
 * The evidence, strongest first: the file's sha256 (when the published file's hash is known), then its number of
 * cells (scBERT's Zheng68K: 68,450 cells; the scGPT reference/query sets: their published reference and query
 * sizes, from the papers and science notes). A run whose recorded file contradicts the paper's gets no published
 * numbers, and a note instead. A run without a recorded cell count (older records) or a dataset whose size is not
 * known here is not checked. A reference/query set's numbers never stand beside a run that splits one file (its test
 * cells are not the published query set). The label set is compared where it is known: the number of classes of the published
 * labels (scBERT's Zheng68K: 11 cell types) against the classes the run recorded (a fine-tune's
 * parameters.finetune.classes, a baseline's parameters.classes); the class names of the published files are not
 * known here, so they are not compared, and a run that recorded no classes (older records) is not checked.
 */
import * as path from 'path';
import type { RunRecord } from '../runs/schema';

export interface PaperDataset {
  /** the published `dataset` name, compared ignoring case */
  name: string;
  /** cells of the published file (for a reference/query set: the reference file) */
  nObs: number;
  /** cells of the published query file, for reference/query sets */
  queryObs?: number;
  /** sha256 of published files known to be this dataset */
  sha256: string[];
  /** number of classes of the published labels, where known (science notes) */
  nClasses?: number;
}

export const PAPER_DATASETS: readonly PaperDataset[] = [
  { name: 'Zheng68K', nObs: 68_450, sha256: [], nClasses: 11 },
  { name: 'MS', nObs: 7_844, queryObs: 13_468, sha256: [] },
  { name: 'myeloid', nObs: 9_748, queryObs: 3_430, sha256: [] },
  { name: 'pancreas', nObs: 10_600, queryObs: 4_218, sha256: [] },
];

export function paperDataset(name: string): PaperDataset | undefined {
  const key = name.toLowerCase();
  return PAPER_DATASETS.find(d => d.name.toLowerCase() === key);
}

/** The classes a run recorded: a fine-tune's parameters.finetune.classes, a baseline's parameters.classes. */
export function runClasses(run: Pick<RunRecord, 'parameters'>): string[] | undefined {
  const p = run.parameters as Record<string, unknown>;
  const ft = p.finetune as Record<string, unknown> | undefined;
  const list = ft && Array.isArray(ft.classes) ? ft.classes : p.classes;
  return Array.isArray(list) && list.every(c => typeof c === 'string') ? list as string[] : undefined;
}

/**
 * null when the published numbers of `publishedName` may stand beside the run (the file is the paper's, or cannot
 * be checked); otherwise the note shown instead: "published values are for Zheng68K; this is mine.h5ad (2,400 cells)".
 */
export function paperDatasetMismatch(run: Pick<RunRecord, 'dataset' | 'query'> & Partial<Pick<RunRecord, 'parameters' | 'split'>>, publishedName: string, known: readonly PaperDataset[] = PAPER_DATASETS): string | null {
  const paper = known.find(d => d.name.toLowerCase() === publishedName.toLowerCase());
  if (!paper) return null;
  if (paper.sha256.includes(run.dataset.sha256)) return null;
  const fmt = (n: number) => n.toLocaleString('en-US');
  // A reference/query set's published numbers are measured on its query file: a run that splits one file tests on
  // part of it, whatever its size.
  if (paper.queryObs !== undefined && !run.query && run.split !== undefined && run.split.kind !== 'reference-query') {
    return `published values are for ${paper.name}'s query set (${fmt(paper.queryObs)} cells, trained on ${fmt(paper.nObs)} reference cells); this run tests on part of ${path.basename(run.dataset.path)}, so they are not shown beside it`;
  }
  const nObs = run.dataset.nObs;
  const queryObs = run.query?.nObs;
  const sameCells = nObs === undefined || (nObs === paper.nObs && (paper.queryObs === undefined || queryObs === undefined || queryObs === paper.queryObs));
  if (sameCells) {
    const classes = run.parameters ? runClasses({ parameters: run.parameters }) : undefined;
    if (paper.nClasses === undefined || classes === undefined || classes.length === paper.nClasses) return null;
    return `published values are for ${paper.name} (${paper.nClasses} classes); this is ${path.basename(run.dataset.path)} with ${classes.length} classes, so they are not shown beside it`;
  }
  const theirs = paper.queryObs === undefined ? `${fmt(paper.nObs)} cells` : `${fmt(paper.nObs)} reference / ${fmt(paper.queryObs)} query cells`;
  const n = nObs as number;
  const ours = queryObs === undefined ? `${fmt(n)} cells` : `${fmt(n)} / ${fmt(queryObs)} cells`;
  return `published values are for ${paper.name} (${theirs}); this is ${path.basename(run.dataset.path)} (${ours}), so they are not shown beside it`;
}
