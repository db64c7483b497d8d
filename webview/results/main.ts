/**
 * Results panel: one experiment at a time — its table of (dataset, model, fraction) groups with CIs, p-values and
 * published numbers, the confusion matrix and per-class F1 of the chosen row, and few-shot curves.
 *
 * The host owns the data: it sends the whole model, and the confusion matrix of one row on request (selectRow).
 * `rendered` is posted only once what is shown is complete, i.e. not while a requested confusion matrix is on its way.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '../shared/base.css';
import './results.css';
import type { ChartType, Plugin, TooltipItem } from 'chart.js';
import type { PublishedCell, ResultRow } from '../../src/core/results/model';
import type { PerturbationRow } from '../../src/core/results/perturbation';
import { ablationFigure, confusionFigure, defaultAblationFraction, fewShotFigure, learningFigure, type Figure, type LossCurve } from '../../src/core/results/figures';
import { paperTable, type PaperCell } from '../../src/core/results/paper';
import { renderSvg, type SvgColors } from '../../src/core/results/svg';
import type { ConfusionView, ExperimentResults, HostMessage, ResultsModel, TableFormat } from '../../src/shared/protocol';
import { Chart, chartBox, themeColors, themedChart } from '../shared/charts';
import { proportionText } from '../../src/shared/view-format';
import { getState, h, post, rendered, setState, startApp } from '../shared/host';

type Metric = 'accuracy' | 'macroF1';

/** What a reload restores (the host re-sends the model after `ready`). */
interface SavedView {
  experiment?: string;
  rowKey?: string | null;
  metric?: Metric;
  /** the row last chosen in each experiment, so switching back shows it again */
  rowByExperiment?: Record<string, string>;
  /** the confusion matrix shows row-normalised proportions (default) or counts */
  confusionNormalized?: boolean;
}

const root = document.getElementById('app') as HTMLElement;
const charts: Chart[] = [];
let model: ResultsModel | undefined;
let current: ExperimentResults | undefined;
let selectedKey: string | null = null;
let confusion: ConfusionView | null = null;
/** a selectRow was posted and its answer has not come yet */
let confusionPending = false;
let metric: Metric = getState<SavedView>()?.metric ?? 'accuracy';
let confusionNormalized: boolean = getState<SavedView>()?.confusionNormalized ?? true;
/** loss curves of the selected row's runs (fine-tunes), from the host with its confusion matrix */
let learning: LossCurve[] = [];
let perturbation: PerturbationRow[] = [];
/** the saved view applies to the first model after a (re)load only; later models are the host's choice */
let savedViewApplied = false;
const rowByExperiment: Record<string, string> = { ...getState<SavedView>()?.rowByExperiment };

const METRIC_LABEL: Record<Metric, string> = { accuracy: 'Accuracy', macroF1: 'Macro-F1' };

// ---------------------------------------------------------------- formatting

const dash = '—';

function fixed(x: number, digits = 3): string {
  return Number.isFinite(x) ? x.toFixed(digits) : dash;
}

function formatP(p: number | undefined): string {
  if (p === undefined || !Number.isFinite(p)) return dash;
  return p < 0.001 ? '<\u00a00.001' : `p\u00a0=\u00a0${p.toFixed(3)}`;
}

function formatFraction(f: number): string {
  return String(Number(f.toPrecision(6)));
}

function percent(x: number): string {
  return `${Number((100 * x).toPrecision(4))}%`;
}

/** A file-name-safe version of an experiment name. */
function fileStem(name: string): string {
  return name.replace(/[^\w.-]+/g, '_').replace(/^[._]+/, '') || 'results';
}

// ---------------------------------------------------------------- theme colours

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

type Rgb = [number, number, number];

/** Any CSS colour as RGB, via the canvas's own colour parser (alpha dropped). */
function toRgb(color: string): Rgb {
  const ctx = document.createElement('canvas').getContext('2d');
  if (!ctx) return [128, 128, 128];
  ctx.fillStyle = '#808080';
  ctx.fillStyle = color;
  const s = String(ctx.fillStyle);
  if (s.startsWith('#')) return [parseInt(s.slice(1, 3), 16), parseInt(s.slice(3, 5), 16), parseInt(s.slice(5, 7), 16)];
  const parts = s.match(/[\d.]+/g)?.map(Number) ?? [128, 128, 128];
  return [parts[0], parts[1], parts[2]];
}

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

