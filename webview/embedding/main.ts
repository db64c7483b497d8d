/**
 * Embedding plot: a scatter of the 2-D UMAP layout of a run's cell embeddings, coloured by an obs column the user
 * picks — one dataset (and legend entry) per category for a categorical column, a colour scale with its range for a
 * numeric one. Colours follow the VS Code theme (its chart colours first, then evenly spaced hues).
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import '../shared/base.css';
import './embedding.css';
import { ScatterController, type ChartDataset } from 'chart.js';
import type { EmbeddingPlotView, HostMessage, PointColors } from '../../src/shared/protocol';
import { Chart, chartBox, themeColors } from '../shared/charts';
import { h, post, rendered, setState, startApp } from '../shared/host';

Chart.register(ScatterController);

const root = document.getElementById('app') as HTMLElement;
let plot: EmbeddingPlotView | null = null;
let chart: Chart<'scatter', Point[]> | undefined;

/** viridis at 9 stops (perceptually uniform, readable on dark and light backgrounds). */
const VIRIDIS = ['#440154', '#472d7b', '#3b528b', '#2c728e', '#21918c', '#28ae80', '#5ec962', '#addc30', '#fde725'];

function isDark(): boolean {
  return document.body.classList.contains('vscode-dark') || document.body.classList.contains('vscode-high-contrast');
}

/** Colour of category k of n: the theme's chart colours, then hues spaced by the golden angle. */
function categoryColor(k: number): string {
  const { series } = themeColors();
  if (k < series.length) return series[k];
  const hue = (k * 137.508) % 360;
  return `hsl(${hue.toFixed(1)}, 65%, ${isDark() ? 62 : 42}%)`;
}

function missingColor(): string {
  return isDark() ? 'rgba(160,160,160,0.45)' : 'rgba(110,110,110,0.45)';
}

