// Browser end-to-end: the demo dataset in the Datasets view, its dataset view with histograms drawn on canvases.
'use strict';
const assert = require('assert');
const { startWorkbench, openScwbContainer, webviewFrame, shot, paintedPixels } = require('./workbench');

describe('e2e: datasets', function () {
  let wb;
  before(async () => { wb = await startWorkbench(); });
  afterEach(async function () {
    if (this.currentTest && this.currentTest.state === 'failed' && wb) await shot(wb.page, `failed-${this.currentTest.title.slice(0, 40).replace(/\W+/g, '_')}`);
  });
  after(async () => { if (wb) await wb.stop(); });

  it('lists the simulated demo dataset with its shape', async () => {
    await openScwbContainer(wb.page);
    const row = wb.page.locator('.monaco-list-row', { hasText: 'pbmc_demo.h5ad' }).first();
    await row.waitFor();
    await wb.page.locator('.monaco-list-row', { hasText: '3,000 cells × 2,000 genes' }).first().waitFor();
    await shot(wb.page, 'datasets-tree');
  });

  it('opens the dataset view: summary, histograms and cell-type composition are drawn', async () => {
    await wb.page.locator('.monaco-list-row', { hasText: 'pbmc_demo.h5ad' }).first().click();
    const frame = webviewFrame(wb.page);
    await frame.locator('#summary').waitFor();
    assert.match(await frame.locator('#summary').innerText(), /3,000 cells × 2,000 genes/);
    await frame.locator('#composition').waitFor();
    for (const id of ['#hist-counts', '#hist-genes', '#composition']) {
      const painted = await paintedPixels(frame.locator(id));
      assert.ok(painted > 1000, `${id}: ${painted} painted pixels`);
    }
    assert.match(await frame.locator('#value-kind').innerText(), /raw counts/i);
    await shot(wb.page, 'dataset-view');
  });
});
