/**
 * The real worker (`/usr/bin/python3 -m scwb_worker pretrain|probe`, resources/worker) on a tiny simulated dataset,
 * driven through `scwb pretrain` and `scwb probe` as a user runs them: the runs src/core prepares are what the
 * worker reads (docs/worker-benchmark.md), and what it writes is what src/core finalizes and the results table shows.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { main } from '../../../src/cli/main';
import { buildResultsModel } from '../../../src/core/results/model';
import { ProbeParametersSchema, RunEventSchema } from '../../../src/core/runs/schema';
import { RunStore } from '../../../src/core/runs/store';
import { simulateH5ad, tempDir } from '../../helpers/shared';

const PYTHON = '/usr/bin/python3';

async function scwb(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: t => { out += t; }, err: t => { err += t; } });
  return { code, out, err };
}

function events(file: string): ReturnType<typeof RunEventSchema.parse>[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(l => RunEventSchema.parse(JSON.parse(l)));
}

describe('benchmark: scwb pretrain and scwb probe with the real worker (tiny model, CPU)', () => {
  let dir: string;
  let data: string;
  let store: string;
  before(() => {
    dir = tempDir('scwb-bench-worker-');
    data = simulateH5ad(path.join(dir, 'sim.h5ad'), 240, 120, 5);
    store = path.join(dir, 'runs');
    fs.writeFileSync(path.join(dir, 'tiny.json'), JSON.stringify({ dim: 16, depth: 1, heads: 2 }));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('pre-trains a tiny transformer (encoder.pt, validation loss with accuracy null), then probes it: linear + kNN over 2 trials beside LR', async () => {
    const pre = await scwb(['pretrain', data, '--structure', 'transformer', '--config', path.join(dir, 'tiny.json'), '--epochs', '2',
      '--batch-size', '32', '--max-seq-len', '64', '--warmup-steps', '2', '--validation-fraction', '0.1', '--device', 'cpu', '--no-amp',
      '--python', PYTHON, '--store', store]);
    assert.strictEqual(pre.code, 0, pre.err + pre.out);
    const p = JSON.parse(pre.out) as { encoder: string; runs: { id: string; status: string; error: string | null }[] };
    assert.strictEqual(p.runs[0].status, 'completed', p.runs[0].error ?? '');
    assert.ok(fs.statSync(p.encoder).size > 0, 'encoder.pt written');
    const ev = events(path.join(store, p.runs[0].id, 'events.jsonl'));
    const vals = ev.filter(e => e.type === 'validation');
    assert.ok(vals.length >= 1 && vals.every(v => v.type === 'validation' && v.accuracy === null), 'MSE objective: validation accuracy null');
    assert.ok(ev.some(e => e.type === 'train'));
    assert.ok(ev.some(e => e.type === 'metric' && e.name === 'tokensPerSec'));

    const probe = await scwb(['probe', data, '--encoder', p.encoder, '--label', 'cell_type', '--trials', '2', '--epochs', '3',
      '--device', 'cpu', '--python', PYTHON, '--store', store, '--experiment', 'sim probes']);
    assert.strictEqual(probe.code, 0, probe.err + probe.out);
    const q = JSON.parse(probe.out) as { runs: { id: string; status: string; error: string | null; accuracy: number | null }[]; baselineRuns: string[] };
    assert.strictEqual(q.runs.length, 4);
    for (const r of q.runs) {
      assert.strictEqual(r.status, 'completed', r.error ?? '');
      assert.ok(r.accuracy !== null && r.accuracy >= 0 && r.accuracy <= 1);
    }
    const s = new RunStore(store);
    const first = await s.get(q.runs[0].id);
    assert.strictEqual(ProbeParametersSchema.parse(first.parameters.probe).writeEmbeddings, true);
    const npy = fs.readFileSync(s.file(first.id, 'embeddings.npy'));
    assert.strictEqual(npy.subarray(1, 6).toString('latin1'), 'NUMPY');
    const meta = JSON.parse(fs.readFileSync(s.file(first.id, 'embeddings.json'), 'utf8')) as { rows: number; dim: number };
    assert.deepStrictEqual([meta.rows, meta.dim], [240, 16]);
    const results = buildResultsModel(await s.list(), [], { experiment: 'sim probes' }).experiments[0];
    assert.strictEqual(results.probe, true);
    const label = (m: string) => results.rows.find(r => r.model.endsWith(m));
    for (const m of ['linear probe', 'kNN', 'LR L1 C=0.1']) {
      const row = label(m);
      assert.ok(row, `row ${m}: ${results.models.join(', ')}`);
      assert.strictEqual(row.n, 2);
      assert.ok(Number.isFinite(row.accuracy.std));
    }
    assert.strictEqual(q.baselineRuns.length, 2);
  });
});
