/**
 * A run store or queue reached through a symbolic link (`.scwb` or `.scwb/runs` pointing outside the workspace, as a
 * hostile repository can ship them) is refused by name, by the core (which the extension uses) and by the `scwb`
 * commands, and nothing outside the workspace is read or written. A zombie owner does not keep a run "running".
 */
import * as assert from 'assert';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { isOwnerAlive } from '../../../src/core/runs/owner';
import { RunStore, defaultStoreRoot, type NewRun } from '../../../src/core/runs/store';
import { QueueStore } from '../../../src/core/queue/store';
import { addItems } from '../../../src/core/queue/scheduler';
import type { QueueSpec } from '../../../src/core/queue/schema';
import { PROJECT_ROOT, PYTHON, simulateH5ad, tempDir } from '../../helpers/shared';

const SCWB = path.join(PROJECT_ROOT, 'bin', 'scwb.js');

function newRun(overrides: Partial<NewRun> = {}): NewRun {
  return {
    kind: 'baseline', name: 'LR', experiment: 'e', dataset: { path: '/data/x.h5ad', sha256: 'a'.repeat(64) }, labelColumn: 'y',
    split: { kind: 'stratified', testSize: 0.2, seed: 2022 }, seed: 0, fraction: 1,
    model: { family: 'LR', label: 'LR L1 C=0.1', variant: '' }, parameters: { C: 0.1 }, codeVersion: '0.1.0', ...overrides,
  };
}

const LR: QueueSpec = {
  kind: 'baseline', datasetPath: '/d.h5ad', labelColumn: 'y', split: { kind: 'stratified', testSize: 0.2, seed: 2022 }, experiment: 'e',
  fraction: 1, seed: 0, stratifiedFewShot: false, model: { penalty: 'l1', C: 0.1 },
};

