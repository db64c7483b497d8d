import * as assert from 'assert';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { processStartTime } from '../../../src/core/runs/owner';
import { RunFileError, type RunMetrics } from '../../../src/core/runs/schema';
import { RunStore, type NewRun, newRunId, runIdTime } from '../../../src/core/runs/store';
import { parseCsv } from '../../../src/core/results/csv';
import { PYTHON, tempDir } from '../../helpers/shared';

function newRun(overrides: Partial<NewRun> = {}): NewRun {
  return {
    kind: 'baseline', name: 'LR f=1 seed=0', experiment: 'pbmc baseline',
    dataset: { path: '/data/pbmc.h5ad', sha256: 'a'.repeat(64) }, labelColumn: 'bulk_labels',
    split: { kind: 'stratified', testSize: 0.2, seed: 2022 }, seed: 0, fraction: 1,
    model: { family: 'LR', label: 'LR L1 C=0.1', variant: '' }, parameters: { C: 0.1 }, codeVersion: '0.1.0',
    ...overrides,
  };
}

const METRICS: Omit<RunMetrics, 'schemaVersion'> = {
  accuracy: 0.75, macroF1: 0.5, weightedF1: 0.7, classes: ['B', 'T'],
  perClass: [
    { name: 'B', precision: 1, recall: 0.5, f1: 2 / 3, support: 2 },
    { name: 'T', precision: 2 / 3, recall: 1, f1: 0.8, support: 2 },
  ],
  confusion: [[1, 1], [0, 2]], nTest: 4,
};

