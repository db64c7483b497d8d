/** Grid editor: an experiment (preset) as grids of dataset x model x ablation x fraction x seed. */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '../shared/base.css';
import './grid.css';
import type { GridPickTarget, GridPresetDoc, GridSummaryView, HostMessage } from '../../src/shared/protocol';
import { h, post, rendered, setState, startApp } from '../shared/host';
import { countOf } from '../../src/shared/view-format';

type Grid = GridPresetDoc['grids'][number];
type Model = Grid['models'][number];
type Dataset = Grid['datasets'][number];

const ABLATIONS = ['none', 'no-pretraining', 'no-gene2vec', 'frozen-embeddings'] as const;
const NEW_MODELS: Record<string, Model> = {
  'scBERT fine-tune': { kind: 'finetune', model: 'scbert', checkpoint: '', batchSize: 32, precision: 'published' },
  'scGPT fine-tune': { kind: 'finetune', model: 'scgpt', checkpoint: '', batchSize: 32, precision: 'published', maxSeqLen: 3001 },
  'LR L1 C=0.1': { kind: 'baseline', penalty: 'l1', C: 0.1 },
  'LR L1 CV (5-fold)': { kind: 'baseline', penalty: 'l1', cvGrid: [1e-3, 1e-2, 1e-1, 1, 1e1, 1e2, 1e3, 1e4], folds: 5 },
  'linear probe': { kind: 'probe', method: 'linear', encoder: 'benchmark', encoderPath: '', k: 10, epochs: 50, lr: 0.005, batchSize: 64, evalEvery: 5, pooling: 'cls', geneSampling: 'weighted' },
  'kNN probe': { kind: 'probe', method: 'knn', encoder: 'benchmark', encoderPath: '', k: 10, epochs: 50, lr: 0.005, batchSize: 64, evalEvery: 5, pooling: 'cls', geneSampling: 'weighted' },
};

const root = document.getElementById('app') as HTMLElement;
let presets: { id: string; title: string; source: string }[] = [];
let presetId: string | null = null;
let doc: GridPresetDoc | null = null;
let summary: GridSummaryView | null = null;
let notice = '';

function changed(): void {
  if (doc) post({ type: 'grid/changed', preset: doc });
  setState({ presetId, doc });
}

function parseList(text: string, integer: boolean): number[] | null {
  const parts = text.split(/[,\s]+/).filter(Boolean);
  const xs = parts.map(Number);
  if (!parts.length || xs.some(x => !Number.isFinite(x) || (integer && !Number.isInteger(x)))) return null;
  return xs;
}

function listInput(id: string, values: number[], integer: boolean, set: (xs: number[]) => void): HTMLInputElement {
  const input = h('input', { type: 'text', class: 'list', id, value: values.join(', '), 'aria-label': id });
  input.addEventListener('change', () => {
    const xs = parseList(input.value, integer);
    input.classList.toggle('invalid', xs === null);
    if (xs) { set(xs); changed(); }
  });
  return input;
}

function textInput(id: string, value: string, set: (v: string) => void, cls = ''): HTMLInputElement {
  const input = h('input', { type: 'text', id, value, class: cls, 'aria-label': id });
  input.addEventListener('change', () => { set(input.value); changed(); });
  return input;
}

function pickButton(grid: number, index: number, target: GridPickTarget, id: string): HTMLElement {
  const b = h('vscode-button', { id, secondary: '' }, 'Choose…');
  b.addEventListener('click', () => post({ type: 'grid/pick', grid, index, target }));
  return b;
}

function removeLink(label: string, fn: () => void): HTMLElement {
  const b = h('button', { class: 'link', title: label, 'aria-label': label }, '✕');
  b.addEventListener('click', () => { fn(); changed(); render(); });
  return b;
}

