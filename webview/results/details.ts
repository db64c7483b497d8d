/** The chosen row's details: its confusion matrix, per-class F1 and (fine-tunes) learning curves. */
import type { TooltipItem } from 'chart.js';
import { confusionFigure, learningFigure } from '../../src/core/results/figures';
import type { ResultRow } from '../../src/core/results/model';
import { renderSvg } from '../../src/core/results/svg';
import { chartBox, themeColors, themedChart } from '../shared/charts';
import { h } from '../shared/host';
import { backgroundPlugin, screenColors } from './colors';
import { FIGURE_SIZE, figureExportButtons, pngButton, svgElement } from './figure-export';
import { rowLabel } from './format';
import { drawConfusion } from './heatmap';
import { destroyChart, saveView, view } from './state';

/** Renders the row details; `onChange` runs after the user changes how they are shown (counts / proportions). */
export function renderRowDetails(onChange: () => void): void {
  const section = document.getElementById('row-details');
  if (!section || !view.current) return;
  destroyChart('per-class-f1');

  const row = view.current.rows.find(r => r.key === view.selectedKey);
  if (!row) {
    section.replaceChildren(h('h2', {}, 'Confusion matrix'), h('p', { class: 'muted', id: 'confusion-note' }, 'Choose a row of the table to see its confusion matrix and per-class F1.'));
    return;
  }
  const title = h('h2', {}, `Confusion matrix and per-class F1: ${rowLabel(row)}`);
  if (view.confusionPending) {
    section.replaceChildren(title, h('p', { class: 'muted', id: 'confusion-note' }, 'Loading the confusion matrix…'));
    return;
  }
  if (!view.confusion || !view.confusion.classes.length) {
    section.replaceChildren(title, h('p', { class: 'muted', id: 'confusion-note' }, 'The runs of this row saved no confusion matrix (metrics file missing).'));
    return;
  }
  const cm = view.confusion;
  const runs = `summed over ${cm.nRuns} run${cm.nRuns === 1 ? '' : 's'}`;

  const heatmap = h('canvas', { id: 'confusion', role: 'img', 'aria-label': `${view.confusionNormalized ? 'Row-normalised confusion matrix' : 'Confusion matrix (counts)'} of ${cm.classes.length} classes, ${runs}` });
  drawConfusion(heatmap, cm, view.confusionNormalized);
  const scale = h('vscode-single-select', { id: 'confusion-scale' });
  for (const [value, label] of [['normalized', 'Row-normalised'], ['counts', 'Counts']]) {
    const on = (value === 'normalized') === view.confusionNormalized;
    scale.append(h('vscode-option', on ? { value, selected: '' } : { value }, label));
  }
  scale.addEventListener('change', () => {
    const next = (scale as unknown as { value: string }).value === 'normalized';
    if (next === view.confusionNormalized) return;
    view.confusionNormalized = next;
    saveView();
    renderRowDetails(onChange);
    onChange();
  });
  const svgTitle = `Confusion matrix: ${rowLabel(row)}`;
  const heatFigure = h('figure', { class: 'heatmap' },
    h('figcaption', {}, `${view.confusionNormalized ? 'Row-normalised proportions' : 'Counts (shading row-normalised)'}; true classes in rows, predicted in columns, ${runs}`),
    h('div', { class: 'row' }, h('label', { for: 'confusion-scale' }, 'Cells'), scale),
    h('div', { class: 'heatmap-scroll' }, heatmap),
    h('div', { class: 'row' }, pngButton('confusion', 'confusion', heatmap),
      ...figureExportButtons('confusion-svg', 'confusion', () => confusionFigure(cm, view.confusionNormalized, svgTitle)).slice(1)));

  const { box, canvas } = chartBox('per-class-f1');
  const horizontal = cm.classes.length > 12;
  if (horizontal) box.style.height = `${Math.max(260, 20 * cm.classes.length + 60)}px`;
  const f1Figure = h('figure', { class: 'per-class' },
    h('figcaption', {}, 'Per-class F1 of the summed counts'), box, h('div', { class: 'row' }, pngButton('per-class-f1', 'per-class-f1', canvas)));
  // attached first, so chart.js sizes and draws the canvas at once
  section.replaceChildren(title, h('div', { class: 'figures' }, heatFigure, f1Figure), learningSection(row) ?? '');

  const { series } = themeColors();
  const per = cm.perClass;
  view.charts.push(themedChart(canvas, {
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

/** Learning curves of the selected row (fine-tune runs), into the row details. */
function learningSection(row: ResultRow): HTMLElement | null {
  if (!view.learning.length) return null;
  const curves = view.learning;
  const title = `Learning curves: ${rowLabel(row)}`;
  const figure = learningFigure(curves, title);
  return h('figure', { class: 'curve', id: 'learning-figure' },
    h('figcaption', {}, `Training loss (solid) and validation loss (dashed) by epoch, ${curves.length} seed${curves.length === 1 ? '' : 's'} overlaid`),
    svgElement(renderSvg(figure, { ...FIGURE_SIZE.line, colors: screenColors() }), 'learning', title),
    h('div', { class: 'row' }, ...figureExportButtons('learning', 'learning-curves', () => learningFigure(curves, title))));
}
