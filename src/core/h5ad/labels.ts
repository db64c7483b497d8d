/**
 * Which obs columns are likely cell-type labels: the views list them first and the Run Baseline flow proposes them.
 * A candidate is categorical (or string) with between 2 and 500 distinct values. Candidates with few categories (at
 * most 50: cell types, not a 96-well plate position or a barcode) come before those with many, and within each, a
 * name that says "cell type", "label", "annotation" or "cluster" ranks first.
 */
import type { Label } from '../splits';
import { H5adError, type ColumnSummary, type DataFrame } from './types';

const LABEL_NAME = /cell[ _.-]?type|celltype|label|annotation|cluster|lineage|type$/i;
const MAX_CATEGORIES = 500;
/** a candidate with more categories than this ranks after those with fewer (a plate has 96 or 384 wells) */
const FEW_CATEGORIES = 50;

export function isLabelCandidate(col: ColumnSummary): boolean {
  if (col.kind !== 'categorical' && col.kind !== 'string') return false;
  if (col.kind === 'categorical') return (col.nCategories ?? 0) >= 2 && (col.nCategories ?? 0) <= MAX_CATEGORIES;
  return LABEL_NAME.test(col.name);
}

/** Column names, label candidates first (named ones before the rest), then every other column in file order. */
export function orderColumnsForLabels(columns: readonly ColumnSummary[]): { candidates: string[]; ordered: ColumnSummary[] } {
  const many = (c: ColumnSummary) => c.kind === 'categorical' && (c.nCategories ?? 0) > FEW_CATEGORIES;
  const score = (c: ColumnSummary) => (isLabelCandidate(c) ? (many(c) ? 2 : 0) + (LABEL_NAME.test(c.name) ? 0 : 1) : 4);
  const ordered = columns.map((c, i) => ({ c, i })).sort((a, b) => score(a.c) - score(b.c) || a.i - b.i).map(x => x.c);
  return { candidates: ordered.filter(isLabelCandidate).map(c => c.name), ordered };
}

/**
 * The label of every cell: numbers stay numbers (numpy sorts them numerically), all else becomes strings.
 * String labels whose bytes were not valid UTF-8 are refused: the decoder turns every invalid byte sequence into
 * U+FFFD, so two different labels could merge into one class.
 */
export function labelValues(df: DataFrame, column: string, file: string): Label[] {
  const labels = rawLabelValues(df, column, file);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (typeof l === 'string' && l.includes('\uFFFD')) {
      throw new H5adError(file, `obs column '${column}' has a label at cell ${i} ('${df.index[i]}') whose bytes are not valid UTF-8 ` +
        `(read as ${JSON.stringify(l)}); different labels could merge into one, so the column is refused: re-encode its labels as UTF-8`);
    }
  }
  return labels;
}

function rawLabelValues(df: DataFrame, column: string, file: string): Label[] {
  const col = df.columns.find(c => c.name === column);
  if (!col) {
    const names = df.columns.map(c => c.name);
    throw new H5adError(file, `obs has no column '${column}'${names.length ? ` (columns: ${names.join(', ')})` : ''}`);
  }
  const missing = (i: number) => new H5adError(file, `obs column '${column}' has a missing value at cell ${i} ('${df.index[i]}'); remove or fill unlabelled cells first`);
  switch (col.kind) {
    case 'categorical':
      return Array.from(col.codes, (c, i) => {
        if (c < 0) throw missing(i);
        return col.categories[c];
      });
    case 'string':
      return col.values.slice();
    case 'numeric':
      return Array.from(col.values, (v, i) => {
        if (Number.isNaN(v)) throw missing(i);
        return v;
      });
    case 'boolean':
      return Array.from(col.values, v => (v ? 'True' : 'False'));
    case 'nullable-integer':
      return Array.from(col.values, (v, i) => {
        if (col.mask[i]) throw missing(i);
        return v;
      });
    case 'nullable-boolean':
      return Array.from(col.values, (v, i) => {
        if (col.mask[i]) throw missing(i);
        return v ? 'True' : 'False';
      });
  }
}
