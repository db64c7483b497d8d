#!/usr/bin/env node
// Prepares the demo workspace for `npm start`: settings, the project's own simulated dataset (no third-party data
// can ship) and, when the worker's Python can import torch, tiny scBERT- and scGPT-shaped checkpoints over the
// dataset's genes (random weights, the published key layout) with recipe files for them, so Preprocess and
// Run Fine-tune work there on CPU in minutes. Usage: node scripts/demo-workspace.js DIR
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');

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
  // The first start shows the scWorkbench view and its walkthrough (the e2e tests that test other flows turn it off).
  settings['scwb.walkthrough.openOnFirstStart'] = process.env.SCWB_DEMO_WALKTHROUGH !== '0';
  fs.writeFileSync(settingsFile, JSON.stringify(settings, null, 2) + '\n');
}
const readme = path.join(ws, 'README.md');
if (!fs.existsSync(readme)) {
  fs.writeFileSync(readme, [
    '# scWorkbench demo workspace', '',
    '`data/pbmc_demo.h5ad` is a simulated PBMC-like dataset made by `scwb simulate` (raw counts, a dozen cell types).',
    'Open the scWorkbench view in the activity bar to see it; right-click it for Preprocess and Run Baseline.',
    'The walkthrough *From the demo to a paper table* (command palette → **scWorkbench: Open the Walkthrough**) leads',
    'through the steps below with a button for each.', '',
    '## Try fine-tuning on CPU in minutes', '',
    '`models/` holds two tiny checkpoints made for this dataset (random weights with the published key layout, so',
    'they teach nothing: they show the flow): `models/scbert_tiny/scbert_tiny_pretrain.pth` with its gene list',
    '`genes.txt`, and the scGPT model folder `models/scGPT_tiny/` (`best_model.pt`, `vocab.json`, `args.json`).',
    'They appear in the Checkpoints view.', '',
    '1. Right-click `data/pbmc_demo.h5ad` → **Preprocess…** → *Run a recipe file…* → `recipes/scbert_demo.json`',
    '   (or `recipes/scgpt_demo.json`). The output lands beside the input.',
    '2. Right-click the preprocessed file → **Run Baseline…** (label column `cell_type`, the defaults) for the LR row.',
    '3. Command palette → **scWorkbench: Run Fine-tune…** on the preprocessed file: label `cell_type`, model scBERT,',
    '   checkpoint `scbert_tiny_pretrain.pth`, ablation none, fraction 0.1 (a few minutes on two CPU cores; 1 takes',
    '   longer), seed 0, device cpu, a small batch (e.g. 8) and 2 epochs (the published protocol trains 10).',
    '   Training runs in a terminal that stays open; the Runs view shows epoch, loss and cells/s as it goes;',
    '   click the run for its live curves (Open Run Panel). When it ends, the results panel shows the fine-tuned',
    '   row beside the LR row.', '',
    'From a terminal: `npx scwb preprocess recipes/scbert_demo.json data/pbmc_demo.h5ad data/pbmc_demo_scbert.h5ad`,',
    'then `npx scwb finetune data/pbmc_demo_scbert.h5ad --model scbert --checkpoint models/scbert_tiny/scbert_tiny_pretrain.pth --label cell_type --fractions 0.1 --epochs 2`.', '',
  ].join('\n'));
}
const demo = path.join(ws, 'data', 'pbmc_demo.h5ad');
const scwb = path.join(root, 'bin', 'scwb.js');
const haveSimulate = fs.existsSync(path.join(root, 'out', 'src', 'cli', 'commands', 'simulate.js'));
if (haveSimulate && !fs.existsSync(demo)) {
  // PBMC depth (Zheng68K's median of ~1,500 counts per cell): ~430 genes per cell, so the published scBERT cell
  // filter (at least 200 genes) keeps ~99% of the cells and stratified splits keep every type
  execFileSync(process.execPath, [scwb, 'simulate', '--cells', '3000', '--genes', '2000', '--seed', '7', '--median-counts', '1500', '--out', demo], { stdio: 'inherit' });
}
if (fs.existsSync(demo)) prepareFinetuneDemo();
console.log(`demo workspace: ${ws}`);

/** The interpreter the worker will use here: the workspace setting scwb.pythonPath, else Debian's python3. */
function workerPython() {
  try {
    const configured = JSON.parse(fs.readFileSync(settingsFile, 'utf8'))['scwb.pythonPath'];
    if (typeof configured === 'string' && configured.trim()) return configured.trim();
  } catch {
    // no readable settings: the default below
  }
  return process.env.SCWB_PYTHON || '/usr/bin/python3';
}

/** Writes `value` as JSON to `file` unless it exists (the user may have edited it), atomically. */
function writeJsonOnce(file, value) {
  if (fs.existsSync(file)) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

function prepareFinetuneDemo() {
  const models = path.join(ws, 'models');
  const wanted = [
    path.join(models, 'scbert_tiny', 'scbert_tiny_pretrain.pth'), path.join(models, 'scbert_tiny', 'genes.txt'),
    path.join(models, 'scGPT_tiny', 'best_model.pt'), path.join(models, 'scGPT_tiny', 'vocab.json'), path.join(models, 'scGPT_tiny', 'args.json'),
  ];
  if (!wanted.every(f => fs.existsSync(f))) {
    const python = workerPython();
    const probe = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
    if (probe.error || probe.status !== 0) {
      console.log(`note: ${python} cannot import torch, so the demo workspace gets no tiny checkpoints; Preprocess scBERT/scGPT and`);
      console.log('      Run Fine-tune need them (install python3-torch, or set scwb.pythonPath to a Python with torch, and run npm start again).');
      return;
    }
    execFileSync(python, ['-m', 'scwb_worker', 'demo-checkpoints', models, '--genes-from', demo], {
      stdio: 'inherit', env: { ...process.env, PYTHONPATH: path.join(root, 'resources', 'worker') },
    });
  }
  // Recipe files for the tiny models; relative paths are taken from the recipe file's folder. The published
  // defaults apply (minGenes 200: the demo cells express ~430 genes, 5th percentile ~250).
  writeJsonOnce(path.join(ws, 'recipes', 'scbert_demo.json'), {
    recipe: 'scbert', params: { referenceGenes: '../models/scbert_tiny/genes.txt' },
  });
  writeJsonOnce(path.join(ws, 'recipes', 'scgpt_demo.json'), {
    recipe: 'scgpt', params: { vocab: '../models/scGPT_tiny/vocab.json', nTopGenes: 500 },
  });
}
