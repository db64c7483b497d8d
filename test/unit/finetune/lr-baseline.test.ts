/**
 * A fine-tune experiment carries its LR baseline: after a fine-tune grid is prepared, the published LR (L1, C = 0.1)
 * runs on the same file, split, fractions and seeds in the same experiment, with the on-the-fly log transform the
 * published baseline expects on raw counts (recorded in run.json); LR runs that already exist with those keys are
 * reused, and a second call runs nothing.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { main } from '../../../src/cli/main';
import { ensureLrBaselines, lrGrids, queuedFinetuneRunsLr } from '../../../src/core/finetune/lr-baseline';
import { expandPreset } from '../../../src/core/presets/grid';
import { PRESETS, presetById } from '../../../src/core/presets/presets';
import type { Preset } from '../../../src/core/presets/schema';
import { prepareFinetuneGrid } from '../../../src/core/finetune/prepare';
import { runBaselineGrid, type BaselineGridInput } from '../../../src/core/runs/baseline';
import { RunStore } from '../../../src/core/runs/store';
import type { TaskContext } from '../../../src/core/workers/task';
import { PY_DIR, PYTHON, tempDir } from '../../helpers/shared';

const ctx = (): TaskContext => ({ progress: () => undefined, cancelled: false });

/** A preset with every file and checkpoint bound (placeholder paths: only expanded, never run). */
function bound(p: Preset): Preset {
  const c = structuredClone(p);
  for (const g of c.grids) {
    for (const d of g.datasets) { d.path = `/data/${d.name}.h5ad`; if (d.split.kind === 'reference-query') d.queryPath = `/data/${d.name}_query.h5ad`; }
    for (const m of g.models) { if (m.kind === 'finetune') m.checkpoint = '/models/ckpt'; if (m.kind === 'probe') m.encoderPath = '/models/encoder.pt'; }
  }
  return c;
}

