/** Dataset view: summary first, statistics streamed in, composition of a chosen obs column, gene overlap. */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import '../shared/base.css';
import type { DatasetStats, DatasetSummary, GeneOverlapResult, HostMessage } from '../../src/shared/protocol';
import { duplicateNamesWarning } from '../../src/core/h5ad/stats';
import { Chart, chartBox, themeColors, themedChart } from '../shared/charts';
import { countFormatter, edgeFormatter, geneNamespaceText, perCellTotalLabel } from '../../src/shared/view-format';
import { h, post, rendered, startApp } from '../shared/host';

const root = document.getElementById('app') as HTMLElement;
const charts: Chart[] = [];
/** the x tick labels of each histogram, by canvas id (reported in `rendered` for the tests) */
const tickLabels: Record<string, string[]> = {};
let summary: DatasetSummary | undefined;

const fmt = (n: number) => n.toLocaleString('en-US');
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

function renderSummary(s: DatasetSummary, candidates: string[]): void {
  summary = s;
  const x = s.X;
  const rows: [string, string][] = [
    ['File', s.path],
    ['Shape', `${fmt(s.nObs)} cells × ${fmt(s.nVars)} genes`],
    ['Encoding', s.encoding],
    ['X', x ? `${x.encoding} ${x.dtype}${x.compression.length ? ` (${x.compression.join(', ')})` : ''}` : 'none (annotations only)'],
    ['Sparsity', x && x.shape[0] * x.shape[1] > 0 ? `${pct(1 - x.nnz / (x.shape[0] * x.shape[1]))} zeros` : '—'],
    ['Layers', Object.keys(s.layers).join(', ') || 'none'],
    ['raw', s.raw ? `${fmt(s.raw.nVars)} genes` : 'none'],
    ['obsm', s.obsm.map(o => `${o.name} (${o.shape.join('×')})`).join(', ') || 'none'],
    ['uns', s.uns.join(', ') || 'none'],
  ];
  const table = h('table', { class: 'kv', id: 'summary' }, ...rows.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v))));
  const select = h('vscode-single-select', { id: 'column' });
  const names = [...candidates, ...s.obs.map(c => c.name).filter(n => !candidates.includes(n))];
  for (const name of names) select.append(h('vscode-option', candidates[0] === name ? { selected: '' } : {}, name));
  select.addEventListener('change', () => {
    const value = (select as unknown as { value: string }).value;
    post({ type: 'dataset/selectColumn', column: value });
    setBusy('Reading the dataset…');
  });
  const overlapButton = h('vscode-button', { id: 'pick-genes', secondary: '' }, 'Compare genes with a list or vocabulary…');
  overlapButton.addEventListener('click', () => post({ type: 'dataset/pickGeneList' }));
  root.replaceChildren(
    h('h1', {}, s.path.split('/').pop() ?? s.path),
    table,
    h('div', { class: 'row' }, h('label', { for: 'column' }, 'Composition of obs column'), names.length ? select : h('span', { class: 'muted' }, 'obs has no columns'), overlapButton),
    h('div', { id: 'progress' }),
    h('section', { id: 'values' }),
    h('div', { class: 'charts', id: 'charts' }),
    h('section', { id: 'overlap' }),
  );
  setBusy('Reading the dataset…');
  rendered('dataset', { stage: 'summary', nObs: s.nObs, nVars: s.nVars });
}

function setBusy(message: string, fraction?: number): void {
  const el = document.getElementById('progress');
  if (!el) return;
  const bar = h('vscode-progress-bar', fraction === undefined || Number.isNaN(fraction) ? { indeterminate: '' } : { value: String(Math.round(fraction * 100)), max: '100' });
  el.replaceChildren(h('p', { class: 'muted' }, message), bar);
}

