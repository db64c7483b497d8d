import * as assert from 'assert';
import { RunEventSchema, type RunEvent } from '../../../src/core/runs/schema';
import { lastSegment, supersede, type HeldCurves } from '../../../src/core/runs/segments';

const t = '2026-12-03T07:30:00.000Z';
const train = (epoch: number, step: number, loss: number): RunEvent => ({ type: 'train', time: t, epoch, step, loss, lr: 1e-4, cellsPerSec: 10, gpuMemoryMiB: null });
const val = (epoch: number, step: number, loss: number): RunEvent => ({ type: 'validation', time: t, epoch, step, loss, accuracy: 0.5, best: false });
const resume = (step: number, epoch: number, batch: number): RunEvent => ({ type: 'resume', time: t, step, epoch, batch });
const steps = (es: readonly { step: number }[]) => es.map(e => e.step);

describe('re-done steps of a resumed run: the last segment is kept', () => {
  it('the resume event is part of the run store schema', () => {
    assert.ok(RunEventSchema.safeParse({ type: 'resume', time: t, step: 20, epoch: 2, batch: 0 }).success);
    assert.ok(!RunEventSchema.safeParse({ type: 'resume', time: t, step: -1, epoch: 2, batch: 0 }).success);
    assert.ok(!RunEventSchema.safeParse({ type: 'resume', time: t, epoch: 2, batch: 0 }).success, 'the step is required');
  });

  it('kill -9 then resume: a resume at step s drops the points after s; the redone steps replace them', () => {
    // epoch 1 = steps 1..4 (validation at 4, checkpoint), killed at step 6, resumed from step 4
    const events = [train(1, 2, 3), train(1, 4, 2.5), val(1, 4, 2.4), train(2, 5, 2.2), train(2, 6, 2.1),
      resume(4, 2, 0), train(2, 5, 2.3), train(2, 6, 2.2), train(2, 8, 2.0), val(2, 8, 1.9)];
    const kept = lastSegment(events);
    assert.deepStrictEqual(steps(kept.train), [2, 4, 5, 6, 8]);
    assert.deepStrictEqual(kept.train.map(e => (e as { loss: number }).loss), [3, 2.5, 2.3, 2.2, 2.0], 'the redone losses, not the first ones');
    assert.deepStrictEqual(steps(kept.validation), [4, 8]);
  });

  it('without resume events (older logs), a step that does not advance starts the last segment', () => {
    const kept = lastSegment([train(1, 2, 3), train(1, 4, 2.5), val(1, 4, 2.4), train(2, 6, 2), train(1, 3, 2.9), train(1, 4, 2.6), val(1, 4, 2.5)]);
    assert.deepStrictEqual(steps(kept.train), [2, 3, 4]);
    assert.deepStrictEqual(kept.validation.map(e => (e as { loss: number }).loss), [2.5]);
  });

  it('supersede says when held points were dropped, so an incremental display redraws', () => {
    const held: HeldCurves<{ step: number }, { step: number }> = { train: [{ step: 1 }, { step: 2 }, { step: 3 }], validation: [{ step: 2 }] };
    assert.strictEqual(supersede(held, train(1, 4, 1)), false);
    assert.strictEqual(supersede(held, resume(3, 1, 3)), false, 'nothing after step 3');
    assert.strictEqual(supersede(held, resume(1, 1, 1)), true);
    assert.deepStrictEqual(held, { train: [{ step: 1 }], validation: [] });
  });
});
