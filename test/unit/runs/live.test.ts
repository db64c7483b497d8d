import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { EventsTail, configuredEpochs, emptyLive, foldLive, liveText, liveTooltip } from '../../../src/core/runs/live';
import { RunFileError, type RunEvent } from '../../../src/core/runs/schema';
import { tempDir } from '../../helpers/shared';

const T = '2026-12-03T07:30:00.123Z';
const line = (e: Record<string, unknown>) => JSON.stringify({ time: T, ...e }) + '\n';

describe('EventsTail: events.jsonl read as it grows', () => {
  it('returns only what was appended since the last read, and waits for a line to be complete', async () => {
    const dir = tempDir('scwb-live-');
    const file = path.join(dir, 'events.jsonl');
    const tail = new EventsTail(file);
    assert.deepStrictEqual(await tail.read(), { events: [], reset: false }); // no file yet
    fs.writeFileSync(file, line({ type: 'status', status: 'running' }));
    let r = await tail.read();
    assert.deepStrictEqual(r.events.map(e => e.type), ['status']);
    const train = line({ type: 'train', epoch: 1, step: 10, loss: 2.5, lr: 1e-4, cellsPerSec: 100, gpuMemoryMiB: null });
    fs.appendFileSync(file, train.slice(0, 15));
    assert.deepStrictEqual((await tail.read()).events, []);
    fs.appendFileSync(file, train.slice(15) + line({ type: 'validation', epoch: 1, step: 12, loss: 2, accuracy: 0.5, best: true }));
    r = await tail.read();
    assert.deepStrictEqual(r.events.map(e => e.type), ['train', 'validation']);
    assert.strictEqual(r.reset, false);
    assert.deepStrictEqual((await tail.read()).events, []);
  });

  it('starts over when the file is replaced or truncated', async () => {
    const dir = tempDir('scwb-live-');
    const file = path.join(dir, 'events.jsonl');
    const tail = new EventsTail(file);
    fs.writeFileSync(file, line({ type: 'progress', fraction: 0.1 }) + line({ type: 'progress', fraction: 0.2 }));
    assert.strictEqual((await tail.read()).events.length, 2);
    fs.writeFileSync(path.join(dir, 'new'), line({ type: 'progress', fraction: 0.9 }));
    fs.renameSync(path.join(dir, 'new'), file);
    const r = await tail.read();
    assert.strictEqual(r.reset, true);
    assert.deepStrictEqual(r.events.map(e => (e as { fraction: number }).fraction), [0.9]);
  });

  it('names the file and line of a bad event, and refuses to read through a symbolic link', async () => {
    const dir = tempDir('scwb-live-');
    const file = path.join(dir, 'events.jsonl');
    fs.writeFileSync(file, line({ type: 'progress', fraction: 0.1 }) + '{"type":"train","time":"x"}\n');
    await assert.rejects(new EventsTail(file).read(), (e: Error) => e instanceof RunFileError && e.message.startsWith(file) && /line 2/.test(e.message));
    const target = path.join(dir, 'elsewhere.jsonl');
    fs.writeFileSync(target, line({ type: 'progress', fraction: 0.5 }));
    const link = path.join(dir, 'linked.jsonl');
    fs.symlinkSync(target, link);
    await assert.rejects(new EventsTail(link).read(), /not a regular file/);
  });
});

describe('live summary of a running run', () => {
  const events: RunEvent[] = [
    { type: 'progress', time: T, fraction: 0.05, message: 'loading' },
    { type: 'train', time: T, epoch: 1, step: 10, loss: 2.34567, lr: 1e-4, cellsPerSec: 120.6, gpuMemoryMiB: null },
    { type: 'validation', time: T, epoch: 1, step: 20, loss: 2.1, accuracy: 0.61, best: true },
    { type: 'train', time: T, epoch: 2, step: 30, loss: 1.5, lr: 5e-5, cellsPerSec: 130, gpuMemoryMiB: 2048.4 },
    { type: 'validation', time: T, epoch: 2, step: 40, loss: 2.2, accuracy: 0.58, best: false },
  ];

  it('shows progress until the first training step, then epoch/loss/cells/s and validation accuracy', () => {
    assert.strictEqual(liveText(foldLive(emptyLive(), events.slice(0, 1)), 10), '5% loading');
    assert.strictEqual(liveText(foldLive(emptyLive(), events.slice(0, 2)), 10), 'epoch 1/10 · loss 2.346 · 121 cells/s');
    const all = foldLive(foldLive(emptyLive(), events.slice(0, 3)), events.slice(3));
    assert.strictEqual(liveText(all, null), 'epoch 2 · loss 1.500 · 130 cells/s · val acc 0.580');
    assert.deepStrictEqual(liveTooltip(all, 10), [
      'epoch 2 of 10, step 30', 'loss 1.500, lr 5.0e-5, 130 cells/s', 'GPU memory 2048 MiB',
      'validation accuracy 0.580 (epoch 2), loss 2.200', 'best validation accuracy 0.610 (epoch 1)',
    ]);
    assert.strictEqual(liveText(emptyLive(), 10), undefined);
  });

  it('reads the configured epochs from run.json parameters.finetune', () => {
    assert.strictEqual(configuredEpochs({ finetune: { epochs: 10 } }), 10);
    assert.strictEqual(configuredEpochs({ finetune: { epochs: '10' } }), null);
    assert.strictEqual(configuredEpochs({ penalty: 'l1' }), null);
  });
});