function datasetRow(g: Grid, gi: number, d: Dataset, di: number): HTMLElement {
  const split = h('select', { id: `g${gi}-d${di}-split`, 'aria-label': 'split' },
    h('option', { value: 'stratified' }, 'stratified 80/20, seed 2022'),
    h('option', { value: 'reference-query' }, 'reference / query files'),
    h('option', { value: 'random' }, 'random 70/30 (probes)'));
  split.value = d.split.kind;
  split.addEventListener('change', () => {
    d.split = split.value === 'stratified' ? { kind: 'stratified', testSize: 0.2, seed: 2022 } : split.value === 'random' ? { kind: 'random', testSize: 0.3 } : { kind: 'reference-query' };
    changed();
    render();
  });
  return h('div', { class: 'axis dataset' },
    textInput(`g${gi}-d${di}-name`, d.name, v => { d.name = v; }), ' label ',
    textInput(`g${gi}-d${di}-label`, d.labelColumn, v => { d.labelColumn = v; }), ' ', split, ' ',
    textInput(`g${gi}-d${di}-path`, d.path, v => { d.path = v; }, 'path'), pickButton(gi, di, 'dataset', `g${gi}-d${di}-pick`),
    d.split.kind === 'reference-query'
      ? h('span', {}, ' query ', textInput(`g${gi}-d${di}-query`, d.queryPath, v => { d.queryPath = v; }, 'path'), pickButton(gi, di, 'query', `g${gi}-d${di}-pickq`))
      : null,
    g.datasets.length > 1 ? removeLink('remove dataset', () => g.datasets.splice(di, 1)) : null);
}

function modelRow(g: Grid, gi: number, m: Model, mi: number): HTMLElement {
  const parts: (Node | string)[] = [];
  if (m.kind === 'finetune') {
    parts.push(h('strong', {}, m.model === 'scbert' ? 'scBERT' : 'scGPT'), ' checkpoint ',
      textInput(`g${gi}-m${mi}-ckpt`, m.checkpoint, v => { m.checkpoint = v; }, 'path'), pickButton(gi, mi, 'checkpoint', `g${gi}-m${mi}-pick`));
    const prec = h('select', { id: `g${gi}-m${mi}-precision`, 'aria-label': 'precision' },
      h('option', { value: 'published' }, m.model === 'scbert' ? 'published (fp32)' : 'published (fp16 + GradScaler)'),
      h('option', { value: 'fp32' }, 'fp32'), h('option', { value: 'bf16' }, 'bf16'), h('option', { value: 'fp16' }, 'fp16'));
    prec.value = m.precision;
    prec.addEventListener('change', () => { m.precision = prec.value as typeof m.precision; changed(); });
    parts.push(' ', prec, ' ', ...trainingFields(gi, mi, m), protocolOptions(gi, mi, m));
  } else if (m.kind === 'baseline') {
    parts.push(h('strong', {}, `LR ${m.penalty.toUpperCase()} ${m.C !== undefined ? `C=${m.C}` : `CV over ${m.cvGrid?.length ?? 0} C values`}`), h('span', { class: 'muted' }, ' (CPU)'));
  } else {
    parts.push(h('strong', {}, m.method === 'knn' ? `kNN probe (k=${m.k})` : 'linear probe'), ` of the ${m.encoder} encoder `,
      textInput(`g${gi}-m${mi}-enc`, m.encoderPath, v => { m.encoderPath = v; }, 'path'), pickButton(gi, mi, 'encoder', `g${gi}-m${mi}-pick`));
    const pool = h('select', { id: `g${gi}-m${mi}-pooling`, 'aria-label': 'cell embedding' },
      h('option', { value: 'cls' }, '<cls> output'), h('option', { value: 'mean' }, 'mean over all places'), h('option', { value: 'mean-genes' }, 'mean over the genes'));
    pool.value = m.pooling;
    pool.addEventListener('change', () => { m.pooling = pool.value as typeof m.pooling; changed(); });
    parts.push(' ', pool);
  }
  if (g.models.length > 1) parts.push(removeLink('remove model', () => g.models.splice(mi, 1)));
  return h('div', { class: 'axis model' }, ...parts);
}

type FinetuneModel = Extract<Model, { kind: 'finetune' }>;
type Choices = NonNullable<FinetuneModel['protocol']>;

/** Epochs (empty: the published number) and batch size of a fine-tune: the runs use them and the estimate counts them. */
function trainingFields(gi: number, mi: number, m: FinetuneModel): (HTMLElement | string)[] {
  const positiveInt = (v: string) => /^[1-9][0-9]*$/.test(v.trim());
  const epochs = h('input', { type: 'text', class: 'num-field', id: `g${gi}-m${mi}-epochs`, 'aria-label': 'epochs', placeholder: 'published', value: m.epochs === undefined ? '' : String(m.epochs) });
  epochs.addEventListener('change', () => {
    const v = epochs.value.trim();
    const ok = v === '' || positiveInt(v);
    epochs.classList.toggle('invalid', !ok);
    if (!ok) return;
    if (v === '') delete m.epochs; else m.epochs = Number(v);
    changed();
  });
  const batch = h('input', { type: 'text', class: 'num-field', id: `g${gi}-m${mi}-batch`, 'aria-label': 'batch size', value: String(m.batchSize) });
  batch.addEventListener('change', () => {
    const ok = positiveInt(batch.value);
    batch.classList.toggle('invalid', !ok);
    if (ok) { m.batchSize = Number(batch.value.trim()); changed(); }
  });
  return [h('label', { for: `g${gi}-m${mi}-epochs` }, 'epochs '), epochs, ' ', h('label', { for: `g${gi}-m${mi}-batch` }, 'batch '), batch, ' '];
}

