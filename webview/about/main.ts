/** About / Environment panel. */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '../shared/base.css';
import type { EnvReport, HostMessage } from '../../src/shared/protocol';
import { h, post, rendered, setState, startApp } from '../shared/host';

const root = document.getElementById('app') as HTMLElement;

function row(label: string, value: Node | string): HTMLTableRowElement {
  return h('tr', {}, h('th', { scope: 'row' }, label), h('td', {}, value));
}

function render(report: EnvReport): void {
  const py = report.python;
  const torchCell = py.torch
    ? h('span', { id: 'torch' }, `torch ${py.torch.version}`, ' ', h('vscode-badge', {}, py.torch.cudaAvailable ? `CUDA ${py.torch.cudaVersion ?? ''}` : 'CPU only'))
    : h('span', { id: 'torch', class: 'muted' }, 'not available');
  const devices = py.torch?.devices.length ? py.torch.devices.join(', ') : 'none';
  const table = h('table', { class: 'kv', id: 'env-table' },
    row('VS Code', `${report.vscodeVersion} (${report.appHost})`),
    row('scWorkbench', report.extensionVersion),
    row('Node.js', report.nodeVersion),
    row('Platform', report.platform),
    row('Workspace trust', report.workspaceTrusted ? 'trusted' : 'restricted mode: nothing is run'),
    row('Python interpreter', h('code', { id: 'interpreter' }, py.executable ?? (py.interpreter || '—'))),
    row('Interpreter from', sourceLabel(py.source)),
    row('Python version', py.version ?? '—'),
    row('PyTorch', torchCell),
    row('CUDA devices', h('span', { id: 'cuda-devices' }, devices)),
    row('Tested PyTorch', py.torch
      ? h('span', { id: 'torch-support', class: py.torch.support.status === 'tested' ? 'ok' : py.torch.support.status === 'older' ? 'problem' : '' }, py.torch.support.message)
      : h('span', { id: 'torch-support', class: 'muted' }, '—')),
  );
  const problem = py.problem
    ? h('div', { class: 'problem', id: 'python-problem', role: 'status' }, h('strong', {}, py.problem), h('br'), py.advice ?? '')
    : h('p', { class: 'ok', id: 'python-ok' }, 'The training worker can run here.');
  const refresh = h('vscode-button', { id: 'refresh' }, 'Check again');
  refresh.addEventListener('click', () => post({ type: 'action', action: 'refresh' }));
  const settings = h('vscode-button', { id: 'settings', secondary: '' }, 'Choose interpreter…');
  settings.addEventListener('click', () => post({ type: 'action', action: 'openSettings' }));
  root.replaceChildren(h('h1', {}, 'scWorkbench environment'), table, problem, h('div', { class: 'row' }, refresh, settings));
  setState({ report });
  const worst = lowestContrast();
  rendered('about', { torch: py.torch ? py.torch.version : 'none', torchSupport: py.torch?.support.status ?? 'none', problem: py.problem ?? '', rows: table.rows.length, minContrast: worst.ratio, minContrastText: worst.text });
}

type Rgba = [number, number, number, number];

function parseColor(c: string): Rgba {
  const m = c.match(/[\d.]+/g)?.map(Number) ?? [0, 0, 0, 0];
  return [m[0] ?? 0, m[1] ?? 0, m[2] ?? 0, m.length > 3 ? m[3] : 1];
}

function luminance([r, g, b]: Rgba): number {
  const lin = (v: number) => { const x = v / 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** The colour behind an element: the first opaque-ish background up its ancestors (shadow hosts included). */
function backgroundOf(el: Element | null): Rgba {
  for (let e = el; e; e = e.parentElement ?? ((e.getRootNode() as ShadowRoot).host ?? null)) {
    const bg = parseColor(getComputedStyle(e).backgroundColor);
    if (bg[3] > 0.5) return bg;
  }
  return parseColor(getComputedStyle(document.body).backgroundColor);
}

/** The lowest WCAG contrast ratio of any text on the page (shadow DOM of the UI elements included), for the tests. */
function lowestContrast(): { ratio: number; text: string } {
  let worst = { ratio: 21, text: '' };
  const visit = (node: Node) => {
    for (const child of Array.from(node.childNodes)) {
      if (child.nodeType === Node.TEXT_NODE && child.textContent?.trim() && child.parentElement) {
        const el = child.parentElement;
        const fg = parseColor(getComputedStyle(el).color);
        const bg = backgroundOf(el);
        // a translucent text colour is blended over its background
        const blended: Rgba = [0, 1, 2].map(i => fg[i] * fg[3] + bg[i] * (1 - fg[3])) as Rgba;
        const [hi, lo] = [luminance(blended), luminance(bg)].sort((a, b) => b - a);
        const ratio = Math.round(((hi + 0.05) / (lo + 0.05)) * 100) / 100;
        if (ratio < worst.ratio) worst = { ratio, text: child.textContent.trim().slice(0, 60) };
      } else if (child instanceof Element) {
        if (child.shadowRoot) visit(child.shadowRoot);
        visit(child);
      }
    }
  };
  visit(root);
  return worst;
}

function sourceLabel(source: EnvReport['python']['source']): string {
  switch (source) {
    case 'python-extension': return 'the Python extension\'s selected environment';
    case 'setting': return 'setting scwb.pythonPath';
    case 'default': return 'default (python3 on PATH)';
    case 'untrusted': return 'not used: the workspace is not trusted';
  }
}

startApp('about', (m: HostMessage) => {
  if (m.type === 'about/checking') {
    root.replaceChildren(h('h1', {}, 'scWorkbench environment'), h('p', { class: 'row' }, h('vscode-progress-ring'), 'Checking the Python environment…'));
  } else if (m.type === 'about/report') {
    render(m.report);
  } else if (m.type === 'error') {
    root.replaceChildren(h('div', { class: 'error' }, m.message));
  }
});
