/**
 * Which cells of a dataset the annotating model was trained on: an annotation scored on its own training cells
 * reports how well the model remembers them, not how well it annotates. The model's sidecar names its fine-tune run;
 * when that run trained on this very file (same sha256, whatever its path), its split.json's training rows are left out of the scores.
 */
import * as path from 'path';
import { sha256File } from '../hash';
import type { RunStore } from '../runs/store';

export type TrainedCells =
  /** the model trained on this file: these rows are not scored */
  | { kind: 'excluded'; rows: number[]; sourceRun: string }
  /** the model's training run used another file: every labelled cell is scored */
  | { kind: 'other-file'; sourceRun: string }
  /** cannot tell: the scores may include training cells; `reason` says why */
  | { kind: 'unknown'; reason: string };

export async function trainedCells(store: RunStore | undefined, sourceRun: string | null | undefined, dataset: string): Promise<TrainedCells> {
  if (!sourceRun) return { kind: 'unknown', reason: 'the model does not name the run that trained it' };
  if (!store) return { kind: 'unknown', reason: `no run store to look up its training run ${sourceRun}` };
  let record;
  try {
    record = await store.get(sourceRun);
  } catch {
    return { kind: 'unknown', reason: `its training run ${sourceRun} is not in this workspace's run store` };
  }
  const file = path.resolve(dataset);
  // the same bytes, not merely the same path: a file rewritten since the run holds other cells under those rows
  const same = record.dataset.sha256 === await sha256File(file);
  if (!same) return { kind: 'other-file', sourceRun };
  const split = await store.readSplit(sourceRun).catch(() => null);
  if (!split) return { kind: 'unknown', reason: `its training run ${sourceRun} trained on this file but has no split.json` };
  return { kind: 'excluded', rows: [...split.train], sourceRun };
}

/** One sentence for the user about what the scores cover. */
export function trainedCellsText(t: TrainedCells, excludedLabelled: number): string {
  switch (t.kind) {
    case 'excluded': return `scored on the cells the model was not trained on (${excludedLabelled.toLocaleString('en-US')} training cells of run ${t.sourceRun} left out)`;
    case 'other-file': return `the model was trained on another file (run ${t.sourceRun}): every labelled cell is scored`;
    case 'unknown': return `the scores may include cells the model was trained on: ${t.reason}`;
  }
}
