// Browser end-to-end: in an untrusted workspace (restricted mode) scWorkbench shows data but runs nothing.
'use strict';
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { useWorkbench, openScwbContainer, runCommand, webviewFrame, shot } = require('./workbench');

describe('e2e: untrusted workspace', function () {
  const ctx = useWorkbench({ trust: false });

  it('still lists datasets, but Run Baseline refuses to run and creates no run', async () => {
    await openScwbContainer(ctx.wb.page);
    await ctx.wb.page.locator('.monaco-list-row', { hasText: '3,000 cells' }).first().waitFor();
    await runCommand(ctx.wb.page, 'scWorkbench: Run Baseline…');
    await ctx.wb.page.locator('.notification-list-item', { hasText: 'runs nothing in an untrusted workspace' }).first().waitFor();
    assert.strictEqual(fs.existsSync(path.join(ctx.wb.workspace, '.scwb')), false);
    await shot(ctx.wb.page, 'untrusted');
  });

  it('the environment panel says restricted mode and starts no Python', async () => {
    await runCommand(ctx.wb.page, 'scWorkbench: About scWorkbench / Environment');
    const frame = webviewFrame(ctx.wb.page);
    await frame.locator('#env-table').waitFor();
    assert.match(await frame.locator('#env-table').innerText(), /restricted mode: nothing is run/);
    assert.match(await frame.locator('#python-problem').innerText(), /not trusted/);
  });
});
