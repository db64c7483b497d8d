/**
 * The baseline's pre-flight value check: the dataset view's classifier on raw counts, FPKM and log-normalised
 * files; the on-the-fly transforms against numpy (normalize_total then log1p; log1p); `scwb baseline` refusing
 * values that are not log-normalised with the choices on stderr, and each choice recorded in run.json.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { main } from '../../../src/cli/main';
import { openH5ad } from '../../../src/core/h5ad/read';
import { decideBaselineValues, preprocessedVersions } from '../../../src/core/preflight/baseline';
import { applyValueTransform, scanValueScale } from '../../../src/core/preflight/values';
import { RunStore } from '../../../src/core/runs/store';
import { h5adPath, PY_DIR, PYTHON, runPythonJson, tempDir } from '../../helpers/shared';

function capture() {
  const io = { stdout: '', stderr: '', out(t: string) { io.stdout += t; }, err(t: string) { io.stderr += t; } };
  return io;
}

interface Out { runs: { id: string; status: string; accuracy: number }[] }

describe('baseline pre-flight: value scale', () => {
  let dir: string;
  before(() => {
    dir = tempDir('scwb-preflight-values-');
    execFileSync(PYTHON, [path.join(PY_DIR, 'preflight_values.py'), 'make', dir]);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const f = (name: string) => path.join(dir, name);

  it('classifies counts, FPKM and log-normalised values with the dataset view\'s classifier and offers the matching transform', async () => {
    const counts = await scanValueScale(f('counts.h5ad'));
    const fpkm = await scanValueScale(f('fpkm.h5ad'));
    const logn = await scanValueScale(f('counts_lognorm.h5ad'));
    assert.deepStrictEqual([counts.kind, fpkm.kind, logn.kind], ['raw-counts', 'normalized', 'log-normalized']);
    const c = decideBaselineValues(counts, f('counts.h5ad'), undefined);
    assert.ok(!c.ok && c.advice.transform === 'normalize-log1p');
    const t = decideBaselineValues(fpkm, f('fpkm.h5ad'), undefined);
    assert.ok(!t.ok && t.advice.transform === 'log1p');
    assert.match(t.problem, /fpkm\.h5ad holds normalised values that are not log-transformed \(TPM, FPKM, CPM or similar\).*published LR baseline is fitted on log-normalised values/);
    const l = decideBaselineValues(logn, f('counts_lognorm.h5ad'), undefined);
    assert.ok(l.ok && l.valueTransform === 'none' && l.valueCheck.decision === 'log-normalized');
    // a second log of log-normalised values is refused
    assert.ok(!decideBaselineValues(logn, f('counts_lognorm.h5ad'), { kind: 'transform', transform: 'log1p' }).ok);
  });

  for (const [file, mode] of [['counts.h5ad', 'normalize-log1p'], ['fpkm.h5ad', 'log1p']] as const) {
    it(`${mode} on ${file} equals numpy's`, async () => {
      const r = await openH5ad(f(file));
      let X;
      try { X = r.readAllRows(); } finally { r.close(); }
      applyValueTransform(X, mode);
      const ref = runPythonJson<{ indptr: number[]; indices: number[]; data: number[] }>('preflight_values.py', ['transform', f(file), mode]);
      assert.deepStrictEqual(Array.from(X.indptr), ref.indptr);
      assert.deepStrictEqual(Array.from(X.indices), ref.indices);
      let worst = 0;
      ref.data.forEach((v, k) => { worst = Math.max(worst, Math.abs(X.data[k] - v) / Math.max(1, Math.abs(v))); });
      assert.ok(worst < 1e-12, `largest relative difference ${worst}`);
    });
  }

  it('scwb baseline refuses FPKM values with the choices on stderr (exit 2), and creates no run', async () => {
    const store = f('store-refused');
    const io = capture();
    assert.strictEqual(await main(['baseline', f('fpkm.h5ad'), '--label', 'cell_type', '--store', store], io), 2);
    assert.match(io.stderr, /fpkm\.h5ad holds normalised values that are not log-transformed/);
    assert.match(io.stderr, /published LR baseline is fitted on log-normalised values/);
    assert.match(io.stderr, /--transform log1p +fit on log1p of the stored values, computed on the fly/);
    assert.match(io.stderr, /--force +fit on the values as stored/);
    assert.match(io.stderr, /scwb preprocess RECIPE\.json fpkm\.h5ad OUT\.h5ad/);
    assert.strictEqual(io.stdout, '');
    assert.ok(!fs.existsSync(store) || (await new RunStore(store).list()).length === 0);
  });

  it('--transform log1p fits on log1p of the stored values (the same fit as on a log1p file), recorded in run.json', async () => {
    const store = f('store-log1p');
    const a = capture();
    assert.strictEqual(await main(['baseline', f('fpkm.h5ad'), '--label', 'cell_type', '--transform', 'log1p', '--store', store], a), 0, a.stderr);
    const b = capture();
    assert.strictEqual(await main(['baseline', f('fpkm_log1p.h5ad'), '--label', 'cell_type', '--store', store], b), 0, b.stderr);
    const ra = (JSON.parse(a.stdout) as Out).runs[0];
    const rb = (JSON.parse(b.stdout) as Out).runs[0];
    assert.strictEqual(ra.accuracy, rb.accuracy);
    const s = new RunStore(store);
    assert.deepStrictEqual((await s.readPredictions(ra.id))!.map(p => p.predictedLabel), (await s.readPredictions(rb.id))!.map(p => p.predictedLabel));
    const values = (await s.get(ra.id)).parameters.values as Record<string, unknown>;
    assert.deepStrictEqual({ scale: values.scale, transform: values.transform, decision: values.decision }, { scale: 'normalized', transform: 'log1p', decision: 'transform' });
    assert.strictEqual(((await s.get(rb.id)).parameters.values as Record<string, unknown>).decision, 'log-normalized');
    assert.match(await s.readLog(ra.id), /fitted on log1p of the stored values/);
  });

  it('--transform normalize-log1p on counts gives the fit of the log-normalised file; --force keeps the values, recorded', async () => {
    const store = f('store-counts');
    const a = capture();
    assert.strictEqual(await main(['baseline', f('counts.h5ad'), '--label', 'cell_type', '--transform', 'normalize-log1p', '--store', store], a), 0, a.stderr);
    const b = capture();
    assert.strictEqual(await main(['baseline', f('counts_lognorm.h5ad'), '--label', 'cell_type', '--store', store], b), 0, b.stderr);
    const s = new RunStore(store);
    const [ra, rb] = [(JSON.parse(a.stdout) as Out).runs[0], (JSON.parse(b.stdout) as Out).runs[0]];
    assert.deepStrictEqual((await s.readPredictions(ra.id))!.map(p => p.predictedLabel), (await s.readPredictions(rb.id))!.map(p => p.predictedLabel));
    const c = capture();
    assert.strictEqual(await main(['baseline', f('counts.h5ad'), '--label', 'cell_type', '--force', '--store', store], c), 0, c.stderr);
    assert.match(c.stderr, /warning: all values are non-negative integers.*--force/);
    const rc = (JSON.parse(c.stdout) as Out).runs[0];
    const values = (await s.get(rc.id)).parameters.values as Record<string, unknown>;
    assert.deepStrictEqual({ scale: values.scale, transform: values.transform, decision: values.decision }, { scale: 'raw-counts', transform: 'none', decision: 'forced' });
  });

  it('scaled values (negative entries) offer no transform: refused without --force, a transform is refused', async () => {
    const scaled = h5adPath('scanpy_pbmc68k_reduced_2025.h5ad');
    const a = capture();
    assert.strictEqual(await main(['baseline', scaled, '--label', 'bulk_labels', '--store', f('store-scaled')], a), 2);
    assert.match(a.stderr, /holds centred or scaled values \(negative entries\)/);
    assert.doesNotMatch(a.stderr, /--transform/);
    const b = capture();
    assert.strictEqual(await main(['baseline', scaled, '--label', 'bulk_labels', '--transform', 'log1p', '--store', f('store-scaled')], b), 2);
    assert.match(b.stderr, /log1p of the stored values needs non-negative values, but X holds negative ones/);
  });

  it('--use-preprocessed takes the version Preprocess made beside the file; flags that conflict are refused', async () => {
    const sub = f('pre');
    fs.mkdirSync(sub);
    fs.copyFileSync(f('counts.h5ad'), path.join(sub, 'counts.h5ad'));
    const recipe = path.join(sub, 'benchmark.json');
    fs.writeFileSync(recipe, JSON.stringify({ recipe: 'benchmark', params: {} }));
    const p = capture();
    assert.strictEqual(await main(['preprocess', recipe, path.join(sub, 'counts.h5ad'), path.join(sub, 'counts.benchmark.h5ad')], p), 0, p.stderr);
    assert.deepStrictEqual((await preprocessedVersions(path.join(sub, 'counts.h5ad'))).map(v => path.basename(v.file)), ['counts.benchmark.h5ad']);
    const refused = capture();
    assert.strictEqual(await main(['baseline', path.join(sub, 'counts.h5ad'), '--label', 'cell_type', '--store', f('store-pre')], refused), 2);
    assert.match(refused.stderr, /--use-preprocessed +fit on counts\.benchmark\.h5ad \(benchmark recipe\)/);
    const io = capture();
    assert.strictEqual(await main(['baseline', path.join(sub, 'counts.h5ad'), '--label', 'cell_type', '--use-preprocessed', '--store', f('store-pre')], io), 0, io.stderr);
    const run = await new RunStore(f('store-pre')).get((JSON.parse(io.stdout) as Out).runs[0].id);
    assert.strictEqual(run.dataset.path, path.join(sub, 'counts.benchmark.h5ad'));
    const both = capture();
    assert.strictEqual(await main(['baseline', f('counts.h5ad'), '--label', 'cell_type', '--force', '--transform', 'log1p'], both), 2);
    assert.match(both.stderr, /give one of --transform, --force and --use-preprocessed/);
  });
});
