/**
 * Which obs columns are likely cell-type labels: the views list them first and the Run Baseline flow proposes them.
 * A candidate is categorical (or string) with between 2 and 500 distinct values; a name that says "cell type",
 * "label", "annotation" or "cluster" ranks first.
 */
import type { ColumnSummary } from './types';

const LABEL_NAME = /cell[ _.-]?type|celltype|label|annotation|cluster|lineage|type$/i;
const MAX_CATEGORIES = 500;

export function isLabelCandidate(col: ColumnSummary): boolean {
  if (col.kind !== 'categorical' && col.kind !== 'string') return false;
  if (col.kind === 'categorical') return (col.nCategories ?? 0) >= 2 && (col.nCategories ?? 0) <= MAX_CATEGORIES;
  return LABEL_NAME.test(col.name);
}

/** Column names, label candidates first (named ones before the rest), then every other column in file order. */
export function orderColumnsForLabels(columns: readonly ColumnSummary[]): { candidates: string[]; ordered: ColumnSummary[] } {
  const score = (c: ColumnSummary) => (isLabelCandidate(c) ? (LABEL_NAME.test(c.name) ? 0 : 1) : 2);
  const ordered = columns.map((c, i) => ({ c, i })).sort((a, b) => score(a.c) - score(b.c) || a.i - b.i).map(x => x.c);
  return { candidates: ordered.filter(isLabelCandidate).map(c => c.name), ordered };
}
