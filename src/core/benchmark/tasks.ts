/** Worker-thread tasks of the benchmark (pre-training and probing), run with `runTask('benchmark/tasks', name, input)`. */
import type { TaskContext } from '../workers/task';
import { preparePretrainRun, prepareProbeGrid, type PretrainInput, type PretrainPlan, type ProbeInput, type ProbePlan } from './prepare';

/** Checks the input, hashes the dataset and creates the pre-training run (see preparePretrainRun). */
export function preparePretrain(input: PretrainInput, ctx: TaskContext): Promise<PretrainPlan> {
  return preparePretrainRun(input, ctx);
}

/** Creates the probe runs and runs the raw-expression LR baseline of each trial (see prepareProbeGrid). */
export function prepareProbe(input: ProbeInput, ctx: TaskContext): Promise<ProbePlan> {
  return prepareProbeGrid(input, ctx);
}
