/**
 * The work a solver thread does, shared by the worker entry (worker.ts) and the in-process path (threads = 1), so
 * both run exactly the same code.
 */
import { solveL1Binary, type L1BinaryProblem, type L1BinaryResult } from './l1-binary';
import { solveL1Group, type L1GroupProblem } from './l1-group';
import type { RowBlockedCsc } from './matrix';
import { residualGradient, softmaxResiduals, softmaxResidualsWasm, type SoftmaxLabels, type SoftmaxRows } from './softmax';
import type { WasmHandle } from './wasm';

export type SolverJob =
  | { kind: 'l1'; problem: L1BinaryProblem }
  /** several one-vs-rest problems stepped together on the WebAssembly kernels (everything in the problem's arena) */
  | { kind: 'l1Group'; problem: L1GroupProblem }
  /** loss of rows [start, end) at parameters `W`; their residuals go to `resid` (shared memory) */
  | { kind: 'softmaxRows'; rows: SoftmaxRows; start: number; end: number; W: Float64Array; resid: Float64Array }
  /** the same for the row blocks [start, end) of `csc`, with the WebAssembly kernels (everything in `wasm`'s arena) */
  | { kind: 'softmaxBlocks'; csc: RowBlockedCsc; rows: SoftmaxLabels; wasm: WasmHandle; start: number; end: number; W: Float64Array; resid: Float64Array }
  /** gradient entries of features [start, end) from all rows' residuals, written to `grad` (shared memory); with the
   * WebAssembly kernel when `wasm` is set */
  | { kind: 'softmaxColumns'; csc: RowBlockedCsc; nClasses: number; start: number; end: number; resid: Float64Array; grad: Float64Array; wasm: WasmHandle | null };

export type SolverJobResult = L1BinaryResult | L1BinaryResult[] | { loss: number };

export interface JobHooks {
  shouldStop: () => boolean;
  onIteration?: (iter: number) => void;
}

export function runSolverJob(job: SolverJob, hooks: JobHooks): SolverJobResult {
  if (job.kind === 'l1') return solveL1Binary(job.problem, hooks);
  if (job.kind === 'l1Group') return solveL1Group(job.problem, hooks);
  if (job.kind === 'softmaxRows') return { loss: softmaxResiduals(job.rows, job.start, job.end, job.W, job.resid) };
  if (job.kind === 'softmaxBlocks') return { loss: softmaxResidualsWasm(job.csc, job.rows, job.wasm, job.start, job.end, job.W, job.resid) };
  residualGradient(job.csc, job.nClasses, job.start, job.end, job.resid, job.grad, job.wasm);
  return { loss: 0 };
}
