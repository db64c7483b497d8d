// Starts and stops code-server (the real VS Code 1.100 server) for the extension-host and browser tests.
// Every process it starts lives in its own process group and is killed as a group; it binds 127.0.0.1 only,
// and all its state (config, user data, extensions, XDG folders, temp files) lives under one temp folder.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const TOOLS = path.join(ROOT, '.tools');
const CODE_SERVER = path.join(TOOLS, 'node_modules', '.bin', 'code-server');
const CHROMIUM = process.env.SCWB_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** A private state folder for one code-server run (also used as TMPDIR / XDG_* for everything it starts). */
function makeStateDir(prefix = 'scwb-cs-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  for (const d of ['user', 'ext', 'xdg-config', 'xdg-data', 'xdg-cache', 'tmp', 'home']) fs.mkdirSync(path.join(dir, d));
  return dir;
}

function isolatedEnv(stateDir, extra = {}) {
  return {
    ...process.env,
    HOME: path.join(stateDir, 'home'),
    TMPDIR: path.join(stateDir, 'tmp'),
    XDG_CONFIG_HOME: path.join(stateDir, 'xdg-config'),
    XDG_DATA_HOME: path.join(stateDir, 'xdg-data'),
    XDG_CACHE_HOME: path.join(stateDir, 'xdg-cache'),
    ...extra,
  };
}

function baseArgs(stateDir) {
  return ['--config', path.join(stateDir, 'config.yaml'), '--user-data-dir', path.join(stateDir, 'user'),
    '--extensions-dir', path.join(stateDir, 'ext'), '--disable-telemetry', '--disable-update-check',
    '--disable-getting-started-override', '--auth', 'none'];
}

async function waitHealthy(port, ms = 60000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise(resolve => {
      const req = require('http').get({ host: '127.0.0.1', port, path: '/healthz', timeout: 1000 }, res => { res.resume(); resolve(res.statusCode === 200); });
      req.on('error', () => resolve(false));
      req.on('timeout', () => { req.destroy(); resolve(false); });
    });
    if (ok) return;
    await new Promise(r => setTimeout(r, 250));
  }
  throw new Error(`code-server did not answer on 127.0.0.1:${port} within ${ms} ms`);
}

/**
 * Starts code-server on a workspace folder. Options: { workspace, stateDir?, trust? (default true), env? }.
 * Returns { port, url, stateDir, log, stop() }.
 */
async function startCodeServer(opts) {
  if (!fs.existsSync(CODE_SERVER)) throw new Error(`code-server is not installed in ${TOOLS}: run scripts/setup.sh`);
  const stateDir = opts.stateDir || makeStateDir();
  const port = await freePort();
  const log = path.join(stateDir, 'code-server.log');
  const args = [...baseArgs(stateDir), '--bind-addr', `127.0.0.1:${port}`];
  if (opts.trust !== false) args.push('--disable-workspace-trust');
  args.push(opts.workspace);
  const out = fs.openSync(log, 'a');
  // detached: its own process group (setsid), so stop() can kill the server and every extension host it spawned.
  const child = spawn(CODE_SERVER, args, { detached: true, stdio: ['ignore', out, out], env: isolatedEnv(stateDir, opts.env) });
  fs.closeSync(out);
  const exited = new Promise(resolve => child.once('exit', resolve));
  try {
    await waitHealthy(port);
  } catch (e) {
    killGroup(child.pid);
    throw new Error(`${e.message}\n${tail(log)}`);
  }
  return {
    port, stateDir, log,
    url: `http://127.0.0.1:${port}/`,
    async stop() {
      killGroup(child.pid, 'SIGTERM');
      await Promise.race([exited, new Promise(r => setTimeout(r, 3000))]);
      killGroup(child.pid, 'SIGKILL');
    },
  };
}

function killGroup(pid, signal = 'SIGKILL') {
  try { process.kill(-pid, signal); } catch { /* already gone */ }
}

function tail(file, n = 40) {
  try { return fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n'); } catch { return ''; }
}

async function launchBrowser(stateDir, viewport = { width: 1400, height: 900 }) {
  const { chromium } = require(path.join(TOOLS, 'node_modules', 'playwright-core'));
  const profile = fs.mkdtempSync(path.join(stateDir, 'chromium-'));
  for (const d of ['home', 'tmp', 'xdg-config', 'xdg-data', 'xdg-cache']) fs.mkdirSync(path.join(stateDir, d), { recursive: true });
  // The browser gets the same private HOME / XDG folders as the server, so nothing lands in the real $HOME.
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, viewport, args: CHROMIUM_ARGS, env: isolatedEnv(stateDir) });
  // code-server registers its own (PWA) service worker with scope '/', which also takes control of the webview
  // frames it serves from the same origin; a webview then waits for its own worker to take over, and sometimes
  // waits forever (a blank webview). The PWA worker is of no use to the tests: keep it from registering.
  await context.route(/\/_static\/out\/browser\/serviceWorker\.js/, route => route.abort());
  return context;
}

module.exports = { ROOT, TOOLS, CODE_SERVER, startCodeServer, launchBrowser, makeStateDir, isolatedEnv, baseArgs, freePort, killGroup, tail, waitHealthy };
