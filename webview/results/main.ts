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
import type { CurveSeries, MetricSummary, PublishedCell, ResultRow } from '../../src/core/results/model';
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
/** the saved view applies to the first model after a (re)load only; later models are the host's choice */
let savedViewApplied = false;
const rowByExperiment: Record<string, string> = { ...getState<SavedView>()?.rowByExperiment };

const METRIC_LABEL: Record<Metric, string> = { accuracy: 'Accuracy', macroF1: 'Macro-F1' };

// ---------------------------------------------------------------- formatting

const dash = '—';

function fixed(x: number, digits = 3): string {
  return Number.isFinite(x) ? x.toFixed(digits) : dash;
}

/** `0.812 ± 0.004`; the mean alone for one seed (no interval). */
function meanCi(m: MetricSummary): string {
  if (!Number.isFinite(m.mean)) return dash;
  // a narrow panel may break the line before "±", never inside "± 0.004"
  return m.n > 1 && Number.isFinite(m.ciHalfWidth) ? `${m.mean.toFixed(3)} ±\u00a0${m.ciHalfWidth.toFixed(3)}` : m.mean.toFixed(3);
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
  setState<SavedView>({ experiment: current?.experiment, rowKey: selectedKey, metric, rowByExperiment });
}

function onModel(m: Extract<HostMessage, { type: 'results/model' }>): void {
  model = m.model;
  if (!model.experiments.length) {
    renderNoExperiments();
    return;
  }
  const exp = experimentNamed(m.experiment) ?? model.experiments[0];
  let rowKey = exp.experiment === m.experiment ? m.confusionRowKey : null;
  let view: ConfusionView | null | undefined = exp.experiment === m.experiment ? m.confusion : null;
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
    h('section', { id: 'row-details' }),
    h('section', { id: 'curves' }),
  );
  fitTable();
  renderRowDetails();
  renderCurves();
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
  root.replaceChildren(
    h('h1', {}, 'Results'),
    h('p', { id: 'empty' }, 'No completed runs yet… Results of baseline and fine-tuning runs appear here once a run finishes.'),
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

function publishedCell(cells: PublishedCell[]): HTMLTableCellElement {
  if (!cells.length) return h('td', { class: 'num muted' }, dash);
  const first = cells[0];
  const more = cells.length > 1 ? `\n(${cells.length - 1} more match${cells.length > 2 ? 'es' : ''})` : '';
  return h('td', { class: 'num published', title: `${first.model}, ${first.experiment}\n${first.source}${more}` },
    first.value.toFixed(3), first.note ? h('span', { class: 'note' }, ` ${first.note}`) : null);
}

function pCell(row: ResultRow, p: number | undefined): HTMLTableCellElement {
  if (row.isReference) return h('td', { class: 'num muted' }, 'ref.');
  const cell = h('td', { class: 'num' }, formatP(p));
  if (p !== undefined && p < 0.05) cell.classList.add('significant');
  return cell;
}

/** Probe experiments (trials): `0.812 ± 0.004 (sd 0.006)`, the CI and np.std over trials (as the benchmark reports). */
function metricCell(m: MetricSummary, probe: boolean): string {
  return probe && m.n > 1 && Number.isFinite(m.stdPop) ? `${meanCi(m)} (sd\u00a0${m.stdPop.toFixed(3)})` : meanCi(m);
}

function resultsTable(exp: ExperimentResults): HTMLTableElement {
  const level = percent(model?.level ?? 0.95);
  const reference = exp.referenceModel
    ? `p: Welch's t-test against the reference model ${exp.referenceModel} at the same dataset and fraction.`
    : 'No reference model (no LR baseline in this experiment), so no p-values.';
  const over = exp.probe ? 'seeds (probes: trials; sd = np.std over the trials, ddof 0, as the benchmark reports)' : 'seeds';
  const caption = h('caption', {}, h('strong', {}, exp.experiment), ` — mean ± half-width of the ${level} CI over ${over} (Student t). ${reference}`);
  const columns = ['Dataset', 'Model', 'Fraction', 'n', 'Accuracy', 'Macro-F1', 'p (accuracy)', 'p (macro-F1)', 'Published accuracy', 'Published macro-F1'];
  const head = h('thead', {}, h('tr', {}, ...columns.map((t, i) => h('th', i < 2 ? { scope: 'col' } : { scope: 'col', class: 'num' }, t))));
  const body = h('tbody', {});
  for (const row of exp.rows) {
    const tr = h('tr', { tabindex: '0', 'data-key': row.key, title: `runs: ${row.runIds.join(', ')}\nseeds: ${row.seeds.join(', ')}` },
      h('td', {}, row.dataset),
      h('td', {}, row.model, row.isReference ? h('span', { class: 'note' }, ' (reference)') : null),
      h('td', { class: 'num' }, formatFraction(row.fraction)),
      h('td', { class: 'num' }, String(row.n)),
      h('td', { class: 'num' }, metricCell(row.accuracy, exp.probe)),
      h('td', { class: 'num' }, metricCell(row.macroF1, exp.probe)),
      pCell(row, row.vsReference?.pAccuracy),
      pCell(row, row.vsReference?.pMacroF1),
      publishedCell(row.published.accuracy),
      publishedCell(row.published.macroF1),
    );
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
  }
  return h('table', { class: 'grid', id: 'results-table' }, caption, head, body);
}

function selectRow(key: string): void {
  if (!current || (key === selectedKey && !confusionPending)) return;
  selectedKey = key;
  confusion = null;
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

  const heatmap = h('canvas', { id: 'confusion', role: 'img', 'aria-label': `Row-normalised confusion matrix of ${view.classes.length} classes, ${runs}` });
  drawConfusion(heatmap, view);
  const heatFigure = h('figure', { class: 'heatmap' },
    h('figcaption', {}, `Row-normalised (true classes in rows, predicted in columns), ${runs}`),
    h('div', { class: 'heatmap-scroll' }, heatmap),
    h('div', { class: 'row' }, pngButton('confusion', 'confusion', heatmap)));

  const { box, canvas } = chartBox('per-class-f1');
  const horizontal = view.classes.length > 12;
  if (horizontal) box.style.height = `${Math.max(260, 20 * view.classes.length + 60)}px`;
  const f1Figure = h('figure', { class: 'per-class' },
    h('figcaption', {}, 'Per-class F1 of the summed counts'), box, h('div', { class: 'row' }, pngButton('per-class-f1', 'per-class-f1', canvas)));
  // attached first, so chart.js sizes and draws the canvas at once
  section.replaceChildren(title, h('div', { class: 'figures' }, heatFigure, f1Figure));

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
function drawConfusion(canvas: HTMLCanvasElement, view: ConfusionView): void {
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
        ctx.fillText(proportionText(v), left + j * cell + (cell - gap) / 2, top + i * cell + (cell - gap) / 2);
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

// ---------------------------------------------------------------- few-shot curves

interface ErrorBar { low: number; high: number }

/** Vertical CI bars with caps at each point of the datasets that have them (chart.js has no error bars). */
function errorBarPlugin(bars: Map<number, ErrorBar[]>): Plugin<'line'> {
  return {
    id: 'scwbErrorBars',
    afterDatasetsDraw(chart) {
      const ctx = chart.ctx;
      const y = chart.scales.y;
      ctx.save();
      for (const [index, list] of bars) {
        if (!chart.isDatasetVisible(index)) continue;
        const meta = chart.getDatasetMeta(index);
        ctx.strokeStyle = String(chart.data.datasets[index].borderColor ?? themeColors().foreground);
        ctx.lineWidth = 1.5;
        meta.data.forEach((point, k) => {
          const bar = list[k];
          if (!bar || !Number.isFinite(bar.low) || !Number.isFinite(bar.high)) return;
          const x = point.x;
          const y0 = y.getPixelForValue(bar.low);
          const y1 = y.getPixelForValue(bar.high);
          ctx.beginPath();
          ctx.moveTo(x, y0); ctx.lineTo(x, y1);
          ctx.moveTo(x - 4, y0); ctx.lineTo(x + 4, y0);
          ctx.moveTo(x - 4, y1); ctx.lineTo(x + 4, y1);
          ctx.stroke();
        });
      }
      ctx.restore();
    },
  };
}

function renderCurves(): void {
  const section = document.getElementById('curves');
  if (!section || !current) return;
  destroyChart('fewshot');

  const exp = current;
  if (!exp.curves.some(s => s.accuracy.length > 1)) {
    section.replaceChildren(h('h2', {}, 'Few-shot curve'),
      h('p', { class: 'muted', id: 'fewshot-note' }, 'Each model was trained on a single fraction of the training set here; run several fractions to see a few-shot curve.'));
    return;
  }

  const select = h('vscode-single-select', { id: 'curve-metric' });
  for (const m of ['accuracy', 'macroF1'] as Metric[]) select.append(h('vscode-option', m === metric ? { value: m, selected: '' } : { value: m }, METRIC_LABEL[m]));
  select.addEventListener('change', () => {
    const value = (select as unknown as { value: string }).value as Metric;
    if (value === metric || !(value in METRIC_LABEL)) return;
    metric = value;
    saveView();
    renderCurves();
    if (!confusionPending) reportRendered();
  });

  const { box, canvas } = chartBox('fewshot');
  box.style.height = '340px';
  const { series: palette } = themeColors();
  const manyDatasets = exp.datasets.length > 1;
  const label = (s: CurveSeries) => (manyDatasets ? `${s.model} · ${s.dataset}` : s.model);
  const bars = new Map<number, ErrorBar[]>();
  const pointInfo = new Map<number, string[]>();
  const datasets: { label: string; data: { x: number; y: number }[]; [k: string]: unknown }[] = [];
  let lo = Infinity;
  let hi = -Infinity;
  exp.curves.forEach((s, i) => {
    const colour = palette[i % palette.length];
    const points = s[metric];
    bars.set(datasets.length, points.map(p => ({ low: p.ciLow, high: p.ciHigh })));
    pointInfo.set(datasets.length, points.map(p => (p.n > 1 && Number.isFinite(p.ciLow) ? `CI ${fixed(p.ciLow)}–${fixed(p.ciHigh)}, n = ${p.n}` : `n = ${p.n}`)));
    for (const p of points) for (const v of [p.mean, p.ciLow, p.ciHigh]) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    datasets.push({
      label: label(s), data: points.map(p => ({ x: p.fraction, y: p.mean })),
      borderColor: colour, backgroundColor: colour, pointRadius: 4, pointStyle: 'circle',
      borderDash: i >= palette.length ? [6, 4] : [],
    });
    const publishedPoints = metric === 'accuracy' ? s.publishedAccuracy : s.publishedMacroF1;
    if (publishedPoints.length) {
      for (const p of publishedPoints) { lo = Math.min(lo, p.value); hi = Math.max(hi, p.value); }
      pointInfo.set(datasets.length, publishedPoints.map(() => 'published'));
      datasets.push({
        label: `${label(s)} (published)`, data: publishedPoints.map(p => ({ x: p.fraction, y: p.value })),
        showLine: false, borderColor: colour, backgroundColor: 'transparent', pointStyle: 'rectRot', pointRadius: 7, pointBorderWidth: 2,
      });
    }
  });
  section.replaceChildren(
    h('h2', {}, 'Few-shot curve'),
    h('div', { class: 'row' }, h('label', { for: 'curve-metric' }, 'Metric'), select),
    h('figure', { class: 'curve' },
      h('figcaption', {}, `Mean ${metric === 'accuracy' ? 'accuracy' : 'macro-F1'} with its ${percent(model?.level ?? 0.95)} CI over seeds by training fraction; diamonds: published`),
      box,
      h('div', { class: 'row' }, pngButton('fewshot', 'fewshot', canvas))),
  );
  const pad = Number.isFinite(lo) ? Math.max(0.02, (hi - lo) * 0.1) : 0.05;
  charts.push(themedChart(canvas, {
    type: 'line',
    data: { datasets: datasets as never },
    options: {
      scales: {
        x: { type: 'linear', min: 0, title: { display: true, text: 'fraction of the training set' } },
        y: {
          suggestedMin: Number.isFinite(lo) ? Math.max(0, lo - pad) : 0,
          suggestedMax: Number.isFinite(hi) ? Math.min(1, hi + pad) : 1,
          title: { display: true, text: METRIC_LABEL[metric] },
        },
      },
      plugins: {
        legend: { labels: { usePointStyle: true } },
        tooltip: {
          callbacks: {
            label: (item: TooltipItem<'line'>) => {
              const y = (item.raw as { y: number }).y;
              const extra = pointInfo.get(item.datasetIndex)?.[item.dataIndex];
              return `${item.dataset.label ?? ''}: ${fixed(y)}${extra ? ` (${extra})` : ''}`;
            },
          },
        },
      },
    },
    plugins: [backgroundPlugin<'line'>(), errorBarPlugin(bars)],
  }));
}

// ---------------------------------------------------------------- wiring

/** A theme switch changes the CSS variables; canvases keep their colours until drawn again. */
new MutationObserver(() => {
  if (!current) return;
  renderRowDetails();
  renderCurves();
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
