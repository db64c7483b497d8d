import * as assert from 'assert';
import { isWebviewMessage } from '../../src/shared/protocol';
import { writeFileAtomic } from '../../src/core/fs-atomic';
import * as fs from 'fs';
import * as path from 'path';
import { tempDir } from '../helpers/shared';

describe('webview protocol guard', () => {
  it('accepts the known message types and rejects anything else', () => {
    assert.strictEqual(isWebviewMessage({ type: 'ready', app: 'about' }), true);
    assert.strictEqual(isWebviewMessage({ type: 'dataset/selectColumn', column: 'x' }), true);
    for (const bad of [null, undefined, 'ready', 42, {}, { type: 7 }, { type: 'runShell', cmd: 'rm -rf /' }]) {
      assert.strictEqual(isWebviewMessage(bad), false, JSON.stringify(bad));
    }
  });
});

describe('atomic file output', () => {
  it('replaces the target in one step and leaves no temp file, also when the write fails', async () => {
    const dir = tempDir();
    try {
      const target = path.join(dir, 'table.csv');
      fs.writeFileSync(target, 'old');
      await writeFileAtomic(target, 'new,content\n');
      assert.strictEqual(fs.readFileSync(target, 'utf8'), 'new,content\n');
      assert.deepStrictEqual(fs.readdirSync(dir), ['table.csv']);
      await assert.rejects(writeFileAtomic(path.join(dir, 'missing-folder', 'x.csv'), 'x'));
      assert.deepStrictEqual(fs.readdirSync(dir), ['table.csv']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
