#!/usr/bin/env node
// Prepares the demo workspace for `npm start`: settings, and the project's own simulated dataset
// (no third-party data can ship). Usage: node scripts/demo-workspace.js DIR
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const ws = path.resolve(process.argv[2] || path.join(root, '.demo', 'workspace'));
fs.mkdirSync(path.join(ws, '.vscode'), { recursive: true });
fs.mkdirSync(path.join(ws, 'data'), { recursive: true });
const settingsFile = path.join(ws, '.vscode', 'settings.json');
if (!fs.existsSync(settingsFile)) {
  const settings = {};
  // Debian's interpreter has torch when python3-torch is installed; the About panel says what it finds.
  if (fs.existsSync('/usr/bin/python3')) settings['scwb.pythonPath'] = '/usr/bin/python3';
  settings['workbench.startupEditor'] = 'none';
  fs.writeFileSync(settingsFile, JSON.stringify(settings, null, 2) + '\n');
}
const readme = path.join(ws, 'README.md');
if (!fs.existsSync(readme)) {
  fs.writeFileSync(readme, [
    '# scWorkbench demo workspace', '',
    '`data/pbmc_demo.h5ad` is a simulated PBMC-like dataset made by `scwb simulate` (raw counts, a dozen cell types).',
    'Open the scWorkbench view in the activity bar to see it; right-click it for Preprocess and Run Baseline.', '',
  ].join('\n'));
}
const demo = path.join(ws, 'data', 'pbmc_demo.h5ad');
const scwb = path.join(root, 'bin', 'scwb.js');
const haveSimulate = fs.existsSync(path.join(root, 'out', 'src', 'cli', 'commands', 'simulate.js'));
if (haveSimulate && !fs.existsSync(demo)) {
  execFileSync(process.execPath, [scwb, 'simulate', '--cells', '3000', '--genes', '2000', '--seed', '7', '--out', demo], { stdio: 'inherit' });
}
console.log(`demo workspace: ${ws}`);
