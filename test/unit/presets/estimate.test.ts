import * as assert from 'assert';
import { PRESETS, emptyPreset } from '../../../src/core/presets/presets';
import { estimateCombination, estimateHours, gridCombinations, summarizePreset, THROUGHPUT } from '../../../src/core/presets/grid';
import { CPU_REFERENCE, deviceFromEnv, measuredThroughput, pickMeasured, type EstimateContext, type MeasuredThroughput } from '../../../src/core/presets/estimate';
import { RunRecordSchema, type RunEvent, type RunRecord } from '../../../src/core/runs/schema';
import type { WorkerEnvReport } from '../../../src/core/finetune/env';
import type { Preset } from '../../../src/core/presets/schema';

const DEMO = '/work/demo/demo.h5ad';
const CKPT = '/ckpt/scbert_tiny.pth';

/** One scBERT fine-tune grid over the demo file (published cells 10,000 as a new dataset row), `epochs` epochs. */
function demoPreset(epochs?: number): Preset {
  const p = emptyPreset();
  const g = p.grids[0];
  g.datasets = [{ name: 'demo', path: DEMO, queryPath: '', labelColumn: 'cell_type', split: { kind: 'stratified', testSize: 0.2, seed: 2022 }, cells: 10000, queryCells: 0 }];
  g.models = [{ kind: 'finetune', model: 'scbert', checkpoint: CKPT, batchSize: 32, precision: 'published', ...(epochs ? { epochs } : {}) }];
  g.fractions = [1];
  g.seeds = [0];
  return p;
}

/** The scBERT protocol's seconds: epochs x (train / tput + test validated at 3x) + the test pass. */
function scbertHours(cells: number, epochs: number, tput: number): number {
  const test = Math.ceil(cells * 0.2);
  const train = cells - test;
  return (epochs * (train / tput + test / (3 * tput)) + test / (3 * tput)) / 3600;
}

function record(over: Partial<RunRecord> & { device?: string; checkpoint?: string | null }): RunRecord {
  return RunRecordSchema.parse({
    schemaVersion: 1, id: over.id ?? '20261206-101500-abcd', kind: 'finetune', name: over.name ?? 'scBERT demo seed 0', experiment: 'demo',
    dataset: { path: DEMO, sha256: 'a'.repeat(64) }, labelColumn: 'cell_type', split: { kind: 'stratified', testSize: 0.2, seed: 2022 },
    seed: 0, fraction: 1, model: { family: 'scBERT', label: 'scBERT' },
    parameters: { finetune: { model: 'scbert', checkpoint: over.checkpoint === undefined ? CKPT : over.checkpoint, ablation: 'none', epochs: 3, batchSize: 32, lr: 1e-4, classes: ['a', 'b'], device: 'auto', nproc: 1 } },
    codeVersion: '0.1.0', createdAt: '2026-12-06T10:15:00.000Z', endedAt: over.endedAt ?? '2026-12-06T10:20:00.000Z', status: over.status ?? 'completed',
    worker: { torch: '1.13.1', python: '3.11', device: over.device ?? 'cpu', cuda: null, dtype: 'float32', attention: 'performer', processes: 1 },
  });
}

const train = (epoch: number, step: number, cellsPerSec: number): RunEvent => ({ type: 'train', time: '2026-12-06T10:16:00.000Z', epoch, step, loss: 1, lr: 1e-4, cellsPerSec, gpuMemoryMiB: null });

