/**
 * Number formats and labels the webviews share (pure; imported by the webview apps and tested in Node), so that
 * one axis or one matrix never mixes formats such as "98.50" beside "101", or "0" beside "0.25".
 */
import type { GeneNamespaceKind, ValueScaleKind } from '../core/h5ad/stats';

const MAX_DECIMALS = 4;

/**
 * A formatter for the tick labels of one axis: every label gets the same number of decimals, the fewest that
 * tell neighbouring values apart (none when all are integers), with thousands separators.
 */
export function axisFormatter(values: readonly number[]): (v: number) => string {
  const finite = values.filter(Number.isFinite);
  let decimals = 0;
  if (!finite.every(Number.isInteger)) {
    const sorted = [...new Set(finite)].sort((a, b) => a - b);
    let step = Infinity;
    for (let i = 1; i < sorted.length; i++) step = Math.min(step, sorted[i] - sorted[i - 1]);
    if (!Number.isFinite(step)) step = Math.abs(sorted[0] ?? 1) || 1;
    decimals = Math.min(MAX_DECIMALS, Math.max(0, Math.ceil(-Math.log10(step) - 1e-9)));
    // neighbours must stay apart after rounding
    while (decimals < MAX_DECIMALS && sorted.some((v, i) => i > 0 && roundTo(v, decimals) === roundTo(sorted[i - 1], decimals))) decimals++;
    // one more decimal when it makes every value exact (a step of 0.25 prints 0.25, not 0.3)
    const exact = (d: number) => sorted.every(v => Math.abs(roundTo(v, d) - v) <= 1e-9 * Math.max(1, Math.abs(v)));
    if (decimals < MAX_DECIMALS && !exact(decimals) && exact(decimals + 1)) decimals++;
  }
  const nf = new Intl.NumberFormat('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  return v => (Number.isFinite(v) ? nf.format(v) : '—');
}

/**
 * Tick labels for an axis of whole numbers (cells, genes, UMI counts): no decimals, thousands separated, and from
 * a million up in compact form ("1.25M", as many digits as keep the given ticks apart) so that seven-digit values do
 * not crowd the axis. A value between two whole numbers is shown as the next one up (the smallest whole number of a
 * histogram bin that starts there).
 */
export function countFormatter(values: readonly number[]): (v: number) => string {
  const ticks = values.filter(Number.isFinite).map(Math.ceil);
  const max = Math.max(0, ...ticks.map(Math.abs));
  let nf = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  if (max >= 1e6) {
    for (let digits = 3; digits <= 7; digits++) {
      nf = new Intl.NumberFormat('en-US', { notation: 'compact', maximumSignificantDigits: digits });
      const labels = ticks.map(v => nf.format(v));
      if (new Set(labels).size === new Set(ticks).size) break;
    }
  }
  return v => (Number.isFinite(v) ? nf.format(Math.ceil(v)) : '—');
}

/**
 * The labels of a histogram's bin edges: countFormatter when the binned values are whole numbers and every bin is
 * at least 1 wide (so no two bins start at the same whole number), else axisFormatter.
 */
export function edgeFormatter(edges: readonly number[], wholeNumbers: boolean): (v: number) => string {
  const finite = edges.filter(Number.isFinite);
  const wide = finite.every((v, i) => i === 0 || v - finite[i - 1] >= 1);
  return wholeNumbers && wide ? countFormatter(edges) : axisFormatter(edges);
}

function roundTo(v: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(v * f) / f;
}

/** "1 run", "3 runs", "1,200 runs": a count with its noun in the right number. */
export function countOf(n: number, noun: string, plural = `${noun}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? noun : plural}`;
}

/** A share between 0 and 1 as shown in a confusion-matrix cell: always two decimals ("0.00", "0.25", "1.00"). */
export function proportionText(v: number): string {
  return Number.isFinite(v) ? Math.max(0, Math.min(1, v)).toFixed(2) : '—';
}

/** What the per-cell sum of X is, by what X holds: only raw counts sum to "counts". */
export function perCellTotalLabel(kind: ValueScaleKind): string {
  switch (kind) {
    case 'raw-counts':
    case 'empty':
      return 'Counts per cell';
    case 'normalized':
      return 'Total of normalised values per cell';
    case 'log-normalized':
      return 'Sum of log-normalised values per cell';
    case 'scaled':
      return 'Sum of scaled values per cell';
  }
}

/** A gene identifier namespace in words (the dataset view and the Preprocess questions): "Ensembl human gene ids". */
export function geneNamespaceText(namespace: GeneNamespaceKind | string, symbolCase?: 'upper' | 'capitalized' | 'mixed'): string {
  switch (namespace) {
    case 'ensembl-human': return 'Ensembl human gene ids';
    case 'ensembl-mouse': return 'Ensembl mouse gene ids';
    case 'ensembl-other': return 'Ensembl gene ids';
    case 'symbol': return `gene symbols${symbolCase === 'upper' ? ' (human style, upper case)' : symbolCase === 'capitalized' ? ' (mouse style, capitalised)' : ''}`;
    case 'mixed': return 'a mix of symbols and Ensembl ids';
    case 'unknown': return 'not recognised as gene identifiers';
    default: return namespace;
  }
}
