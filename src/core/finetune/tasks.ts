/** Worker-thread tasks of fine-tuning, run with `runTask('finetune/tasks', name, input)`. */
import type { TaskContext } from '../workers/task';
import { prepareFinetuneGrid, type FinetuneGridInput, type FinetuneGridPlan } from './prepare';

/** Checks the input, hashes the dataset and creates the grid's run folders (see prepareFinetuneGrid). */
export function prepareFinetune(input: FinetuneGridInput, ctx: TaskContext): Promise<FinetuneGridPlan> {
  return prepareFinetuneGrid(input, ctx);
}
