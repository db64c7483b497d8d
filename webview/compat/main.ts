/**
 * "Check Dataset Against Model…": the report of src/core/checkpoints/compat.ts — one card per check (gene overlap,
 * gene identifiers, value scale, labels vs the head's classes) with its verdict, details, the fix in words and
 * buttons for the offered actions. A button sends only the check and the action's index; the host runs the action
 * of the report it holds.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '../shared/base.css';
import './compat.css';
import type { CompatReport, HostMessage } from '../../src/shared/protocol';
import { h, post, rendered, setState, startApp } from '../shared/host';

const root = document.getElementById('app') as HTMLElement;
const VERDICT_TEXT = { ok: 'OK', warn: 'Warning', fail: 'Fails', skip: 'Not applicable' } as const;
const base = (p: string) => p.split(/[\\/]/).filter(Boolean).pop() ?? p;

function header(model: string, dataset: string): HTMLElement {
  return h('div', {},
    h('h1', {}, 'Check dataset against model'),
    h('table', { class: 'kv', id: 'compat-inputs' },
      h('tr', {}, h('th', { scope: 'row' }, 'Model'), h('td', { title: model }, h('code', {}, base(model)))),
      h('tr', {}, h('th', { scope: 'row' }, 'Dataset'), h('td', { title: dataset }, h('code', {}, base(dataset))))));
}

function render(r: CompatReport, trusted: boolean): void {
  const againButton = h('vscode-button', { id: 'check-again', secondary: '' }, 'Check again');
  againButton.addEventListener('click', () => post({ type: 'action', action: 'refresh' }));
  const facts = h('table', { class: 'kv', id: 'compat-facts' },
    h('tr', {}, h('th', { scope: 'row' }, 'Recognised as'), h('td', {}, r.model.label)),
    h('tr', {}, h('th', { scope: 'row' }, 'Gene list'), h('td', {}, r.model.genes ? `${r.model.genes.length.toLocaleString('en-US')} genes from ${r.model.genesSource ?? '?'}` : 'unknown')),
    h('tr', {}, h('th', { scope: 'row' }, 'Data'), h('td', {}, `${r.dataset.nObs.toLocaleString('en-US')} cells × ${r.dataset.nVars.toLocaleString('en-US')} genes${r.dataset.recipe ? ` (Preprocess ${r.dataset.recipe})` : ''}; values read from ${r.dataset.matrix}`)));
  const cards = r.checks.map(c => {
    const buttons = c.actions.map((a, index) => {
      const disabled = a.kind === 'preprocess' && !trusted;
      const b = h('vscode-button', { 'data-check': c.id, 'data-index': String(index), ...(index > 0 ? { secondary: '' } : {}), ...(disabled ? { disabled: '', title: 'Preprocess runs only in a trusted workspace' } : {}) }, a.label);
      b.addEventListener('click', () => { if (!disabled) post({ type: 'compat/action', check: c.id, index }); });
      return b;
    });
    return h('section', { class: `check verdict-${c.verdict}`, id: `check-${c.id}`, 'aria-label': c.title },
      h('h2', {}, h('vscode-badge', {}, VERDICT_TEXT[c.verdict]), c.title),
      h('p', {}, c.summary),
      c.details.length ? h('ul', {}, ...c.details.map(d => h('li', {}, d))) : null,
      c.fix ? h('p', { class: 'fix' }, h('strong', {}, 'Fix: '), c.fix) : null,
      buttons.length ? h('div', { class: 'row actions' }, ...buttons) : null,
      // what a fix will do, before it runs (e.g. how many cells the scBERT recipe keeps)
      ...c.actions.map((a, index) => (a.kind === 'preprocess' && a.note ? h('p', { class: 'muted', id: `note-${c.id}-${index}` }, `${a.label}: ${a.note}`) : null)));
  });
  const overall = h('p', { class: 'overall', id: 'compat-verdict', role: 'status' },
    r.verdict === 'ok' ? 'The dataset fits the model.' : r.verdict === 'fail' ? 'The dataset does not fit the model as it is: see the fixes below.' : 'The dataset can be used, with the warnings below.');
  root.replaceChildren(header(r.model.path, r.dataset.path), facts, overall, ...cards, h('div', { class: 'row' }, againButton));
  // what a window reload checks again
  setState({ model: r.model.path, dataset: r.dataset.path, labelColumn: r.labels?.column, geneColumn: r.genes && r.genes.matchedOn !== 'var_names' ? r.genes.matchedOn : undefined });
  rendered('compat', {
    state: 'report', verdict: r.verdict, checks: r.checks.map(c => `${c.id}:${c.verdict}`).join(','),
    actions: r.checks.reduce((n, c) => n + c.actions.length, 0), dataset: r.dataset.path, model: r.model.path,
  });
}

startApp('compat', (m: HostMessage) => {
  if (m.type === 'compat/checking') {
    setState({ model: m.model, dataset: m.dataset });
    root.replaceChildren(header(m.model, m.dataset), h('p', { class: 'row', role: 'status' }, h('vscode-progress-ring'), `Checking… ${m.message}`));
  } else if (m.type === 'compat/report') {
    render(m.report, m.trusted);
  } else if (m.type === 'compat/error') {
    const again = h('vscode-button', { id: 'check-again' }, 'Check again');
    again.addEventListener('click', () => post({ type: 'action', action: 'refresh' }));
    root.replaceChildren(header(m.model, m.dataset), h('div', { class: 'error', id: 'compat-error', role: 'alert' }, m.message), again);
    rendered('compat', { state: 'error', message: m.message });
  } else if (m.type === 'error') {
    root.replaceChildren(h('div', { class: 'error' }, m.message));
  }
});