/** `wholeNumbers`: the binned values are counts (genes per cell; UMIs of raw counts), so the edges print as such. */
function histogramChart(id: string, title: string, hist: DatasetStats['totalCounts']['histogram'], color: string, wholeNumbers: boolean): HTMLElement {
  const { box, canvas } = chartBox(id);
  // one format for every tick of the axis (the bin edges), thousands separated
  const edge = edgeFormatter(hist.edges, wholeNumbers);
  const labels = hist.counts.map((_, i) => edge(hist.edges[i]));
  tickLabels[id] = labels;
  const cellTicks = countFormatter([0, Math.max(0, ...hist.counts)]);
  charts.push(themedChart(canvas, {
    type: 'bar',
    data: { labels, datasets: [{ label: title, data: hist.counts, backgroundColor: color, barPercentage: 1, categoryPercentage: 1 }] },
    options: {
      plugins: {
        legend: { display: false },
        tooltip: { enabled: true, callbacks: { title: items => items.map(it => `${edge(hist.edges[it.dataIndex])} – ${edge(hist.edges[it.dataIndex + 1])}`) } },
      },
      // cells are whole: no tick between two whole numbers (precision 0)
      scales: { y: { title: { display: true, text: 'cells' }, ticks: { precision: 0, callback: v => cellTicks(Number(v)) } } },
    },
  }));
  return h('figure', {}, h('figcaption', {}, title), box);
}

function formatEdge(v: number): string {
  return Math.abs(v) >= 100 ? String(Math.round(v)) : v.toFixed(2);
}

function renderStats(stats: DatasetStats): void {
  for (const c of charts.splice(0)) c.destroy();
  document.getElementById('progress')?.replaceChildren();
  const { series } = themeColors();
  const values = document.getElementById('values');
  values?.replaceChildren(
    h('table', { class: 'kv', id: 'stats' },
      h('tr', {}, h('th', {}, 'Values'), h('td', { id: 'value-kind' }, `${stats.values.kind.replace('-', ' ')} — ${stats.values.reason}`)),
      h('tr', {}, h('th', {}, 'Range'), h('td', {}, `${formatEdge(stats.values.min)} … ${formatEdge(stats.values.max)}`)),
      h('tr', {}, h('th', {}, 'Sparsity'), h('td', {}, `${pct(stats.sparsity)} zeros in ${fmt(stats.rowsScanned)} cells`)),
      h('tr', {}, h('th', {}, 'Gene identifiers'), h('td', { id: 'gene-ids' }, geneIdText(stats))),
    ),
    ...duplicateWarnings(stats).map((text, i) => h('p', { class: 'problem', id: i === 0 ? 'gene-duplicates' : `gene-duplicates-${i}`, role: 'status' }, text)),
  );
  const grid = document.getElementById('charts');
  // Only raw counts sum to counts: after a log recipe the same histogram is of summed log values.
  const totalsTitle = perCellTotalLabel(stats.values.kind);
  const figures = [
    histogramChart('hist-counts', `${totalsTitle} (median ${formatEdge(stats.totalCounts.median)})`, stats.totalCounts.histogram, series[0], stats.values.kind === 'raw-counts'),
    histogramChart('hist-genes', `Genes per cell (median ${formatEdge(stats.genesPerCell.median)})`, stats.genesPerCell.histogram, series[1], true),
  ];
  if (stats.composition) {
    const comp = stats.composition;
    const { box, canvas } = chartBox('composition');
    box.style.height = `${Math.max(220, 22 * comp.counts.length + 60)}px`;
    charts.push(themedChart(canvas, {
      type: 'bar',
      data: { labels: comp.counts.map(c => `${c.value} (${fmt(c.count)})`), datasets: [{ label: 'cells', data: comp.counts.map(c => c.count), backgroundColor: series[2] }] },
      options: { indexAxis: 'y', plugins: { legend: { display: false } }, scales: { x: { ticks: { precision: 0 } } } },
    }));
    const what = comp.binned ? `${comp.counts.length} ranges of values` : `${comp.counts.length}${comp.truncated ? '+' : ''} values`;
    figures.push(h('figure', { class: 'wide' }, h('figcaption', {}, `${comp.column}: ${what}${comp.nMissing ? `, ${fmt(comp.nMissing)} missing` : ''}`), box));
  }
  grid?.replaceChildren(...figures);
  rendered('dataset', {
    stage: 'stats',
    histogramBins: stats.totalCounts.histogram.counts.length,
    compositionBars: stats.composition?.counts.length ?? 0,
    valueKind: stats.values.kind,
    totalsTitle,
    countTicks: (tickLabels['hist-counts'] ?? []).join('|'),
    geneTicks: (tickLabels['hist-genes'] ?? []).join('|'),
    column: stats.composition?.column ?? '',
    compositionLabels: (stats.composition?.counts ?? []).map(c => `${c.value} (${fmt(c.count)})`).join('|'),
    duplicateGeneNames: stats.geneIds.duplicates.names,
    duplicateWarnings: duplicateWarnings(stats).length,
    duplicateWarning: document.getElementById('gene-duplicates')?.textContent ?? '',
  });
}

