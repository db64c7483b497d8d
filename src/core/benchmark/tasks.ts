/** Worker-thread tasks of the benchmark (pre-training and probing), run with `runTask('benchmark/tasks', name, input)`. */
import type { TaskContext } from '../workers/task';
import { preparePerturbationGrid } from './perturbation';
import { preparePretrainRun, prepareProbeGrid, type PretrainInput, type PretrainPlan, type ProbeInput, type ProbePlan } from './prepare';

/** Checks the input, hashes the dataset and creates the pre-training run (see preparePretrainRun). */
export function preparePretrain(input: PretrainInput, ctx: TaskContext): Promise<PretrainPlan> {
  return preparePretrainRun(input, ctx);
}

/**
 * Creates the probe runs and runs the raw-expression LR baseline of each trial (see prepareProbeGrid), or the
 * perturbation-prediction runs (`task: 'perturbation-prediction'`, see preparePerturbationGrid).
 */
export function prepareProbe(input: ProbeInput, ctx: TaskContext): Promise<ProbePlan> {
  return input.task === 'perturbation-prediction' ? preparePerturbationGrid(input, ctx) : prepareProbeGrid(input, ctx);
}
