import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { main } from '../../../src/cli/main';
import { parseCsv } from '../../../src/core/results/csv';
import { CSV_COLUMNS } from '../../../src/core/results/export';
import { RunStore } from '../../../src/core/runs/store';
import { h5adPath, runPythonJson, tempDir } from '../../helpers/shared';

function capture() {
  const io = { stdout: '', stderr: '', out(t: string) { io.stdout += t; }, err(t: string) { io.stderr += t; } };
  return io;
}

interface BaselineJson {
  experiment: string;
  store: string;
  nTest: number;
  runs: { id: string; fraction: number; seed: number; status: string; nTrain: number; accuracy: number; macroF1: number }[];
}

describe('scwb baseline and scwb results', () => {
  let dir: string;
  before(() => { dir = tempDir('scwb-cli-runs-'); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs the grid in a worker into the store, prints metrics as JSON, and prints the table as csv, md and tex', async () => {
    const store = path.join(dir, 'store');
    const io = capture();
    // X of pbmc68k_reduced is scaled (sc.pp.scale): --force fits on it as stored
    const code = await main(['baseline', h5adPath('scanpy_pbmc68k_reduced_2025.h5ad'), '--label', 'bulk_labels', '--force', '--fractions', '0.25',
      '--seeds', '0,3,5', '--store', store, '--experiment', 'cli grid'], io);
    assert.strictEqual(code, 0, io.stderr);
    const out = JSON.parse(io.stdout) as BaselineJson;
    assert.strictEqual(out.experiment, 'cli grid');
    assert.strictEqual(out.nTest, 140);
    assert.deepStrictEqual(out.runs.map(r => [r.fraction, r.seed, r.status, r.nTrain]), [[0.25, 0, 'completed', 140], [0.25, 3, 'completed', 140], [0.25, 5, 'completed', 140]]);
    const saved = await new RunStore(store).list();
    assert.deepStrictEqual(saved.map(r => r.summary!.accuracy), out.runs.map(r => r.accuracy));

    const csvIo = capture();
    assert.strictEqual(await main(['results', store, '--format', 'csv'], csvIo), 0, csvIo.stderr);
    const rows = parseCsv(csvIo.stdout);
    assert.deepStrictEqual(rows[0], [...CSV_COLUMNS]);
    assert.strictEqual(rows.length, 2);
    const rec = Object.fromEntries(CSV_COLUMNS.map((c, j) => [c, rows[1][j]]));
    const ref = runPythonJson<{ groups: { mean: number; std: number; low: number; high: number }[] }>('results_stats_reference.py', [],
      JSON.stringify({ groups: [out.runs.map(r => r.accuracy), out.runs.map(r => r.macroF1)], welch: [] }));
    assert.strictEqual(rec.n, '3');
    assert.ok(Math.abs(Number(rec.accuracy_mean) - ref.groups[0].mean) < 1e-15);
    assert.ok(Math.abs(Number(rec.accuracy_ci_low) - ref.groups[0].low) < 1e-10);
    assert.ok(Math.abs(Number(rec.macro_f1_ci_high) - ref.groups[1].high) < 1e-10);
    assert.ok(Math.abs(Number(rec.macro_f1_std) - ref.groups[1].std) < 1e-12);

    // A run folder selects its experiment.
    const mdIo = capture();
    assert.strictEqual(await main(['results', path.join(store, out.runs[1].id)], mdIo), 0, mdIo.stderr);
    // paper layout: one dataset and one fraction go to the caption, the rows are the models
    assert.match(mdIo.stdout, /^\*\*cli grid \(scanpy\\_pbmc68k\\_reduced\\_2025, fraction 0\.25\)\*\*/);
    assert.match(mdIo.stdout, /\| LR L1 C=0.1 \(reference\) \| 3 \| \d\.\d{3} ± \d\.\d{3} \|/);
    const texIo = capture();
    assert.strictEqual(await main(['results', store, '--format', 'tex', '--experiment', 'cli grid'], texIo), 0);
    assert.match(texIo.stdout, /\\caption\{cli grid \(scanpy\\_pbmc68k\\_reduced\\_2025, fraction 0\.25\)\}[\s\S]*\\begin\{tabular\}[\s\S]*LR L1 C=0\.1 \(reference\) & 3 & \$\d\.\d{3} \\pm \d\.\d{3}\$/);
  });

  it('reports usage errors with exit code 2 and an empty store with exit code 1', async () => {
    const io = capture();
    assert.strictEqual(await main(['baseline', 'x.h5ad'], io), 2);
    assert.match(io.stderr, /--label COL is required/);
    const io2 = capture();
    assert.strictEqual(await main(['baseline', 'x.h5ad', '--label', 'y', '--query', 'q.h5ad', '--seed', '1'], io2), 2);
    assert.match(io2.stderr, /do not apply to a reference\/query split/);
    const io3 = capture();
    fs.mkdirSync(path.join(dir, 'empty'));
    assert.strictEqual(await main(['results', path.join(dir, 'empty')], io3), 1);
    assert.match(io3.stderr, /no runs/);
    const io4 = capture();
    assert.strictEqual(await main(['results', dir, '--format', 'xls'], io4), 2);
  });
});
