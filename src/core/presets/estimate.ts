/**
 * What the grid editor's time estimate is based on: the device the runs will use (the CPU, or the GPU the worker's
 * environment check found), the bound files' cell counts, and the fine-tune throughput (cells/s) that completed runs
 * of the run store measured on that device; without a measurement, the reference figures of
 * ../shared/notes/science.md (one H100; on the CPU, one full-size scBERT step at batch 4 takes ~76 s on 2 cores).
 */
import type { WorkerEnvReport } from '../finetune/env';
import { FinetuneParametersSchema, type FinetuneModel, type RunEvent, type RunRecord } from '../runs/schema';

export type DeviceKind = 'cpu' | 'cuda';

/** The device the queued runs will use: the GPU's name when the environment check found one. */
export type EstimateDevice = { kind: 'cpu' } | { kind: 'cuda'; name: string };

/** Training throughput a completed fine-tune measured (its end-of-epoch `train` events). */
export interface MeasuredThroughput {
  runId: string;
  runName: string;
  model: FinetuneModel;
  device: DeviceKind;
  /** the checkpoint it fine-tuned (null: random initialisation) */
  checkpoint: string | null;
  cellsPerSec: number;
  endedAt: string;
}

export interface EstimateContext {
  device: EstimateDevice;
  /** cells (n_obs) of bound files, by path; a path not here counts the preset's published cells */
  cells: Readonly<Record<string, number>>;
  measured: readonly MeasuredThroughput[];
}

/** Reference CPU figure (science.md: 2 cores, torch 1.13, one full-size scBERT training step at batch 4 ~76 s). */
export const CPU_REFERENCE = { scbertCellsPerSec: 4 / 76, cores: 2 } as const;

/** The device of an environment report: its first CUDA device, else the CPU (also when there is no report). */
export function deviceFromEnv(report: WorkerEnvReport | null | undefined): EstimateDevice {
  const gpu = report?.cuda.available ? report.cuda.devices[0] : undefined;
  return gpu ? { kind: 'cuda', name: gpu.name } : { kind: 'cpu' };
}

export function deviceLabel(d: EstimateDevice): string {
  return d.kind === 'cpu' ? 'CPU' : d.name;
}

/**
 * The training throughput of a completed fine-tune: the median over its epochs of the last `train` event of each
 * epoch (cells trained in that epoch / its seconds). Null for anything else or a run without such events.
 */
export function measuredThroughput(run: RunRecord, events: readonly RunEvent[]): MeasuredThroughput | null {
  if (run.kind !== 'finetune' || run.status !== 'completed' || !run.worker) return null;
  const p = FinetuneParametersSchema.safeParse(run.parameters.finetune);
  if (!p.success) return null;
  const lastOfEpoch = new Map<number, number>();
  for (const e of events) if (e.type === 'train' && e.cellsPerSec > 0) lastOfEpoch.set(e.epoch, e.cellsPerSec);
  if (!lastOfEpoch.size) return null;
  const xs = [...lastOfEpoch.values()].sort((a, b) => a - b);
  const mid = xs.length >> 1;
  const median = xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
  return {
    runId: run.id, runName: run.name || run.id, model: p.data.model, device: run.worker.device.startsWith('cuda') ? 'cuda' : 'cpu',
    checkpoint: p.data.checkpoint, cellsPerSec: median, endedAt: run.endedAt ?? run.createdAt,
  };
}

/**
 * The most recent measurement of the same model on the same kind of device, of the same checkpoint (a tiny demo
 * model trains far faster than a full-size one): `checkpoint` '' or null matches runs without one.
 */
export function pickMeasured(measured: readonly MeasuredThroughput[], model: FinetuneModel, device: DeviceKind, checkpoint: string | null): MeasuredThroughput | null {
  const want = checkpoint || null;
  const same = measured.filter(m => m.model === model && m.device === device && (m.checkpoint || null) === want);
  return same.sort((a, b) => (a.endedAt < b.endedAt ? 1 : a.endedAt > b.endedAt ? -1 : 0))[0] ?? null;
}
