/**
 * Run panel: one run's status, parameters and last log lines, and for a fine-tune its live curves — training loss
 * by step, validation loss and accuracy by epoch, cells/s and GPU memory by step.
 *
 * The host sends `run/update` messages: the first (and any after the webview was reloaded or events.jsonl was
 * replaced) has `reset` and everything; later ones only the new points, which are appended to the charts.
 */
import '../shared/base.css';
import './run.css';
import type { HostMessage, RunPanelRun, RunTrainPoint, RunValidationPoint } from '../../src/shared/protocol';
import { Chart, chartBox, themeColors, themedChart } from '../shared/charts';
import { h, rendered, setState, startApp } from '../shared/host';

const root = document.getElementById('app') as HTMLElement;
const train: RunTrainPoint[] = [];
const validation: RunValidationPoint[] = [];
let run: RunPanelRun | null = null;

interface Charts {
  loss: Chart<'line'>;
  validation: Chart<'line'>;
  speed: Chart<'line'>;
  memory: Chart<'line'>;
}
let charts: Charts | undefined;

const STATUS_TEXT: Record<RunPanelRun['status'], string> = {
  queued: 'queued', running: 'running', completed: 'completed', failed: 'failed', cancelled: 'cancelled', interrupted: 'interrupted',
};

function fixed(x: number, digits = 3): string {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}

// ---------------------------------------------------------------- layout (built once, then updated in place)

function layout(): void {
  root.replaceChildren(
    h('h1', { id: 'run-title' }),
    h('div', { id: 'run-status', class: 'row', role: 'status' }),
    h('div', { id: 'run-problem' }),
    h('section', { id: 'curves' },
      h('h2', {}, 'Training'),
      h('p', { id: 'curves-empty', class: 'muted' }),
      h('div', { class: 'charts', id: 'chart-grid' })),
    h('section', {},
      h('h2', {}, 'Parameters'),
      h('table', { class: 'kv', id: 'run-parameters' })),
    h('section', {},
      h('h2', {}, 'Log (last lines of run.log)'),
      h('pre', { id: 'run-log', class: 'log' })),
  );
}

function figure(id: string, caption: string): { fig: HTMLElement; canvas: HTMLCanvasElement } {
  const { box, canvas } = chartBox(id);
  const fig = h('figure', {}, h('figcaption', {}, caption), box);
  return { fig, canvas };
}

function makeCharts(): Charts {
  const grid = document.getElementById('chart-grid')!;
  const { series } = themeColors();
  const linear = (title: string, extra: Record<string, unknown> = {}) => ({ type: 'linear' as const, title: { display: true, text: title }, ...extra });
  const loss = figure('chart-loss', 'Loss');
  const val = figure('chart-validation', 'Validation accuracy');
  const speed = figure('chart-speed', 'Throughput (cells/s)');
  const memory = figure('chart-memory', 'GPU memory (MiB)');
  grid.append(loss.fig, val.fig, speed.fig, memory.fig);
  // Small points: visible while there are few (the first steps), unobtrusive on long curves.
  const pointStyle = { pointRadius: 1.5, borderWidth: 1.5 };
  return {
    loss: themedChart(loss.canvas, {
      type: 'line',
      data: {
        datasets: [
          { label: 'training loss', data: [], borderColor: series[0], backgroundColor: series[0], ...pointStyle },
          { label: 'validation loss', data: [], borderColor: series[1], backgroundColor: series[1], pointRadius: 3, borderWidth: 1.5 },
        ],
      },
      options: { parsing: false, scales: { x: linear('step'), y: linear('loss') } },
    }),
    validation: themedChart(val.canvas, {
      type: 'line',
      data: { datasets: [{ label: 'validation accuracy', data: [], borderColor: series[2], backgroundColor: series[2], pointRadius: 3, borderWidth: 1.5 }] },
      options: { parsing: false, scales: { x: linear('epoch', { ticks: { precision: 0 } }), y: linear('accuracy', { suggestedMin: 0, suggestedMax: 1 }) } },
    }),
    speed: themedChart(speed.canvas, {
      type: 'line',
      data: { datasets: [{ label: 'cells/s', data: [], borderColor: series[3], backgroundColor: series[3], ...pointStyle }] },
      options: { parsing: false, scales: { x: linear('step'), y: linear('cells/s', { beginAtZero: true }) } },
    }),
    memory: themedChart(memory.canvas, {
      type: 'line',
      data: { datasets: [{ label: 'GPU memory', data: [], borderColor: series[4], backgroundColor: series[4], ...pointStyle }] },
      options: { parsing: false, scales: { x: linear('step'), y: linear('MiB', { beginAtZero: true }) } },
    }),
  };
}

// ---------------------------------------------------------------- rendering

