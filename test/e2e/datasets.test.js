// Browser end-to-end: the demo dataset in the Datasets view, its dataset view with histograms drawn on canvases.
'use strict';
const assert = require('assert');
const { useWorkbench, openScwbContainer, webviewFrame, shot, paintedPixels } = require('./workbench');

describe('e2e: datasets', function () {
  const ctx = useWorkbench();

  it('lists the simulated demo dataset with its shape', async () => {
    await openScwbContainer(ctx.wb.page);
    const row = ctx.wb.page.locator('.monaco-list-row', { hasText: 'pbmc_demo.h5ad' }).first();
    await row.waitFor();
    await ctx.wb.page.locator('.monaco-list-row', { hasText: '3,000 cells × 2,000 genes' }).first().waitFor();
    await shot(ctx.wb.page, 'datasets-tree');
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
    await shot(ctx.wb.page, 'dataset-view');
  });
});
