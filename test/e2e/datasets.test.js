// Browser end-to-end: the demo dataset in the Datasets view, its dataset view with histograms drawn on canvases,
// and right-click -> Preprocess… (scBERT recipe) -> the new file appears in the view.
// Screenshots of each step: .test-artifacts/screenshots/datasets-*.png and preprocess-*.png.
'use strict';
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { useWorkbench, openScwbContainer, webviewFrame, shot, answerOpenDialog, paintedPixels } = require('./workbench');

describe('e2e: datasets', function () {
  const ctx = useWorkbench();

  it('lists the simulated demo dataset with its shape', async () => {
    await openScwbContainer(ctx.wb.page);
    const row = ctx.wb.page.locator('.monaco-list-row', { hasText: 'pbmc_demo.h5ad' }).first();
    await row.waitFor();
    await ctx.wb.page.locator('.monaco-list-row', { hasText: '3,000 cells × 2,000 genes' }).first().waitFor();
    await shot(ctx.wb.page, 'datasets-01-tree');
  });

  it('opens the dataset view: summary, histograms and cell-type composition are drawn', async () => {
    await ctx.wb.page.locator('.monaco-list-row', { hasText: 'pbmc_demo.h5ad' }).first().click();
    const frame = webviewFrame(ctx.wb.page);
    await frame.locator('#summary').waitFor();
    assert.match(await frame.locator('#summary').innerText(), /3,000 cells × 2,000 genes/);
    await frame.locator('#composition').waitFor();
    for (const id of ['#hist-counts', '#hist-genes', '#composition']) {
      const painted = await paintedPixels(frame.locator(id));
      assert.ok(painted > 1000, `${id}: ${painted} painted pixels`);
    }
    assert.match(await frame.locator('#value-kind').innerText(), /raw counts/i);
    await shot(ctx.wb.page, 'datasets-02-dataset-view');
  });

  it('right-click the dataset -> Preprocess… (scBERT) -> the preprocessed file appears in the Datasets view', async () => {
    const page = ctx.wb.page;
    const ws = ctx.wb.workspace;
    const out = path.join(ws, 'data', 'pbmc_demo.scbert.h5ad');
    assert.ok(!fs.existsSync(out), 'no output before');
    const widget = page.locator('.quick-input-widget');
    /** waits for the quick input titled `title`, then picks the row `row` or types `value` and confirms */
    const step = async (title, { row, value } = {}) => {
      await widget.locator('.quick-input-title', { hasText: title }).first().waitFor();
      if (row !== undefined) {
        const item = widget.locator('.quick-input-list .monaco-list-row', { hasText: row }).first();
        await item.waitFor();
        await item.click();
        return;
      }
      if (value !== undefined) await widget.locator('input').fill(value);
      await page.keyboard.press('Enter');
    };
    await page.locator('.monaco-list-row', { hasText: 'pbmc_demo.h5ad' }).first().click({ button: 'right' });
    await page.locator('.context-view .action-label', { hasText: 'Preprocess…' }).first().hover();
    await shot(page, 'preprocess-01-context-menu');
    await page.keyboard.press('Enter');
    await step(/Preprocess pbmc_demo\.h5ad/, { row: 'scBERT' });
    // Only asked when the file holds more than one matrix (X, raw/X, layers).
    const matrix = widget.locator('.quick-input-title', { hasText: 'Which matrix holds the input values?' });
    const genes = widget.locator('.quick-input-title', { hasText: 'Gene names: which names match' });
    const values = widget.locator('.quick-input-title', { hasText: 'What does the input matrix hold?' });
    await matrix.or(genes).or(values).first().waitFor();
    if (await matrix.isVisible()) await step('Which matrix holds the input values?', { row: 'X' });
    // Gene names are asked when var has a column of other gene identifiers (the demo's gene_ids: Ensembl ids);
    // the demo's var_names are the symbols the gene list holds.
    await genes.or(values).first().waitFor();
    if (await genes.isVisible()) await step('Gene names: which names match', { row: 'var_names' });
    // What the values are is always asked, the file's verdict first: the demo holds raw counts.
    await step('What does the input matrix hold?', { row: 'Raw counts' });
    const reference = widget.locator('.quick-input-title', { hasText: /Reference gene list|Open File|Open/ });
    await reference.first().waitFor();
    // The reference gene list through the file dialog (code-server's: a path in the quick input).
    await shot(page, 'preprocess-02-reference-genes');
    await answerOpenDialog(page, path.join(ws, 'models', 'scbert_tiny', 'genes.txt'), 'Minimum expressed genes per cell');
    await step('Minimum expressed genes per cell', { value: '50' });
    await step('A gene named in more than one column of the data', { row: 'First column' });
    await step('Output file (beside the input)', { value: 'pbmc_demo.scbert.h5ad' });
    await step('Ready', { row: 'Run and save the recipe file beside the output' });
    // The notification reports the result; the Datasets view lists the new file (it watches the folder).
    await page.locator('.notifications-toasts', { hasText: /Preprocessed \(scbert\): pbmc_demo\.scbert\.h5ad/ }).first().waitFor({ timeout: 300000 });
    const newRow = page.locator('.monaco-list-row', { hasText: 'pbmc_demo.scbert.h5ad' }).first();
    await newRow.waitFor({ timeout: 60000 });
    assert.ok(fs.statSync(out).size > 0);
    const recipe = JSON.parse(fs.readFileSync(path.join(ws, 'data', 'pbmc_demo.scbert.recipe.json'), 'utf8'));
    assert.strictEqual(recipe.recipe, 'scbert');
    assert.strictEqual(recipe.params.minGenes, 50);
    await shot(page, 'preprocess-03-new-file-listed');
  });
});