/** pid of a process that has exited and been reaped. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

/** Every file below `dir` with its contents. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) { const f = path.join(e.parentPath, e.name); out[path.relative(dir, f)] = fs.readFileSync(f, 'utf8'); }
  }
  return out;
}

describe('run store and queue behind a symbolic link', () => {
  let ws: string;
  let outside: string;
  beforeEach(() => {
    ws = tempDir('scwb-ws-');
    outside = tempDir('scwb-outside-');
  });
  afterEach(() => {
    fs.rmSync(ws, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  });

  /** A store outside the workspace holding one 'running' run of a dead owner (reading it would mark it interrupted). */
  async function outsideStoreWithRun(root: string): Promise<string> {
    const r = await new RunStore(root).create(newRun({ status: 'running', owner: { pid: deadPid(), hostname: os.hostname(), processStart: null } }));
    return r.id;
  }

  it('.scwb linked outside: the core store refuses every read and write, naming the link; nothing outside changes', async () => {
    const id = await outsideStoreWithRun(path.join(outside, 'runs'));
    fs.symlinkSync(outside, path.join(ws, '.scwb'));
    const before = snapshot(outside);
    const store = new RunStore(defaultStoreRoot(ws));
    const link = new RegExp(`${path.join(ws, '.scwb').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: is a symbolic link`);
    await assert.rejects(store.list(), link);
    await assert.rejects(store.get(id), link);
    await assert.rejects(store.create(newRun()), link);
    await assert.rejects(store.update(id, { name: 'x' }), link);
    await assert.rejects(store.appendLog(id, 'x'), link);
    await assert.rejects(store.appendEvent(id, { type: 'progress', fraction: 0.5 }), link);
    await assert.rejects(store.heartbeat(id), link);
    await assert.rejects(store.delete(id), link);
    assert.deepStrictEqual(snapshot(outside), before, 'nothing outside the workspace was written');
  });

  it('.scwb/runs linked outside: refused too; a run folder that is a link is refused when named', async () => {
    fs.mkdirSync(path.join(ws, '.scwb'));
    const id = await outsideStoreWithRun(path.join(outside, 'runs'));
    fs.symlinkSync(path.join(outside, 'runs'), path.join(ws, '.scwb', 'runs'));
    const before = snapshot(outside);
    await assert.rejects(new RunStore(defaultStoreRoot(ws)).list(), /\.scwb\/runs: is a symbolic link/);
    fs.rmSync(path.join(ws, '.scwb', 'runs'));
    fs.mkdirSync(path.join(ws, '.scwb', 'runs'));
    fs.symlinkSync(path.join(outside, 'runs', id), path.join(ws, '.scwb', 'runs', id));
    const store = new RunStore(defaultStoreRoot(ws));
    await assert.rejects(store.get(id), new RegExp(`runs/${id}: is a symbolic link`));
    await assert.rejects(store.appendLog(id, 'x'), /is a symbolic link/);
    assert.deepStrictEqual(snapshot(outside), before);
  });

  it('scwb results and scwb baseline refuse a linked .scwb and write nothing through it', async () => {
    const id = await outsideStoreWithRun(path.join(outside, 'runs'));
    fs.symlinkSync(outside, path.join(ws, '.scwb'));
    const before = snapshot(outside);
    const results = spawnSync(process.execPath, [SCWB, 'results', path.join('.scwb', 'runs')], { cwd: ws, encoding: 'utf8' });
    assert.notStrictEqual(results.status, 0);
    assert.match(results.stderr, /\.scwb: is a symbolic link/);
    const runDir = spawnSync(process.execPath, [SCWB, 'results', path.join('.scwb', 'runs', id)], { cwd: ws, encoding: 'utf8' });
    assert.notStrictEqual(runDir.status, 0);
    assert.match(runDir.stderr, /\.scwb: is a symbolic link/);
    const data = simulateH5ad(path.join(ws, 'data.h5ad'), 60, 100, 1);
    const base = spawnSync(process.execPath, [SCWB, 'baseline', data, '--label', 'cell_type', '--force'], { cwd: ws, encoding: 'utf8' });
    assert.notStrictEqual(base.status, 0);
    assert.match(base.stderr, /\.scwb: is a symbolic link/);
    assert.deepStrictEqual(snapshot(outside), before, 'no run folder created, no run.json rewritten outside the workspace');
  });

  it('the queue refuses a linked .scwb (read and update), naming it', async () => {
    const other = new QueueStore(outside);
    await other.update(q => { addItems(q, [{ label: 'theirs', spec: LR }]); });
    fs.symlinkSync(outside, path.join(ws, '.scwb'));
    const before = snapshot(outside);
    const store = new QueueStore(path.join(ws, '.scwb'));
    await assert.rejects(store.read(), /\.scwb: is a symbolic link/);
    await assert.rejects(store.update(q => { addItems(q, [{ label: 'mine', spec: LR }]); }), /\.scwb: is a symbolic link/);
    assert.deepStrictEqual(snapshot(outside), before);
  });

  it('a zombie owner (exited, not yet reaped) is not alive: its run is interrupted', async () => {
    // A parent that forks a child which exits at once, and never waits for it: the child stays a zombie. (SIGCHLD
    // back to its default: an inherited SIG_IGN would have the kernel reap the child.)
    const parent = spawn(PYTHON, ['-c', [
      'import os, signal, time', 'signal.signal(signal.SIGCHLD, signal.SIG_DFL)', 'pid = os.fork()',
      'if pid == 0: os._exit(0)', 'print(pid, flush=True)', 'time.sleep(600)'].join('\n')], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = await new Promise<number>(resolve => parent.stdout.once('data', d => resolve(Number(String(d).trim()))));
      const state = () => { try { return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0]; } catch { return '?'; } };
      while (state() !== 'Z') await new Promise(r => setTimeout(r, 10)); // wait on the state, not on time
      const owner = { pid, hostname: os.hostname(), processStart: null };
      assert.strictEqual(isOwnerAlive(owner, null), false);
      const root = path.join(ws, 'runs');
      const store = new RunStore(root);
      const r = await store.create(newRun({ status: 'running', owner }));
      assert.strictEqual((await store.get(r.id)).status, 'interrupted');
      assert.ok(isOwnerAlive({ pid: process.pid, hostname: os.hostname(), processStart: null }, null), 'a live process still counts');
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