function geneIdText(stats: DatasetStats): string {
  const g = stats.geneIds;
  const alt = g.alternatives.length ? `; also ${g.alternatives.map(a => `${a.column} (${geneNamespaceText(a.namespace)})`).join(', ')}` : '';
  return `${geneNamespaceText(g.namespace, g.symbolCase)}, e.g. ${g.examples.slice(0, 3).join(', ')}${alt}`;
}

/** Warnings about gene names on more than one column: in var_names, then in var columns of gene identifiers. */
function duplicateWarnings(stats: DatasetStats): string[] {
  const g = stats.geneIds;
  const texts = [duplicateNamesWarning(g.duplicates, 'var_names')];
  for (const a of g.alternatives) texts.push(duplicateNamesWarning(a.duplicates, `var column "${a.column}"`));
  return texts.filter((t): t is string => t !== null);
}

function renderOverlap(file: string, o: GeneOverlapResult): void {
  const share = o.nDataGenes ? o.nOverlap / o.nDataGenes : 0;
  const el = document.getElementById('overlap');
  const parts: (HTMLElement | null)[] = [
    h('h2', {}, `Genes shared with ${file}`),
    h('p', { id: 'overlap-text' }, `${fmt(o.nOverlap)} of ${fmt(o.nDataGenes)} genes (${pct(share)}) are in ${file} (${fmt(o.nReference)} entries), matched on ${matchedOnText(o)}.`),
    o.examplesMissing.length ? h('p', { class: 'muted' }, `Not in the list, e.g. ${o.examplesMissing.slice(0, 10).join(', ')}`) : null,
    o.byColumn.length > 1 ? h('p', { class: 'muted' }, `By column: ${o.byColumn.map(b => `${b.column} ${fmt(b.nOverlap)}`).join(', ')}`) : null,
  ];
  el?.replaceChildren(...parts.filter((p): p is HTMLElement => p !== null));
  rendered('dataset', { stage: 'overlap', nOverlap: o.nOverlap, nDataGenes: o.nDataGenes, matchedOn: o.matchedOn, overlapText: document.getElementById('overlap-text')?.textContent ?? '' });
}

/** The column the headline counts; a var column chosen as the best match says so and what var_names would give. */
function matchedOnText(o: GeneOverlapResult): string {
  if (o.matchedOn === 'var_names') return 'var_names';
  const names = o.byColumn.find(b => b.column === 'var_names');
  if (!o.bestOfCandidates) return `var column "${o.matchedOn}"`;
  return `var column "${o.matchedOn}", the best match${names ? ` (var_names: ${fmt(names.nOverlap)}; set "geneColumn": "${o.matchedOn}" in a recipe)` : ''}`;
}

startApp('dataset', (m: HostMessage) => {
  switch (m.type) {
    case 'dataset/summary': renderSummary(m.summary, m.labelCandidates); break;
    case 'dataset/progress': setBusy(m.message || 'Reading…', m.fraction); break;
    case 'dataset/stats': renderStats(m.stats); break;
    case 'dataset/overlap': renderOverlap(m.file, m.overlap); break;
    case 'dataset/error': {
      const box = h('div', { class: 'error', id: `error-${m.stage}`, role: 'alert' }, m.message);
      if (m.stage === 'summary' || !summary) root.replaceChildren(h('h1', {}, 'Cannot show this dataset'), box);
      else (m.stage === 'overlap' ? document.getElementById('overlap') : document.getElementById('progress'))?.replaceChildren(box);
      rendered('dataset', { stage: 'error', errorStage: m.stage, message: m.message });
      break;
    }
    default: break;
  }
});
