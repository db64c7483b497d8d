// Browser end-to-end: Run Fine-tune… from the command palette on the demo workspace with a tiny scBERT checkpoint ->
// the task's terminal appears, the Runs view follows the run until it completes, the run panel draws its curves,
// the results panel shows the fine-tuned row beside the LR row of the same data, and the row's learning curves.
// Screenshots of each step: .test-artifacts/screenshots/finetune-*.png.
//
// Setup (as a user would in the demo workspace's terminal, with the CLI): a small simulated dataset (300 cells x
// 200 genes, so that CPU training takes a minute, not the quarter of an hour the 2,000-gene demo file takes on a
// busy CI machine), tiny checkpoints over its genes (`scwb_worker demo-checkpoints`, as `npm start` makes them for
// the demo dataset), preprocessing with a scBERT recipe file, and an LR baseline on the same file and split, which
// the fine-tune's own experiment borrows (the demo checkpoint marks the run "demo weights (random)").
'use strict';
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { useWorkbench, openScwbContainer, runCommand, shot, frameWith } = require('./workbench');

const ROOT = path.resolve(__dirname, '..', '..');
const SCWB = path.join(ROOT, 'bin', 'scwb.js');
const PYTHON = '/usr/bin/python3';
const EXPERIMENT = 'pbmc_small_scbert scBERT';

