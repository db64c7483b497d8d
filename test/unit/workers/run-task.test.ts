import * as assert from 'assert';
import { runTask } from '../../../src/core/workers/run-task';
import { CancelledError } from '../../../src/core/workers/task';
import { H5adError } from '../../../src/core/h5ad/types';

const MODULE = '../../test/unit/workers/sample-tasks';

describe('runTask (worker threads)', () => {
  it('returns the result with typed arrays intact and reports progress', async () => {
    const seen: number[] = [];
    const r = await runTask<{ sum: number; squares: Float64Array }>(MODULE, 'sumSquares', { n: 20000 }, { onProgress: f => seen.push(f) });
    let expected = 0;
    for (let i = 0; i < 20000; i++) expected += i * i;
    assert.strictEqual(r.sum, expected);
    assert.ok(r.squares instanceof Float64Array);
    assert.strictEqual(r.squares[123], 123 * 123);
    assert.strictEqual(seen[seen.length - 1], 1);
  });

  it('cancels a cooperative task', async () => {
    const ac = new AbortController();
    const p = runTask(MODULE, 'spinUntilCancelled', {}, { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(p, CancelledError);
  });

  it('cancels a synchronous task that polls ctx.cancelled without yielding', async () => {
    const ac = new AbortController();
    const t0 = Date.now();
    const p = runTask(MODULE, 'syncLoopPolling', {}, { signal: ac.signal, graceMs: 30_000 });
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(p, CancelledError);
    // Well before the 30 s grace period: the task itself saw the cancel.
    assert.ok(Date.now() - t0 < 20_000);
  });

  it('terminates a task that ignores cancellation', async () => {
    const ac = new AbortController();
    const p = runTask(MODULE, 'busyForever', {}, { signal: ac.signal, graceMs: 100 });
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(p, CancelledError);
  });

  it('re-creates file errors with the file and the problem', async () => {
    await assert.rejects(runTask(MODULE, 'failWithFileError', {}), (e: unknown) => e instanceof H5adError && e.file === '/data/x.h5ad' && /not an HDF5/.test(e.message));
  });

  it('refuses modules outside the project', async () => {
    await assert.rejects(runTask('../../../../etc/passwd', 'x', {}), /outside the project/);
  });
});
