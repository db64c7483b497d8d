// Browser end-to-end: the first start of `npm start` as a new user meets it. The scWorkbench view and the walkthrough
// "From the demo to a paper table" open by themselves; each step's button is pressed in turn and the flow it starts
// is answered as a user does: open the demo dataset -> Run Baseline -> Run Fine-tune (the tiny demo scBERT) ->
// results beside the code (the fine-tuned row beside the LR row) -> a paper preset in the grid. Each step shows as
// done. Screenshots of every step: .test-artifacts/screenshots/walkthrough-*.png (media/walkthrough/ holds
// reduced copies for the walkthrough itself).
//
// Setup (as the demo README says, with the CLI in the workspace's terminal): the demo dataset preprocessed with
// the demo scBERT recipe, so that the baseline and the fine-tune use the same data and land in one experiment.
// Every wait is on what the workbench shows, never on time: a loaded machine only makes it slower.
'use strict';
const assert = require('assert');
const path = require('path');
const { execFileSync } = require('child_process');
const { useWorkbench, runCommand, shot, frameWith } = require('./workbench');

const ROOT = path.resolve(__dirname, '..', '..');
const SCWB = path.join(ROOT, 'bin', 'scwb.js');
/**
 * The experiment of both runs: Run Fine-tune joins the newest LR baseline of the same data and split, else names
 * its experiment '<dataset stem> fine-tune'; the baseline takes that name, so both rules give one table.
 */
const EXPERIMENT = 'pbmc_demo_scbert fine-tune';
const LONG = 1800000;

/** Brings the walkthrough to the front (a step's editor may cover it) as a user does: from the palette. */
async function showWalkthrough(page) {
  const container = page.locator('.gettingStartedContainer', { hasText: 'From the demo to a paper table' }).first();
  if (!(await container.isVisible())) await runCommand(page, 'scWorkbench: Open the Walkthrough');
  await container.waitFor();
}

/** The step of the walkthrough, expanded; returns its button (the description's command link). */
async function openStep(page, id) {
  await showWalkthrough(page);
  const step = page.locator(`button.getting-started-step[data-step-id$="${id}"]`);
  await step.waitFor();
  if ((await step.getAttribute('aria-expanded')) !== 'true') await step.click();
  const button = page.locator(`[x-step-description-for$="${id}"] .monaco-button`).first();
  await button.waitFor();
  return button;
}

/** Waits until the walkthrough shows the step as done (its completion event came). */
async function stepDone(page, id) {
  await showWalkthrough(page);
  await page.locator(`.codicon[data-done-step-id$="${id}"][aria-checked="true"]`).first().waitFor({ state: 'attached', timeout: LONG });
}

/** Picks `row` in the quick pick whose placeholder is `placeholder`, then waits until that pick has gone. */
async function pick(page, placeholder, row) {
  const input = page.locator(`.quick-input-widget input[placeholder="${placeholder}"]`);
  await input.waitFor();
  const item = page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: row }).first();
  await item.waitFor();
  await item.click();
  await input.waitFor({ state: 'detached' });
}

/** Picks `row` in the quick pick titled `title` (no placeholder), then waits until that pick has gone. */
async function pickTitled(page, title, row) {
  const widget = page.locator('.quick-input-widget');
  await widget.locator('.quick-input-title', { hasText: title }).first().waitFor();
  const item = widget.locator('.quick-input-list .monaco-list-row', { hasText: row }).first();
  await item.waitFor();
  await item.click();
  await widget.locator('.quick-input-title', { hasText: title }).first().waitFor({ state: 'hidden' });
}

/** Types `value` into the input box that asks `prompt`, confirms, and waits until that question has gone. */
async function type(page, prompt, value) {
  const widget = page.locator('.quick-input-widget');
  const message = widget.locator('.quick-input-message', { hasText: prompt }).first();
  await message.waitFor();
  const input = widget.locator('input');
  await input.fill(value);
  assert.strictEqual(await input.inputValue(), value);
  await page.keyboard.press('Enter');
  await message.waitFor({ state: 'hidden' });
}

