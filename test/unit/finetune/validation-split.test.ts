/**
 * scGPT's validation hold-out as published: the sc-foundation-eval scGPT script holds out
 * train_test_split(test_size=0.1, shuffle=True) without stratify. When few-shot fractions leave a class too small for
 * the stratified hold-out, the pre-flight offers that split; `--validation-split random` prepares it (equal to
 * sklearn's split with the run seed), records it in run.json and the protocol shows it as the published split.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { main } from '../../../src/cli/main';
import { scgptValidationSplit } from '../../../src/core/finetune/prepare';
import { runProtocol } from '../../../src/core/protocols/report';
import { RunStore } from '../../../src/core/runs/store';
import { PY_DIR, PYTHON, tempDir } from '../../helpers/shared';

function capture() {
  const io = { stdout: '', stderr: '', out(t: string) { io.stdout += t; }, err(t: string) { io.stderr += t; } };
  return io;
}

describe('fine-tune: scGPT\'s published non-stratified validation split', () => {
  let dir: string;
  before(() => {
    dir = tempDir('scwb-valsplit-');
    execFileSync(PYTHON, [path.join(PY_DIR, 'preflight_values.py'), 'make', dir]);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the random hold-out equals sklearn\'s train_test_split(test_size=0.1, random_state=seed) without stratify', () => {
    const rows = Array.from({ length: 57 }, (_, i) => 3 * i + 1);
    const labels = Array.from({ length: 200 }, (_, i) => (i % 50 === 0 ? 'rare' : i % 2 ? 'A' : 'B'));
    for (const seed of [1, 7]) {
      const ours = scgptValidationSplit(rows, labels, seed, 'random');
      const py = JSON.parse(execFileSync(PYTHON, ['-c', [
        'import json, sys, numpy as np',
        'from sklearn.model_selection import train_test_split',
        'rows = np.array(json.loads(sys.argv[1]))',
        'tr, va = train_test_split(rows, test_size=0.1, shuffle=True, random_state=int(sys.argv[2]))',
        'print(json.dumps({"train": tr.tolist(), "validation": va.tolist()}))',
      ].join('\n'), JSON.stringify(rows), String(seed)], { encoding: 'utf8' })) as { train: number[]; validation: number[] };
      assert.deepStrictEqual(ours, py, `seed ${seed}`);
    }
    assert.throws(() => scgptValidationSplit([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], labels, 1, 'stratified'), /stratified 10% validation set/);
  });

  it('scwb finetune offers the published split when a class is too small, and --validation-split random prepares it', async () => {
    const store = path.join(dir, 'runs');
    const args = ['finetune', path.join(dir, 'rare.h5ad'), '--model', 'scgpt', '--checkpoint', 'none', '--label', 'cell_type',
      '--fractions', '0.1', '--seeds', '1', '--prepare-only', '--store', store];
    const refused = capture();
    assert.strictEqual(await main(args, refused), 2);
    assert.match(refused.stderr, /too few cells of C \(1 cell\)[\s\S]*fix: use fractions [^\n]*, or the published non-stratified validation split \(scwb finetune --validation-split random\)/);
    const ok = capture();
    assert.strictEqual(await main([...args, '--validation-split', 'random'], ok), 0, ok.stderr);
    const id = (JSON.parse(ok.stdout) as { runs: { id: string }[] }).runs[0].id;
    const s = new RunStore(store);
    const run = await s.get(id);
    assert.strictEqual(run.protocol?.validation, 'random');
    const split = (await s.readSplit(id))!;
    const validation = split.validation ?? [];
    assert.ok(validation.length > 0 && validation.every(r => !split.train.includes(r)));
    const element = runProtocol(run).elements.find(e => e.element === 'validation')!;
    assert.strictEqual(element.ours, 'random 10% hold-out (not stratified), seeded by the run seed');
    assert.strictEqual(element.published, 'train_test_split(test_size=0.1), unseeded');
    assert.strictEqual(element.deviation, false);
    assert.match(element.documented ?? '', /the published split: train_test_split\(test_size=0\.1\) without stratify/);
    const bad = capture();
    assert.strictEqual(await main(['finetune', path.join(dir, 'rare.h5ad'), '--model', 'scbert', '--checkpoint', 'none', '--label', 'cell_type', '--validation-split', 'random', '--store', store], bad), 2);
    assert.match(bad.stderr, /--validation-split is scGPT's/);
  });
});
