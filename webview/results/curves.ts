/** The experiment's figures across rows: the few-shot curve and the models-and-ablations bars, by a chosen view.metric. */
import { ablationFigure, defaultAblationFraction, fewShotFigure } from '../../src/core/results/figures';
import { renderSvg } from '../../src/core/results/svg';
import { h } from '../shared/host';
import { screenColors } from './colors';
import { FIGURE_SIZE, figureExportButtons, svgElement } from './figure-export';
import { formatFraction, percent } from './format';
import { METRIC_LABEL, saveView, view, type Metric } from './state';

/** Renders the few-shot curve and the ablation bars; `onChange` runs after the user picks another metric. */
export function renderFigures(onChange: () => void): void {
  renderCurves(onChange);
  renderAblation(onChange);
}

function metricChooser(id: string, onChange: () => void): HTMLElement {
  const select = h('vscode-single-select', { id });
  for (const m of ['accuracy', 'macroF1'] as Metric[]) select.append(h('vscode-option', m === view.metric ? { value: m, selected: '' } : { value: m }, METRIC_LABEL[m]));
  select.addEventListener('change', () => {
    const value = (select as unknown as { value: string }).value as Metric;
    if (value === view.metric || !(value in METRIC_LABEL)) return;
    view.metric = value;
    saveView();
    renderFigures(onChange);
    onChange();
  });
  return select;
}

function renderCurves(onChange: () => void): void {
  const section = document.getElementById('curves');
  if (!section || !view.current) return;
  const exp = view.current;
  if (!exp.curves.some(s => s.accuracy.length > 1)) {
    section.replaceChildren(h('h2', {}, 'Few-shot curve'),
      h('p', { class: 'muted', id: 'fewshot-note' }, 'Each model was trained on a single fraction of the training set here; run several fractions to see a few-shot curve.'));
    return;
  }
  const figure = fewShotFigure(exp, view.metric);
  section.replaceChildren(
    h('h2', {}, 'Few-shot curve'),
    h('div', { class: 'row' }, h('label', { for: 'curve-metric' }, 'Metric'), metricChooser('curve-metric', onChange)),
    h('figure', { class: 'curve' },
      h('figcaption', {}, `Mean ${view.metric === 'accuracy' ? 'accuracy' : 'macro-F1'} by training fraction; shaded: its ${percent(view.model?.level ?? 0.95)} CI over seeds; dashed with diamonds: published`),
      svgElement(renderSvg(figure, { ...FIGURE_SIZE.line, colors: screenColors() }), 'fewshot', figure.title),
      h('div', { class: 'row' }, ...figureExportButtons('fewshot', 'fewshot', () => fewShotFigure(exp, view.metric)))),
  );
}

function renderAblation(onChange: () => void): void {
  const section = document.getElementById('ablation');
  if (!section || !view.current) return;
  const exp = view.current;
  const fraction = defaultAblationFraction(exp);
  const figure = ablationFigure(exp, view.metric);
  if (fraction === null || figure.bars.length < 2) {
    section.replaceChildren();
    return;
  }
  section.replaceChildren(
    h('h2', {}, 'Models and ablations'),
    h('div', { class: 'row' }, h('label', { for: 'ablation-metric' }, 'Metric'), metricChooser('ablation-metric', onChange)),
    h('figure', { class: 'curve' },
      h('figcaption', {}, `Mean ${view.metric === 'accuracy' ? 'accuracy' : 'macro-F1'} at fraction ${formatFraction(fraction)}; whiskers: ${percent(view.model?.level ?? 0.95)} CI over seeds; diamonds: published`),
      svgElement(renderSvg(figure, { ...FIGURE_SIZE.bars, colors: screenColors() }), 'ablation-bars', figure.title),
      h('div', { class: 'row' }, ...figureExportButtons('ablation', 'ablation', () => ablationFigure(exp, view.metric)))),
  );
}
