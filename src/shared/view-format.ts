/**
 * Number formats and labels the webviews share (pure; imported by the webview apps and tested in Node), so that
 * one axis or one matrix never mixes formats such as "98.50" beside "101", or "0" beside "0.25".
 */
import type { ValueScaleKind } from '../core/h5ad/stats';

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

function roundTo(v: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(v * f) / f;
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
