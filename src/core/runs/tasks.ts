/** Worker-thread tasks of the run store, run with `runTask('runs/tasks', name, input)`. */
import type { TaskContext } from '../workers/task';
import { runBaselineGrid, type BaselineGridInput, type BaselineGridResult } from './baseline';

/** The logistic-regression baseline grid (see runBaselineGrid). */
export function baselineGrid(input: BaselineGridInput, ctx: TaskContext): Promise<BaselineGridResult> {
  return runBaselineGrid(input, ctx);
}
