/**
 * The demo's tiny checkpoints (`python -m scwb_worker demo-checkpoints`) hold random weights with the published
 * key layout: runs on them work end to end but their numbers say nothing about the published models. Such runs are
 * marked "demo weights (random)" in their model label (so the run panel, the results table and every export show it)
 * and `parameters.demoWeights`, and published numbers are not put beside them.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { ModelRef } from '../runs/schema';
import { readTextFileSync } from '../safe-read';

/** the marker and args.json are a few hundred bytes */
const SMALL_JSON = 1024 * 1024;

export const DEMO_WEIGHTS_LABEL = 'demo weights (random)';
/** written by the worker into each demo checkpoint folder */
export const DEMO_MARKER = 'scwb_demo.json';
const DEMO_NOTE = /^scWorkbench tiny demo checkpoint/;

/**
 * Whether `checkpoint` (an scBERT .pth file or an scGPT folder) is one of the demo's: its folder has the marker,
 * or (demo folders written before the marker) an scGPT args.json whose note says so.
 */
export function isDemoCheckpoint(checkpoint: string): boolean {
  let dir = path.resolve(checkpoint);
  try {
    if (!fs.statSync(dir).isDirectory()) dir = path.dirname(dir);
  } catch {
    return false;
  }
  try {
    // guarded reads: a FIFO or device planted under these names is not read (not a demo checkpoint)
    const marker = JSON.parse(readTextFileSync(path.join(dir, DEMO_MARKER), { maxBytes: SMALL_JSON })) as { demo?: unknown };
    if (marker.demo === true) return true;
  } catch { /* no marker */ }
  try {
    const args = JSON.parse(readTextFileSync(path.join(dir, 'args.json'), { maxBytes: SMALL_JSON })) as { note?: unknown };
    return typeof args.note === 'string' && DEMO_NOTE.test(args.note);
  } catch {
    return false;
  }
}

/** The model label with the demo mark: "scBERT · demo weights (random)". */
export function withDemoMark(model: ModelRef): ModelRef {
  return { ...model, label: `${model.label} · ${DEMO_WEIGHTS_LABEL}` };
}

/** Whether a run's record says it ran on demo weights. */
export function ranOnDemoWeights(parameters: Record<string, unknown>): boolean {
  return parameters.demoWeights === true;
}