function hexToRgb(hex: string): [number, number, number] {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

/** The viridis colour of t in [0, 1]. */
function scaleColor(t: number): string {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = hexToRgb(VIRIDIS[i]);
  const b = hexToRgb(VIRIDIS[i + 1]);
  const c = a.map((v, j) => Math.round(v + f * (b[j] - v)));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

function pointRadius(n: number): number {
  return n > 10_000 ? 1.2 : n > 2_000 ? 1.8 : 2.6;
}

type Point = { x: number; y: number; row: number };

function datasetsFor(p: EmbeddingPlotView, colors: PointColors | null): ChartDataset<'scatter', Point[]>[] {
  const n = p.indices.length;
  const radius = pointRadius(n);
  const point = (i: number): Point => ({ x: p.x[i], y: p.y[i], row: p.indices[i] });
  if (!colors) {
    const c = categoryColor(0);
    return [{ label: 'cells', data: p.x.map((_, i) => point(i)), backgroundColor: c, borderColor: c, pointRadius: radius, borderWidth: 0 }];
  }
  if (colors.scale === 'categorical') {
    const groups: Point[][] = colors.categories.map(() => []);
    const missing: Point[] = [];
    colors.codes.forEach((c, i) => (c >= 0 ? groups[c] : missing).push(point(i)));
    const out: ChartDataset<'scatter', Point[]>[] = groups.map((data, k) => ({
      label: `${colors.categories[k]} (${data.length})`, data, backgroundColor: categoryColor(k), borderColor: categoryColor(k), pointRadius: radius, borderWidth: 0,
    }));
    if (missing.length) out.push({ label: `missing (${missing.length})`, data: missing, backgroundColor: missingColor(), borderColor: missingColor(), pointRadius: radius, borderWidth: 0 });
    return out;
  }
  const span = colors.max - colors.min || 1;
  const fill = colors.values.map(v => (v === null ? missingColor() : scaleColor((v - colors.min) / span)));
  return [{ label: colors.column, data: p.x.map((_, i) => point(i)), backgroundColor: fill, borderColor: fill, pointRadius: radius, borderWidth: 0 }];
}

function valueText(colors: PointColors | null, i: number): string {
  if (!colors) return '';
  if (colors.scale === 'categorical') return colors.codes[i] >= 0 ? colors.categories[colors.codes[i]] : 'missing';
  const v = colors.values[i];
  return v === null ? 'missing' : String(Number(v.toPrecision(6)));
}

// ---------------------------------------------------------------- rendering

function setProgress(title: string, fraction: number, message: string): void {
  if (!document.getElementById('emb-progress')) {
    root.replaceChildren(h('h1', { id: 'emb-title' }), h('p', { class: 'muted' }, 'Computing the UMAP layout of the cell embeddings in a worker thread…'), h('div', { id: 'emb-progress' }));
  }
  document.getElementById('emb-title')!.textContent = title ? `Embedding: ${title}` : 'Embedding';
  const bar = h('vscode-progress-bar', Number.isNaN(fraction) ? { indeterminate: '' } : { value: String(Math.round(fraction * 100)), max: '100' });
  document.getElementById('emb-progress')!.replaceChildren(bar, h('span', { class: 'muted' }, message));
  rendered('embedding', { state: 'computing', fraction: Number.isNaN(fraction) ? -1 : fraction });
}

function describe(p: EmbeddingPlotView): string {
  const parts = [
    `${p.indices.length.toLocaleString('en-US')} of ${p.rows.toLocaleString('en-US')} cells`,
    `${p.dim}-dimensional embeddings`,
    `UMAP n_neighbors ${p.nNeighborsUsed}${p.nNeighborsUsed !== p.params.nNeighbors ? ` (of ${p.params.nNeighbors}: too few cells)` : ''}, min_dist ${p.params.minDist}, seed ${p.params.seed}`,
  ];
  if (p.fromCache) parts.push('layout read from umap.json');
  return parts.join(' · ');
}

function renderPlot(p: EmbeddingPlotView): void {
  chart?.destroy();
  chart = undefined;
  const select = h('vscode-single-select', { id: 'emb-column' });
  for (const c of p.columns) {
    const label = c.scale === 'numeric' ? `${c.name} (numeric)` : `${c.name} (${c.nCategories} values)`;
    select.append(h('vscode-option', { value: c.name, ...(p.colors?.column === c.name ? { selected: '' } : {}) }, label));
  }
  select.addEventListener('change', () => {
    const value = (select as unknown as { value: string }).value;
    if (value && value !== plot?.colors?.column) post({ type: 'embedding/selectColumn', column: value });
  });
  const { box, canvas } = chartBox('emb-chart');
  box.classList.add('scatter');
  const png = h('vscode-button', { id: 'emb-png', secondary: '' }, 'PNG');
  png.addEventListener('click', () => post({
    type: 'export', format: 'png', content: canvas.toDataURL('image/png'),
    suggestedName: `umap-${p.runId}${p.colors ? `-${p.colors.column}` : ''}.png`,
  }));
  const subsampled = p.subsampled
    ? [h('div', { class: 'problem', id: 'emb-subsampled' },
      `Subsampled: ${p.indices.length.toLocaleString('en-US')} of the ${p.rows.toLocaleString('en-US')} cells are shown (drawn without replacement with seed ${p.params.seed}, the same cells every time).`)]
    : [];
  root.replaceChildren(
    h('h1', { id: 'emb-title' }, `Embedding: ${p.title}`),
    h('p', { class: 'muted', id: 'emb-info' }, describe(p)),
    ...subsampled,
    h('div', { class: 'row' },
      h('label', { for: 'emb-column' }, 'Colour by obs column of'), h('code', {}, p.dataset),
      p.columns.length ? select : h('span', { class: 'muted' }, '(no obs columns)'), png),
    h('div', { id: 'emb-problem' }),
    h('figure', {}, box, h('div', { id: 'emb-scale' })),
  );
  // The theme defaults of shared/charts.ts's themedChart (which types line and bar charts only).
  const { foreground, grid } = themeColors();
  Chart.defaults.color = foreground;
  Chart.defaults.borderColor = grid;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  chart = new Chart<'scatter', Point[]>(canvas, {
    type: 'scatter',
    data: { datasets: [] },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      parsing: false,
      normalized: true,
      scales: {
        x: { type: 'linear', title: { display: true, text: 'UMAP 1' }, ticks: { display: false } },
        y: { type: 'linear', title: { display: true, text: 'UMAP 2' }, ticks: { display: false } },
      },
      plugins: {
        legend: { position: 'right', labels: { boxWidth: 10, boxHeight: 10 } },
        tooltip: {
          callbacks: {
            label: ctx => {
              const pt = ctx.raw as Point;
              const i = plot ? binaryIndex(plot.indices, pt.row) : -1;
              const v = i >= 0 && plot ? valueText(plot.colors, i) : '';
              return `cell ${pt.row}${v ? ` · ${plot?.colors?.column} ${v}` : ''}`;
            },
          },
        },
      },
    },
  });
  applyColors(p.colors, p.datasetProblem);
}

function binaryIndex(sorted: number[], v: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] === v) return mid;
    if (sorted[mid] < v) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