/** The other protocol elements of a fine-tune (docs/protocols.md); an empty choice is the published value. */
function protocolOptions(gi: number, mi: number, m: FinetuneModel): HTMLElement {
  const set = (key: keyof Choices, value: unknown) => {
    const next: Record<string, unknown> = { ...(m.protocol ?? {}) };
    if (value === undefined) delete next[key]; else next[key] = value;
    m.protocol = Object.keys(next).length ? next as Choices : undefined;
    changed();
  };
  const select = (key: keyof Choices, options: [string, string][]) => {
    const el = h('select', { id: `g${gi}-m${mi}-${key}`, 'aria-label': key }, h('option', { value: '' }, `${key}: published`),
      ...options.map(([v, label]) => h('option', { value: v }, `${key}: ${label}`)));
    el.value = String(m.protocol?.[key] ?? '');
    el.addEventListener('change', () => set(key, el.value === '' ? undefined : el.value === 'true' ? true : el.value === 'false' ? false : el.value));
    return el;
  };
  const number = (key: 'adamEps' | 'headDropout') => {
    const el = h('input', { type: 'text', class: 'list', id: `g${gi}-m${mi}-${key}`, 'aria-label': key, placeholder: `${key}: published`, value: m.protocol?.[key] === undefined || m.protocol?.[key] === null ? '' : String(m.protocol[key]) });
    el.addEventListener('change', () => {
      const v = el.value.trim();
      const x = Number(v);
      const ok = v === '' || (Number.isFinite(x) && (key === 'adamEps' ? x > 0 : x >= 0 && x < 1));
      el.classList.toggle('invalid', !ok);
      if (ok) set(key, v === '' ? undefined : x);
    });
    return el;
  };
  const scbert = m.model === 'scbert';
  return h('details', { class: 'protocol-options', id: `g${gi}-m${mi}-protocol` }, h('summary', {}, 'protocol'),
    select('keep', [['best-accuracy', 'best accuracy'], ['best-loss', 'best loss'], ['last', 'last epoch']]),
    select('classWeights', [['dataset', '1/count, dataset'], ['train', '1/count, training rows'], ['none', 'none']]),
    select('shuffle', [['true', 'reshuffle'], ['false', 'split order']]),
    scbert ? number('headDropout') : select('geneEmbInit', [['uniform', 'U(-0.1, 0.1)'], ['normal', 'N(0, 1)']]),
    number('adamEps'));
}

