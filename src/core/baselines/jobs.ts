/**
 * The work a solver thread does, shared by the worker entry (worker.ts) and the in-process path (threads = 1), so
 * both run exactly the same code.
 */
import { solveL1Binary, type L1BinaryProblem, type L1BinaryResult } from './l1-binary';
import { softmaxLossGrad, type SoftmaxRows } from './softmax';

export type SolverJob =
  | { kind: 'l1'; problem: L1BinaryProblem }
  /** loss of rows [start, end); the gradient goes to `grad` (shared memory), parameters are read from `W` */
  | { kind: 'softmax'; rows: SoftmaxRows; start: number; end: number; W: Float64Array; grad: Float64Array };

export type SolverJobResult = L1BinaryResult | { loss: number };

export interface JobHooks {
  shouldStop: () => boolean;
  onIteration?: (iter: number) => void;
}

export function runSolverJob(job: SolverJob, hooks: JobHooks): SolverJobResult {
  if (job.kind === 'l1') return solveL1Binary(job.problem, hooks);
  return { loss: softmaxLossGrad(job.rows, job.start, job.end, job.W, job.grad) };
}
