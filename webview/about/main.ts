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
  rendered('about', { torch: py.torch ? py.torch.version : 'none', problem: py.problem ?? '', rows: table.rows.length });
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