function gridBlock(g: Grid, gi: number): HTMLElement {
  const ablations = h('span', {}, ...ABLATIONS.map(a => {
    const cb = h('input', { type: 'checkbox', id: `g${gi}-abl-${a}` });
    cb.checked = g.ablations.includes(a);
    cb.addEventListener('change', () => {
      const next = ABLATIONS.filter(x => (x === a ? cb.checked : g.ablations.includes(x)));
      if (next.length) g.ablations = next;
      else cb.checked = true;
      changed();
    });
    return h('label', {}, cb, ` ${a} `);
  }));
  const strat = h('input', { type: 'checkbox', id: `g${gi}-strat` });
  strat.checked = g.stratifiedFewShot;
  strat.addEventListener('change', () => { g.stratifiedFewShot = strat.checked; changed(); });
  const fewShot = h('input', { type: 'checkbox', id: `g${gi}-fewshot-runs` });
  fewShot.checked = g.fewShotRuns;
  fewShot.addEventListener('change', () => { g.fewShotRuns = fewShot.checked; changed(); });
  const addModel = h('select', { id: `g${gi}-add-model`, 'aria-label': 'add model' }, h('option', { value: '' }, 'add model…'),
    ...Object.keys(NEW_MODELS).map(k => h('option', { value: k }, k)));
  addModel.addEventListener('change', () => {
    if (addModel.value) { g.models.push(structuredClone(NEW_MODELS[addModel.value])); changed(); render(); }
  });
  const addDataset = h('button', { class: 'link', id: `g${gi}-add-dataset` }, '+ dataset');
  addDataset.addEventListener('click', () => {
    g.datasets.push({ name: 'dataset', path: '', queryPath: '', labelColumn: 'cell_type', split: { kind: 'stratified', testSize: 0.2, seed: 2022 }, cells: 10000, queryCells: 0 });
    changed();
    render();
  });
  const per = summary?.perGrid[gi];
  return h('section', { class: 'block', id: `grid-${gi}` },
    h('h2', {}, textInput(`g${gi}-title`, g.title, v => { g.title = v; }),
      per ? h('span', { class: 'muted' }, `${countOf(per.runs, 'run')} · ${per.gpuHours.toFixed(1)} ${summary?.device === 'CPU' ? 'h on CPU' : 'GPU h'}`) : null,
      doc && doc.grids.length > 1 ? removeLink('remove grid', () => doc!.grids.splice(gi, 1)) : null),
    h('div', { class: 'axis' }, h('label', {}, 'Datasets'), addDataset), ...g.datasets.map((d, di) => datasetRow(g, gi, d, di)),
    h('div', { class: 'axis' }, h('label', {}, 'Models'), addModel), ...g.models.map((m, mi) => modelRow(g, gi, m, mi)),
    h('div', { class: 'axis' }, h('label', {}, 'Ablations'), ablations, h('span', { class: 'muted' }, '(fine-tunes only)')),
    h('div', { class: 'axis' }, h('label', { for: `g${gi}-fractions` }, 'Fractions'), listInput(`g${gi}-fractions`, g.fractions, false, xs => { g.fractions = xs; }),
      h('label', {}, strat, ' stratified few-shot'),
      h('label', { title: 'scBERT: runs of the published few-shot script; their training rows come from its per-seed stream also at fraction 1.0' }, fewShot, ' few-shot runs')),
    h('div', { class: 'axis' }, h('label', { for: `g${gi}-seeds` }, 'Seeds'), listInput(`g${gi}-seeds`, g.seeds, true, xs => { g.seeds = xs; })));
}

function summaryPane(): HTMLElement {
  const s = summary;
  if (!s) return h('div', { class: 'summary' }, 'computing…');
  const queue = h('vscode-button', { id: 'add-to-queue' }, 'Add to queue');
  const now = h('vscode-button', { id: 'run-now', secondary: '' }, 'Run now');
  const blocked = !!s.error || s.problems.length > 0;
  if (blocked) { queue.setAttribute('disabled', ''); now.setAttribute('disabled', ''); }
  queue.addEventListener('click', () => { if (doc) post({ type: 'grid/submit', preset: doc, mode: 'queue' }); });
  now.addEventListener('click', () => { if (doc) post({ type: 'grid/submit', preset: doc, mode: 'now' }); });
  return h('div', { class: 'summary', id: 'summary' },
    h('div', { class: 'row' },
      h('span', { class: 'big', id: 'run-count' }, countOf(s.runs, 'run')),
      h('span', { id: 'run-split' }, `(${s.gpuRuns} on GPU, ${s.cpuRuns} LR on CPU)`),
      h('span', { class: 'big', id: 'gpu-hours' }, `≈ ${s.gpuHours.toFixed(1)} ${s.device === 'CPU' ? 'hours on the CPU' : 'GPU hours'}`),
      queue, now),
    s.basis.length ? h('ul', { class: 'muted', id: 'estimate-basis' }, ...s.basis.map(b => h('li', {}, b))) : null,
    h('div', { class: 'muted', id: 'slots' }, `Queue slots here: ${s.slots}`),
    s.error ? h('div', { class: 'error', id: 'doc-error', role: 'alert' }, s.error) : null,
    s.problems.length ? h('div', { class: 'problem', id: 'problems' }, h('strong', {}, 'Before queueing: '), h('ul', {}, ...s.problems.map(p => h('li', {}, p)))) : null,
    s.skipped.length ? h('div', { class: 'muted' }, ...s.skipped.map(k => h('div', {}, `grid ${k.grid + 1}: ${k.count} combinations skipped: ${k.reason}`))) : null,
    notice ? h('div', { class: 'ok', id: 'notice', role: 'status' }, notice) : null);
}