describe('presets: the estimate from the bound files, the device and measured throughput', () => {
  it('counts the bound file\'s cells, not the published ones, and says so', () => {
    const p = demoPreset(1);
    const ctx: EstimateContext = { device: { kind: 'cuda', name: 'NVIDIA H100 80GB HBM3' }, cells: { [DEMO]: 528 }, measured: [] };
    const c = gridCombinations(p.grids[0]).combos[0];
    const e = estimateCombination(c, ctx);
    assert.ok(Math.abs(e.hours - scbertHours(528, 1, THROUGHPUT.scbert.fp32)) < 1e-12, `${e.hours}`);
    assert.strictEqual(e.basis, 'based on 528 cells of demo.h5ad, NVIDIA H100 80GB HBM3, 1 epoch, published H100 throughput');
    // without the file's count it is the dataset row's (published) cells
    assert.ok(Math.abs(estimateHours(c) - scbertHours(10000, 1, THROUGHPUT.scbert.fp32)) < 1e-12);
    assert.match(estimateCombination(c, { ...ctx, cells: {} }).basis, /^based on 10,000 cells \(published count of demo\)/);
  });

  it('on a CPU-only machine counts the CPU reference (fp32, ~76 s per full-size batch-4 step) and says hours on the CPU', () => {
    const p = demoPreset(2);
    const ctx: EstimateContext = { device: deviceFromEnv(null), cells: { [DEMO]: 3000 }, measured: [] };
    const s = summarizePreset(p, ctx);
    assert.strictEqual(s.device, 'CPU');
    // bf16 or not, a CPU estimate counts CPU fp32 speed: 4 cells / 76 s
    assert.ok(Math.abs(s.gpuHours - scbertHours(3000, 2, 4 / 76)) < 1e-9, `${s.gpuHours}`);
    assert.strictEqual(CPU_REFERENCE.scbertCellsPerSec, 4 / 76);
    assert.deepStrictEqual(s.basis, ['scBERT: based on 3,000 cells of demo.h5ad, CPU, 2 epochs, CPU reference throughput (H100 figures scaled to ~76 s per full-size scBERT step at batch 4)']);
  });

  it('uses the latest completed run of the same model, device kind and checkpoint, naming it', () => {
    const cpuOld = measuredThroughput(record({ id: 'r1', name: 'old', endedAt: '2026-12-05T10:00:00.000Z' }), [train(1, 10, 5), train(1, 20, 8)])!;
    const cpuNew = measuredThroughput(record({ id: 'r2', name: 'scBERT demo seed 1' }), [train(1, 10, 11), train(1, 20, 12.3), train(2, 40, 12.1), train(3, 60, 14)])!;
    const gpu = measuredThroughput(record({ id: 'r3', device: 'cuda:0 (NVIDIA H100)' }), [train(1, 5, 400)])!;
    const other = measuredThroughput(record({ id: 'r4', checkpoint: '/ckpt/full.pth', endedAt: '2026-12-07T00:00:00.000Z' }), [train(1, 5, 0.05)])!;
    // the median over epochs of each epoch's last train event: 12.3, 12.1, 14 -> 12.3
    assert.deepStrictEqual([cpuOld.cellsPerSec, cpuNew.cellsPerSec, gpu.device, other.checkpoint], [8, 12.3, 'cuda', '/ckpt/full.pth']);
    const measured: MeasuredThroughput[] = [cpuOld, gpu, other, cpuNew];
    assert.strictEqual(pickMeasured(measured, 'scbert', 'cpu', CKPT)?.runId, 'r2');
    assert.strictEqual(pickMeasured(measured, 'scbert', 'cuda', CKPT)?.runId, 'r3');
    assert.strictEqual(pickMeasured(measured, 'scgpt', 'cpu', CKPT), null);
    assert.strictEqual(pickMeasured(measured, 'scbert', 'cpu', null), null);

    const p = demoPreset(3);
    const s = summarizePreset(p, { device: { kind: 'cpu' }, cells: { [DEMO]: 3000 }, measured });
    assert.ok(Math.abs(s.gpuHours - scbertHours(3000, 3, 12.3)) < 1e-12, `${s.gpuHours}`);
    assert.deepStrictEqual(s.basis, ['scBERT: based on 3,000 cells of demo.h5ad, CPU, 3 epochs, 12.3 cells/s measured in run scBERT demo seed 1']);
  });

  it('measures only completed fine-tunes that recorded training throughput', () => {
    assert.strictEqual(measuredThroughput(record({ status: 'failed' }), [train(1, 10, 12)]), null);
    assert.strictEqual(measuredThroughput(record({}), []), null);
    assert.strictEqual(measuredThroughput({ ...record({}), worker: undefined }, [train(1, 10, 12)]), null);
  });

  it('takes the device from the environment check: its first GPU, else the CPU', () => {
    const report = (devices: { name: string; totalMiB: number; freeMiB: number | null }[]): WorkerEnvReport => ({
      python: '3.11', executable: '/usr/bin/python3', torch: '2.3.0', cuda: { available: devices.length > 0, version: devices.length ? '12.1' : null, devices }, ok: true, problems: [], message: '',
    });
    assert.deepStrictEqual(deviceFromEnv(report([{ name: 'NVIDIA A100-SXM4-40GB', totalMiB: 40960, freeMiB: 40000 }])), { kind: 'cuda', name: 'NVIDIA A100-SXM4-40GB' });
    assert.deepStrictEqual(deviceFromEnv(report([])), { kind: 'cpu' });
  });

  it('the epochs field feeds the estimate; no preset preselects bf16', () => {
    const ctx: EstimateContext = { device: { kind: 'cpu' }, cells: { [DEMO]: 3000 }, measured: [] };
    const one = summarizePreset(demoPreset(1), ctx).gpuHours;
    const five = summarizePreset(demoPreset(5), ctx).gpuHours;
    assert.ok(Math.abs(five - scbertHours(3000, 5, 4 / 76)) < 1e-9 && five > 4 * one);
    for (const p of PRESETS) for (const g of p.grids) for (const m of g.models) if (m.kind === 'finetune') assert.strictEqual(m.precision, 'published', `${p.id}`);
  });
});