/** pid of a process that has exited (and been reaped), so it no longer exists. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('run store', () => {
  let root: string;
  let store: RunStore;
  beforeEach(() => {
    root = tempDir('scwb-runs-');
    store = new RunStore(root);
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('round-trips a run: record, events, log, metrics, predictions (read back by Python csv), rename, note, delete', async () => {
    const created = await store.create(newRun());
    assert.match(created.id, /^\d{8}T\d{9}Z-[0-9a-f]{6}$/);
    assert.strictEqual(created.status, 'queued');
    assert.strictEqual(created.schemaVersion, 1);
    const onDisk = JSON.parse(fs.readFileSync(path.join(root, created.id, 'run.json'), 'utf8'));
    assert.deepStrictEqual(onDisk, created);
    assert.deepStrictEqual(await store.get(created.id), created);

    await store.update(created.id, { status: 'running', startedAt: '2025-01-01T00:00:00.000Z' });
    await store.appendEvent(created.id, { type: 'progress', fraction: 0.5, message: 'half' });
    await store.appendEvent(created.id, { type: 'metric', name: 'accuracy', value: 0.75 });
    await store.appendLog(created.id, 'line one\nline two');
    await store.writeMetrics(created.id, METRICS);
    const predictions = [
      { index: 3, obsName: 'AAAC-1', trueLabel: 'B', predictedLabel: 'T' },
      { index: 7, obsName: 'cell,"quoted"\nname', trueLabel: 'CD4+/CD25 T Reg', predictedLabel: 'B' },
    ];
    await store.writePredictions(created.id, predictions);
    await store.rename(created.id, 'renamed');
    const noted = await store.setNote(created.id, 'looks fine');

    assert.strictEqual(noted.name, 'renamed');
    assert.strictEqual(noted.note, 'looks fine');
    assert.strictEqual(noted.status, 'running');
    const events = await store.readEvents(created.id);
    assert.deepStrictEqual(events.map(e => e.type), ['progress', 'metric']);
    assert.ok(events.every(e => !Number.isNaN(Date.parse(e.time))));
    const eventLines = fs.readFileSync(path.join(root, created.id, 'events.jsonl'), 'utf8').trimEnd().split('\n');
    assert.strictEqual(eventLines.length, 2, 'one JSON object per line');
    const log = (await store.readLog(created.id)).trimEnd().split('\n');
    assert.deepStrictEqual(log.map(l => l.replace(/^\S+ /, '')), ['line one', 'line two']);
    assert.deepStrictEqual(await store.readMetrics(created.id), { ...METRICS, schemaVersion: 1 });
    assert.deepStrictEqual(await store.readPredictions(created.id), predictions);
    // Python's csv module reads the file back field for field (quotes, commas and newlines in names).
    const csvText = fs.readFileSync(path.join(root, created.id, 'predictions.csv'), 'utf8');
    const pyRows = JSON.parse(execFileSync(PYTHON, ['-c',
      'import csv,json,sys; print(json.dumps(list(csv.reader(open(sys.argv[1], newline="")))))', path.join(root, created.id, 'predictions.csv')],
    { encoding: 'utf8' })) as string[][];
    assert.deepStrictEqual(parseCsv(csvText), pyRows);
    assert.deepStrictEqual(pyRows[2], ['7', 'cell,"quoted"\nname', 'CD4+/CD25 T Reg', 'B']);

    assert.deepStrictEqual((await store.list()).map(r => r.id), [created.id]);
    await store.delete(created.id);
    assert.ok(!fs.existsSync(path.join(root, created.id)));
    assert.deepStrictEqual(await store.list(), []);
  });

  it('ids sort by creation time and list() returns runs oldest first; experiments() groups the grid', async () => {
    assert.ok(newRunId(new Date('2025-01-01T00:00:00Z')) < newRunId(new Date('2025-01-01T00:00:00.001Z')));
    const a = await store.create(newRun({ fraction: 0.5, seed: 1 }));
    const b = await store.create(newRun({ fraction: 1, seed: 0 }));
    const c = await store.create(newRun({ experiment: 'other', model: { family: 'scBERT', label: 'scBERT', variant: '' } }));
    assert.deepStrictEqual((await store.list()).map(r => r.id), [a.id, b.id, c.id]);
    // Created within the same millisecond or not, creation times order as the ids do (the grouping relies on it).
    assert.ok(a.createdAt < b.createdAt && b.createdAt < c.createdAt, `${a.createdAt} ${b.createdAt} ${c.createdAt}`);
    assert.strictEqual(a.createdAt, runIdTime(a.id));
    const groups = await store.experiments();
    const pbmc = groups.find(g => g.name === 'pbmc baseline')!;
    assert.deepStrictEqual(pbmc.runs.map(r => r.id), [a.id, b.id]);
    assert.deepStrictEqual(pbmc.fractions, [0.5, 1]);
    assert.deepStrictEqual(pbmc.seeds, [0, 1]);
    assert.deepStrictEqual(pbmc.datasets, ['pbmc']);
    assert.deepStrictEqual(pbmc.statusCounts, { queued: 2 });
    assert.deepStrictEqual(groups.map(g => g.name), ['other', 'pbmc baseline'], 'newest experiment first');
  });

  it('keeps the worker facts the worker writes into run.json through a store update, and validates them', async () => {
    const r = await store.create(newRun({ kind: 'finetune' }));
    const file = path.join(root, r.id, 'run.json');
    const worker = { torch: '2.13.0+cpu', python: '3.11.2', device: 'cpu', cuda: null, dtype: 'float32', attention: 'sdpa', processes: 1 };
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), worker }, null, 2));
    assert.deepStrictEqual((await store.get(r.id)).worker, worker);
    await store.update(r.id, { note: 'kept' });
    assert.deepStrictEqual(JSON.parse(fs.readFileSync(file, 'utf8')).worker, worker);
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), worker: { ...worker, processes: 0 } }));
    await assert.rejects(store.get(r.id), (e: Error) => e.message.startsWith(file) && /worker\.processes/.test(e.message));
  });

  it('validation errors name the file and the field', async () => {
    const r = await store.create(newRun());
    const file = path.join(root, r.id, 'run.json');
    const good = fs.readFileSync(file, 'utf8');

    fs.writeFileSync(file, good.replace('"queued"', '"bogus"'));
    await assert.rejects(store.get(r.id), (e: Error) => e instanceof RunFileError && e.message.startsWith(file) && /status/.test(e.message));
    fs.writeFileSync(file, good.replace('"schemaVersion": 1', '"schemaVersion": 7'));
    await assert.rejects(store.get(r.id), (e: Error) => e.message.startsWith(file) && /schemaVersion 7 is not supported/.test(e.message));
    fs.writeFileSync(file, good.slice(0, 40));
    await assert.rejects(store.get(r.id), (e: Error) => e.message.startsWith(file) && /not valid JSON/.test(e.message));
    fs.writeFileSync(file, good.replace(/"sha256": "a+"/, '"sha256": "xyz"'));
    await assert.rejects(store.get(r.id), (e: Error) => e.message.startsWith(file) && /dataset\.sha256/.test(e.message));
    // A broken folder does not hide the others from the list; scan() reports it.
    const ok = await store.create(newRun());
    const scanned = await store.scan();
    assert.deepStrictEqual(scanned.runs.map(x => x.id), [ok.id]);
    assert.strictEqual(scanned.problems.length, 1);
    assert.ok(scanned.problems[0].message.includes(file));

    const metricsFile = path.join(root, ok.id, 'metrics.json');
    fs.writeFileSync(metricsFile, JSON.stringify({ ...METRICS, schemaVersion: 1, confusion: [[1]] }));
    await assert.rejects(store.readMetrics(ok.id), (e: Error) => e.message.startsWith(metricsFile) && /sizes differ/.test(e.message));
    await assert.rejects(store.update(ok.id, { fraction: 2 }), (e: Error) => /fraction/.test(e.message));
    assert.strictEqual((await store.get(ok.id)).fraction, 1, 'a rejected update leaves run.json as it was');
    assert.throws(() => store.runDir('../escape'), /invalid run id/);
  });

  it('marks a running run whose owner process is gone as interrupted, keeping its log and events', async () => {
    const host = os.hostname();
    const dead = await store.create(newRun({ status: 'running', owner: { pid: deadPid(), hostname: host, processStart: null } }));
    await store.appendLog(dead.id, 'epoch 1 done');
    await store.appendEvent(dead.id, { type: 'progress', fraction: 0.3 });
    const alive = await store.create(newRun({ status: 'running', owner: { pid: process.pid, hostname: host, processStart: processStartTime(process.pid) } }));
    const recycled = await store.create(newRun({ status: 'running', owner: { pid: process.pid, hostname: host, processStart: '1' } }));
    const remoteFresh = await store.create(newRun({ status: 'running', owner: { pid: 1, hostname: 'elsewhere.invalid', processStart: null } }));
    await store.heartbeat(remoteFresh.id);
    const remoteStale = await store.create(newRun({ status: 'queued', owner: { pid: 1, hostname: 'elsewhere.invalid', processStart: null } }));
    await store.heartbeat(remoteStale.id);
    const old = new Date(Date.now() - 10 * 60 * 1000);
    fs.utimesSync(path.join(root, remoteStale.id, 'heartbeat'), old, old);
    const finished = await store.create(newRun({ status: 'completed', owner: { pid: deadPid(), hostname: host, processStart: null } }));

    const byId = new Map((await store.list()).map(r => [r.id, r]));
    assert.strictEqual(byId.get(dead.id)!.status, 'interrupted');
    assert.match(byId.get(dead.id)!.error!, /is gone/);
    assert.ok(byId.get(dead.id)!.endedAt);
    assert.strictEqual(byId.get(alive.id)!.status, 'running');
    assert.strictEqual(byId.get(recycled.id)!.status, processStartTime(process.pid) === null ? 'running' : 'interrupted');
    assert.strictEqual(byId.get(remoteFresh.id)!.status, 'running');
    assert.strictEqual(byId.get(remoteStale.id)!.status, 'interrupted');
    assert.strictEqual(byId.get(finished.id)!.status, 'completed');
    // Persisted, and the history stays.
    assert.strictEqual(JSON.parse(fs.readFileSync(path.join(root, dead.id, 'run.json'), 'utf8')).status, 'interrupted');
    assert.match(await store.readLog(dead.id), /epoch 1 done[\s\S]*interrupted/);
    assert.deepStrictEqual((await store.readEvents(dead.id)).map(e => e.type), ['progress', 'status']);
  });

  it('never appends through a symbolic link: a hostile run folder with linked run.log/events.jsonl leaves the targets untouched', async () => {
    const outside = tempDir('scwb-outside-');
    try {
      const victimLog = path.join(outside, 'victim-log.txt');
      const victimEvents = path.join(outside, 'victim-events.txt');
      fs.writeFileSync(victimLog, 'precious\n');
      fs.writeFileSync(victimEvents, 'precious\n');
      // A run "running" under a foreign, dead owner whose log and events are links to files outside the store.
      const r = await store.create(newRun({ status: 'running', owner: { pid: deadPid(), hostname: os.hostname(), processStart: null } }));
      fs.rmSync(path.join(root, r.id, 'run.log'));
      fs.rmSync(path.join(root, r.id, 'events.jsonl'));
      fs.symlinkSync(victimLog, path.join(root, r.id, 'run.log'));
      fs.symlinkSync(victimEvents, path.join(root, r.id, 'events.jsonl'));
      // A run folder that is itself a link to a folder outside is not listed.
      const linkedDir = path.join(outside, 'linked-run');
      fs.mkdirSync(linkedDir);
      const other = await store.create(newRun({ status: 'running', owner: { pid: deadPid(), hostname: os.hostname(), processStart: null } }));
      fs.cpSync(path.join(root, other.id), linkedDir, { recursive: true });
      fs.rmSync(path.join(root, other.id), { recursive: true });
      fs.symlinkSync(linkedDir, path.join(root, other.id));

      const { runs, problems } = await store.scan();
      assert.deepStrictEqual(runs.map(x => x.id), [], 'neither hostile run is listed as readable');
      assert.strictEqual(problems.length, 1);
      assert.match(problems[0].message, /symbolic link/);
      await assert.rejects(store.appendLog(r.id, 'x'), (e: Error) => e.message.includes(path.join(root, r.id, 'run.log')) && /symbolic link/.test(e.message));
      await assert.rejects(store.appendEvent(r.id, { type: 'progress', fraction: 0.1 }), /symbolic link/);
      assert.strictEqual(fs.readFileSync(victimLog, 'utf8'), 'precious\n');
      assert.strictEqual(fs.readFileSync(victimEvents, 'utf8'), 'precious\n');
      assert.strictEqual(JSON.parse(fs.readFileSync(path.join(linkedDir, 'run.json'), 'utf8')).status, 'running', 'nothing written through the linked folder');
      // A FIFO under the log's name fails at once instead of blocking.
      const fifoRun = await store.create(newRun());
      fs.rmSync(path.join(root, fifoRun.id, 'run.log'));
      execFileSync('mkfifo', [path.join(root, fifoRun.id, 'run.log')]);
      await assert.rejects(store.appendLog(fifoRun.id, 'x'));
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('a read-only store (untrusted workspace) writes nothing: interrupted runs are reported, not saved', async () => {
    const r = await store.create(newRun({ status: 'running', owner: { pid: deadPid(), hostname: os.hostname(), processStart: null } }));
    await store.appendLog(r.id, 'epoch 1');
    const dir = path.join(root, r.id);
    const before = new Map(fs.readdirSync(dir).map(f => [f, fs.readFileSync(path.join(dir, f), 'utf8')]));
    const ro = new RunStore(root, { readOnly: true });
    const runs = await ro.list();
    assert.strictEqual(runs.length, 1);
    assert.strictEqual(runs[0].status, 'interrupted');
    assert.match(runs[0].error!, /is gone/);
    assert.strictEqual((await ro.get(r.id)).status, 'interrupted');
    const after = new Map(fs.readdirSync(dir).map(f => [f, fs.readFileSync(path.join(dir, f), 'utf8')]));
    assert.deepStrictEqual(after, before, 'no file created or changed');
    await assert.rejects(ro.appendLog(r.id, 'x'), /read-only/);
    await assert.rejects(ro.appendEvent(r.id, { type: 'progress', fraction: 0.1 }), /read-only/);
    await assert.rejects(ro.update(r.id, { name: 'x' }), /read-only/);
    await assert.rejects(ro.delete(r.id), /read-only/);
    await assert.rejects(ro.create(newRun()), /read-only/);
    await assert.rejects(ro.heartbeat(r.id), /read-only/);
    assert.deepStrictEqual(fs.readdirSync(root), [r.id]);
  });

  it('writes run.json atomically and under a lock: readers never see a partial file, no writer loses an update', async () => {
    const r = await store.create(newRun());
    const file = path.join(root, r.id, 'run.json');
    let reads = 0;
    let stop = false;
    const reader = (async () => {
      while (!stop) {
        const text = fs.readFileSync(file, 'utf8');
        JSON.parse(text); // throws on a partial file
        reads++;
        await new Promise(res => setImmediate(res));
      }
    })();
    const long = 'x'.repeat(200_000);
    // Two store objects stand for two writers (the runner's worker and the extension host renaming the run).
    const other = new RunStore(root);
    await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? other : store).update(r.id, cur => ({ note: `${long}${i}`, parameters: { ...cur.parameters, [`k${i}`]: i } }))));
    stop = true;
    await reader;
    assert.ok(reads > 0);
    const final = await store.get(r.id);
    assert.strictEqual(Object.keys(final.parameters).length, 41, 'no writer lost another\'s update');
    assert.ok(!fs.existsSync(path.join(root, r.id, '.lock')), 'the lock is released');
    assert.deepStrictEqual(fs.readdirSync(path.join(root, r.id)).filter(n => n.includes('.tmp-')), []);
  });

  it('skips a last events line cut short by a crash, but reports a corrupt line in the middle', async () => {
    const r = await store.create(newRun());
    await store.appendEvent(r.id, { type: 'progress', fraction: 0.1 });
    const file = path.join(root, r.id, 'events.jsonl');
    fs.appendFileSync(file, '{"type":"progr');
    assert.strictEqual((await store.readEvents(r.id)).length, 1);
    fs.appendFileSync(file, '\n{"type":"progress","time":"t","fraction":0.2}\n');
    await assert.rejects(store.readEvents(r.id), (e: Error) => e.message.startsWith(file) && /line 2/.test(e.message));
  });
});