function css(c: Rgb): string {
  return `rgb(${Math.round(c[0])}, ${Math.round(c[1])}, ${Math.round(c[2])})`;
}

/** WCAG relative luminance, to pick readable text on a heatmap cell. */
function luminance(c: Rgb): number {
  const lin = (v: number) => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
}

function contrast(a: Rgb, b: Rgb): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

function backgroundColor(): string {
  return cssVar('--vscode-editor-background', '#1e1e1e');
}

/** Paints the theme background under a chart, so an exported PNG is readable outside VS Code. */
function backgroundPlugin<T extends ChartType>(): Plugin<T> {
  return {
    id: 'scwbBackground',
    beforeDraw(chart) {
      const ctx = chart.ctx;
      ctx.save();
      ctx.fillStyle = backgroundColor();
      ctx.fillRect(0, 0, chart.width, chart.height);
      ctx.restore();
    },
  };
}

// ---------------------------------------------------------------- top level

function experimentNamed(name: string | null | undefined): ExperimentResults | undefined {
  return name ? model?.experiments.find(e => e.experiment === name) : undefined;
}

function saveView(): void {
  if (current && selectedKey !== null) rowByExperiment[current.experiment] = selectedKey;
  setState<SavedView>({ experiment: current?.experiment, rowKey: selectedKey, metric, rowByExperiment, confusionNormalized });
}

/** The perturbation-prediction table (every experiment): test MSE of the MVC output, mean ± sd over trials. */
function perturbationSection(): HTMLElement | null {
  if (!perturbation.length) return null;
  const f = (m: { mean: number; sd: number }) => `${m.mean.toFixed(4)} ± ${m.sd.toFixed(4)}`;
  const head = ['experiment', 'dataset', 'encoder', 'trials', 'test MSE', 'no shift', 'control shift only'];
  return h('section', { id: 'perturbation' },
    h('h2', {}, 'Perturbation prediction (test MSE, mean ± sd over trials; lower is better)'),
    h('table', { id: 'perturbation-table' },
      h('thead', {}, h('tr', {}, ...head.map(c => h('th', {}, c)))),
      h('tbody', {}, ...perturbation.map(r => h('tr', {},
        ...[r.experiment, r.dataset, r.model, String(r.trials), f(r.mse), f(r.mseNoShift), f(r.mseControlShift)].map(c => h('td', {}, c)))))));
}

function onModel(m: Extract<HostMessage, { type: 'results/model' }>): void {
  model = m.model;
  perturbation = m.perturbation ?? [];
  if (!model.experiments.length) {
    renderNoExperiments();
    return;
  }
  const exp = experimentNamed(m.experiment) ?? model.experiments[0];
  let rowKey = exp.experiment === m.experiment ? m.confusionRowKey : null;
  let view: ConfusionView | null | undefined = exp.experiment === m.experiment ? m.confusion : null;
  learning = exp.experiment === m.experiment ? m.learning ?? [] : [];
  if (rowKey !== null && !exp.rows.some(r => r.key === rowKey)) { rowKey = null; view = null; }

  const saved = savedViewApplied ? undefined : getState<SavedView>();
  savedViewApplied = true;
  // The host's experiment wins: it follows every selectExperiment and knows which experiment was just run (the
  // webview is reloaded when its panel moves, and its saved state would bring back the old experiment). The
  // saved view brings back only the row last chosen in that same experiment.
  if (saved && saved.experiment === exp.experiment) {
    const savedRow = exp.rows.find(r => r.key === saved.rowKey)?.key;
    if (savedRow !== undefined && savedRow !== rowKey) {
      rowKey = savedRow;
      view = undefined;
    }
  }
  if (view === undefined && rowKey === null) view = null;
  if (view === undefined && rowKey !== null) post({ type: 'results/selectRow', experiment: exp.experiment, rowKey });
  show(exp, rowKey, view);
}

