// Page helpers for the browser end-to-end tests: the workbench served by `npm start`, driven by Chromium.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { ROOT, launchBrowser, freePort, killGroup } = require('../harness/code-server');

const ARTIFACTS = path.join(ROOT, '.test-artifacts', 'e2e');
/** Screenshots of every step, kept as test artifacts (scripts/test.sh lists them): <flow>-<nn>-<step>.png */
const SCREENSHOTS = path.join(ROOT, '.test-artifacts', 'screenshots');

/**
 * Runs `npm start` (scripts/start.sh) exactly as a user does, in its own process group, on a free port.
 * `walkthrough`: whether the first start opens the walkthrough, as `npm start` does for a user; the tests of other
 * flows start without it (SCWB_DEMO_WALKTHROUGH=0 for scripts/demo-workspace.js).
 */
async function startWorkbench({ trust = true, insideGitRepository = false, walkthrough = false } = {}) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const demoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'scwb-e2e-'));
  // as the default demo folder (.demo/ in the project) is: inside a git repository
  if (insideGitRepository) require('child_process').execFileSync('git', ['init', '-q', demoDir]);
  const port = await freePort();
  const log = path.join(ARTIFACTS, 'npm-start.log');
  const out = fs.openSync(log, 'w');
  const child = spawn('npm', ['start'], {
    cwd: ROOT, detached: true, stdio: ['ignore', out, out],
    env: { ...process.env, SCWB_PORT: String(port), SCWB_DEMO_DIR: demoDir, SCWB_DEMO_WALKTHROUGH: walkthrough ? '1' : '0' },
  });
  fs.closeSync(out);
  let exited = false;
  child.once('exit', () => { exited = true; });
  let url;
  while (!url) {
    if (exited) throw new Error(`npm start exited early:\n${fs.readFileSync(log, 'utf8').slice(-3000)}`);
    const m = /scWorkbench is running: (http:\/\/127\.0\.0\.1:\d+\/\S*)/.exec(fs.readFileSync(log, 'utf8'));
    if (m) url = m[1];
    else await new Promise(r => setTimeout(r, 250));
  }
  const browser = await launchBrowser(demoDir);
  const page = browser.pages()[0] || await browser.newPage();
  page.setDefaultTimeout(60000);
  page.on('console', m => { if (m.type() === 'error' && process.env.SCWB_DEBUG_CONSOLE) console.log('  [browser]', m.text().slice(0, 300)); });
  await page.goto(url);
  await page.locator('.monaco-workbench').waitFor();
  await page.locator('.statusbar').waitFor();
  await answerTrustPrompt(page, trust);
  return {
    url, page, browser, demoDir, workspace: path.join(demoDir, 'workspace'),
    async stop() {
      await browser.close().catch(() => undefined);
      killGroup(child.pid, 'SIGINT');
      await new Promise(r => setTimeout(r, 1500));
      killGroup(child.pid, 'SIGKILL');
      fs.rmSync(demoDir, { recursive: true, force: true });
    },
  };
}

/** The demo workspace asks whether to trust it, as desktop VS Code does: answer like a user. */
async function answerTrustPrompt(page, trust) {
  const button = page.locator('.monaco-dialog-box .monaco-button', { hasText: trust ? 'Yes, I trust the authors' : "No, I don't trust the authors" });
  try {
    await button.first().waitFor({ timeout: 15000 });
  } catch {
    if (!trust) throw new Error('the workspace trust prompt did not appear');
    return; // no trust prompt (trust already granted)
  }
  await button.first().click();
  await page.locator('.monaco-dialog-box').waitFor({ state: 'detached' });
}

async function openScwbContainer(page) {
  await page.locator('.activitybar .action-label[aria-label="scWorkbench"]').first().click();
  await page.locator('.pane-header', { hasText: 'Datasets' }).first().waitFor();
}

/** Runs a command from the palette by its title (waits for the row: commands register after activation). */
async function runCommand(page, title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await input.fill('>' + title);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor();
  await page.keyboard.press('Enter');
}

