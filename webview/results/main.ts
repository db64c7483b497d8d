/**
 * Results panel: one experiment at a time — its table of (dataset, model, fraction) groups with CIs, p-values and
 * published numbers, the confusion matrix and per-class F1 of the chosen row, and few-shot curves.
 *
 * The host owns the data: it sends the whole model, and the confusion matrix of one row on request (selectRow).
 * `rendered` is posted only once what is shown is complete, i.e. not while a requested confusion matrix is on its way.
 *
 * This file is the top level (which experiment and row are shown, the header, what is reported as rendered); the
 * table, the row details, the figures across rows and their exports live beside it, sharing state.ts.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '../shared/base.css';
import './results.css';
import type { ConfusionView, ExperimentResults, HostMessage, ResultsModel, TableFormat } from '../../src/shared/protocol';
import type { PerturbationRow } from '../../src/core/results/perturbation';
import { getState, h, post, rendered, startApp } from '../shared/host';
import { renderFigures } from './curves';
import { renderRowDetails } from './details';
import { perturbationSection } from './perturbation';
import { destroyCharts, experimentNamed, saveView, view, type SavedView } from './state';
import { fitTable, resultsTable, tableFootnote } from './table';

const root = document.getElementById('app') as HTMLElement;

/** After the user changes how something is shown: report it, unless a confusion matrix is still on its way. */
function onViewChange(): void {
  if (!view.confusionPending) reportRendered();
}

/** the perturbation-prediction rows of the last model (every experiment) */
let perturbation: PerturbationRow[] = [];

function onModel(m: Extract<HostMessage, { type: 'results/model' }>): void {
  view.model = m.model;
  perturbation = m.perturbation ?? [];
  if (!view.model.experiments.length) {
    renderNoExperiments();
    return;
  }
  const exp = experimentNamed(m.experiment) ?? view.model.experiments[0];
  let rowKey = exp.experiment === m.experiment ? m.confusionRowKey : null;
  let cv: ConfusionView | null | undefined = exp.experiment === m.experiment ? m.confusion : null;
  view.learning = exp.experiment === m.experiment ? m.learning ?? [] : [];
  if (rowKey !== null && !exp.rows.some(r => r.key === rowKey)) { rowKey = null; cv = null; }

  const saved = view.savedViewApplied ? undefined : getState<SavedView>();
  view.savedViewApplied = true;
  // The host's experiment wins: it follows every selectExperiment and knows which experiment was just run (the
  // webview is reloaded when its panel moves, and its saved state would bring back the old experiment). The
  // saved view brings back only the row last chosen in that same experiment.
  if (saved && saved.experiment === exp.experiment) {
    const savedRow = exp.rows.find(r => r.key === saved.rowKey)?.key;
    if (savedRow !== undefined && savedRow !== rowKey) {
      rowKey = savedRow;
      cv = undefined;
    }
  }
  if (cv === undefined && rowKey === null) cv = null;
  if (cv === undefined && rowKey !== null) post({ type: 'results/selectRow', experiment: exp.experiment, rowKey });
  show(exp, rowKey, cv);
}

/** Shows an experiment; `cv` undefined means its confusion matrix was requested and is on its way. */
function show(exp: ExperimentResults, rowKey: string | null, cv: ConfusionView | null | undefined): void {
  view.current = exp;
  view.selectedKey = rowKey;
  view.confusion = cv ?? null;
  if (cv === undefined) view.learning = [];
  view.confusionPending = cv === undefined;
  saveView();
  destroyCharts();

  const header = h('div', { class: 'row toolbar' });
  if (view.model && view.model.experiments.length > 1) header.append(h('label', { for: 'experiment' }, 'Experiment'), experimentChooser(view.model, exp));
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
    h('div', { class: 'table-scroll' }, resultsTable(exp, selectRow)),
    tableFootnote(exp),
    h('section', { id: 'row-details' }),
    h('section', { id: 'curves' }),
    h('section', { id: 'ablation' }),
    ...[perturbationSection(perturbation)].filter((x): x is HTMLElement => x !== null),
  );
  fitTable();
  renderRowDetails(onViewChange);
  renderFigures(onViewChange);
  if (!view.confusionPending) reportRendered();
}

