// Browser end-to-end: `npm start` serves the workbench with the extension active; the activity bar, the command
// palette and a webview work in a real Chromium.
'use strict';
const assert = require('assert');
const { useWorkbench, openScwbContainer, runCommand, webviewFrame, shot } = require('./workbench');

describe('e2e: npm start serves the workbench', function () {
  const ctx = useWorkbench();

  it('shows the scWorkbench container with its three views', async () => {
    await openScwbContainer(ctx.wb.page);
    for (const name of ['Datasets', 'Checkpoints', 'Runs']) {
      assert.strictEqual(await ctx.wb.page.locator('.pane-header', { hasText: name }).count() > 0, true, `view ${name}`);
    }
    await shot(ctx.wb.page, 'views');
  });

  it('runs "About scWorkbench" from the palette and renders the environment webview', async () => {
    await runCommand(ctx.wb.page, 'scWorkbench: About scWorkbench / Environment');
    const frame = webviewFrame(ctx.wb.page);
    const table = frame.locator('#env-table');
    await table.waitFor();
    const rows = await table.locator('tr').count();
    assert.ok(rows >= 10, `rows: ${rows}`);
    assert.match(await frame.locator('#env-table').innerText(), /VS Code\s+1\.100/);
    // @vscode-elements/elements is bundled locally and upgraded its custom elements under the strict CSP.
    await frame.locator('#refresh').waitFor();
    const upgraded = await frame.locator('#refresh').evaluate(el => !!el.shadowRoot && getComputedStyle(el).display !== 'none');
    assert.strictEqual(upgraded, true);
    await shot(ctx.wb.page, 'about');
  });

  it('restores the environment panel after the window reloads (webview serializer)', async () => {
    const page = ctx.wb.page;
    await page.reload();
    await page.locator('.monaco-workbench').waitFor();
    // No command is run: VS Code revives the panel through the extension's serializer.
    const frame = webviewFrame(page);
    await frame.locator('#env-table').waitFor();
    assert.match(await frame.locator('#env-table').innerText(), /Python interpreter/);
    await shot(page, 'about-restored');
  });
});
