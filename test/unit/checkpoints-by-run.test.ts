/** Model files written by runs are grouped under their run's name, apart from the user's own (Checkpoints view). */
import * as assert from 'assert';
import * as path from 'path';
import type { CheckpointInfo } from '../../src/core/checkpoints';
import { groupByRun, pickLabel, runIdOf } from '../../src/core/checkpoints/by-run';
import { runDisplayName } from '../../src/core/runs/display-name';

const ws = path.join(path.sep, 'ws');
const store = path.join(ws, '.scwb', 'runs');
const file = (p: string, label = path.basename(p)): CheckpointInfo => ({ path: p, kind: p.endsWith('.onnx') ? 'onnx' : 'torch', size: 10, label });

describe('checkpoints grouped by run', () => {
  it('knows the run whose folder holds a file, and nothing outside the store', () => {
    assert.strictEqual(runIdOf(store, path.join(store, '20250101-abc', 'best.pt')), '20250101-abc');
    assert.strictEqual(runIdOf(store, path.join(ws, 'models', 'x.pth')), undefined);
    assert.strictEqual(runIdOf(store, path.join(store, 'loose.pt')), undefined);
  });

  it('keeps the user\'s files apart and lists each run\'s files once, under the run\'s name', () => {
    const files = [
      file(path.join(ws, 'models', 'scbert_tiny_pretrain.pth')),
      file(path.join(store, 'r2', 'last.pt')), file(path.join(store, 'r2', 'best.pt')), file(path.join(store, 'r2', 'model.onnx')),
      file(path.join(store, 'r1', 'best.pt')),
      file(path.join(store, 'gone', 'best.pt')),
    ];
    const names = new Map([['r1', 'scBERT f=1 seed=0'], ['r2', 'scBERT f=0.1 seed=0']]);
    const { own, runs } = groupByRun(files, store, names);
    assert.deepStrictEqual(own.map(f => path.basename(f.path)), ['scbert_tiny_pretrain.pth']);
    assert.deepStrictEqual(runs.map(r => [r.name, r.files.map(f => path.basename(f.path))]), [
      ['gone', ['best.pt']], // a folder without a readable run.json keeps its id
      ['scBERT f=0.1 seed=0', ['best.pt', 'last.pt', 'model.onnx']],
      ['scBERT f=1 seed=0', ['best.pt']],
    ]);
    assert.strictEqual(pickLabel(runs[1].files[0]), 'scBERT f=0.1 seed=0 · best.pt');
    assert.strictEqual(pickLabel(own[0]), 'scbert_tiny_pretrain.pth');
    // without a run store every file is the user's
    assert.strictEqual(groupByRun(files, undefined, names).own.length, files.length);
  });

  it('names a run as the Runs view does', () => {
    const model = { family: 'scBERT', label: 'scBERT', variant: '' };
    assert.strictEqual(runDisplayName({ name: '', model, fraction: 0.1, seed: 2 }), 'scBERT · fraction 0.1 · seed 2');
    assert.strictEqual(runDisplayName({ name: 'my run', model, fraction: 1, seed: 0 }), 'my run');
  });
});
