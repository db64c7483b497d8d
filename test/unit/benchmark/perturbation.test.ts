/**
 * Perturbation prediction (the benchmark's MSE task) end to end with the real worker on a tiny dataset: `scwb probe
 * --task perturbation-prediction` prepares one run per trial (control cells = validation, perturbed cells split at
 * random or, zero-shot, by perturbation), the worker writes perturbation.json, finalize copies the scores into run.json
 * and `scwb results` shows the MSE table (mean ± np.std over trials, checked against numpy).
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { main } from '../../../src/cli/main';
import { perturbationRows } from '../../../src/core/results/perturbation';
import { RunStore } from '../../../src/core/runs/store';
import { tempDir } from '../../helpers/shared';

const PYTHON = '/usr/bin/python3';

async function scwb(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: t => { out += t; }, err: t => { err += t; } });
  return { code, out, err };
}

const WRITE = `
import sys, numpy as np, anndata, pandas as pd
rng = np.random.RandomState(0)
labels = ["ctrl"] * 40 + ["G1"] * 20 + ["G2"] * 20 + ["G3"] * 20 + ["G4"] * 20
X = rng.poisson(1.0, (len(labels), 40)).astype(np.float32)
for i, l in enumerate(labels):
    if l != "ctrl":
        X[i, int(l[1:])] = 0.0
a = anndata.AnnData(np.log1p(X), obs=pd.DataFrame({"perturbation": pd.Categorical(labels)}, index=["c%d" % i for i in range(len(labels))]),
                    var=pd.DataFrame(index=["G%d" % i for i in range(40)]))
a.write_h5ad(sys.argv[1])
`;

describe('benchmark: perturbation prediction with the real worker (tiny model, CPU)', function () {
  let dir: string;
  let data: string;
  let store: string;
  let encoder: string;
  before(async () => {
    dir = tempDir('scwb-perturb-');
    data = path.join(dir, 'perturb.h5ad');
    execFileSync(PYTHON, ['-c', WRITE, data]);
    store = path.join(dir, 'runs');
    fs.writeFileSync(path.join(dir, 'tiny.json'), JSON.stringify({ dim: 16, depth: 1, heads: 2 }));
    const pre = await scwb(['pretrain', data, '--structure', 'transformer', '--config', path.join(dir, 'tiny.json'), '--epochs', '1',
      '--batch-size', '32', '--max-seq-len', '32', '--warmup-steps', '2', '--device', 'cpu', '--python', PYTHON, '--store', store]);
    assert.strictEqual(pre.code, 0, pre.err + pre.out);
    encoder = (JSON.parse(pre.out) as { encoder: string }).encoder;
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('zero-shot splits hold whole perturbations out; control cells are the validation rows', async () => {
    const res = await scwb(['probe', data, '--task', 'perturbation-prediction', '--encoder', encoder, '--label', 'perturbation', '--zero-shot',
      '--trials', '2', '--store', store, '--experiment', 'zero-shot', '--prepare-only']);
    assert.strictEqual(res.code, 0, res.err);
    const s = new RunStore(store);
    const runs = (await s.list()).filter(r => r.experiment === 'zero-shot');
    assert.strictEqual(runs.length, 2);
    for (const r of runs) {
      const split = (await s.readSplit(r.id))!;
      assert.deepStrictEqual(split.validation, Array.from({ length: 40 }, (_, i) => i));
      const group = (i: number) => `G${1 + Math.floor((i - 40) / 20)}`;
      const train = new Set(split.train.map(group));
      assert.ok(split.test.length > 0 && split.test.every(i => i >= 40 && !train.has(group(i))), 'no test perturbation is trained on');
      assert.strictEqual(split.train.length + split.test.length, 80);
      assert.deepStrictEqual(r.split, { kind: 'group', column: 'perturbation', testSize: 0.3, seed: r.seed });
      assert.strictEqual(r.model.label.endsWith('perturbation prediction (zero-shot)'), true, r.model.label);
    }
  });

  it('runs both stages in the worker, scores the runs by test MSE and shows them in scwb results', async () => {
    const res = await scwb(['probe', data, '--task', 'perturbation-prediction', '--encoder', encoder, '--label', 'perturbation',
      '--trials', '2', '--epochs', '2', '--batch-size', '32', '--device', 'cpu', '--python', PYTHON, '--store', store, '--experiment', 'perturb']);
    assert.strictEqual(res.code, 0, res.err + res.out);
    const out = JSON.parse(res.out) as { runs: { id: string; status: string; mse?: number; error: string | null }[] };
    assert.strictEqual(out.runs.length, 2);
    const s = new RunStore(store);
    const mses: number[] = [];
    for (const r of out.runs) {
      assert.strictEqual(r.status, 'completed', r.error ?? '');
      const rec = await s.get(r.id);
      assert.ok(rec.perturbation && rec.perturbation.mse === r.mse && rec.perturbation.nControl === 40);
      assert.strictEqual((await s.readSplit(r.id))?.validation?.length, 40);
      mses.push(rec.perturbation!.mse);
    }
    const rows = perturbationRows(await s.list(), 'perturb');
    assert.strictEqual(rows.length, 1);
    const ref = JSON.parse(execFileSync(PYTHON, ['-c', 'import sys, json, numpy as np; v = json.loads(sys.argv[1]); print(json.dumps([float(np.mean(v)), float(np.std(v))]))',
      JSON.stringify(mses)], { encoding: 'utf8' })) as number[];
    assert.ok(Math.abs(rows[0].mse.mean - ref[0]) < 1e-12 && Math.abs(rows[0].mse.sd - ref[1]) < 1e-12, JSON.stringify([rows[0].mse, ref]));
    assert.strictEqual(rows[0].trials, 2);
    const table = await scwb(['results', store, '--experiment', 'perturb']);
    assert.strictEqual(table.code, 0, table.err);
    assert.match(table.out, /### Perturbation prediction/);
    assert.ok(table.out.includes(`| perturb | perturb.h5ad | ${rows[0].model} | 2 | ${rows[0].mse.mean.toFixed(4)} ± ${rows[0].mse.sd.toFixed(4)} |`), table.out);
  });
});