/** The content frame of the (last) visible webview. */
function webviewFrame(page) {
  return page.frameLocator('iframe.webview.ready').last().frameLocator('#active-frame');
}

async function shot(page, name) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}

/**
 * The user's save dialog as code-server shows it (VS Code's simple file dialog: a quick input holding the path):
 * types `file` (absolute) and confirms; waits until the file exists and returns its text.
 */
async function answerSaveDialog(page, file) {
  const widget = page.locator('.quick-input-widget');
  const input = widget.locator('input');
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  await input.waitFor();
  // The dialog fills in its suggested path and lists the folder asynchronously after it opens, and may put its own
  // path back over what was typed: type ours once it has settled, check it is still there, and confirm; while the
  // dialog stays open without writing the file, type and confirm again.
  for (let attempt = 0; attempt < 4 && !fs.existsSync(file); attempt++) {
    await sleep(1000);
    if (attempt > 0 && !(await widget.isVisible())) break;
    await input.fill(file);
    await sleep(500);
    if ((await input.inputValue()) !== file) continue;
    await page.keyboard.press('Enter');
    for (let i = 0; i < 20 && !fs.existsSync(file); i++) await sleep(250);
  }
  for (let i = 0; i < 80 && !fs.existsSync(file); i++) await sleep(250);
  return fs.readFileSync(file, 'utf8');
}

/**
 * The user's open dialog as code-server shows it (a quick input holding a path): types `file` (absolute) and
 * confirms, until the quick input titled `next` (the flow's next question) shows. As in the save dialog, the dialog
 * may put its suggested folder back over what was typed while it settles: type again when it did.
 */
async function answerOpenDialog(page, file, next) {
  const widget = page.locator('.quick-input-widget');
  const input = widget.locator('input');
  const nextTitle = widget.locator('.quick-input-title', { hasText: next }).first();
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  await input.waitFor();
  for (let attempt = 0; attempt < 6; attempt++) {
    await sleep(attempt === 0 ? 500 : 1000);
    if (await nextTitle.isVisible()) return;
    await input.fill(file);
    await sleep(300);
    if ((await input.inputValue()) !== file) continue;
    await page.keyboard.press('Enter');
    for (let i = 0; i < 20 && !(await nextTitle.isVisible()); i++) await sleep(250);
    if (await nextTitle.isVisible()) return;
  }
  await nextTitle.waitFor();
}

/**
 * The content frame of the webview that shows `selector` (the run panel and the results panel are open at once, so
 * "the last webview" is not enough): the page's frames are polled for up to `ms`.
 */
async function frameWith(page, selector, ms = 120000) {
  const until = Date.now() + ms;
  for (;;) {
    for (const frame of page.frames()) {
      if (await frame.$(selector).catch(() => null)) return frame;
    }
    if (Date.now() > until) throw new Error(`no webview shows ${selector} after ${ms / 1000} s`);
    await new Promise(r => setTimeout(r, 500));
  }
}

/** Number of non-transparent pixels on a canvas inside a frame. */
async function paintedPixels(locator) {
  return locator.evaluate(c => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
    return n;
  });
}

/**
 * Mocha hooks for a suite that drives one workbench: starts it before the suite, screenshots a failed test,
 * stops it after. Returns a holder whose `wb` is the running workbench.
 */
function useWorkbench(options) {
  const holder = { wb: undefined };
  before(async () => { holder.wb = await startWorkbench(options); });
  afterEach(async function () {
    const t = this.currentTest;
    if (t && t.state === 'failed' && holder.wb) await shot(holder.wb.page, `failed-${t.title.slice(0, 40).replace(/\W+/g, '_')}`);
  });
  after(async () => { if (holder.wb) await holder.wb.stop(); });
  return holder;
}

module.exports = { useWorkbench, startWorkbench, openScwbContainer, runCommand, webviewFrame, frameWith, shot, answerSaveDialog, answerOpenDialog, paintedPixels, ARTIFACTS, SCREENSHOTS };
