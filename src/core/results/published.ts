/**
 * Numbers from the published evaluations (resources/published_numbers.csv), and the rule that puts them beside a
 * user's results.
 *
 * Matching rule (a published number is shown beside a row when all hold):
 * 1. dataset: the published `dataset` equals, ignoring case, the run's `publishedDataset` alias when it has one,
 *    else the dataset file's stem (`Zheng68K.h5ad` -> `Zheng68K`);
 * 2. model: same family and same variant. A published model name is read as: drop parenthesised parts
 *    (`(n=10)`), the first word gives the family (`LR...` -> LR, `scBERT`, `scGPT`); the rest is the variant,
 *    except that for LR the rest is solver settings (`L1 C=0.1`), not a variant, and the word `finetune` names the
 *    standard model (variant ''). Variants compare ignoring case, spaces and hyphens (`no-pretrain` =
 *    `no pretrain`). A run's family and variant are its record's `model.family` and `model.variant`;
 * 3. fraction equal (to 1e-9) and metric `accuracy` or `macro_f1`.
 * Several published rows can match (a figure and a table both report Zheng68K LR at 1.0): all are kept, in
 * file order, the first is the one shown.
 */
import * as fs from 'fs';
import * as path from 'path';
import { PACKAGE_ROOT } from '../paths';
import { parseCsv } from './csv';

export interface PublishedNumber {
  source: string;
  experiment: string;
  dataset: string;
  /** the model as published, e.g. 'LR L1 C=0.1 (n=10)' */
  model: string;
  family: string;
  variant: string;
  fraction: number | null;
  metric: string;
  value: number;
  /** CI, range or remark as published */
  note: string;
}

export const PUBLISHED_NUMBERS_FILE = path.join(PACKAGE_ROOT, 'resources', 'published_numbers.csv');

const HEADER = ['source', 'experiment', 'dataset', 'model', 'fraction', 'metric', 'value', 'ci95_or_note'];

/** Family and variant of a model name, by the rule in this module's comment. */
export function modelFamily(name: string): { family: string; variant: string } {
  const words = name.replace(/\([^)]*\)/g, ' ').trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return { family: '', variant: '' };
  const first = words[0];
  const family = /^LR/i.test(first) ? 'LR' : first;
  if (family === 'LR') return { family, variant: '' };
  const rest = words.slice(1).filter(w => w.toLowerCase() !== 'finetune');
  return { family, variant: normalizeVariant(rest.join(' ')) };
}

export function normalizeVariant(variant: string): string {
  return variant.toLowerCase().replace(/[\s_-]+/g, ' ').trim();
}

export function parsePublishedCsv(text: string, source = 'published_numbers.csv'): PublishedNumber[] {
  const rows = parseCsv(text, source);
  const header = rows.shift();
  if (!header || HEADER.some((h, i) => header[i] !== h)) {
    throw new Error(`${source}: expected the header ${HEADER.join(',')}, found ${header?.join(',') ?? 'nothing'}`);
  }
  return rows.filter(r => r.some(f => f !== '')).map((r, i) => {
    const line = i + 2;
    if (r.length !== HEADER.length) throw new Error(`${source}: line ${line} has ${r.length} fields, expected ${HEADER.length}`);
    const value = Number(r[6]);
    if (r[6] === '' || !Number.isFinite(value)) throw new Error(`${source}: line ${line}: value '${r[6]}' is not a number`);
    const fraction = r[4] === '' ? null : Number(r[4]);
    if (fraction !== null && !Number.isFinite(fraction)) throw new Error(`${source}: line ${line}: fraction '${r[4]}' is not a number`);
    return {
      source: r[0], experiment: r[1], dataset: r[2], model: r[3], ...modelFamily(r[3]), fraction, metric: r[5], value, note: r[7],
    };
  });
}

/** The bundled published numbers. */
export function loadPublishedNumbers(file = PUBLISHED_NUMBERS_FILE): PublishedNumber[] {
  return parsePublishedCsv(fs.readFileSync(file, 'utf8'), file);
}

export interface PublishedKey {
  /** the dataset name to match: the run's publishedDataset alias, else the file stem */
  dataset: string;
  family: string;
  variant: string;
  fraction: number;
}

/** Published rows for a (dataset, model, fraction) and a metric, in file order. */
export function matchPublished(published: readonly PublishedNumber[], key: PublishedKey, metric: 'accuracy' | 'macro_f1'): PublishedNumber[] {
  const dataset = key.dataset.toLowerCase();
  const variant = normalizeVariant(key.variant);
  return published.filter(p => p.metric === metric && p.dataset.toLowerCase() === dataset && p.family === key.family
    && p.variant === variant && p.fraction !== null && Math.abs(p.fraction - key.fraction) < 1e-9);
}