describe('e2e: the walkthrough from the demo to a paper table', function () {
  const ctx = useWorkbench({ walkthrough: true });

  it('opens on the first start and leads from the demo dataset to results beside the code and a paper preset', async () => {
    const page = ctx.wb.page;
    const ws = ctx.wb.workspace;
    execFileSync(process.execPath, [SCWB, 'preprocess', path.join(ws, 'recipes', 'scbert_demo.json'), path.join(ws, 'data', 'pbmc_demo.h5ad'),
      path.join(ws, 'data', 'pbmc_demo_scbert.h5ad')], { cwd: ws, stdio: ['ignore', 'pipe', 'pipe'] });

    // First start: the scWorkbench view (its Datasets list the demo) and the walkthrough beside it.
    await page.locator('.gettingStartedContainer', { hasText: 'From the demo to a paper table' }).first().waitFor({ timeout: LONG });
    await page.locator('.pane-header', { hasText: 'Datasets' }).first().waitFor();
    await page.locator('.monaco-list-row', { hasText: 'pbmc_demo.h5ad' }).first().waitFor();
    await page.locator('.monaco-list-row', { hasText: 'pbmc_demo_scbert.h5ad' }).first().waitFor();
    await shot(page, 'walkthrough-00-first-start');

    // 1. Open the demo dataset: a pick over the workspace's datasets, then its dataset view.
    await (await openStep(page, 'openDataset')).click();
    await pickTitled(page, 'Dataset', 'data/pbmc_demo.h5ad');
    const dataset = await frameWith(page, '#summary', LONG);
    await dataset.locator('#summary', { hasText: '3,000' }).waitFor({ timeout: LONG });
    await dataset.locator('#stats').waitFor({ timeout: LONG }); // the histograms, once the cells are read
    await shot(page, 'walkthrough-01-dataset');
    await stepDone(page, 'openDataset');

    // 2. Run Baseline on the preprocessed demo, in the experiment the fine-tune will join.
    await (await openStep(page, 'runBaseline')).click();
    await pickTitled(page, 'Dataset', 'data/pbmc_demo_scbert.h5ad');
    await pick(page, 'Label column (cell types)', 'cell_type');
    await pick(page, 'Split', 'Stratified 80/20, seed 2022');
    await pick(page, 'Logistic regression', 'L1, C = 0.1');
    await shot(page, 'walkthrough-02-baseline');
    await type(page, 'Few-shot fractions', '1');
    await type(page, 'Seeds', '0');
    await type(page, 'Experiment name', EXPERIMENT);
    const results = await frameWith(page, '#results-table', LONG);
    await results.locator('#results-table tbody tr', { hasText: 'LR' }).first().waitFor({ timeout: LONG });
    await stepDone(page, 'runBaseline');

    // 3. Run Fine-tune with the tiny demo scBERT: a tenth of the training cells, one epoch, on the CPU.
    await (await openStep(page, 'runFinetune')).click();
    await pickTitled(page, 'Dataset', 'data/pbmc_demo_scbert.h5ad');
    await pick(page, 'Label column (cell types)', 'cell_type');
    await pick(page, 'Split', 'Stratified 80/20');
    await pick(page, 'Model', 'Performer, gene2vec');
    await pick(page, 'scBERT checkpoint', 'scbert_tiny');
    await pick(page, 'Ablation', 'None (the published fine-tuning)');
    await type(page, 'Few-shot fractions', '0.1');
    await type(page, 'Seeds', '0');
    // Device: asked only when there is a choice (a CUDA device); on a CPU-only machine the step is skipped.
    const cpu = page.locator('.quick-input-widget input[placeholder="Where to train"]');
    const batch = page.locator('.quick-input-widget .quick-input-message', { hasText: 'Batch size' });
    await cpu.or(batch).first().waitFor();
    if (await cpu.isVisible()) await pick(page, 'Where to train', 'CPU');
    await type(page, 'Batch size', '8');
    await type(page, 'Epochs', '1');
    // The Runs view follows the run: its row shows the epoch while it trains, its accuracy once done.
    const runRow = page.locator('.monaco-list-row', { hasText: /scBERT.* f=0\.1 seed=0.*(epoch \d|accuracy)/ }).first();
    await runRow.waitFor({ timeout: LONG });
    await shot(page, 'walkthrough-03-finetune');
    await stepDone(page, 'runFinetune');
    await page.locator('.monaco-list-row', { hasText: /scBERT.* f=0\.1 seed=0.*accuracy \d\.\d{3}/ }).first().waitFor({ timeout: LONG });

    // 4. Results beside the code: the demo README on the left, the fine-tuned row beside the LR row on the right.
    await page.keyboard.press('Control+P');
    await page.locator('.quick-input-widget input').fill('README.md');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'README.md' }).first().waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.tabs-container .tab', { hasText: 'README.md' }).first().waitFor();
    await (await openStep(page, 'results')).click();
    const table = (await frameWith(page, '#results-table', LONG)).locator('#results-table');
    await table.locator('tbody tr', { hasText: 'scBERT' }).first().waitFor({ timeout: LONG });
    const text = await table.innerText();
    assert.match(text, /LR L1 C=0\.1/);
    // The fine-tune ran its LR baseline at its own fraction (0.1) beside the user's full-data one (1): three rows,
    // and the scBERT row has an LR row at the same fraction to be compared with.
    assert.strictEqual(await table.locator('tbody tr').count(), 3, text);
    assert.match(text, /LR L1 C=0\.1[^\n]*\t0\.1\t/);
    assert.match(text, /LR L1 C=0\.1[^\n]*\t1\t/);
    assert.ok(await page.locator('.editor-group-container').count() >= 2, 'the results open beside the editor');
    await shot(page, 'walkthrough-04-results');
    await stepDone(page, 'results');

    // 5. A paper preset: the grid editor with the published presets.
    await (await openStep(page, 'paperPreset')).click();
    const grid = await frameWith(page, '#preset', LONG);
    await grid.locator('#preset').waitFor();
    await shot(page, 'walkthrough-05-preset');
    await stepDone(page, 'paperPreset');

    // Every step shows as done.
    for (const id of ['openDataset', 'runBaseline', 'runFinetune', 'results', 'paperPreset']) await stepDone(page, id);
    await shot(page, 'walkthrough-06-all-done');
  });
});