describe('fine-tune: its LR baseline on the same split, fractions and seeds', () => {
  let dir: string;
  let root: string;
  let ckpt: string;
  before(() => {
    dir = tempDir('scwb-ft-lr-');
    root = path.join(dir, 'runs');
    execFileSync(PYTHON, [path.join(PY_DIR, 'preflight_values.py'), 'make', dir]);
    ckpt = path.join(dir, 'panglao_pretrain.pth');
    fs.writeFileSync(ckpt, 'not read by src/core');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs the missing LR runs (normalize-log1p on raw counts, recorded), reuses existing ones, and runs nothing the second time', async () => {
    const dataset = path.join(dir, 'counts.h5ad');
    const split = { kind: 'stratified' as const, testSize: 0.2, seed: 2022 };
    // an LR run of another experiment already covers fraction 1, seed 0
    await runBaselineGrid({ datasetPath: dataset, labelColumn: 'cell_type', split, model: { penalty: 'l1', C: 0.1 }, fractions: [1], seeds: [0], storeRoot: root, experiment: 'older LR', valueTransform: 'normalize-log1p' }, ctx());
    const plan = await prepareFinetuneGrid({
      datasetPath: dataset, labelColumn: 'cell_type', model: 'scbert', checkpoint: ckpt, storeRoot: root,
      fractions: [0.5, 1], seeds: [0, 1], experiment: 'counts scBERT',
    }, ctx());
    const calls: BaselineGridInput[] = [];
    const run = (input: BaselineGridInput) => { calls.push(input); return runBaselineGrid(input, ctx()); };
    const out = await ensureLrBaselines(plan, { run });
    assert.strictEqual(out.skipped, null);
    assert.strictEqual(out.reused, 1);
    assert.strictEqual(out.ran, 3);
    assert.strictEqual(out.transform, 'normalize-log1p');
    assert.deepStrictEqual(calls.map(c => [c.fractions, c.seeds]), [[[0.5], [0, 1]], [[1], [1]]]);
    const runs = await new RunStore(root).list();
    const lr = runs.filter(r => r.kind === 'baseline' && r.experiment === 'counts scBERT');
    assert.deepStrictEqual(lr.map(r => `${r.fraction}/${r.seed}`).sort(), ['0.5/0', '0.5/1', '1/1']);
    for (const r of lr) {
      assert.strictEqual(r.status, 'completed');
      assert.strictEqual(r.model.label, 'LR L1 C=0.1');
      assert.deepStrictEqual(r.split, split);
      assert.strictEqual(r.dataset.path, path.resolve(dataset));
      assert.deepStrictEqual((r.parameters.values as Record<string, unknown>).transform, 'normalize-log1p');
      assert.strictEqual((r.parameters.values as Record<string, unknown>).decision, 'transform');
    }
    const again = await ensureLrBaselines(plan, { run });
    assert.deepStrictEqual([again.ran, again.reused, calls.length], [0, 4, 2]);
  });

  it('leaves (fraction, seed) pairs to LR runs queued but not started: same file, split, fraction and seed only', async () => {
    const dataset = path.join(dir, 'counts.h5ad');
    const store = path.join(dir, 'pending-runs');
    const split = { kind: 'stratified' as const, testSize: 0.2, seed: 2022 };
    const plan = await prepareFinetuneGrid({
      datasetPath: dataset, labelColumn: 'cell_type', model: 'scbert', checkpoint: ckpt, storeRoot: store,
      fractions: [1], seeds: [0, 1, 2], experiment: 'queued',
    }, ctx());
    const calls: BaselineGridInput[] = [];
    const run = (input: BaselineGridInput) => { calls.push(input); return runBaselineGrid(input, ctx()); };
    const pending = [
      { datasetPath: dataset, split, fraction: 1, seed: 0 }, // covers seed 0
      { datasetPath: dataset, split: { ...split, seed: 7 }, fraction: 1, seed: 1 }, // another split: does not cover seed 1
      { datasetPath: path.join(dir, 'other.h5ad'), split, fraction: 1, seed: 2 }, // another file: does not cover seed 2
    ];
    const out = await ensureLrBaselines(plan, { run, pending });
    assert.deepStrictEqual([out.ran, out.reused], [2, 1]);
    assert.deepStrictEqual(calls.map(c => c.seeds), [[1, 2]]);
  });

  it('a queued fine-tune of a paper preset runs no LR beside it (the preset holds the published LR grid); hand-made grids do', () => {
    for (const p of PRESETS) assert.strictEqual(queuedFinetuneRunsLr(p.id), false, p.id);
    assert.strictEqual(queuedFinetuneRunsLr('custom'), true);
    assert.strictEqual(queuedFinetuneRunsLr(''), true);
    // Table 1 is why: its LR seeds are not its fine-tune seeds, so LR "beside" each fine-tune would add LR runs.
    const t1 = expandPreset(bound(presetById('scbert-table1')));
    const lrSeeds = new Set(t1.filter(i => i.spec.kind === 'baseline').map(i => i.spec.seed));
    assert.ok(t1.some(i => i.spec.kind === 'finetune' && !lrSeeds.has(i.spec.seed)));
  });

  it('an interrupted LR run (no result) does not count as existing: the fine-tune runs its LR again', async () => {
    const dataset = path.join(dir, 'counts.h5ad');
    const store = path.join(dir, 'interrupted-runs');
    const split = { kind: 'stratified' as const, testSize: 0.2, seed: 2022 };
    const old = await runBaselineGrid({ datasetPath: dataset, labelColumn: 'cell_type', split, model: { penalty: 'l1', C: 0.1 }, fractions: [1], seeds: [0], storeRoot: store, experiment: 'older', valueTransform: 'normalize-log1p' }, ctx());
    await new RunStore(store).update(old.runs[0].id, { status: 'interrupted', summary: null });
    const plan = await prepareFinetuneGrid({ datasetPath: dataset, labelColumn: 'cell_type', model: 'scbert', checkpoint: ckpt, storeRoot: store, fractions: [1], seeds: [0], experiment: 'after' }, ctx());
    const out = await ensureLrBaselines(plan, { run: input => runBaselineGrid(input, ctx()) });
    assert.deepStrictEqual([out.ran, out.reused], [1, 0]);
  });

  it('fractions that miss the same seeds run as one grid', () => {
    assert.deepStrictEqual(lrGrids([{ fraction: 1, seed: 0 }, { fraction: 0.1, seed: 0 }, { fraction: 0.5, seed: 2 }]),
      [{ fractions: [1, 0.1], seeds: [0] }, { fractions: [0.5], seeds: [2] }]);
  });

  it('scwb finetune runs the missing LR baselines before the worker, says so on stderr, and --no-baseline skips them', async () => {
    const dataset = path.join(dir, 'counts.h5ad');
    const args = (store: string, ...more: string[]) => ['finetune', dataset, '--model', 'scgpt', '--checkpoint', 'none', '--label', 'cell_type',
      '--seeds', '1,2', '--python', path.join(dir, 'no-such-python'), '--store', store, '--experiment', 'cli', ...more];
    const io = { stdout: '', stderr: '', out(t: string) { io.stdout += t; }, err(t: string) { io.stderr += t; } };
    assert.strictEqual(await main(args(path.join(dir, 'cli-runs')), io), 1, 'the worker cannot start without Python');
    assert.match(io.stderr, /ran 2 LR baseline runs \(L1, C=0\.1, normalize-log1p on the fly\) on counts\.h5ad/);
    const lr = (await new RunStore(path.join(dir, 'cli-runs')).list()).filter(r => r.kind === 'baseline');
    assert.deepStrictEqual(lr.map(r => [r.experiment, r.status, r.fraction, r.seed, r.stratifiedFewShot]).sort(),
      [['cli', 'completed', 1, 1, true], ['cli', 'completed', 1, 2, true]]);
    const quiet = { stdout: '', stderr: '', out(t: string) { quiet.stdout += t; }, err(t: string) { quiet.stderr += t; } };
    assert.strictEqual(await main(args(path.join(dir, 'cli-none'), '--no-baseline'), quiet), 1);
    assert.ok(!quiet.stderr.includes('LR baseline'), quiet.stderr);
    assert.deepStrictEqual((await new RunStore(path.join(dir, 'cli-none')).list()).filter(r => r.kind === 'baseline'), []);
  });
});