let fittedWidth = -1;
new ResizeObserver(() => {
  // only a change of width can change the fit (stacking changes the height, which must not loop back here)
  if (root.clientWidth === fittedWidth) return;
  fittedWidth = root.clientWidth;
  fitTable();
}).observe(root);

function renderNoExperiments(): void {
  view.current = undefined;
  view.selectedKey = null;
  view.confusion = null;
  view.confusionPending = false;
  destroyCharts();
  const pert = perturbationSection(perturbation);
  root.replaceChildren(
    h('h1', {}, 'Results'),
    ...(pert ? [pert] : [h('p', { id: 'empty' }, 'No completed runs yet… Results of baseline and fine-tuning runs appear here once a run finishes.')]),
  );
  reportRendered();
}

function reportRendered(): void {
  const exp = view.current;
  const curveShown = !!document.getElementById('fewshot');
  rendered('results', {
    experiment: exp?.experiment ?? '',
    rows: exp?.rows.length ?? 0,
    rowKey: view.selectedKey ?? '',
    confusionClasses: view.confusion?.classes.length ?? 0,
    curveSeries: curveShown && exp ? exp.curves.length : 0,
    curveMetric: view.metric,
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
    confusionNormalized: view.confusionNormalized,
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
    if (!next || next === view.current) return;
    post({ type: 'results/selectExperiment', experiment: next.experiment });
    const remembered = view.rowByExperiment[next.experiment];
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


function selectRow(key: string): void {
  if (!view.current || (key === view.selectedKey && !view.confusionPending)) return;
  view.selectedKey = key;
  view.confusion = null;
  view.learning = [];
  view.confusionPending = true;
  saveView();
  for (const tr of document.querySelectorAll<HTMLTableRowElement>('#results-table tbody tr')) {
    const on = tr.dataset.key === key;
    tr.toggleAttribute('data-selected', on);
    if (on) tr.setAttribute('aria-current', 'true'); else tr.removeAttribute('aria-current');
  }
  renderRowDetails(onViewChange);
  post({ type: 'results/selectRow', experiment: view.current.experiment, rowKey: key });
}

function onConfusion(m: Extract<HostMessage, { type: 'results/confusion' }>): void {
  if (!view.current || m.experiment !== view.current.experiment || !view.current.rows.some(r => r.key === m.rowKey)) return;
  // an older answer while a newer request is out: drop it
  if (view.confusionPending && m.rowKey !== view.selectedKey) return;
  if (m.rowKey !== view.selectedKey) {
    view.selectedKey = m.rowKey;
    for (const tr of document.querySelectorAll<HTMLTableRowElement>('#results-table tbody tr')) tr.toggleAttribute('data-selected', tr.dataset.key === m.rowKey);
  }
  view.confusion = m.confusion;
  view.learning = m.learning ?? [];
  view.confusionPending = false;
  saveView();
  renderRowDetails(onViewChange);
  reportRendered();
}

// ---------------------------------------------------------------- wiring

/** A theme switch changes the CSS variables; canvases keep their colours until drawn again. */
new MutationObserver(() => {
  if (!view.current) return;
  renderRowDetails(onViewChange);
  renderFigures(onViewChange);
}).observe(document.body, { attributes: true, attributeFilter: ['class'] });

startApp('results', (m: HostMessage) => {
  switch (m.type) {
    case 'results/model': onModel(m); break;
    case 'results/confusion': onConfusion(m); break;
    case 'error':
      root.append(h('div', { class: 'error', role: 'alert', id: 'error' }, m.message));
      rendered('results', { experiment: view.current?.experiment ?? '', error: m.message });
      break;
    default: break;
  }
});
