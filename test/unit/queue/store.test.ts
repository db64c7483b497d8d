import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { addItems } from '../../../src/core/queue/scheduler';
import { QueueFileError, QueueStore } from '../../../src/core/queue/store';
import type { QueueSpec } from '../../../src/core/queue/schema';
import { tempDir } from '../../helpers/shared';

const STORE_JS = path.resolve(__dirname, '..', '..', '..', 'src', 'core', 'queue', 'store.js');
const SCHED_JS = path.resolve(__dirname, '..', '..', '..', 'src', 'core', 'queue', 'scheduler.js');

const LR: QueueSpec = {
  kind: 'baseline', datasetPath: '/d.h5ad', labelColumn: 'y', split: { kind: 'stratified', testSize: 0.2, seed: 2022 }, experiment: 'e',
  fraction: 1, seed: 0, stratifiedFewShot: false, model: { penalty: 'l1', C: 0.1 },
};

/** A separate Node process that adds `n` items labelled `<tag> <i>`, one update each. */
function writerProcess(dir: string, tag: string, n: number, extra = '', options = '{ staleMs: 300 }'): ReturnType<typeof spawn> {
  const code = `
    const { QueueStore } = require(${JSON.stringify(STORE_JS)});
    const { addItems } = require(${JSON.stringify(SCHED_JS)});
    const spec = ${JSON.stringify(LR)};
    (async () => {
      const store = new QueueStore(${JSON.stringify(dir)}, ${options});
      for (let i = 0; i < ${n}; i++) {
        await store.update(q => { addItems(q, [{ label: ${JSON.stringify(tag)} + ' ' + i, spec }]); ${extra} });
        if (process.send) process.send(i);
      }
    })().catch(e => { console.error(e); process.exit(1); });`;
  return spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
}

function exited(p: ReturnType<typeof spawn>): Promise<number | null> {
  let err = '';
  p.stderr?.on('data', d => { err += String(d); });
  return new Promise(resolve => p.on('exit', code => { if (code) console.error(err); resolve(code); }));
}