/** Shows an experiment; `view` undefined means its confusion matrix was requested and is on its way. */
function show(exp: ExperimentResults, rowKey: string | null, view: ConfusionView | null | undefined): void {
  current = exp;
  selectedKey = rowKey;
  confusion = view ?? null;
  if (view === undefined) learning = [];
  confusionPending = view === undefined;
  saveView();
  for (const c of charts.splice(0)) c.destroy();

  const header = h('div', { class: 'row toolbar' });
  if (model && model.experiments.length > 1) header.append(h('label', { for: 'experiment' }, 'Experiment'), experimentChooser(model, exp));
  header.append(...exportButtons(exp));
  const excluded = excludedNote(exp);

  if (!exp.rows.length) {
    root.replaceChildren(h('h1', {}, `Results: ${exp.experiment}`), header, excluded,
      h('p', { id: 'empty' }, 'No completed runs in this experiment yet: results appear here when a run finishes.'));
    reportRendered();
    return;
  }
  root.replaceChildren(
    h('h1', {}, `Results: ${exp.experiment}`),
    header,
    excluded,
    h('div', { class: 'table-scroll' }, resultsTable(exp)),
    tableFootnote(exp),
    h('section', { id: 'row-details' }),
    h('section', { id: 'curves' }),
    h('section', { id: 'ablation' }),
    ...[perturbationSection()].filter((x): x is HTMLElement => x !== null),
  );
  fitTable();
  renderRowDetails();
  renderCurves();
  renderAblation();
  if (!confusionPending) reportRendered();
}

/**
 * Fits the table to the panel: when its columns do not fit side by side (a panel at half width or less), each row
 * is stacked as a list of "column: value" lines instead of scrolling sideways.
 */
function fitTable(): void {
  const table = document.getElementById('results-table');
  const box = table?.parentElement;
  if (!table || !box) return;
  table.classList.remove('stacked');
  if (table.scrollWidth > box.clientWidth + 1) table.classList.add('stacked');
}

let fittedWidth = -1;
new ResizeObserver(() => {
  // only a change of width can change the fit (stacking changes the height, which must not loop back here)
  if (root.clientWidth === fittedWidth) return;
  fittedWidth = root.clientWidth;
  fitTable();
}).observe(root);

function renderNoExperiments(): void {
  current = undefined;
  selectedKey = null;
  confusion = null;
  confusionPending = false;
  for (const c of charts.splice(0)) c.destroy();
  const pert = perturbationSection();
  root.replaceChildren(
    h('h1', {}, 'Results'),
    ...(pert ? [pert] : [h('p', { id: 'empty' }, 'No completed runs yet… Results of baseline and fine-tuning runs appear here once a run finishes.')]),
  );
  reportRendered();
}

function reportRendered(): void {
  const exp = current;
  const curveShown = !!document.getElementById('fewshot');
  rendered('results', {
    experiment: exp?.experiment ?? '',
    rows: exp?.rows.length ?? 0,
    rowKey: selectedKey ?? '',
    confusionClasses: confusion?.classes.length ?? 0,
    curveSeries: curveShown && exp ? exp.curves.length : 0,
    curveMetric: metric,
    publishedShown: exp ? exp.rows.filter(r => r.published.accuracy.length || r.published.macroF1.length).length : 0,
    excludedRuns: exp?.excludedRuns.length ?? 0,
    // paper-style table and figures, for the tests
    columns: Array.from(document.querySelectorAll('#results-table thead th')).map(th => th.textContent ?? '').join('|'),
    significanceMarks: Array.from(document.querySelectorAll('#results-table sup.mark')).map(m => m.textContent ?? '').join(' '),
    footnote: document.getElementById('table-footnote')?.textContent ?? '',
    fewshotBands: document.querySelectorAll('#fewshot .band').length,
    ablationBars: document.querySelectorAll('#ablation-bars .bar').length,
    ablationWhiskers: document.querySelectorAll('#ablation-bars .whisker').length,
    learningSeries: document.querySelectorAll('#learning .series').length,
    confusionNormalized,
    // layout, for the tests: does everything fit the panel's width without scrolling sideways?
    tableStacked: !!document.querySelector('#results-table.stacked'),
    fitsWidth: fitsWidth(),
  });
}

function fitsWidth(): boolean {
  const page = document.documentElement.clientWidth;
  const wide = Array.from(document.querySelectorAll<HTMLElement>('#results-table, #confusion, #per-class-f1'));
  return document.documentElement.scrollWidth <= page && wide.every(el => el.getBoundingClientRect().right <= page + 0.5);
}

function experimentChooser(m: ResultsModel, exp: ExperimentResults): HTMLElement {
  const select = h('vscode-single-select', { id: 'experiment' });
  for (const e of m.experiments) {
    select.append(h('vscode-option', e.experiment === exp.experiment ? { value: e.experiment, selected: '' } : { value: e.experiment }, e.experiment));
  }
  select.addEventListener('change', () => {
    const next = experimentNamed((select as unknown as { value: string }).value);
    if (!next || next === current) return;
    post({ type: 'results/selectExperiment', experiment: next.experiment });
    const remembered = rowByExperiment[next.experiment];
    const rowKey = next.rows.find(r => r.key === remembered)?.key ?? next.rows[0]?.key ?? null;
    if (rowKey !== null) post({ type: 'results/selectRow', experiment: next.experiment, rowKey });
    show(next, rowKey, rowKey === null ? null : undefined);
  });
  return select;
}

