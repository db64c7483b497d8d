/** The results table in the paper's layout (core/results/paper.ts), its footnote, and its fit to the panel's width. */
import type { PublishedCell, ResultRow } from '../../src/core/results/model';
import { paperTable, type PaperCell } from '../../src/core/results/paper';
import type { ExperimentResults } from '../../src/shared/protocol';
import { h } from '../shared/host';
import { dash, fixed, formatP } from './format';
import { view } from './state';

function publishedTitle(cells: PublishedCell[]): string {
  if (!cells.length) return '';
  const first = cells[0];
  const more = cells.length > 1 ? `\n(${cells.length - 1} more match${cells.length > 2 ? 'es' : ''})` : '';
  return `${first.model}, ${first.experiment}${first.note ? ` (${first.note})` : ''}\n${first.source}${more}`;
}

/** One cell of the paper layout (paper.ts: the same cells the Markdown / LaTeX exports print). */
function paperCell(cell: PaperCell, heading: string, row: ResultRow): HTMLTableCellElement {
  if (heading === 'Model') {
    return h('td', {}, row.model, row.isReference ? h('span', { class: 'note' }, ' (reference)') : null);
  }
  if (cell.kind === 'text') return h('td', {}, cell.text);
  if (cell.kind === 'num') {
    if (!cell.text) return h('td', { class: 'num muted' }, dash);
    const td = h('td', { class: heading.startsWith('Published') ? 'num published' : heading.startsWith('Δ') ? 'num diff' : 'num' }, cell.text);
    if (heading === 'Published accuracy') td.title = publishedTitle(row.published.accuracy);
    if (heading === 'Published macro-F1') td.title = publishedTitle(row.published.macroF1);
    return td;
  }
  if (!cell.mean) return h('td', { class: 'num muted' }, dash);
  const isAccuracy = heading === 'Accuracy';
  const m = isAccuracy ? row.accuracy : row.macroF1;
  const p = isAccuracy ? row.vsReference?.pAccuracy : row.vsReference?.pMacroF1;
  // a narrow panel may break the line before "±", never inside "± 0.004"
  const td = h('td', { class: 'num metric' }, cell.half ? `${cell.mean} ±\u00a0${cell.half}` : cell.mean, cell.sd ? ` (sd\u00a0${cell.sd})` : null,
    cell.mark ? h('sup', { class: 'mark' }, cell.mark) : null);
  const ci = m.n > 1 && Number.isFinite(m.ciLow) ? `CI ${fixed(m.ciLow)}–${fixed(m.ciHigh)} over ${m.n} seeds` : `${m.n} seed`;
  td.title = row.isReference ? `${ci}; the reference of the significance tests` : `${ci}${p === undefined ? '' : `; ${formatP(p)} vs ${row.vsReference?.model ?? ''}`}`;
  if (cell.mark) td.classList.add('significant');
  return td;
}

export function resultsTable(exp: ExperimentResults, selectRow: (key: string) => void): HTMLTableElement {
  const paper = paperTable(exp, { level: view.model?.level ?? 0.95 });
  const caption = h('caption', {}, h('strong', {}, paper.caption));
  const columns = paper.headings;
  const head = h('thead', {}, h('tr', {}, ...columns.map((t, i) => h('th', paper.align[i] === 'l' ? { scope: 'col' } : { scope: 'col', class: 'num' }, t))));
  const body = h('tbody', {});
  exp.rows.forEach((row, k) => {
    const tr = h('tr', { tabindex: '0', 'data-key': row.key, title: `runs: ${row.runIds.join(', ')}\nseeds: ${row.seeds.join(', ')}` },
      ...paper.rows[k].cells.map((c, i) => paperCell(c, columns[i], row)));
    // the column names, shown beside each value when a narrow panel stacks the table (see fitTable)
    Array.from(tr.cells).forEach((td, i) => td.setAttribute('data-label', columns[i]));
    if (row.key === view.selectedKey) { tr.setAttribute('data-selected', ''); tr.setAttribute('aria-current', 'true'); }
    tr.addEventListener('click', () => selectRow(row.key));
    tr.addEventListener('keydown', e => {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); selectRow(row.key); }
      else if (e.key === 'ArrowDown') { e.preventDefault(); (tr.nextElementSibling as HTMLElement | null)?.focus(); }
      else if (e.key === 'ArrowUp') { e.preventDefault(); (tr.previousElementSibling as HTMLElement | null)?.focus(); }
    });
    body.append(tr);
  });
  return h('table', { class: 'grid', id: 'results-table' }, caption, head, body);
}

export function tableFootnote(exp: ExperimentResults): HTMLElement {
  return h('p', { class: 'muted footnote', id: 'table-footnote' }, paperTable(exp, { level: view.model?.level ?? 0.95 }).footnote);
}

/**
 * Fits the table to the panel: when its columns do not fit side by side (a panel at half width or less), each row
 * is stacked as a list of "column: value" lines instead of scrolling sideways.
 */
export function fitTable(): void {
  const table = document.getElementById('results-table');
  const box = table?.parentElement;
  if (!table || !box) return;
  table.classList.remove('stacked');
  if (table.scrollWidth > box.clientWidth + 1) table.classList.add('stacked');
}

