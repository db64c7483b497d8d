import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { runTask } from '../../../src/core/workers/run-task';
import { CancelledError } from '../../../src/core/workers/task';
import { simulateH5ad, tempDir } from '../../helpers/shared';

describe('preprocess in a worker thread: cancellation', () => {
  it('stops on cancel and leaves no partial output (nor a temp file)', async () => {
    const dir = tempDir();
    try {
      const input = path.join(dir, 'counts.h5ad');
      simulateH5ad(input, 20000, 1000, 1);
      const output = path.join(dir, 'counts.benchmark.h5ad');
      const ac = new AbortController();
      let progressSeen = 0;
      const run = runTask('preprocess/tasks', 'preprocess', { inPath: input, outPath: output, recipe: { recipe: 'benchmark', params: { mode: 'bin' } }, blockRows: 512 }, {
        signal: ac.signal,
        onProgress: () => { if (++progressSeen === 1) ac.abort(); },
      });
      await assert.rejects(run, CancelledError);
      assert.ok(progressSeen >= 1);
      assert.deepStrictEqual(fs.readdirSync(dir), ['counts.h5ad']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
