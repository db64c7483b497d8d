/**
 * `scwb finetune` end to end with the real training worker (Debian's python3 with torch 1.13, CPU) on a tiny
 * simulated dataset preprocessed by the scBERT and scGPT recipes, with the worker's tiny demo checkpoints.
 */
import * as assert from 'assert';
import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { classificationReport } from '../../../src/core/metrics';
import { FinetuneParametersSchema, RunEventSchema } from '../../../src/core/runs/schema';
import { EVENTS_FILE, RunStore } from '../../../src/core/runs/store';
import { PROJECT_ROOT, PYTHON, simulateH5ad, tempDir } from '../../helpers/shared';

const SCWB = path.join(PROJECT_ROOT, 'bin', 'scwb.js');

interface Summary { experiment: string; store: string; exitCode: number; runs: { id: string; status: string; accuracy: number | null; error: string | null }[] }

function scwb(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [SCWB, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('scwb finetune with the real worker (tiny demo checkpoints, CPU)', () => {
  let dir: string;
  let store: RunStore;

  before(() => {
    dir = tempDir('scwb-ft-worker-');
    store = new RunStore(path.join(dir, 'runs'));
    const sim = simulateH5ad(path.join(dir, 'sim.h5ad'), 300, 120, 3);
    execFileSync(PYTHON, ['-m', 'scwb_worker', 'demo-checkpoints', path.join(dir, 'ckpt'), '--genes-from', sim], {
      env: { ...process.env, PYTHONPATH: path.join(PROJECT_ROOT, 'resources', 'worker') },
    });
    fs.writeFileSync(path.join(dir, 'scbert.json'), JSON.stringify({ recipe: 'scbert', params: { referenceGenes: 'ckpt/scbert_tiny/genes.txt', minGenes: 10 } }));
    fs.writeFileSync(path.join(dir, 'scgpt.json'), JSON.stringify({ recipe: 'scgpt', params: { vocab: 'ckpt/scGPT_tiny/vocab.json', nTopGenes: 100, nBins: 51 } }));
    for (const r of ['scbert', 'scgpt']) {
      const p = scwb(['preprocess', path.join(dir, `${r}.json`), sim, path.join(dir, `sim_${r}.h5ad`)]);
      assert.strictEqual(p.code, 0, p.stderr);
    }
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function checkRun(id: string, resumed = false): Promise<void> {
    const record = await store.get(id);
    assert.strictEqual(record.status, 'completed', record.error ?? '');
    FinetuneParametersSchema.parse(record.parameters.finetune);
    // Every line the worker appended validates against the store's schema.
    const lines = fs.readFileSync(store.file(id, EVENTS_FILE), 'utf8').split('\n').filter(Boolean);
    for (const [i, line] of lines.entries()) {
      const res = RunEventSchema.safeParse(JSON.parse(line));
      assert.ok(res.success, `events.jsonl line ${i + 1}: ${line}`);
    }
    const events = await store.readEvents(id);
    const epochs = (record.parameters.finetune as { epochs: number }).epochs;
    assert.ok(events.some(e => e.type === 'train'), 'train events');
    if (!resumed) {
      assert.deepStrictEqual(events.filter(e => e.type === 'validation').map(e => e.type === 'validation' && e.epoch),
        Array.from({ length: epochs }, (_, k) => k + 1), 'one validation event per epoch');
      assert.deepStrictEqual(events.filter(e => e.type === 'status').map(e => e.type === 'status' && e.status), ['running', 'completed']);
    }
    const predictions = (await store.readPredictions(id))!;
    const split = (await store.readSplit(id))!;
    assert.deepStrictEqual(predictions.map(p => p.index).sort((a, b) => a - b), split.test.slice().sort((a, b) => a - b));
    const report = classificationReport(predictions.map(p => p.trueLabel), predictions.map(p => p.predictedLabel));
    const metrics = (await store.readMetrics(id))!;
    assert.strictEqual(metrics.accuracy, report.accuracy);
    assert.strictEqual(metrics.macroF1, report.macro.f1);
    assert.deepStrictEqual(metrics.confusion, report.confusion);
    assert.strictEqual(record.summary?.accuracy, report.accuracy);
    assert.strictEqual(record.summary?.nTrain, split.train.length);
  }

  it('scBERT: prepares, trains, writes schema-valid events and gets metrics computed from predictions.csv', async () => {
    const r = scwb(['finetune', path.join(dir, 'sim_scbert.h5ad'), '--model', 'scbert', '--checkpoint', path.join(dir, 'ckpt', 'scbert_tiny', 'scbert_tiny_pretrain.pth'),
      '--label', 'cell_type', '--epochs', '2', '--python', PYTHON, '--store', store.root, '--device', 'cpu', '--experiment', 'tiny scBERT']);
    assert.strictEqual(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as Summary;
    assert.strictEqual(summary.experiment, 'tiny scBERT');
    assert.strictEqual(summary.runs.length, 1);
    assert.strictEqual(summary.runs[0].status, 'completed');
    await checkRun(summary.runs[0].id);
  });

  it('scGPT: two seeds in one worker process, each with its own validation hold-out, beside the LR baseline', async () => {
    const data = path.join(dir, 'sim_scgpt.h5ad');
    const lr = scwb(['baseline', data, '--label', 'cell_type', '--penalty', 'l2', '--C', '1', '--seeds', '1,2', '--store', store.root]);
    assert.strictEqual(lr.code, 0, lr.stderr);
    const r = scwb(['finetune', data, '--model', 'scgpt', '--checkpoint', path.join(dir, 'ckpt', 'scGPT_tiny'),
      '--label', 'cell_type', '--epochs', '2', '--seeds', '1,2', '--python', PYTHON, '--store', store.root, '--device', 'cpu']);
    assert.strictEqual(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as Summary;
    assert.strictEqual(summary.experiment, 'sim_scgpt fine-tune', 'an experiment of its own, not the LR baseline\'s');
    assert.deepStrictEqual(summary.runs.map(x => x.status), ['completed', 'completed']);
    for (const run of summary.runs) await checkRun(run.id);
    const record = await store.get(summary.runs[0].id);
    assert.strictEqual((record.parameters.finetune as { valueLayer: string }).valueLayer, 'X_binned');
    // One results table: the scGPT row beside the LR rows it borrows (same file, split, fraction and seeds), with
    // Welch's p-values against them.
    const table = scwb(['results', store.root, '--experiment', 'sim_scgpt fine-tune', '--format', 'json']);
    assert.strictEqual(table.code, 0, table.stderr);
    const rows = (JSON.parse(table.stdout) as { experiments: { rows: { model: string; n: number; isReference: boolean; vsReference: { model: string; pAccuracy: number } | null }[] }[] }).experiments[0].rows;
    const gpt = rows.find(x => x.model === 'scGPT · demo weights (random)')!;
    assert.ok(rows.find(x => x.model === 'LR L2 C=1')?.isReference);
    assert.strictEqual(gpt.n, 2);
    assert.strictEqual(gpt.vsReference?.model, 'LR L2 C=1');
    assert.ok(gpt.vsReference!.pAccuracy >= 0 && gpt.vsReference!.pAccuracy <= 1);
  });

  it('passes Ctrl-C (SIGINT) on to the worker: the run is cancelled with status 130, and --resume completes it', async () => {
    const child = spawn(process.execPath, [SCWB, 'finetune', path.join(dir, 'sim_scbert.h5ad'), '--model', 'scbert',
      '--checkpoint', path.join(dir, 'ckpt', 'scbert_tiny', 'scbert_tiny_pretrain.pth'), '--label', 'cell_type', '--epochs', '6',
      '--python', PYTHON, '--store', store.root, '--device', 'cpu', '--experiment', 'interrupted', '--no-baseline'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)));
    // Wait for the first epoch's validation, then interrupt the CLI (not the worker): it must pass the signal on.
    for (;;) {
      const run = (await store.list()).find(r => r.experiment === 'interrupted');
      if (run && (await store.readEvents(run.id)).some(e => e.type === 'validation')) break;
      await new Promise(r => setTimeout(r, 100));
    }
    child.kill('SIGINT');
    assert.strictEqual(await exited, 130);
    const summary = JSON.parse(stdout) as Summary;
    assert.deepStrictEqual(summary.runs.map(r => r.status), ['cancelled']);
    const id = summary.runs[0].id;
    const resumed = scwb(['finetune', '--resume', store.runDir(id), '--python', PYTHON]);
    assert.strictEqual(resumed.code, 0, resumed.stderr);
    assert.deepStrictEqual((JSON.parse(resumed.stdout) as Summary).runs.map(r => r.status), ['completed']);
    await checkRun(id, true);
    const events = await store.readEvents(id);
    const statuses = events.filter(e => e.type === 'status').map(e => e.type === 'status' && e.status);
    assert.deepStrictEqual([statuses[0], statuses.includes('cancelled'), statuses.at(-1)], ['running', true, 'completed']);
    const epochs = new Set(events.filter(e => e.type === 'validation').map(e => e.type === 'validation' && e.epoch));
    assert.deepStrictEqual([...epochs].sort((a, b) => Number(a) - Number(b)), [1, 2, 3, 4, 5, 6], 'every epoch validated once across the two processes');
    assert.ok(await store.readMetrics(id));
  });

  it('reports a missing Python interpreter by name and leaves no run queued', async () => {
    const r = scwb(['finetune', path.join(dir, 'sim_scbert.h5ad'), '--model', 'scbert', '--checkpoint', 'none', '--label', 'cell_type',
      '--python', path.join(dir, 'no-such-python'), '--store', store.root, '--experiment', 'no python', '--no-baseline']);
    assert.strictEqual(r.code, 1);
    assert.match(r.stderr, /no-such-python' was not found/);
    const runs = (await store.list()).filter(x => x.experiment === 'no python');
    assert.deepStrictEqual(runs.map(x => x.status), ['failed']);
  });

  it('refuses bad arguments with a usage error', () => {
    const r = scwb(['finetune', path.join(dir, 'sim_scbert.h5ad'), '--model', 'bert', '--checkpoint', 'none', '--label', 'cell_type']);
    assert.strictEqual(r.code, 2);
    assert.match(r.stderr, /--model scbert\|scgpt is required, got 'bert'/);
  });
});