describe('queue store (.scwb/queue.json)', () => {
  it('reads an empty queue when there is no file, and writes a validated file atomically', async () => {
    const dir = path.join(tempDir(), '.scwb');
    const store = new QueueStore(dir);
    assert.deepStrictEqual(await store.read(), { schemaVersion: 1, paused: false, executor: null, items: [] });
    await store.update(q => { addItems(q, [{ label: 'one', spec: LR }]); q.paused = true; });
    const saved = JSON.parse(fs.readFileSync(path.join(dir, 'queue.json'), 'utf8'));
    assert.strictEqual(saved.paused, true);
    assert.strictEqual(saved.items[0].label, 'one');
    assert.deepStrictEqual(fs.readdirSync(dir), ['queue.json'], 'no temp file or lock left behind');
  });

  it('keeps every edit of concurrent writers in this process and in other processes', async () => {
    const dir = path.join(tempDir(), '.scwb');
    const a = new QueueStore(dir);
    const b = new QueueStore(dir);
    // p2 compacts the journal after ~2 kB, so appends by the others interleave with its snapshot rewrites
    const procs = [writerProcess(dir, 'p1', 15), writerProcess(dir, 'p2', 15, '', '{ staleMs: 300, compactBytes: 2048 }')];
    const local: Promise<unknown>[] = [];
    for (let i = 0; i < 15; i++) {
      local.push(a.update(q => { addItems(q, [{ label: `a ${i}`, spec: LR }]); }));
      local.push(b.update(q => { addItems(q, [{ label: `b ${i}`, spec: LR }]); }));
    }
    const codes = await Promise.all(procs.map(exited));
    await Promise.all(local);
    assert.deepStrictEqual(codes, [0, 0]);
    const q = await a.read();
    assert.strictEqual(q.items.length, 60);
    for (const tag of ['a', 'b', 'p1', 'p2']) {
      const mine = q.items.filter(x => x.label.startsWith(`${tag} `)).map(x => Number(x.label.split(' ')[1]));
      assert.deepStrictEqual(mine, Array.from({ length: 15 }, (_, i) => i), `${tag}: all its items, in its order`);
    }
    assert.strictEqual(new Set(q.items.map(x => x.id)).size, 60, 'unique ids');
    assert.deepStrictEqual(await new QueueStore(dir).read(), q, 'a fresh reader applies snapshot + journal the same way');
  });

  it('survives a writer killed mid-write: the file stays whole and its lock is taken over', async () => {
    const dir = path.join(tempDir(), '.scwb');
    const store = new QueueStore(dir, { staleMs: 300 });
    // The writer busy-waits inside the update (holding the lock), so SIGKILL lands while it holds it.
    const p = writerProcess(dir, 'k', 1000, 'if (i === 5) { const t = Date.now() + 60000; while (Date.now() < t) {} }');
    let done = 0;
    p.on('message', m => { done = Number(m) + 1; });
    await new Promise<void>(resolve => { const t = setInterval(() => { if (done >= 5 && fs.existsSync(`${store.file}.lock`)) { clearInterval(t); resolve(); } }, 5); });
    p.kill('SIGKILL');
    await new Promise(resolve => p.on('exit', resolve));
    assert.ok(fs.existsSync(`${store.file}.lock`), 'the killed writer left its lock');
    const q = await store.read();
    assert.deepStrictEqual(q.items.map(x => x.label), ['k 0', 'k 1', 'k 2', 'k 3', 'k 4'], 'the last complete write');
    await store.update(x => { addItems(x, [{ label: 'after', spec: LR }]); });
    assert.deepStrictEqual((await store.read()).items.map(x => x.label).slice(-1), ['after']);
    assert.ok(!fs.readdirSync(dir).some(f => f.includes('.tmp-') || f.endsWith('.lock')), fs.readdirSync(dir).join(', '));
  });

  it('a writer killed at random moments of continuous writes never leaves a broken or partial file', async () => {
    const dir = path.join(tempDir(), '.scwb');
    const store = new QueueStore(dir, { staleMs: 300 });
    for (let round = 0; round < 5; round++) {
      // odd rounds compact every ~1 kB of journal: kills land in appends and in snapshot rewrites
      const p = writerProcess(dir, `r${round}`, 100000, '', round % 2 ? '{ staleMs: 300, compactBytes: 1024 }' : '{ staleMs: 300 }');
      let acked = 0;
      p.on('message', m => { acked = Number(m) + 1; });
      await new Promise<void>(resolve => { const t = setInterval(() => { if (acked >= 3) { clearInterval(t); resolve(); } }, 2); });
      await new Promise(res => setTimeout(res, Math.floor(Math.random() * 40)));
      p.kill('SIGKILL');
      await new Promise(resolve => p.on('exit', resolve));
      const mine = (await store.read()).items.filter(x => x.label.startsWith(`r${round} `)).map(x => Number(x.label.split(' ')[1]));
      assert.ok(mine.length >= acked, `round ${round}: every acknowledged write is there (${mine.length} >= ${acked})`);
      assert.deepStrictEqual(mine, Array.from({ length: mine.length }, (_, i) => i), 'a prefix of the writes, nothing torn');
      assert.deepStrictEqual(await new QueueStore(dir).read(), await store.read(), 'a fresh reader sees the same queue');
    }
    await store.update(x => { x.paused = true; });
    assert.strictEqual((await store.read()).paused, true);
  });

  it('reports a damaged or foreign file by name and never overwrites it', async () => {
    const dir = path.join(tempDir(), '.scwb');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'queue.json');
    fs.writeFileSync(file, '{"schemaVersion": 1, "items": [');
    const store = new QueueStore(dir);
    await assert.rejects(store.read(), (e: Error) => e instanceof QueueFileError && e.message.startsWith(`${file}: not valid JSON`));
    await assert.rejects(store.update(() => undefined), /not valid JSON/);
    assert.strictEqual(fs.readFileSync(file, 'utf8'), '{"schemaVersion": 1, "items": [');
    fs.writeFileSync(file, JSON.stringify({ schemaVersion: 1, items: [{ id: 'q1', label: 'x', status: 'sleeping' }] }));
    await assert.rejects(store.read(), /queue\.json: items\.0\.spec: .*fix or delete the file/);
    await assert.rejects(new QueueStore(dir, { readOnly: true }).update(() => undefined), /read-only \(untrusted workspace\)/);
  });

  it('refuses two items with one id (which would stop the executor at every start) and never writes such a queue', async () => {
    const dir = path.join(tempDir(), '.scwb');
    const store = new QueueStore(dir);
    await store.update(q => { addItems(q, [{ label: 'one', spec: LR }, { label: 'two', spec: LR }]); });
    const file = path.join(dir, 'queue.json');
    const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
    saved.items[1].id = saved.items[0].id;
    const text = JSON.stringify(saved);
    fs.writeFileSync(file, text);
    await assert.rejects(store.read(), (e: Error) => e instanceof QueueFileError && e.message.startsWith(`${file}: items 0 and 1 share the id '${saved.items[0].id}'`));
    await assert.rejects(store.update(() => undefined), /share the id/);
    assert.strictEqual(fs.readFileSync(file, 'utf8'), text, 'left as it was');
    fs.rmSync(file);
    await store.update(q => { addItems(q, [{ label: 'a', spec: LR }]); });
    await assert.rejects(store.update(q => { q.items.push({ ...q.items[0], label: 'copy' }); }), /refusing to write items 0 and 1 with the same id/);
    assert.deepStrictEqual((await store.read()).items.map(x => x.label), ['a']);
  });

  it('refuses a file with fields it does not know (they would be lost on the next write), naming the field', async () => {
    const dir = path.join(tempDir(), '.scwb');
    const store = new QueueStore(dir);
    await store.update(q => { addItems(q, [{ label: 'one', spec: LR }]); });
    const file = path.join(dir, 'queue.json');
    const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
    for (const [where, edit] of [
      ['priority', (q: typeof saved) => { q.priority = 'high'; }],
      ['items.0.owner', (q: typeof saved) => { q.items[0].owner = 'me'; }],
      ['items.0.spec.gpuType', (q: typeof saved) => { q.items[0].spec.gpuType = 'a100'; }],
    ] as const) {
      const copy = JSON.parse(JSON.stringify(saved));
      edit(copy);
      const text = JSON.stringify(copy);
      fs.writeFileSync(file, text);
      await assert.rejects(store.read(), (e: Error) => e.message.startsWith(`${file}: ${where}: unknown field`), where);
      await assert.rejects(store.update(q => { q.paused = true; }), /unknown field/);
      assert.strictEqual(fs.readFileSync(file, 'utf8'), text, `${where}: the file is not rewritten`);
    }
  });
});