function exportButtons(exp: ExperimentResults): HTMLElement[] {
  const formats: [TableFormat, string][] = [['csv', 'Table as CSV'], ['md', 'Markdown'], ['tex', 'LaTeX']];
  return formats.map(([format, label]) => {
    const button = h('vscode-button', { id: `export-${format}`, secondary: '' }, label);
    if (!exp.rows.length) button.setAttribute('disabled', '');
    button.addEventListener('click', () => post({ type: 'results/exportTable', experiment: exp.experiment, format }));
    return button;
  });
}

function excludedNote(exp: ExperimentResults): HTMLElement | string {
  const n = exp.excludedRuns.length;
  if (!n) return '';
  const byStatus = new Map<string, number>();
  for (const r of exp.excludedRuns) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
  const parts = Array.from(byStatus, ([status, count]) => `${count} ${status === 'completed' ? 'without metrics' : status}`);
  return h('p', { class: 'muted', id: 'excluded' }, `${n} run${n === 1 ? '' : 's'} not counted (${parts.join(', ')}).`);
}

// ---------------------------------------------------------------- table

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

function resultsTable(exp: ExperimentResults): HTMLTableElement {
  const paper = paperTable(exp, { level: model?.level ?? 0.95 });
  const caption = h('caption', {}, h('strong', {}, paper.caption));
  const columns = paper.headings;
  const head = h('thead', {}, h('tr', {}, ...columns.map((t, i) => h('th', paper.align[i] === 'l' ? { scope: 'col' } : { scope: 'col', class: 'num' }, t))));
  const body = h('tbody', {});
  exp.rows.forEach((row, k) => {
    const tr = h('tr', { tabindex: '0', 'data-key': row.key, title: `runs: ${row.runIds.join(', ')}\nseeds: ${row.seeds.join(', ')}` },
      ...paper.rows[k].cells.map((c, i) => paperCell(c, columns[i], row)));
    // the column names, shown beside each value when a narrow panel stacks the table (see fitTable)
    Array.from(tr.cells).forEach((td, i) => td.setAttribute('data-label', columns[i]));
    if (row.key === selectedKey) { tr.setAttribute('data-selected', ''); tr.setAttribute('aria-current', 'true'); }
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

function tableFootnote(exp: ExperimentResults): HTMLElement {
  return h('p', { class: 'muted footnote', id: 'table-footnote' }, paperTable(exp, { level: model?.level ?? 0.95 }).footnote);
}

function selectRow(key: string): void {
  if (!current || (key === selectedKey && !confusionPending)) return;
  selectedKey = key;
  confusion = null;
  learning = [];
  confusionPending = true;
  saveView();
  for (const tr of document.querySelectorAll<HTMLTableRowElement>('#results-table tbody tr')) {
    const on = tr.dataset.key === key;
    tr.toggleAttribute('data-selected', on);
    if (on) tr.setAttribute('aria-current', 'true'); else tr.removeAttribute('aria-current');
  }
  renderRowDetails();
  post({ type: 'results/selectRow', experiment: current.experiment, rowKey: key });
}

function onConfusion(m: Extract<HostMessage, { type: 'results/confusion' }>): void {
  if (!current || m.experiment !== current.experiment || !current.rows.some(r => r.key === m.rowKey)) return;
  // an older answer while a newer request is out: drop it
  if (confusionPending && m.rowKey !== selectedKey) return;
  if (m.rowKey !== selectedKey) {
    selectedKey = m.rowKey;
    for (const tr of document.querySelectorAll<HTMLTableRowElement>('#results-table tbody tr')) tr.toggleAttribute('data-selected', tr.dataset.key === m.rowKey);
  }
  confusion = m.confusion;
  learning = m.learning ?? [];
  confusionPending = false;
  saveView();
  renderRowDetails();
  reportRendered();
}

// ---------------------------------------------------------------- confusion matrix and per-class F1

function pngButton(id: string, figure: string, canvas: HTMLCanvasElement): HTMLElement {
  const button = h('vscode-button', { id: `png-${id}`, secondary: '' }, 'PNG');
  button.setAttribute('title', `Save this figure as a PNG image`);
  button.addEventListener('click', () => post({
    type: 'export', format: 'png', suggestedName: `${fileStem(current?.experiment ?? 'results')}-${figure}.png`, content: canvas.toDataURL('image/png'),
  }));
  return button;
}

function rowLabel(row: ResultRow): string {
  return `${row.model} on ${row.dataset}, fraction ${formatFraction(row.fraction)}`;
}

function renderRowDetails(): void {
  const section = document.getElementById('row-details');
  if (!section || !current) return;
  destroyChart('per-class-f1');

  const row = current.rows.find(r => r.key === selectedKey);
  if (!row) {
    section.replaceChildren(h('h2', {}, 'Confusion matrix'), h('p', { class: 'muted', id: 'confusion-note' }, 'Choose a row of the table to see its confusion matrix and per-class F1.'));
    return;
  }
  const title = h('h2', {}, `Confusion matrix and per-class F1: ${rowLabel(row)}`);
  if (confusionPending) {
    section.replaceChildren(title, h('p', { class: 'muted', id: 'confusion-note' }, 'Loading the confusion matrix…'));
    return;
  }
  if (!confusion || !confusion.classes.length) {
    section.replaceChildren(title, h('p', { class: 'muted', id: 'confusion-note' }, 'The runs of this row saved no confusion matrix (metrics file missing).'));
    return;
  }
  const view = confusion;
  const runs = `summed over ${view.nRuns} run${view.nRuns === 1 ? '' : 's'}`;

  const heatmap = h('canvas', { id: 'confusion', role: 'img', 'aria-label': `${confusionNormalized ? 'Row-normalised confusion matrix' : 'Confusion matrix (counts)'} of ${view.classes.length} classes, ${runs}` });
  drawConfusion(heatmap, view, confusionNormalized);
  const scale = h('vscode-single-select', { id: 'confusion-scale' });
  for (const [value, label] of [['normalized', 'Row-normalised'], ['counts', 'Counts']]) {
    const on = (value === 'normalized') === confusionNormalized;
    scale.append(h('vscode-option', on ? { value, selected: '' } : { value }, label));
  }
  scale.addEventListener('change', () => {
    const next = (scale as unknown as { value: string }).value === 'normalized';
    if (next === confusionNormalized) return;
    confusionNormalized = next;
    saveView();
    renderRowDetails();
    if (!confusionPending) reportRendered();
  });
  const svgTitle = `Confusion matrix: ${rowLabel(row)}`;
  const heatFigure = h('figure', { class: 'heatmap' },
    h('figcaption', {}, `${confusionNormalized ? 'Row-normalised proportions' : 'Counts (shading row-normalised)'}; true classes in rows, predicted in columns, ${runs}`),
    h('div', { class: 'row' }, h('label', { for: 'confusion-scale' }, 'Cells'), scale),
    h('div', { class: 'heatmap-scroll' }, heatmap),
    h('div', { class: 'row' }, pngButton('confusion', 'confusion', heatmap),
      ...figureExportButtons('confusion-svg', 'confusion', () => confusionFigure(view, confusionNormalized, svgTitle)).slice(1)));

  const { box, canvas } = chartBox('per-class-f1');
  const horizontal = view.classes.length > 12;
  if (horizontal) box.style.height = `${Math.max(260, 20 * view.classes.length + 60)}px`;
  const f1Figure = h('figure', { class: 'per-class' },
    h('figcaption', {}, 'Per-class F1 of the summed counts'), box, h('div', { class: 'row' }, pngButton('per-class-f1', 'per-class-f1', canvas)));
  // attached first, so chart.js sizes and draws the canvas at once
  section.replaceChildren(title, h('div', { class: 'figures' }, heatFigure, f1Figure), learningSection(row) ?? '');

  const { series } = themeColors();
  const per = view.perClass;
  charts.push(themedChart(canvas, {
    type: 'bar',
    data: { labels: per.map(c => c.name), datasets: [{ label: 'F1', data: per.map(c => c.f1), backgroundColor: series[0] }] },
    options: {
      indexAxis: horizontal ? 'y' : 'x',
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            label: (item: TooltipItem<'bar'>) => {
              const c = per[item.dataIndex];
              return `F1 ${c.f1.toFixed(3)} (precision ${c.precision.toFixed(3)}, recall ${c.recall.toFixed(3)}, ${c.support} cells)`;
            },
          },
        },
      },
      scales: horizontal
        ? { x: { min: 0, max: 1, title: { display: true, text: 'F1' } }, y: { ticks: { autoSkip: false } } }
        : { y: { min: 0, max: 1, title: { display: true, text: 'F1' } }, x: { ticks: { autoSkip: false } } },
    },
    plugins: [backgroundPlugin<'bar'>()],
  }));
}