function hasTorch() {
  try {
    execFileSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Answers one step of the Run Fine-tune flow. Every step has the same title, so each waits for what is particular
 * to it: `row` (a list row to click) or `prompt` (the input box's prompt, then `value` is typed and confirmed).
 */
async function answer(page, { row, prompt, value }) {
  const widget = page.locator('.quick-input-widget');
  await widget.locator('.quick-input-title', { hasText: /Run Fine-tune on pbmc_small_scbert\.h5ad/ }).first().waitFor();
  if (row !== undefined) {
    const item = widget.locator('.quick-input-list .monaco-list-row', { hasText: row }).first();
    await item.waitFor();
    await item.click();
    return;
  }
  await page.locator('.quick-input-widget', { hasText: prompt }).first().waitFor();
  await widget.locator('input').fill(value);
  await page.keyboard.press('Enter');
}

/** What `npm start` put in the demo workspace for fine-tuning: the tiny checkpoints and recipe files that use them. */
function checkDemoWorkspace(ws, run) {
  for (const f of ['models/scbert_tiny/scbert_tiny_pretrain.pth', 'models/scbert_tiny/genes.txt', 'models/scGPT_tiny/best_model.pt',
    'models/scGPT_tiny/vocab.json', 'models/scGPT_tiny/args.json']) {
    assert.ok(fs.statSync(path.join(ws, f)).size > 0, f);
  }
  const scbert = JSON.parse(fs.readFileSync(path.join(ws, 'recipes', 'scbert_demo.json'), 'utf8'));
  assert.strictEqual(scbert.params.referenceGenes, '../models/scbert_tiny/genes.txt');
  // The recipes are no dead ends: both preprocess the demo dataset.
  for (const recipe of ['scbert_demo', 'scgpt_demo']) {
    const report = JSON.parse(run(['preprocess', path.join(ws, 'recipes', `${recipe}.json`), path.join(ws, 'data', 'pbmc_demo.h5ad'), path.join(ws, 'data', `pbmc_demo_${recipe}.h5ad`)]).toString());
    assert.ok(report.cellsOut > 2500, `${recipe}: ${JSON.stringify(report).slice(0, 300)}`);
  }
}

function prepareWorkspace(ws) {
  const run = (args, opts = {}) => execFileSync(process.execPath, [SCWB, ...args], { cwd: ws, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  checkDemoWorkspace(ws, run);
  const data = path.join(ws, 'data');
  run(['simulate', '--cells', '300', '--genes', '200', '--seed', '11', '--out', path.join(data, 'pbmc_small.h5ad')]);
  execFileSync(PYTHON, ['-m', 'scwb_worker', 'demo-checkpoints', path.join(ws, 'models_small'), '--genes-from', path.join(data, 'pbmc_small.h5ad')], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONPATH: path.join(ROOT, 'resources', 'worker') },
  });
  const recipe = path.join(ws, 'recipes', 'scbert_small.json');
  fs.mkdirSync(path.dirname(recipe), { recursive: true });
  fs.writeFileSync(recipe, JSON.stringify({ recipe: 'scbert', params: { referenceGenes: '../models_small/scbert_tiny/genes.txt', minGenes: 1 } }));
  run(['preprocess', recipe, path.join(data, 'pbmc_small.h5ad'), path.join(data, 'pbmc_small_scbert.h5ad')]);
  run(['baseline', path.join(data, 'pbmc_small_scbert.h5ad'), '--label', 'cell_type', '--store', path.join(ws, '.scwb', 'runs'), '--experiment', EXPERIMENT]);
}

describe('e2e: Run Fine-tune from the command palette', function () {
  const ctx = useWorkbench();

  it('fine-tunes the tiny scBERT in a task terminal; Runs view, run panel and results show it beside LR', async function () {
    if (!hasTorch()) throw new Error(`${PYTHON} cannot import torch: install python3-torch (scripts/setup.sh does)`);
    const page = ctx.wb.page;
    prepareWorkspace(ctx.wb.workspace);
    await openScwbContainer(page);
    await page.locator('.monaco-list-row', { hasText: 'pbmc_small_scbert.h5ad' }).first().waitFor();
    // The LR baseline made in the setup is listed.
    await page.locator('.monaco-list-row', { hasText: EXPERIMENT }).first().waitFor();

    await runCommand(page, 'scWorkbench: Run Fine-tune…');
    const pick = page.locator('.quick-input-widget');
    const dataset = pick.locator('.quick-input-list .monaco-list-row', { hasText: 'pbmc_small_scbert.h5ad' }).first();
    await dataset.waitFor();
    await dataset.click();
    await answer(page, { row: 'cell_type' });
    await answer(page, { row: 'Stratified 80/20' });
    await answer(page, { row: 'Performer, gene2vec' }); // the scBERT model row
    await answer(page, { row: 'models_small/scbert_tiny' });
    await answer(page, { row: 'None (the published fine-tuning)' });
    await answer(page, { prompt: 'Few-shot fractions', value: '1' });
    await answer(page, { prompt: 'Seeds', value: '0' });
    // Device: asked only when there is a choice (a CUDA device); on a CPU-only machine the step is skipped.
    const cpuRow = pick.locator('.quick-input-list .monaco-list-row', { hasText: 'CPU' }).first();
    await cpuRow.or(page.locator('.quick-input-widget', { hasText: 'Batch size' })).first().waitFor();
    if (await cpuRow.isVisible()) await cpuRow.click();
    await answer(page, { prompt: 'Batch size', value: '8' });
    await shot(page, 'finetune-01-palette-last-step');
    await answer(page, { prompt: 'Epochs', value: '4' });

    // The task's terminal appears and stays.
    await page.locator('.terminal-wrapper .xterm, .integrated-terminal .xterm').first().waitFor({ timeout: 120000 });
    await page.locator('.panel, .part.panel', { hasText: /Fine-tune scBERT( · demo weights \(random\))? on pbmc_small_scbert\.h5ad/ }).first().waitFor({ timeout: 120000 });
    await shot(page, 'finetune-02-task-terminal');

    // The Runs view follows the run; once it trains, its row shows the epoch and loss (best effort: a fast
    // machine may finish between two looks), and it ends completed with its accuracy.
    const runRow = page.locator('.monaco-list-row', { hasText: /scBERT( · demo weights \(random\))? f=1 seed=0/ }).first();
    await runRow.waitFor({ timeout: 120000 });
    const live = page.locator('.monaco-list-row', { hasText: /scBERT( · demo weights \(random\))? f=1 seed=0.*(epoch \d+\/\d+ · loss|accuracy)/ }).first();
    await live.waitFor({ timeout: 600000 });
    await shot(page, 'finetune-03-runs-view-live');

    // The run panel draws the loss curve. (A click on the row opens it too — the host test checks the row's
    // command — but the row re-renders several times a second while the run trains, so the palette is the
    // deterministic way here.)
    await runCommand(page, 'scWorkbench: Open Run Panel');
    const runPick = page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: /scBERT( · demo weights \(random\))? f=1 seed=0/ }).first();
    await runPick.waitFor();
    await runPick.click();
    const runFrame = await frameWith(page, '#run-title');
    await runFrame.locator('#chart-loss').waitFor({ timeout: 600000 });
    await shot(page, 'finetune-04-run-panel');

    const done = page.locator('.monaco-list-row', { hasText: /scBERT( · demo weights \(random\))? f=1 seed=0.*accuracy \d\.\d{3}/ }).first();
    await done.waitFor({ timeout: 1800000 });
    assert.match(await runFrame.locator('#run-status-text').innerText({ timeout: 60000 }), /completed/);
    await shot(page, 'finetune-05-runs-view-completed');

    // The worker's task ends with a notification that offers the results.
    const open = page.locator('.notifications-toasts .monaco-button', { hasText: 'Open Results' }).first();
    await open.waitFor({ timeout: 120000 });
    await open.click();
    const table = (await frameWith(page, '#results-table')).locator('#results-table');
    const rows = table.locator('tbody tr');
    let text = '';
    for (let i = 0; i < 120 && !/scBERT/.test(text); i++) {
      text = await table.innerText();
      if (!/scBERT/.test(text)) await new Promise(r => setTimeout(r, 500));
    }
    assert.match(text, /scBERT/);
    assert.match(text, /LR L1 C=0\.1/);
    assert.strictEqual(await rows.count(), 2, text);
    await shot(page, 'finetune-06-results');

    // The fine-tuned row's learning curves (training and validation loss by epoch, from its events.jsonl).
    const resultsFrame = await frameWith(page, '#results-table');
    await resultsFrame.locator('#results-table tbody tr', { hasText: 'scBERT' }).first().click();
    const learning = resultsFrame.locator('#learning');
    await learning.waitFor({ timeout: 60000 });
    assert.strictEqual(await learning.locator('.series').count(), 2, 'one seed: its train and validation loss');
    assert.strictEqual(await learning.locator('.series').first().locator('.point').count(), 4, 'four epochs');
    await learning.scrollIntoViewIfNeeded();
    await shot(page, 'finetune-07-learning-curves');
  });
});