function renderHeader(r: RunPanelRun): void {
  document.getElementById('run-title')!.textContent = r.name || `${r.model} · fraction ${r.fraction} · seed ${r.seed}`;
  const status = document.getElementById('run-status')!;
  const parts: (Node | string)[] = [h('span', { class: `status status-${r.status}`, id: 'run-status-text' }, STATUS_TEXT[r.status])];
  if (r.demoWeights) parts.push(h('span', { class: 'problem', id: 'run-demo-weights', title: 'The demo\'s tiny checkpoint holds random weights: these numbers say nothing about the published model' }, 'demo weights (random)'));
  const lastTrain = train.at(-1);
  if (lastTrain) {
    parts.push(h('span', { id: 'run-epoch' }, `epoch ${lastTrain.epoch}${r.epochs ? ` of ${r.epochs}` : ''}, step ${lastTrain.step}`));
    parts.push(h('span', {}, `loss ${fixed(lastTrain.loss)}`), h('span', {}, `${Math.round(lastTrain.cellsPerSec)} cells/s`));
  } else if (r.progress) {
    parts.push(h('span', {}, `${Math.round(100 * r.progress.fraction)}%${r.progress.message ? ` ${r.progress.message}` : ''}`));
  }
  const best = [...validation].reverse().find(v => v.best);
  if (best && best.accuracy !== null) parts.push(h('span', { id: 'run-best' }, `best validation accuracy ${fixed(best.accuracy)} (epoch ${best.epoch})`));
  if (r.summary) parts.push(h('span', { id: 'run-summary' }, `test accuracy ${fixed(r.summary.accuracy)} · macro-F1 ${fixed(r.summary.macroF1)}`));
  status.replaceChildren(...parts.flatMap((p, i) => (i ? [h('span', { class: 'muted' }, '·'), p] : [p])));
  const problem = document.getElementById('run-problem')!;
  problem.replaceChildren(...(r.error ? [h('div', { class: 'error' }, r.error)] : []));
}

function renderParameters(r: RunPanelRun): void {
  const rows: [string, string][] = [
    ['run', r.id], ['kind', r.kind], ['experiment', r.experiment], ['model', r.model], ['dataset', r.dataset],
    ['label column', r.labelColumn], ['few-shot fraction', String(r.fraction)], ['seed', String(r.seed)],
    ['created', r.createdAt], ['started', r.startedAt ?? '—'], ['ended', r.endedAt ?? '—'], ...r.parameters,
  ];
  document.getElementById('run-parameters')!.replaceChildren(...rows.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v))));
}

function renderLog(lines: string[]): void {
  document.getElementById('run-log')!.textContent = lines.length ? lines.join('\n') : '(empty)';
}

function renderCurves(reset: boolean, newTrain: RunTrainPoint[], newValidation: RunValidationPoint[]): void {
  const empty = document.getElementById('curves-empty')!;
  const hasCurves = train.length > 0 || validation.length > 0;
  empty.textContent = hasCurves ? '' : run?.kind === 'finetune'
    ? 'No training steps yet: the curves appear with the first events the worker writes.'
    : 'This run has no training curves (a baseline reports only progress).';
  if (!hasCurves) return;
  charts ??= makeCharts();
  const c = charts;
  if (reset) {
    for (const chart of [c.loss, c.validation, c.speed, c.memory]) for (const ds of chart.data.datasets) ds.data = [];
  }
  const add = (chart: Chart<'line'>, i: number, pts: { x: number; y: number }[]) => {
    (chart.data.datasets[i].data as { x: number; y: number }[]).push(...pts);
  };
  add(c.loss, 0, newTrain.map(p => ({ x: p.step, y: p.loss })));
  add(c.loss, 1, newValidation.map(p => ({ x: p.step, y: p.loss })));
  add(c.validation, 0, newValidation.filter(p => p.accuracy !== null).map(p => ({ x: p.epoch, y: p.accuracy! })));
  add(c.speed, 0, newTrain.map(p => ({ x: p.step, y: p.cellsPerSec })));
  add(c.memory, 0, newTrain.filter(p => p.gpuMemoryMiB !== null).map(p => ({ x: p.step, y: p.gpuMemoryMiB! })));
  const memoryFigure = document.getElementById('chart-memory')!.closest('figure')!;
  const anyMemory = train.some(p => p.gpuMemoryMiB !== null);
  memoryFigure.toggleAttribute('hidden', !anyMemory);
  for (const chart of [c.loss, c.validation, c.speed, c.memory]) chart.update('none');
}

startApp('run', m => handle(m));

function handle(m: HostMessage): void {
  if (m.type === 'error') {
    if (!root.querySelector('#run-title')) layout();
    document.getElementById('run-problem')!.replaceChildren(h('div', { class: 'error' }, m.message));
    rendered('run', { runId: run?.id ?? '', error: m.message });
    return;
  }
  if (m.type !== 'run/update') return;
  if (m.reset || !root.querySelector('#run-title')) {
    train.length = 0;
    validation.length = 0;
    for (const chart of charts ? [charts.loss, charts.validation, charts.speed, charts.memory] : []) chart.destroy();
    charts = undefined;
    layout();
  }
  train.push(...m.train);
  validation.push(...m.validation);
  run = m.run;
  setState({ runId: m.run.id });
  renderHeader(m.run);
  renderParameters(m.run);
  renderLog(m.log);
  renderCurves(m.reset, m.train, m.validation);
  if (m.problem) document.getElementById('run-problem')!.append(h('div', { class: 'problem' }, m.problem));
  rendered('run', {
    runId: m.run.id, status: m.run.status, trainPoints: train.length, validationPoints: validation.length,
    lastStep: train.at(-1)?.step ?? -1, lastLoss: train.at(-1)?.loss ?? -1,
    bestAccuracy: [...validation].reverse().find(v => v.best)?.accuracy ?? -1,
    lossChartPoints: charts ? charts.loss.data.datasets[0].data.length : 0,
    logLines: m.log.length, lastLogLine: m.log.at(-1) ?? '',
    demoWeights: document.getElementById('run-demo-weights')?.textContent ?? '',
  });
}