function destroyChart(canvasId: string): void {
  const i = charts.findIndex(c => c.canvas.id === canvasId);
  if (i >= 0) charts.splice(i, 1)[0].destroy();
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Heatmap of the row-normalised matrix, drawn by hand (chart.js has no heatmap), crisp at any devicePixelRatio. */
function drawConfusion(canvas: HTMLCanvasElement, view: ConfusionView, normalized: boolean): void {
  const K = view.classes.length;
  const showValues = K <= 15;
  const cell = showValues ? Math.max(44, Math.min(96, 320 / K)) : Math.max(6, Math.min(24, 900 / K));
  const grid = cell * K;
  const fontFamily = getComputedStyle(document.body).fontFamily || 'sans-serif';
  const labelSize = Math.round(Math.min(12, Math.max(7, cell * 0.7)));
  const showLabels = cell >= 7;
  const labels = view.classes.map(c => truncate(c, 28));

  const ctx0 = canvas.getContext('2d');
  if (!ctx0) return;
  const ctx: CanvasRenderingContext2D = ctx0;
  ctx.font = `${labelSize}px ${fontFamily}`;
  const labelWidth = showLabels ? Math.max(...labels.map(l => ctx.measureText(l).width)) : 0;
  const axisTitle = 18;
  const left = axisTitle + labelWidth + 8;
  const top = 8;
  const bottom = (showLabels ? labelWidth * Math.SQRT1_2 + labelSize + 8 : 4) + axisTitle + 4;
  const legendWidth = 12;
  const right = 16 + legendWidth + 36;
  const width = Math.max(320, Math.ceil(left + grid + right));
  const height = Math.max(320, Math.ceil(top + grid + bottom));
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);

  const background = toRgb(backgroundColor());
  const high = toRgb(themeColors().series[0]);
  const foreground = toRgb(themeColors().foreground);
  const gridColor = themeColors().grid;
  ctx.fillStyle = css(background);
  ctx.fillRect(0, 0, width, height);

  const gap = cell >= 12 ? 1 : 0;
  const valueSize = Math.round(Math.max(9, Math.min(14, cell / 3.5)));
  for (let i = 0; i < K; i++) {
    for (let j = 0; j < K; j++) {
      const v = Math.max(0, Math.min(1, view.normalized[i][j] || 0));
      const colour = mix(background, high, v);
      ctx.fillStyle = css(colour);
      ctx.fillRect(left + j * cell, top + i * cell, cell - gap, cell - gap);
      if (showValues) {
        const text = contrast(foreground, colour) >= contrast(background, colour) ? foreground : background;
        ctx.fillStyle = css(text);
        ctx.font = `${i === j ? '600 ' : ''}${valueSize}px ${fontFamily}`;
        ctx.textAlign = 'center';
        ctx.textBaseline = 'middle';
        ctx.fillText(normalized ? proportionText(v) : String(view.counts[i][j]), left + j * cell + (cell - gap) / 2, top + i * cell + (cell - gap) / 2);
      }
    }
  }
  ctx.strokeStyle = gridColor;
  ctx.lineWidth = 1;
  ctx.strokeRect(left - 0.5, top - 0.5, grid + 1 - gap, grid + 1 - gap);

  ctx.fillStyle = css(foreground);
  if (showLabels) {
    ctx.font = `${labelSize}px ${fontFamily}`;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    labels.forEach((l, i) => ctx.fillText(l, left - 6, top + i * cell + cell / 2));
    labels.forEach((l, j) => {
      ctx.save();
      ctx.translate(left + j * cell + cell / 2, top + grid + 6);
      ctx.rotate(-Math.PI / 4);
      ctx.textAlign = 'right';
      ctx.textBaseline = 'middle';
      ctx.fillText(l, 0, 0);
      ctx.restore();
    });
  }
  ctx.font = `600 12px ${fontFamily}`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'alphabetic';
  ctx.fillText('Predicted class', left + grid / 2, height - 6);
  ctx.save();
  ctx.translate(13, top + grid / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText('True class', 0, 0);
  ctx.restore();

  const legendX = left + grid + 16;
  const legendHeight = Math.max(80, Math.min(grid, 240));
  const gradient = ctx.createLinearGradient(0, top, 0, top + legendHeight);
  gradient.addColorStop(0, css(high));
  gradient.addColorStop(1, css(background));
  ctx.fillStyle = gradient;
  ctx.fillRect(legendX, top, legendWidth, legendHeight);
  ctx.strokeStyle = gridColor;
  ctx.strokeRect(legendX - 0.5, top - 0.5, legendWidth + 1, legendHeight + 1);
  ctx.fillStyle = css(foreground);
  ctx.font = `11px ${fontFamily}`;
  ctx.textAlign = 'left';
  ctx.textBaseline = 'top';
  ctx.fillText(proportionText(1), legendX + legendWidth + 4, top);
  ctx.textBaseline = 'bottom';
  ctx.fillText(proportionText(0), legendX + legendWidth + 4, top + legendHeight);

  canvas.onmousemove = (e: MouseEvent) => {
    const rect = canvas.getBoundingClientRect();
    // the canvas may be drawn scaled down to fit a narrow panel (CSS max-width)
    const scale = rect.width > 0 ? width / rect.width : 1;
    const j = Math.floor(((e.clientX - rect.left) * scale - left) / cell);
    const i = Math.floor(((e.clientY - rect.top) * scale - top) / cell);
    if (i < 0 || j < 0 || i >= K || j >= K) { canvas.removeAttribute('title'); return; }
    const total = view.counts[i].reduce((a, b) => a + b, 0);
    canvas.title = `true ${view.classes[i]}, predicted ${view.classes[j]}: ${view.counts[i][j]} of ${total} cells (${(100 * view.normalized[i][j]).toFixed(1)}%)`;
  };
}

// ---------------------------------------------------------------- SVG figures (few-shot, ablation, learning curves)

/** The theme's colours for figures on screen; exports use the renderer's print colours (white background). */
function screenColors(): SvgColors {
  const t = themeColors();
  return { background: backgroundColor(), foreground: t.foreground, grid: t.grid, series: t.series };
}

/** An SVG document (from core/results/svg.ts) as a DOM element, parsed (never innerHTML). */
function svgElement(svgText: string, id: string, label: string): Element {
  const doc = new DOMParser().parseFromString(svgText, 'image/svg+xml');
  const svg = document.importNode(doc.documentElement, true);
  svg.setAttribute('id', id);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.setAttribute('class', 'svg-figure');
  return svg;
}

function utf8Base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** Draws an SVG document on a canvas at twice its size and returns the PNG data URL. */
async function svgToPng(svgText: string, width: number, height: number): Promise<string> {
  const img = new Image();
  img.src = `data:image/svg+xml;base64,${utf8Base64(svgText)}`;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = width * 2;
  canvas.height = height * 2;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2D canvas');
  ctx.scale(2, 2);
  ctx.drawImage(img, 0, 0, width, height);
  return canvas.toDataURL('image/png');
}

const FIGURE_SIZE: Record<Figure['kind'], { width: number; height: number }> = {
  line: { width: 720, height: 400 }, bars: { width: 720, height: 400 }, heatmap: { width: 560, height: 560 },
};

/** PNG and SVG buttons of a figure: both print versions (white background) of the same figure data. */
function figureExportButtons(id: string, name: string, figure: () => Figure): HTMLElement[] {
  const stem = `${fileStem(current?.experiment ?? 'results')}-${name}`;
  const png = h('vscode-button', { id: `png-${id}`, secondary: '', title: 'Save this figure as a PNG image' }, 'PNG');
  png.addEventListener('click', () => {
    const f = figure();
    const size = FIGURE_SIZE[f.kind];
    svgToPng(renderSvg(f, size), size.width, size.height)
      .then(content => post({ type: 'export', format: 'png', suggestedName: `${stem}.png`, content }))
      .catch((e: unknown) => post({ type: 'error', message: `Cannot draw the figure as PNG: ${String(e)}` }));
  });
  const svg = h('vscode-button', { id: `svg-${id}`, secondary: '', title: 'Save this figure as an SVG image' }, 'SVG');
  svg.addEventListener('click', () => {
    const f = figure();
    post({ type: 'export', format: 'svg', suggestedName: `${stem}.svg`, content: renderSvg(f, FIGURE_SIZE[f.kind]) });
  });
  return [png, svg];
}

function metricChooser(id: string): HTMLElement {
  const select = h('vscode-single-select', { id });
  for (const m of ['accuracy', 'macroF1'] as Metric[]) select.append(h('vscode-option', m === metric ? { value: m, selected: '' } : { value: m }, METRIC_LABEL[m]));
  select.addEventListener('change', () => {
    const value = (select as unknown as { value: string }).value as Metric;
    if (value === metric || !(value in METRIC_LABEL)) return;
    metric = value;
    saveView();
    renderCurves();
    renderAblation();
    if (!confusionPending) reportRendered();
  });
  return select;
}

function renderCurves(): void {
  const section = document.getElementById('curves');
  if (!section || !current) return;
  const exp = current;
  if (!exp.curves.some(s => s.accuracy.length > 1)) {
    section.replaceChildren(h('h2', {}, 'Few-shot curve'),
      h('p', { class: 'muted', id: 'fewshot-note' }, 'Each model was trained on a single fraction of the training set here; run several fractions to see a few-shot curve.'));
    return;
  }
  const figure = fewShotFigure(exp, metric);
  section.replaceChildren(
    h('h2', {}, 'Few-shot curve'),
    h('div', { class: 'row' }, h('label', { for: 'curve-metric' }, 'Metric'), metricChooser('curve-metric')),
    h('figure', { class: 'curve' },
      h('figcaption', {}, `Mean ${metric === 'accuracy' ? 'accuracy' : 'macro-F1'} by training fraction; shaded: its ${percent(model?.level ?? 0.95)} CI over seeds; dashed with diamonds: published`),
      svgElement(renderSvg(figure, { ...FIGURE_SIZE.line, colors: screenColors() }), 'fewshot', figure.title),
      h('div', { class: 'row' }, ...figureExportButtons('fewshot', 'fewshot', () => fewShotFigure(exp, metric)))),
  );
}

function renderAblation(): void {
  const section = document.getElementById('ablation');
  if (!section || !current) return;
  const exp = current;
  const fraction = defaultAblationFraction(exp);
  const figure = ablationFigure(exp, metric);
  if (fraction === null || figure.bars.length < 2) {
    section.replaceChildren();
    return;
  }
  section.replaceChildren(
    h('h2', {}, 'Models and ablations'),
    h('div', { class: 'row' }, h('label', { for: 'ablation-metric' }, 'Metric'), metricChooser('ablation-metric')),
    h('figure', { class: 'curve' },
      h('figcaption', {}, `Mean ${metric === 'accuracy' ? 'accuracy' : 'macro-F1'} at fraction ${formatFraction(fraction)}; whiskers: ${percent(model?.level ?? 0.95)} CI over seeds; diamonds: published`),
      svgElement(renderSvg(figure, { ...FIGURE_SIZE.bars, colors: screenColors() }), 'ablation-bars', figure.title),
      h('div', { class: 'row' }, ...figureExportButtons('ablation', 'ablation', () => ablationFigure(exp, metric)))),
  );
}

/** Learning curves of the selected row (fine-tune runs), into the row details. */
function learningSection(row: ResultRow): HTMLElement | null {
  if (!learning.length) return null;
  const curves = learning;
  const title = `Learning curves: ${rowLabel(row)}`;
  const figure = learningFigure(curves, title);
  return h('figure', { class: 'curve', id: 'learning-figure' },
    h('figcaption', {}, `Training loss (solid) and validation loss (dashed) by epoch, ${curves.length} seed${curves.length === 1 ? '' : 's'} overlaid`),
    svgElement(renderSvg(figure, { ...FIGURE_SIZE.line, colors: screenColors() }), 'learning', title),
    h('div', { class: 'row' }, ...figureExportButtons('learning', 'learning-curves', () => learningFigure(curves, title))));
}

// ---------------------------------------------------------------- wiring

/** A theme switch changes the CSS variables; canvases keep their colours until drawn again. */
new MutationObserver(() => {
  if (!current) return;
  renderRowDetails();
  renderCurves();
  renderAblation();
}).observe(document.body, { attributes: true, attributeFilter: ['class'] });

startApp('results', (m: HostMessage) => {
  switch (m.type) {
    case 'results/model': onModel(m); break;
    case 'results/confusion': onConfusion(m); break;
    case 'error':
      root.append(h('div', { class: 'error', role: 'alert', id: 'error' }, m.message));
      rendered('results', { experiment: current?.experiment ?? '', error: m.message });
      break;
    default: break;
  }
});