/** The fine-tunes' protocol before anything runs: "published protocol" or each deviation with the published value. */
function protocolPane(): HTMLElement | null {
  const p = summary?.protocol;
  if (!p) return null;
  const documented = p.documented.length
    ? h('details', {}, h('summary', {}, 'Documented differences'), h('ul', {}, ...p.documented.map(d => h('li', {}, `${d.element} (${d.scope}): ${d.note}`))))
    : null;
  if (!p.deviations.length) {
    return h('section', { id: 'protocol', class: 'ok' }, h('strong', {}, 'Published protocol'), ' — every fine-tune element equals the published one (scwb protocol PRESET lists them).', documented);
  }
  return h('section', { id: 'protocol', class: 'problem' }, h('strong', {}, 'Deviations from the published protocol'),
    h('ul', { id: 'deviations' }, ...p.deviations.map(d => h('li', {}, `${d.element} (${d.scope}): ours ${d.ours}, published ${d.published}`, h('span', { class: 'muted' }, ` — ${d.source}`)))),
    documented);
}

function targetsTable(): HTMLElement | null {
  if (!summary?.targets.length) return null;
  const pct = (v: number | null) => (v === null ? '—' : (v * 100).toFixed(1));
  return h('section', {}, h('h2', {}, 'Published targets'),
    h('table', { class: 'grid', id: 'targets' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Dataset'), h('th', {}, 'Model'), h('th', { class: 'num' }, 'Fraction'), h('th', { class: 'num' }, 'Accuracy %'), h('th', { class: 'num' }, 'Macro-F1 %'), h('th', {}, 'Source'))),
      h('tbody', {}, ...summary.targets.map(t => h('tr', {}, h('td', {}, t.dataset), h('td', {}, t.model), h('td', { class: 'num' }, String(t.fraction)),
        h('td', { class: 'num' }, pct(t.accuracy)), h('td', { class: 'num' }, pct(t.macroF1)), h('td', { class: 'muted' }, t.source))))));
}

function render(): void {
  if (!doc) return;
  const select = h('select', { id: 'preset', 'aria-label': 'preset' }, h('option', { value: '' }, 'Empty experiment'),
    ...presets.map(p => h('option', { value: p.id }, `${p.title} — ${p.source}`)));
  select.value = presetId ?? '';
  select.addEventListener('change', () => { notice = ''; post({ type: 'grid/select', presetId: select.value || null }); });
  const addGrid = h('vscode-button', { id: 'add-grid', secondary: '' }, 'Add grid');
  addGrid.addEventListener('click', () => { doc!.grids.push(structuredClone(doc!.grids[doc!.grids.length - 1])); changed(); render(); });
  const assumptions = h('details', { id: 'assumptions' }, h('summary', {}, 'How the hours are estimated'),
    h('ul', {}, ...(summary?.assumptions ?? []).map(a => h('li', {}, a))));
  root.replaceChildren(
    h('h1', {}, 'New experiment'),
    h('div', { class: 'row' }, h('label', { for: 'preset' }, 'Preset'), select),
    h('p', { class: 'muted', id: 'description' }, doc.description),
    h('div', { class: 'row' }, h('label', { for: 'experiment' }, 'Experiment name'), textInput('experiment', doc.experiment, v => { doc!.experiment = v; })),
    summaryPane(),
    protocolPane() ?? '',
    ...doc.grids.map((g, i) => gridBlock(g, i)),
    addGrid,
    targetsTable() ?? '',
    assumptions,
  );
  rendered('grid', {
    preset: presetId ?? '', grids: doc.grids.length, runs: summary?.runs ?? 0, gpuHours: Number((summary?.gpuHours ?? 0).toFixed(3)),
    problems: summary?.problems.length ?? 0, error: summary?.error ?? '', targets: summary?.targets.length ?? 0,
    device: summary?.device ?? '', basis: summary?.basis.join('\n') ?? '',
    deviations: summary?.protocol?.deviations.map(d => d.element).join(',') ?? '',
  });
}

startApp('grid', (m: HostMessage) => {
  switch (m.type) {
    case 'grid/state':
      presets = m.presets;
      presetId = m.presetId;
      doc = structuredClone(m.preset);
      summary = m.summary;
      render();
      setState({ presetId, doc });
      return;
    case 'grid/summary':
      summary = m.summary;
      render();
      return;
    case 'grid/picked': {
      const g = doc?.grids[m.grid];
      if (!g) return;
      if (m.target === 'dataset' && g.datasets[m.index]) g.datasets[m.index].path = m.path;
      if (m.target === 'query' && g.datasets[m.index]) g.datasets[m.index].queryPath = m.path;
      const model = g.models[m.index];
      if (m.target === 'checkpoint' && model?.kind === 'finetune') model.checkpoint = m.path;
      if (m.target === 'encoder' && model?.kind === 'probe') model.encoderPath = m.path;
      changed();
      render();
      return;
    }
    case 'grid/submitted':
      notice = m.message;
      render();
      return;
    default:
  }
});
