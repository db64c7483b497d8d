import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { classifyCheckpoint } from '../../src/core/checkpoints';
import { tempDir } from '../helpers/shared';

describe('checkpoint recognition', () => {
  it('tells scGPT folders, scBERT checkpoints, other PyTorch files and ONNX models apart', () => {
    const dir = tempDir();
    try {
      const scgpt = path.join(dir, 'scGPT_human');
      fs.mkdirSync(scgpt);
      for (const f of ['best_model.pt', 'vocab.json', 'args.json']) fs.writeFileSync(path.join(scgpt, f), '{}');
      fs.writeFileSync(path.join(dir, 'panglao_pretrain.pth'), Buffer.alloc(2048));
      fs.writeFileSync(path.join(dir, 'other.pt'), 'x');
      fs.writeFileSync(path.join(dir, 'model.onnx'), 'x');
      fs.writeFileSync(path.join(dir, 'notes.txt'), 'x');
      assert.deepStrictEqual(classifyCheckpoint(path.join(scgpt, 'best_model.pt')), { path: scgpt, kind: 'scgpt-folder', size: 2, label: 'scGPT_human (scGPT model folder)' });
      const scbert = classifyCheckpoint(path.join(dir, 'panglao_pretrain.pth'));
      assert.strictEqual(scbert?.kind, 'scbert-pth');
      assert.strictEqual(scbert?.size, 2048);
      assert.strictEqual(classifyCheckpoint(path.join(dir, 'other.pt'))?.kind, 'torch');
      assert.strictEqual(classifyCheckpoint(path.join(dir, 'model.onnx'))?.kind, 'onnx');
      assert.strictEqual(classifyCheckpoint(path.join(dir, 'notes.txt')), undefined);
      assert.strictEqual(classifyCheckpoint(path.join(dir, 'gone.pth')), undefined);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
