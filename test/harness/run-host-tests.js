#!/usr/bin/env node
// Runs the mocha suites in out/test/host/ INSIDE the real VS Code extension host of code-server.
// code-server rejects --extensionDevelopmentPath, so the browser opens the workbench with the same `payload` that
// VS Code's "Extension Tests" launch uses (extensionDevelopmentPath + extensionTestsPath); our mocha runner
// (test/host/index.ts) writes its counts to a file named by SCWB_HOST_RESULT.
// Usage: node test/harness/run-host-tests.js [grep]
'use strict';
const fs = require('fs');
const path = require('path');
const { ROOT, startCodeServer, launchBrowser, makeStateDir, tail } = require('./code-server');
const { makeTestWorkspace } = require('./host-workspace');

const ARTIFACTS = path.join(ROOT, '.test-artifacts');
// A guard for the whole run (not a per-test limit): a hung host must not hang CI.
const GUARD_MS = Number(process.env.SCWB_HOST_GUARD_MS || 20 * 60 * 1000);

async function main() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const stateDir = makeStateDir('scwb-host-');
  const resultFile = path.join(stateDir, 'host-result.json');
  const ws = makeTestWorkspace(stateDir);
  const grep = process.argv[2] || '';
  const server = await startCodeServer({
    workspace: ws, stateDir,
    env: { SCWB_HOST_RESULT: resultFile, SCWB_HOST_GREP: grep, SCWB_TEST_ARTIFACTS: ARTIFACTS, SCWB_TEST_WORKSPACE: ws },
  });
  let result = null;
  let browser;
  const recent = [];
  try {
    browser = await launchBrowser(stateDir);
    const page = browser.pages()[0] || await browser.newPage();
    await page.exposeFunction('codeAutomationExit', () => undefined);
    page.on('console', m => {
      const t = m.text().replace(/%c/g, '');
      recent.push(t.slice(0, 400));
      if (recent.length > 60) recent.shift();
      if (/(^|\s)(PASS|FAIL|HOST) /.test(t) || process.env.SCWB_DEBUG_CONSOLE) console.log('  ' + t.slice(0, 400));
    });
    const authority = `127.0.0.1:${server.port}`;
    const payload = [
      ['extensionDevelopmentPath', `vscode-remote://${authority}${ROOT}`],
      ['extensionTestsPath', `vscode-remote://${authority}${path.join(ROOT, 'out', 'test', 'host', 'index.js')}`],
    ];
    const url = `${server.url}?folder=${encodeURIComponent(ws)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    await page.goto(url);
    const until = Date.now() + GUARD_MS;
    while (!fs.existsSync(resultFile) && Date.now() < until) await new Promise(r => setTimeout(r, 250));
    await page.screenshot({ path: path.join(ARTIFACTS, 'host-final.png') }).catch(() => undefined);
    if (fs.existsSync(resultFile)) result = JSON.parse(fs.readFileSync(resultFile, 'utf8'));
  } finally {
    if (browser) await browser.close().catch(() => undefined);
    await server.stop();
  }
  if (!result) {
    console.log('the extension-host tests did not report; the last browser console lines and the code-server log:');
    for (const line of recent) console.log('  | ' + line);
    console.log(tail(server.log));
    result = { passes: 0, failures: 1 };
  }
  fs.writeFileSync(path.join(ARTIFACTS, 'host.json'), JSON.stringify(result));
  console.log(`host: ${result.passes} passed, ${result.failures} failed`);
  fs.rmSync(stateDir, { recursive: true, force: true });
  process.exitCode = result.failures ? 1 : 0;
}

main().catch(e => {
  console.error(e);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  fs.writeFileSync(path.join(ARTIFACTS, 'host.json'), JSON.stringify({ passes: 0, failures: 1 }));
  console.log('host: 0 passed, 1 failed');
  process.exitCode = 1;
});
