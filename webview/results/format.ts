/** Text formatting of the results panel (numbers, p-values, file stems, row labels). */
import type { ResultRow } from '../../src/core/results/model';

export const dash = '—';

export function fixed(x: number, digits = 3): string {
  return Number.isFinite(x) ? x.toFixed(digits) : dash;
}

export function formatP(p: number | undefined): string {
  if (p === undefined || !Number.isFinite(p)) return dash;
  return p < 0.001 ? '<\u00a00.001' : `p\u00a0=\u00a0${p.toFixed(3)}`;
}

export function formatFraction(f: number): string {
  return String(Number(f.toPrecision(6)));
}

export function percent(x: number): string {
  return `${Number((100 * x).toPrecision(4))}%`;
}

/** A file-name-safe version of an experiment name. */
export function fileStem(name: string): string {
  return name.replace(/[^\w.-]+/g, '_').replace(/^[._]+/, '') || 'results';
}

export function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function rowLabel(row: ResultRow): string {
  return `${row.model} on ${row.dataset}, fraction ${formatFraction(row.fraction)}`;
}
