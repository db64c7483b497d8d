/**
 * Re-done steps in events.jsonl: a run killed (kill -9, a lost node) and resumed redoes the steps after its last
 * checkpoint, so its log holds some steps twice. The worker writes a `resume` event with the step it restarts from;
 * readers keep the last segment: a `resume` at step s drops the points after s, and a training or validation point
 * whose step does not advance (a log from before resume events existed) drops the held points from its step on.
 * Nothing is deleted from the file; only what is shown changes.
 */
import type { RunEvent } from './schema';

/** Points of a curve, in event order. */
export interface HeldCurves<T extends { step: number }, V extends { step: number }> {
  train: T[];
  validation: V[];
}

/** Removes, in place, the points whose step is >= `from`; true when any were removed. */
function dropFrom(points: { step: number }[], from: number): boolean {
  let keep = points.length;
  while (keep > 0 && points[keep - 1].step >= from) keep--;
  // points are in step order once superseded ones are gone, so the tail is what a restart redoes
  const dropped = keep < points.length;
  points.length = keep;
  return dropped;
}

/**
 * Call before adding `e`'s own point: drops the held points that `e` supersedes and says whether any were dropped
 * (a display that draws incrementally must redraw).
 */
export function supersede<T extends { step: number }, V extends { step: number }>(held: HeldCurves<T, V>, e: RunEvent): boolean {
  if (e.type === 'resume') {
    const a = dropFrom(held.train, e.step + 1);
    const b = dropFrom(held.validation, e.step + 1);
    return a || b;
  }
  if (e.type === 'train') {
    // a validation at step s closes the epoch that the training point at step s ends: a redone step s redoes both
    const a = dropFrom(held.train, e.step);
    const b = dropFrom(held.validation, e.step);
    return a || b;
  }
  if (e.type === 'validation') return dropFrom(held.validation, e.step);
  return false;
}

/** The train and validation events of a whole log with re-done steps superseded (the last segment kept). */
export function lastSegment(events: readonly RunEvent[]): HeldCurves<Extract<RunEvent, { type: 'train' }>, Extract<RunEvent, { type: 'validation' }>> {
  const held: HeldCurves<Extract<RunEvent, { type: 'train' }>, Extract<RunEvent, { type: 'validation' }>> = { train: [], validation: [] };
  for (const e of events) {
    supersede(held, e);
    if (e.type === 'train') held.train.push(e);
    else if (e.type === 'validation') held.validation.push(e);
  }
  return held;
}