function applyColors(colors: PointColors | null, problem: string | null): void {
  if (!plot || !chart) return;
  plot.colors = colors;
  chart.data.datasets = datasetsFor(plot, colors);
  chart.options.plugins!.legend!.display = colors?.scale === 'categorical' && colors.categories.length <= 60;
  chart.update('none');
  const scale = document.getElementById('emb-scale')!;
  if (colors?.scale === 'numeric') {
    const stops = VIRIDIS.map((c, i) => `${c} ${Math.round((100 * i) / (VIRIDIS.length - 1))}%`).join(', ');
    const bar = h('div', { class: 'colorbar' });
    bar.style.background = `linear-gradient(to right, ${stops})`;
    scale.replaceChildren(h('div', { class: 'row' }, h('span', { id: 'emb-min' }, String(Number(colors.min.toPrecision(6)))), bar,
      h('span', { id: 'emb-max' }, String(Number(colors.max.toPrecision(6)))), h('span', { class: 'muted' }, colors.column)));
  } else if (colors?.scale === 'categorical' && colors.categories.length > 60) {
    scale.replaceChildren(h('p', { class: 'muted' }, `${colors.categories.length} categories: too many for a legend (hover a point for its value).`));
  } else scale.replaceChildren();
  document.getElementById('emb-problem')!.replaceChildren(...(problem ? [h('div', { class: 'problem' }, problem)] : []));
  const points = chart.data.datasets.reduce((s, d) => s + d.data.length, 0);
  rendered('embedding', {
    state: 'ready', runId: plot.runId, points, datasets: chart.data.datasets.length, column: colors?.column ?? '',
    scale: colors?.scale ?? 'none', subsampled: plot.subsampled, problem: problem ?? '',
    legend: colors?.scale === 'categorical' ? colors.categories.join('|') : '',
  });
}

startApp('embedding', m => handle(m));

function handle(m: HostMessage): void {
  switch (m.type) {
    case 'embedding/progress':
      if (!plot) setProgress(m.title, m.fraction, m.message);
      return;
    case 'embedding/plot':
      plot = { ...m.plot };
      setState({ runId: m.plot.runId });
      renderPlot(plot);
      return;
    case 'embedding/colors':
      applyColors(m.colors, m.problem);
      return;
    case 'embedding/error':
    case 'error':
      root.replaceChildren(h('h1', {}, 'Embedding'), h('div', { class: 'error', id: 'emb-error' }, m.message));
      rendered('embedding', { state: 'error', error: m.message });
      return;
    default:
  }
}
