// Browser end-to-end: `npm start` greets with the workbench and its walkthrough only: not VS Code's welcome page and
// no "git repository found in the parent folders" prompt, even when the demo workspace lies inside a git repository
// (as .demo/ does).
'use strict';
const assert = require('assert');
const { useWorkbench, openScwbContainer, shot } = require('./workbench');

describe('e2e: first use of npm start', function () {
  const ctx = useWorkbench({ insideGitRepository: true, walkthrough: true });

  it('opens the scWorkbench walkthrough, no other welcome page and no git parent-folder prompt', async () => {
    const page = ctx.wb.page;
    await openScwbContainer(page);
    // the extension is active and has read the demo dataset: the workbench has settled
    await page.locator('.monaco-list-row', { hasText: '3,000 cells' }).first().waitFor();
    // the git extension has looked at the workspace: the Source Control container shows (its title is the side
    // bar's own title when it holds one view, a pane header when it holds several)
    await page.keyboard.press('Control+Shift+G');
    await page.locator('.part.sidebar .composite.title, .pane-header', { hasText: /source control/i }).first().waitFor();
    await new Promise(r => setTimeout(r, 3000)); // the prompt comes from a scan that ends after the view shows
    // the one greeting page is scWorkbench's walkthrough
    await page.locator('.gettingStartedContainer', { hasText: 'From the demo to a paper table' }).first().waitFor();
    const tabs = await page.locator('.tabs-container .tab').allInnerTexts();
    assert.ok(tabs.filter(t => /welcome|walkthrough/i.test(t)).length <= 1, `editor tabs: ${tabs.join(', ')}`);
    const toasts = await page.locator('.notifications-toasts .notification-list-item').allInnerTexts();
    const center = await page.locator('.notifications-center .notification-list-item').allInnerTexts();
    const all = [...toasts, ...center].join('\n');
    assert.doesNotMatch(all, /git repository|parent folders/i);
    await shot(page, 'first-use');
  });
});
