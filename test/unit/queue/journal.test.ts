import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { addItems } from '../../../src/core/queue/scheduler';
import { QueueFileError, QueueStore } from '../../../src/core/queue/store';
import type { QueueSpec } from '../../../src/core/queue/schema';
import { tempDir } from '../../helpers/shared';

const LR: QueueSpec = {
  kind: 'baseline', datasetPath: '/d.h5ad', labelColumn: 'y', split: { kind: 'stratified', testSize: 0.2, seed: 2022 }, experiment: 'e',
  fraction: 1, seed: 0, stratifiedFewShot: false, model: { penalty: 'l1', C: 0.1 },
};

function lines(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').slice(0, -1);
}

function snapStat(file: string): [number, number, number, number] {
  const st = fs.statSync(file);
  return [st.ino, st.size, st.mtimeMs, st.ctimeMs];
}

/** A store holding `n` items (the first update writes the snapshot). */
async function storeWith(n: number, options = {}): Promise<QueueStore> {
  const store = new QueueStore(path.join(tempDir(), '.scwb'), options);
  await store.update(q => { addItems(q, Array.from({ length: n }, (_, i) => ({ label: `item ${i}`, spec: LR }))); });
  return store;
}

describe('queue store journal (.scwb/queue.journal)', () => {
  it('an update of one item among many appends one line of that item and leaves the snapshot untouched', async () => {
    const lineBytes: number[] = [];
    for (const n of [50, 3000]) {
      const store = await storeWith(n);
      const snap = fs.readFileSync(store.file);
      const before = snapStat(store.file);
      assert.ok(!fs.existsSync(store.journal), 'no journal before the first change');
      const id = (await store.read()).items[7].id;
      await store.update(q => { q.items[7].status = 'cancelled'; });
      await store.update(q => { q.items[7].label = 'renamed'; q.paused = true; });
      assert.deepStrictEqual(snapStat(store.file), before, 'the snapshot is not rewritten');
      assert.ok(fs.readFileSync(store.file).equals(snap));
      const j = lines(store.journal);
      assert.strictEqual(j.length, 3, 'the header and one line per update');
      const second = JSON.parse(j[2]);
      assert.deepStrictEqual(second.set.map((x: { id: string }) => x.id), [id], 'only the changed item');
      assert.deepStrictEqual(second.meta, { paused: true, executor: null });
      lineBytes.push(Buffer.byteLength(j[1]));
      // nothing changed: nothing written
      await store.update(q => { q.items[7].label = 'renamed'; });
      assert.strictEqual(lines(store.journal).length, 3);
      for (const reader of [store, new QueueStore(store.scwbDir)]) {
        const q = await reader.read();
        assert.strictEqual(q.items.length, n);
        assert.deepStrictEqual([q.items[7].label, q.items[7].status, q.paused], ['renamed', 'cancelled', true]);
        assert.strictEqual(q.items[8].label, 'item 8');
      }
    }
    assert.strictEqual(lineBytes[0], lineBytes[1], 'what one update writes does not depend on how many items the queue holds');
  });

  it('removals and moves are journalled too and read back in order by every reader', async () => {
    const store = await storeWith(5);
    const ids = (await store.read()).items.map(x => x.id);
    await store.update(q => { q.items.splice(1, 1); });
    await store.update(q => { q.items.reverse(); });
    await store.update(q => { addItems(q, [{ label: 'new', spec: LR }]); });
    const j = lines(store.journal).slice(1).map(l => JSON.parse(l));
    assert.deepStrictEqual(j[0], { remove: [ids[1]] });
    assert.deepStrictEqual(j[1], { order: [ids[4], ids[3], ids[2], ids[0]] });
    assert.deepStrictEqual(Object.keys(j[2]), ['set']);
    const expected = ['item 4', 'item 3', 'item 2', 'item 0', 'new'];
    assert.deepStrictEqual((await store.read()).items.map(x => x.label), expected);
    assert.deepStrictEqual((await new QueueStore(store.scwbDir).read()).items.map(x => x.label), expected);
  });

  it('stays bounded: past the compaction size the queue is written as a new snapshot and the journal removed', async () => {
    const store = await storeWith(20, { compactBytes: 4096 });
    let compactions = 0;
    let inode = fs.statSync(store.file).ino;
    let maxLine = 0;
    for (let i = 0; i < 60; i++) {
      await store.update(q => { q.items[i % 20].label = `round ${i}`; });
      if (fs.statSync(store.file).ino !== inode) {
        compactions++;
        inode = fs.statSync(store.file).ino;
        assert.ok(!fs.existsSync(store.journal), 'the journal folded into the snapshot is gone');
      } else {
        const j = lines(store.journal);
        maxLine = Math.max(maxLine, ...j.map(l => Buffer.byteLength(l) + 1));
        assert.ok(fs.statSync(store.journal).size <= 4096 + maxLine, `journal ${fs.statSync(store.journal).size} bytes`);
      }
    }
    assert.ok(compactions >= 3, `compacted ${compactions} times`);
    const q = await new QueueStore(store.scwbDir).read();
    assert.deepStrictEqual(q.items.slice(0, 20).map(x => x.label), Array.from({ length: 20 }, (_, i) => `round ${40 + i}`));
    assert.deepStrictEqual(q, await store.read());
  });

  it('memory: an update of one item in a 100k-item queue stays far below what rewriting the file took', () => {
    // In a child process: maxRSS (peak resident memory, in kB) after loading, then after 20 one-item updates.
    const STORE_JS = path.resolve(__dirname, '..', '..', '..', 'src', 'core', 'queue', 'store.js');
    const SCHED_JS = path.resolve(__dirname, '..', '..', '..', 'src', 'core', 'queue', 'scheduler.js');
    const dir = path.join(tempDir(), '.scwb');
    const child = (body: string): string => execFileSync(process.execPath, ['--expose-gc', '-e', `
      const fs = require('fs');
      const { QueueStore } = require(${JSON.stringify(STORE_JS)});
      const { addItems } = require(${JSON.stringify(SCHED_JS)});
      const store = new QueueStore(${JSON.stringify(dir)});
      (async () => { ${body} })().catch(e => { console.error(e); process.exit(1); });`], { encoding: 'utf8' });
    // one process writes the 100k-item snapshot; a fresh one loads it, then updates one item at a time
    child(`await store.update(q => { addItems(q, Array.from({ length: 100000 }, (_, i) => ({ label: 'item ' + i, spec: ${JSON.stringify(LR)} }))); });`);
    const r = JSON.parse(child(`
      const snapshot = fs.statSync(store.file).size;
      await store.read();
      gc();
      const loaded = process.resourceUsage().maxRSS;
      for (let i = 0; i < 20; i++) { gc(); await store.update(q => { q.items[i * 5000].label = 'changed ' + i; }); }
      const after = process.resourceUsage().maxRSS;
      const q = await new QueueStore(${JSON.stringify(dir)}).read();
      console.log(JSON.stringify({ snapshot, loaded, after, snapshotAfter: fs.statSync(store.file).size, journal: fs.statSync(store.journal).size, label: q.items[95000].label, n: q.items.length }));`));
    assert.strictEqual(r.n, 100000);
    assert.strictEqual(r.label, 'changed 19');
    assert.strictEqual(r.snapshotAfter, r.snapshot);
    assert.ok(r.journal < 21 * 1024, `the journal holds a header and 20 one-item lines: ${r.journal} bytes (snapshot ${r.snapshot})`);
    console.log(`      (peak RSS ${r.loaded} kB after loading, ${r.after} kB after 20 updates; snapshot ${r.snapshot} bytes)`);
    // Each update clones the queue in memory (about the size of the parsed queue) but never builds the file's
    // text: the peak grows by less than the snapshot's size (a rewrite built several times that).
    assert.ok((r.after - r.loaded) * 1024 < r.snapshot, `peak RSS grew ${r.after - r.loaded} kB over 20 updates (snapshot ${r.snapshot} bytes)`);
  });

  it('ignores a last line a killed writer left half-written, and cuts it off before the next append', async () => {
    const store = await storeWith(3);
    await store.update(q => { q.items[0].label = 'whole'; });
    const whole = fs.readFileSync(store.journal, 'utf8');
    const half = `{"set":[{"id":"${(await store.read()).items[1].id}","label":"ha`;
    fs.appendFileSync(store.journal, half);
    for (const reader of [store, new QueueStore(store.scwbDir)]) {
      assert.deepStrictEqual((await reader.read()).items.map(x => x.label), ['whole', 'item 1', 'item 2']);
    }
    await new QueueStore(store.scwbDir).update(q => { q.items[2].label = 'next'; });
    const text = fs.readFileSync(store.journal, 'utf8');
    assert.ok(text.startsWith(whole) && !text.includes(half), 'the torn line is gone');
    assert.strictEqual(lines(store.journal).length, 3);
    assert.deepStrictEqual((await store.read()).items.map(x => x.label), ['whole', 'item 1', 'next']);
  });

  it('a compaction killed before it removed the journal: the old journal is not applied again', async () => {
    const store = await storeWith(2, { compactBytes: 0 });
    await store.update(q => { q.items.push({ ...q.items[0], id: 'q-extra', label: 'extra' }); }); // no journal yet: journalled
    const old = fs.readFileSync(store.journal);
    await store.update(q => { q.items = q.items.filter(x => x.id !== 'q-extra'); }); // past 0 bytes: compacts
    assert.ok(!fs.existsSync(store.journal));
    fs.writeFileSync(store.journal, old); // as if the writer died between the snapshot's rename and the removal
    for (const reader of [store, new QueueStore(store.scwbDir)]) {
      assert.deepStrictEqual((await reader.read()).items.map(x => x.label), ['item 0', 'item 1'], 'the stale journal is ignored');
    }
    await store.update(q => { q.paused = true; });
    assert.ok(!fs.existsSync(store.journal), 'the stale journal is replaced by a compaction');
    assert.deepStrictEqual((await new QueueStore(store.scwbDir).read()).items.map(x => x.label), ['item 0', 'item 1']);
  });

  it('refuses a damaged journal line by file and line number, a foreign field, a link or a FIFO, and never overwrites them', async () => {
    const store = await storeWith(2);
    await store.update(q => { q.items[0].label = 'a'; });
    const good = fs.readFileSync(store.journal, 'utf8');
    const id = (await store.read()).items[1].id;
    for (const [bad, message] of [
      ['{"set": 3}\n', /line 3: set: .*expected array/i],
      ['{not json}\n', /line 3: not valid JSON/],
      [`{"remove": ["${id}"], "owner": "me"}\n`, /line 3: .*unrecognized key/i],
      [`{"set": [${JSON.stringify({ ...(await store.read()).items[1], gpuType: 'a100' })}]}\n`, /line 3: set\.0\.gpuType: unknown field/],
      ['{"order": ["q-nope"]}\n', /line 3: its order does not name every item exactly once/],
    ] as const) {
      fs.writeFileSync(store.journal, good + bad);
      for (const reader of [store, new QueueStore(store.scwbDir)]) {
        await assert.rejects(reader.read(), (e: Error) => e instanceof QueueFileError && e.message.startsWith(`${store.journal}: `) && message.test(e.message), String(message));
      }
      await assert.rejects(store.update(q => { q.paused = true; }), message);
      assert.strictEqual(fs.readFileSync(store.journal, 'utf8'), good + bad, 'left as it was');
    }
    fs.writeFileSync(store.journal, 'junk\n');
    await assert.rejects(store.read(), /queue\.journal: its first line is not JSON/);
    fs.rmSync(store.journal);
    const outside = path.join(tempDir(), 'elsewhere.journal');
    fs.writeFileSync(outside, good);
    fs.symlinkSync(outside, store.journal);
    await assert.rejects(new QueueStore(store.scwbDir).read(), /queue\.journal: is a symbolic link/);
    await assert.rejects(store.update(q => { q.paused = true; }), /queue\.journal: is a symbolic link/);
    assert.strictEqual(fs.readFileSync(outside, 'utf8'), good);
    fs.rmSync(store.journal);
    execFileSync('mkfifo', [store.journal]);
    await assert.rejects(new QueueStore(store.scwbDir).read(), /queue\.journal: is a FIFO/);
  });
});
