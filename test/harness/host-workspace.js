// The workspace folder the extension-host and browser tests open: a temp folder (never the project) with
// workspace settings that point the extension at ../shared's real .h5ad files and at Debian's python3.
'use strict';
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const SHARED = process.env.SCWB_SHARED || path.resolve(ROOT, '..', 'shared');

function makeTestWorkspace(stateDir, settings = {}) {
  const ws = path.join(stateDir, 'workspace');
  fs.mkdirSync(path.join(ws, '.vscode'), { recursive: true });
  const python = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : '';
  const all = { 'scwb.pythonPath': python, 'scwb.datasetFolders': [path.join(SHARED, 'data', 'h5ad')], ...settings };
  fs.writeFileSync(path.join(ws, '.vscode', 'settings.json'), JSON.stringify(all, null, 2));
  fs.writeFileSync(path.join(ws, 'README.md'), '# scWorkbench test workspace\n');
  return ws;
}

module.exports = { makeTestWorkspace, SHARED };
