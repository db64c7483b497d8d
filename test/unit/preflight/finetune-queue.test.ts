/**
 * The fine-tune and queue pre-flight on a simulated dataset (raw counts, two classes of 2 cells) with the worker's tiny
 * demo checkpoints: the model-vs-data check (scBERT on raw counts, scGPT token ids outside the vocabulary), the
 * few-shot draws (scGPT's stratified validation hold-out), `scwb finetune` refusing before anything is prepared, and
 * the queue items checked against their files.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { main } from '../../../src/cli/main';
import { checkFinetuneInput, fewShotProblems, headProblem, splitLabelsOrProblem } from '../../../src/core/preflight/finetune';
import { checkQueueItems, describeQueueProblems } from '../../../src/core/preflight/queue';
import type { BaselineSpec, QueueSpec } from '../../../src/core/queue/schema';
import { RunStore } from '../../../src/core/runs/store';
import { PROJECT_ROOT, PY_DIR, PYTHON, simulateH5ad, tempDir } from '../../helpers/shared';

function capture() {
  const io = { stdout: '', stderr: '', out(t: string) { io.stdout += t; }, err(t: string) { io.stderr += t; } };
  return io;
}

describe('fine-tune and queue pre-flight (tiny demo checkpoints)', () => {
  let dir: string;
  const f = (name: string) => path.join(dir, name);
  let scbert: string;
  let scgpt: string;

  before(async () => {
    dir = tempDir('scwb-preflight-ft-');
    simulateH5ad(f('sim.h5ad'), 300, 120, 3);
    execFileSync(PYTHON, ['-m', 'scwb_worker', 'demo-checkpoints', f('ckpt'), '--genes-from', f('sim.h5ad')], {
      env: { ...process.env, PYTHONPATH: path.join(PROJECT_ROOT, 'resources', 'worker') },
    });
    execFileSync(PYTHON, [path.join(PY_DIR, 'preflight_values.py'), 'make', dir]);
    scbert = f('ckpt/scbert_tiny/scbert_tiny_pretrain.pth');
    scgpt = f('ckpt/scGPT_tiny');
    // a vocabulary with the same genes at ids beyond the tiny model's embedding (another model's vocabulary)
    const vocab = JSON.parse(fs.readFileSync(path.join(scgpt, 'vocab.json'), 'utf8')) as Record<string, number>;
    const big: Record<string, number> = {};
    for (const [g, id] of Object.entries(vocab)) big[g] = id + 5000;
    fs.writeFileSync(f('big_vocab.json'), JSON.stringify(big));
    const recipes: [string, object][] = [
      ['sim_scbert', { recipe: 'scbert', params: { referenceGenes: 'ckpt/scbert_tiny/genes.txt', minGenes: 10 } }],
      ['sim_scgpt', { recipe: 'scgpt', params: { vocab: 'ckpt/scGPT_tiny/vocab.json', nTopGenes: 100, nBins: 51 } }],
      ['sim_bigvocab', { recipe: 'scgpt', params: { vocab: 'big_vocab.json', nTopGenes: 100, nBins: 51 } }],
    ];
    for (const [name, recipe] of recipes) {
      fs.writeFileSync(f(`${name}.json`), JSON.stringify(recipe));
      const io = capture();
      assert.strictEqual(await main(['preprocess', f(`${name}.json`), f('sim.h5ad'), f(`${name}.h5ad`)], io), 0, io.stderr);
    }
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('refuses scBERT on raw counts (Check Dataset Against Model\'s value scale) with the Preprocess fix; passes the preprocessed file', async () => {
    const raw = await checkFinetuneInput({ datasetPath: f('sim.h5ad'), labelColumn: 'cell_type', model: 'scbert', checkpoint: scbert });
    assert.deepStrictEqual(raw.map(p => p.check), ['values']);
    assert.match(raw[0].message, /Value scale: .*raw counts.*log2\(1 \+ x\)/);
    assert.match(raw[0].fix, /Preprocess scBERT/);
    assert.deepStrictEqual(await checkFinetuneInput({ datasetPath: f('sim_scbert.h5ad'), labelColumn: 'cell_type', model: 'scbert', checkpoint: scbert }), []);
    // random initialisation reads the same tokens
    const none = await checkFinetuneInput({ datasetPath: f('sim.h5ad'), labelColumn: 'cell_type', model: 'scbert', checkpoint: null });
    assert.deepStrictEqual(none.map(p => p.check), ['values']);
  });

  it('refuses an scGPT dataset whose token ids lie outside the model\'s vocabulary; passes one made with the model\'s vocab.json', async () => {
    const bad = await checkFinetuneInput({ datasetPath: f('sim_bigvocab.h5ad'), labelColumn: 'cell_type', model: 'scgpt', checkpoint: scgpt, seeds: [1] });
    assert.deepStrictEqual(bad.map(p => p.check), ['vocabulary']);
    assert.match(bad[0].message, /gene token id 51\d\d is outside the model's vocabulary of 123 tokens/);
    assert.match(bad[0].fix, /Preprocess scGPT with this model's vocab\.json/);
    assert.deepStrictEqual(await checkFinetuneInput({ datasetPath: f('sim_scgpt.h5ad'), labelColumn: 'cell_type', model: 'scgpt', checkpoint: scgpt, seeds: [1] }), []);
  });

  it('names the classes too small for scGPT\'s stratified validation hold-out and the fractions that work', async () => {
    const data = await splitLabelsOrProblem({ datasetPath: f('rare.h5ad'), labelColumn: 'cell_type' });
    assert.ok(!('check' in data));
    const seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const problems = fewShotProblems(data, 'scgpt', [0.1, 0.5], seeds, true);
    assert.strictEqual(problems.length, 1);
    assert.strictEqual(problems[0].fraction, 0.1);
    assert.match(problems[0].message, /^fraction 0\.1 \(every seed\): too few cells of C \(1 cell\); the scGPT protocol holds out a stratified 10% validation set/);
    assert.strictEqual(problems[0].fix, 'use fractions 0.25, 0.5, 0.75, 1 (every seed can be drawn there), or the published non-stratified validation split (scwb finetune --validation-split random)');
    // scBERT validates on the test set: the same fraction can be drawn
    assert.deepStrictEqual(fewShotProblems(data, 'scbert', [0.1], seeds, false), []);
  });

  it('checks the draw the run makes: scBERT\'s published stream rounds (7 cells x 0.1 -> 1 cell), the baseline\'s per-seed draw floors', () => {
    const labels = ['A', 'B', 'A', 'B', 'A', 'B', 'A', 'A', 'B'];
    const data = { split: { train: [0, 1, 2, 3, 4, 5, 6], test: [7, 8] }, trainLabels: labels } as unknown as Parameters<typeof fewShotProblems>[0];
    assert.deepStrictEqual(fewShotProblems(data, 'scbert', [0.1], [0, 1, 2], false), [], 'round(0.7) = 1 cell in the published few-shot script');
    assert.match(fewShotProblems(data, 'baseline', [0.1], [0], false)[0]?.message ?? '', /leaves no cell to train on/);
  });

  it('refuses a checkpoint whose classifier head predicts other classes, unless its head keys are ignored', () => {
    assert.strictEqual(headProblem(null, ['A', 'B'], 'scbert'), null, 'a pre-trained checkpoint has no head');
    assert.strictEqual(headProblem(['A', 'B'], ['A', 'B'], 'scbert'), null);
    const fewer = headProblem(['A', 'B', 'C'], ['A', 'B'], 'scbert');
    assert.match(fewer!.message, /head predicts 3 classes \(A, B, C\) but the dataset's labels are 2 classes \(A, B\): the worker would fail to load the head/);
    assert.match(fewer!.fix, /--ignore-keys 'to_out\.\*'/);
    assert.match(headProblem(['A', 'B'], ['A', 'X'], 'scgpt')!.message, /map the head's outputs to the wrong classes/);
    assert.strictEqual(headProblem(['A', 'B', 'C'], ['A', 'B'], 'scbert', ['to_out.*']), null);
    assert.strictEqual(headProblem(['A', 'B', 'C'], ['A', 'B'], 'scgpt', ['cls_decoder.*']), null);
    assert.ok(headProblem(['A', 'B', 'C'], ['A', 'B'], 'scgpt', ['to_out.*']), 'another family\'s head keys do not help');
  });

  it('scwb finetune refuses before preparing anything (exit 2, reason and fix on stderr)', async () => {
    const store = f('store-cli');
    const a = capture();
    assert.strictEqual(await main(['finetune', f('sim.h5ad'), '--model', 'scbert', '--checkpoint', scbert, '--label', 'cell_type', '--prepare-only', '--store', store], a), 2);
    assert.match(a.stderr, /cannot start \(nothing was prepared\)/);
    assert.match(a.stderr, /Value scale: .*raw counts[\s\S]*fix: Run Preprocess scBERT/);
    const b = capture();
    assert.strictEqual(await main(['finetune', f('rare.h5ad'), '--model', 'scgpt', '--checkpoint', 'none', '--label', 'cell_type', '--fractions', '0.1', '--seeds', '1', '--prepare-only', '--store', store], b), 2);
    assert.match(b.stderr, /fraction 0\.1 \(seed 1\): too few cells of C \(1 cell\)[\s\S]*fix: use fractions 0\.25, 0\.5, 0\.75, 1/);
    const c = capture();
    assert.strictEqual(await main(['finetune', f('sim_scbert.h5ad'), '--model', 'scbert', '--checkpoint', scbert, '--label', 'nope', '--prepare-only', '--store', store], c), 2);
    assert.match(c.stderr, /obs has no column 'nope'[\s\S]*fix: choose a label column/);
    assert.ok(!fs.existsSync(store) || (await new RunStore(store).list()).length === 0, 'no run was prepared');
    // a valid request is prepared
    const d = capture();
    assert.strictEqual(await main(['finetune', f('sim_scbert.h5ad'), '--model', 'scbert', '--checkpoint', scbert, '--label', 'cell_type', '--prepare-only', '--store', store], d), 0, d.stderr);
  });

  it('checks every queue item against its files: label column, few-shot draws, model vs data, a baseline\'s value scale', async () => {
    const common = { split: { kind: 'stratified' as const, testSize: 0.2, seed: 2022 }, experiment: 'q', stratifiedFewShot: false };
    const ft = (datasetPath: string, labelColumn: string, fraction = 1, seed = 0): QueueSpec => ({
      kind: 'finetune', ...common, datasetPath, labelColumn, fraction, seed, model: 'scbert', checkpoint: scbert, ablation: 'none', device: 'auto',
    });
    const lr = (datasetPath: string): QueueSpec => ({ kind: 'baseline', ...common, datasetPath, labelColumn: 'cell_type', fraction: 1, seed: 0, model: { penalty: 'l1', C: 0.1 } });
    const scgptRare = (fraction: number): QueueSpec => ({
      kind: 'finetune', ...common, stratifiedFewShot: true, datasetPath: f('rare.h5ad'), labelColumn: 'cell_type', fraction, seed: 1,
      model: 'scgpt', checkpoint: null, ablation: 'no-pretraining', device: 'auto',
    });
    const items = [
      { label: 'ok seed 0', spec: ft(f('sim_scbert.h5ad'), 'cell_type') },
      { label: 'ok seed 1', spec: ft(f('sim_scbert.h5ad'), 'cell_type', 1, 1) },
      { label: 'no such column', spec: ft(f('sim_scbert.h5ad'), 'celltype') },
      { label: 'raw counts', spec: ft(f('sim.h5ad'), 'cell_type') },
      { label: 'LR ok', spec: lr(f('sim_scbert.h5ad')) },
      { label: 'LR on counts', spec: lr(f('sim.h5ad')) },
      { label: 'rare 0.1', spec: scgptRare(0.1) },
      { label: 'rare 0.5', spec: scgptRare(0.5) },
      { label: 'no such file', spec: ft(f('not-there.h5ad'), 'cell_type') },
    ];
    const failed = await checkQueueItems(items);
    assert.deepStrictEqual(failed.map(x => [x.label, x.problems.map(p => p.check)]), [
      ['no such column', ['labels']], ['raw counts', ['values']], ['LR on counts', ['values']], ['rare 0.1', ['few-shot']], ['no such file', ['file']],
    ]);
    assert.match(failed[4].problems[0].message, /not-there\.h5ad/);
    assert.match(failed[0].problems[0].message, /obs has no column 'celltype'/);
    assert.match(failed[2].problems[0].fix, /Preprocess first.*--transform normalize-log1p/);
    // cross-validated C: every class needs k training cells (rare.h5ad's C has about 10 in the training split)
    const cv = (folds: number): QueueSpec => ({ ...(lr(f('rare.h5ad')) as BaselineSpec), model: { penalty: 'l1', cvGrid: [0.1, 1], folds } });
    const folds = await checkQueueItems([{ label: 'cv 5', spec: cv(5) }, { label: 'cv 11', spec: cv(11) }]);
    assert.deepStrictEqual(folds.map(x => [x.label, x.problems.map(p => p.check)]), [['cv 11', ['cv-folds']]]);
    assert.match(folds[0].problems[0].message, /11-fold cross-validation needs 11 training cells of every class, but C has \d+/);
    const text = describeQueueProblems(failed, items.length);
    assert.match(text, /^The experiment was not queued: 5 of 9 runs cannot start\. /);
    assert.match(text, /obs has no column 'celltype'.*\(no such column\)\. Fix: choose a label column/);
  });
});
