// Browser end-to-end: with a file open in the editor, right-click the demo dataset -> Run Baseline… -> answer the
// quick picks as a user does -> the results panel opens beside the code (the file on the left, the panel on the
// right) with the paper-style table and the confusion matrix; the table and a figure are exported.
// Screenshots of each step: .test-artifacts/screenshots/baseline-*.png.
'use strict';
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { useWorkbench, openScwbContainer, webviewFrame, shot, answerSaveDialog, paintedPixels } = require('./workbench');

/** Accepts the current quick input (quick pick or input box) after checking its title. */
async function accept(page, titlePattern, value) {
  const widget = page.locator('.quick-input-widget');
  await widget.locator('.quick-input-title', { hasText: titlePattern }).first().waitFor();
  if (value !== undefined) await widget.locator('input').fill(value);
  await page.keyboard.press('Enter');
}

describe('e2e: Run Baseline from the Datasets view', function () {
  const ctx = useWorkbench();

  it('right-click the demo dataset -> Run Baseline -> results beside the code: table, confusion matrix, exports', async () => {
    const page = ctx.wb.page;
    // Code on the left: the demo workspace's README open in the editor (Quick Open, as a user does).
    await page.keyboard.press('Control+P');
    await page.locator('.quick-input-widget input').fill('README.md');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'README.md' }).first().waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.tabs-container .tab', { hasText: 'README.md' }).first().waitFor();
    await openScwbContainer(page);
    const row = page.locator('.monaco-list-row', { hasText: 'pbmc_demo.h5ad' }).first();
    await page.locator('.monaco-list-row', { hasText: '3,000 cells' }).first().waitFor();
    await row.click({ button: 'right' });
    // VS Code's context menu acts on the focused entry: hover it, then Enter (as with the keyboard).
    await page.locator('.context-view .action-label', { hasText: 'Run Baseline…' }).first().hover();
    await page.keyboard.press('Enter');
    const title = /Run Baseline on pbmc_demo\.h5ad/;
    const pick = page.locator('.quick-input-widget');
    // The demo dataset holds raw counts: the flow says so and offers to preprocess first; go on with raw counts.
    await pick.locator('.quick-input-list .monaco-list-row', { hasText: 'Continue with raw counts' }).first().waitFor();
    assert.match(await pick.locator('input').getAttribute('placeholder'), /raw counts; the published baseline is fitted on log-normalised data/);
    await shot(page, 'baseline-01-raw-counts-warning');
    await accept(page, title, 'Continue with raw counts');
    await pick.locator('.quick-input-list .monaco-list-row', { hasText: 'cell_type' }).first().waitFor();
    await accept(page, title); // label column: cell_type (first candidate)
    await pick.locator('.quick-input-list .monaco-list-row', { hasText: 'Stratified 80/20, seed 2022' }).first().waitFor();
    await accept(page, title); // split: the published default
    await pick.locator('.quick-input-list .monaco-list-row', { hasText: 'L1, C = 0.1' }).first().waitFor();
    await accept(page, title); // model: the published baseline
    await accept(page, title, '1'); // fractions
    await accept(page, title, '0'); // seeds
    await accept(page, title, 'e2e demo baseline'); // experiment name
    // The results panel opens beside the editor once the run is done.
    const frame = webviewFrame(page);
    const table = frame.locator('#results-table');
    await table.waitFor({ timeout: 300000 });
    const text = await table.innerText();
    assert.match(text, /pbmc_demo/);
    assert.match(text, /L1/);
    const rows = await table.locator('tbody tr').count();
    assert.strictEqual(rows, 1);
    const accuracy = Number(/\b(0\.\d{3}|1\.000)\b/.exec(text)?.[1]);
    assert.ok(accuracy > 0.3 && accuracy <= 1, `accuracy ${accuracy}`);
    await frame.locator('#confusion').waitFor();
    const painted = await paintedPixels(frame.locator('#confusion'));
    assert.ok(painted > 5000, `confusion matrix painted pixels: ${painted}`);
    // The Runs view shows the experiment.
    await page.locator('.monaco-list-row', { hasText: 'e2e demo baseline' }).first().waitFor();
    // Beside the code: two editor groups, the README on the left, the results panel on the right.
    const groups = page.locator('.editor-group-container');
    assert.strictEqual(await groups.count(), 2);
    const boxes = await Promise.all([0, 1].map(i => groups.nth(i).boundingBox()));
    assert.ok(boxes[0].x < boxes[1].x, 'left and right');
    assert.ok(await groups.nth(0).locator('.tab', { hasText: 'README.md' }).count() > 0, 'the code is on the left');
    assert.ok(await groups.nth(1).locator('.tab', { hasText: 'scWorkbench: Results' }).count() > 0, 'the results on the right');
    // The paper-style table: the LR baseline is the reference, the footnote explains intervals and marks.
    assert.match(text, /\(reference\)/);
    assert.match(await frame.locator('#table-footnote').innerText(), /Mean ± half-width of the 95% CI over seeds/);
    await shot(page, 'baseline-02-results-beside-code');

    // Counts instead of proportions in the confusion matrix.
    // (the dropdown's options live in the element's shadow DOM: choose with the keyboard, as a user can)
    await frame.locator('#confusion-scale').click();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await frame.locator('figcaption', { hasText: 'Counts (shading row-normalised)' }).first().waitFor();
    await shot(page, 'baseline-03-confusion-counts');

    // Export the table as Markdown and the confusion matrix as SVG, through the save dialog.
    const ws = ctx.wb.workspace;
    await frame.locator('#export-md').click();
    const md = await answerSaveDialog(page, path.join(ws, 'e2e-table.md'));
    assert.match(md, /^\*\*e2e demo baseline \(pbmc\\_demo, fraction 1\)\*\*/);
    assert.match(md, /\| Model \| n \| Accuracy \| Macro-F1 \|/);
    assert.ok(md.includes(accuracy.toFixed(3)), md);
    await frame.locator('#svg-confusion-svg').click();
    const svg = await answerSaveDialog(page, path.join(ws, 'e2e-confusion.svg'));
    assert.match(svg, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.ok((svg.match(/class="cell"/g) || []).length >= 4, 'one cell per pair of classes');
    await frame.locator('#png-confusion').click();
    await answerSaveDialog(page, path.join(ws, 'e2e-confusion.png'));
    assert.deepStrictEqual([...fs.readFileSync(path.join(ws, 'e2e-confusion.png')).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG file');
    await shot(page, 'baseline-04-exported');
  });
});
