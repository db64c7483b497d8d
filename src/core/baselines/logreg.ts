/**
 * Logistic-regression baselines of the published evaluations, matching scikit-learn 1.2's optima:
 *
 * - `penalty: 'l1', multiClass: 'ovr'` = LogisticRegression(penalty='l1', solver='liblinear'): one binary problem
 *   per class (a single one for two classes), each  ||w||_1 + sum_i C_i log(1 + exp(-y_i (w.x_i + b)))  with the
 *   intercept b penalised like a weight (liblinear's intercept_scaling = 1), solved by newGLMNET (l1-binary.ts; l1-group.ts steps several classes together on WebAssembly kernels).
 *   Class weights follow liblinear's one-vs-rest rule: positives get C * weight[class], the rest plain C.
 * - `penalty: 'l2', multiClass: 'multinomial'` = LogisticRegression(penalty='l2', multi_class='multinomial',
 *   solver='lbfgs'):  sum_i s_i (-log softmax(W x_i + b)[y_i]) + ||W||^2 / (2C), intercepts unpenalised, s_i the
 *   class weight of row i, solved by L-BFGS (lbfgs.ts) from zero.
 *
 * Prediction is the argmax of the decision values (the sign for a single binary problem), as in scikit-learn.
 * Work runs on worker threads: one group of OvR classes per thread (l1-group.ts; one class at a time without
 * WebAssembly), or row blocks of the softmax objective per thread.
 */
import * as os from 'os';
import type { CsrMatrix } from '../sparse';
import { CancelledError } from '../workers/task';
import { softplus, type L1BinaryResult } from './l1-binary';
import { lbfgs } from './lbfgs';
import type { SolverJob } from './jobs';
import { blockOffsets, cscWithBias, rowBlockedCscSizes, rowBlockedCscWithBias, selectRows, shareCsr, sharedFloat64, validateCsr } from './matrix';
import { createRunner, type JobRunner } from './pool';
import { balancedChunks, residualBlockRows, type SoftmaxLabels } from './softmax';
import { l1GroupScratch, l1GroupScratchSizes, type L1GroupMember, type L1GroupScratch } from './l1-group';
import { l1KernelsAvailable, WasmArena, wasmKernelsAvailable } from './wasm';

export type Penalty = 'l1' | 'l2';
export type MultiClass = 'ovr' | 'multinomial';

export interface LogRegOptions {
  penalty: Penalty;
  /** inverse regularisation strength, > 0 */
  C: number;
  /** default: 'ovr' for l1, 'multinomial' for l2 (the two supported pairs) */
  multiClass?: MultiClass;
  /** 'balanced' = n_samples / (n_classes * count) over the classes present; or a weight per class code */
  classWeight?: 'balanced' | ArrayLike<number> | null;
  /** Newton iterations per OvR problem (liblinear) or L-BFGS iterations; default 100 like scikit-learn */
  maxIter?: number;
  /** default 1e-4 like scikit-learn */
  tol?: number;
  /** worker threads; 1 computes on the calling thread. Default: min(2, available cores) */
  threads?: number;
  /** seed of the coordinate order in the L1 solver */
  seed?: number;
  /** use the WebAssembly kernels where they apply (default true): the multinomial fit's passes, and the one-vs-rest L1
   * fit's grouped solver (l1-group.ts); false forces the JavaScript solvers (one L1 problem at a time) */
  wasm?: boolean;
}

export interface LogRegModel {
  format: 'scwb-logreg/1';
  penalty: Penalty;
  multiClass: MultiClass;
  C: number;
  nFeatures: number;
  /** number of class codes the labels could take */
  nClasses: number;
  /** class code of each decision row (the classes present in training, ascending) */
  classes: number[];
  /** decision rows x nFeatures: one row for a two-class OvR model, else one per class in `classes` */
  coef: number[][];
  intercept: number[];
  /** per class code, as used in the fit; null when unweighted */
  classWeight: number[] | null;
  /** per OvR problem, or one entry for the multinomial fit */
  nIter: number[];
  converged: boolean[];
  /** final objective value of each problem (see the module comment for the formulas) */
  objective: number[];
}

export type ProgressFn = (fraction: number, message?: string) => void;

const DEFAULT_MAX_ITER = 100;
const DEFAULT_TOL = 1e-4;

export function defaultThreads(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(2, cores));
}

function validateLabels(X: CsrMatrix, y: Int32Array, nClasses: number): number[] {
  if (!Number.isInteger(nClasses) || nClasses < 2) throw new Error(`nClasses must be an integer >= 2, got ${nClasses}`);
  if (y.length !== X.nRows) throw new Error(`labels: ${y.length} labels for ${X.nRows} rows`);
  const counts = new Array<number>(nClasses).fill(0);
  for (let i = 0; i < y.length; i++) {
    const c = y[i];
    if (c < 0 || c >= nClasses) throw new Error(`labels: class code ${c} at row ${i} outside 0..${nClasses - 1}`);
    counts[c]++;
  }
  return counts;
}

/** scikit-learn's class weights for the classes present; explicit weights are checked and copied. */
export function resolveClassWeight(classWeight: LogRegOptions['classWeight'], counts: number[]): number[] | null {
  if (classWeight === undefined || classWeight === null) return null;
  const K = counts.length;
  if (classWeight === 'balanced') {
    const present = counts.filter(c => c > 0).length;
    const n = counts.reduce((a, b) => a + b, 0);
    return counts.map(c => (c > 0 ? n / (present * c) : 1));
  }
  if (classWeight.length !== K) throw new Error(`classWeight has ${classWeight.length} entries for ${K} classes`);
  const w = Array.from(classWeight);
  w.forEach((v, k) => {
    if (!(v > 0) || !Number.isFinite(v)) throw new Error(`classWeight[${k}] must be a positive number, got ${v}`);
  });
  return w;
}

function resolveOptions(opts: LogRegOptions): Required<Omit<LogRegOptions, 'classWeight'>> {
  if (!(opts.C > 0) || !Number.isFinite(opts.C)) throw new Error(`C must be a positive number, got ${opts.C}`);
  const multiClass = opts.multiClass ?? (opts.penalty === 'l1' ? 'ovr' : 'multinomial');
  if (opts.penalty === 'l1' && multiClass !== 'ovr') throw new Error(`penalty 'l1' is fitted one-vs-rest (liblinear); multiClass '${multiClass}' is not supported`);
  if (opts.penalty === 'l2' && multiClass !== 'multinomial') throw new Error(`penalty 'l2' is fitted as multinomial (lbfgs); multiClass '${multiClass}' is not supported`);
  if (opts.penalty !== 'l1' && opts.penalty !== 'l2') throw new Error(`penalty must be 'l1' or 'l2', got '${String(opts.penalty)}'`);
  const maxIter = opts.maxIter ?? DEFAULT_MAX_ITER;
  if (!Number.isInteger(maxIter) || maxIter < 1) throw new Error(`maxIter must be a positive integer, got ${maxIter}`);
  const tol = opts.tol ?? DEFAULT_TOL;
  if (!(tol > 0)) throw new Error(`tol must be positive, got ${tol}`);
  const threads = Math.max(1, Math.floor(opts.threads ?? defaultThreads()));
  return { penalty: opts.penalty, C: opts.C, multiClass, maxIter, tol, threads, seed: opts.seed ?? 1, wasm: opts.wasm ?? true };
}

/**
 * Fits the model on rows of X (float32 CSR) with class codes y in 0..nClasses-1. Classes absent from y get no
 * decision row (like scikit-learn's classes_); at least two must be present.
 */
export async function fitLogReg(
  X: CsrMatrix, y: Int32Array, nClasses: number, opts: LogRegOptions,
  onProgress?: ProgressFn, isCancelled?: () => boolean,
): Promise<LogRegModel> {
  const o = resolveOptions(opts);
  validateCsr(X, 'training matrix');
  const runner = createRunner(o.threads, isCancelled);
  try {
    return await fitWithRunner(runner, X, y, nClasses, opts, o, onProgress, isCancelled);
  } finally {
    await runner.close();
  }
}

async function fitWithRunner(
  runner: JobRunner, X: CsrMatrix, y: Int32Array, nClasses: number, opts: LogRegOptions,
  o: ReturnType<typeof resolveOptions>, onProgress?: ProgressFn, isCancelled?: () => boolean,
): Promise<LogRegModel> {
  const counts = validateLabels(X, y, nClasses);
  const classes = counts.flatMap((c, k) => (c > 0 ? [k] : []));
  if (classes.length < 2) throw new Error(`labels: need at least two classes in the training rows, found ${classes.length}`);
  const classWeight = resolveClassWeight(opts.classWeight, counts);
  const fit = o.penalty === 'l1'
    ? await fitOvrL1(runner, X, y, classes, classWeight, o, onProgress)
    : await fitMultinomial(runner, X, y, classes, classWeight, o, onProgress, isCancelled);
  onProgress?.(1, 'done');
  return {
    format: 'scwb-logreg/1', penalty: o.penalty, multiClass: o.multiClass, C: o.C, nFeatures: X.nCols, nClasses,
    classes, classWeight, ...fit,
  };
}

type FitPart = Pick<LogRegModel, 'coef' | 'intercept' | 'nIter' | 'converged' | 'objective'>;

/** Binary problems one L1 job fits together (l1-group.ts). Measured on one thread (bench/RESULTS.md): pairs took 8%
 * less time than single problems at 17,000 rows; at 54,760 rows they visit 14% fewer stored values, but each visit
 * costs more because two problems' per-row values (32 bytes a row, 1.75 MB) fill most of a core's L2 cache; groups
 * of 3, 4 and 11 were no faster at either size. */
const L1_GROUP = 2;

async function fitOvrL1(
  runner: JobRunner, X: CsrMatrix, y: Int32Array, classes: number[], classWeight: number[] | null,
  o: ReturnType<typeof resolveOptions>, onProgress?: ProgressFn,
): Promise<FitPart> {
  const l = X.nRows;
  const cw = (k: number) => (classWeight ? classWeight[k] : 1);
  // Two classes: one problem, the second class positive (scikit-learn's liblinear order); else one per class.
  const problems = (classes.length === 2
    ? [{ positive: classes[1], Cp: o.C * cw(classes[1]), Cn: o.C * cw(classes[0]) }]
    : classes.map(k => ({ positive: k, Cp: o.C * cw(k), Cn: o.C }))
  ).map(pr => {
    let pos = 0;
    for (let i = 0; i < l; i++) if (y[i] === pr.positive) pos++;
    return { ...pr, eps: (o.tol * Math.max(Math.min(pos, l - pos), 1)) / l, positives: pos };
  });
  const itersDone = new Array<number>(problems.length).fill(0);
  const report = () => {
    const frac = itersDone.reduce((a, b) => a + b, 0) / (problems.length * o.maxIter);
    onProgress?.(Math.min(0.99, frac), 'fitting one-vs-rest L1 logistic regression');
  };
  // The pool hands queued jobs to whichever thread frees up first; queueing the problems with the most positives
  // (which take the most Newton work) first keeps the threads' loads even at the end (longest-first scheduling).
  const order = problems.map((_, idx) => idx).sort((a, b) => problems[b].positives - problems[a].positives || a - b);
  const results = new Array<L1BinaryResult>(problems.length);
  const groups: number[][] = [];
  for (let g = 0; g < order.length; g += L1_GROUP) groups.push(order.slice(g, g + L1_GROUP));
  const grouped = o.wasm ? l1GroupJobs(runner, X, y, groups.map(g => g.map(idx => problems[idx])), o) : null;
  if (grouped) {
    await Promise.all(groups.map(async (members, g) => {
      const r = await grouped.run(g, iter => {
        // the job reports its problems' Newton steps together: spread them for the progress bar
        members.forEach(idx => { itersDone[idx] = iter / members.length; });
        report();
      });
      members.forEach((idx, m) => {
        itersDone[idx] = o.maxIter;
        results[idx] = r[m];
      });
      report();
    }));
  } else {
    const csc = cscWithBias(X, 1);
    await Promise.all(order.map(async idx => {
      const pr = problems[idx];
      const r = await runner.run(
        { kind: 'l1', problem: { csc, labels: y, positive: pr.positive, Cp: pr.Cp, Cn: pr.Cn, eps: pr.eps, maxNewtonIter: o.maxIter, seed: o.seed + idx } },
        iter => { itersDone[idx] = iter; report(); },
      ) as L1BinaryResult;
      itersDone[idx] = o.maxIter;
      report();
      results[idx] = r;
    }));
  }
  const p = X.nCols;
  return {
    coef: results.map(r => Array.from(r.w.subarray(0, p))),
    intercept: results.map(r => r.w[p]),
    nIter: results.map(r => r.newtonIter),
    converged: results.map(r => r.converged),
    objective: results.map(r => r.objective),
  };
}

/**
 * The grouped L1 solver's jobs: the matrix (with its intercept column) in a wasm arena, and one set of scratch
 * arrays per thread, lent to a group while it runs. null where the kernels or the arena are not available.
 */
function l1GroupJobs(
  runner: JobRunner, X: CsrMatrix, y: Int32Array, groups: L1GroupMember[][], o: ReturnType<typeof resolveOptions>,
): { run(g: number, onIteration: (iter: number) => void): Promise<L1BinaryResult[]> } | null {
  if (!l1KernelsAvailable().ok) return null;
  const l = X.nRows;
  const n = X.nCols + 1;
  const G = Math.max(...groups.map(g => g.length));
  const lanes = Math.min(runner.threads, groups.length);
  const sizes = rowBlockedCscSizes(X, Math.max(1, l));
  const scratchBytes = l1GroupScratchSizes(l, n, G);
  const arena = WasmArena.create([4 * sizes.colPtr, 4 * sizes.entries, 4 * sizes.entries, 4 * l,
    ...Array.from({ length: lanes }, () => scratchBytes).flat()]);
  if (!arena) return null;
  const csc = rowBlockedCscWithBias(X, Math.max(1, l), 1, arena);
  const labels = arena.int32(l);
  labels.set(y.subarray(0, l));
  const free = Array.from({ length: lanes }, () => l1GroupScratch(arena, l, n, G));
  const waiting: ((s: L1GroupScratch) => void)[] = [];
  const acquire = () => new Promise<L1GroupScratch>(resolve => {
    const s = free.pop();
    if (s) resolve(s);
    else waiting.push(resolve);
  });
  const release = (s: L1GroupScratch) => {
    const next = waiting.shift();
    if (next) next(s);
    else free.push(s);
  };
  return {
    async run(g, onIteration) {
      const scratch = await acquire();
      try {
        const members = groups[g].map(({ positive, Cp, Cn, eps }) => ({ positive, Cp, Cn, eps }));
        return await runner.run(
          { kind: 'l1Group', problem: { csc, labels, members, maxNewtonIter: o.maxIter, seed: o.seed + g, wasm: arena.handle, scratch } },
          onIteration,
        ) as L1BinaryResult[];
      } finally {
        release(scratch);
      }
    },
  };
}

async function fitMultinomial(
  runner: JobRunner, X: CsrMatrix, y: Int32Array, classes: number[], classWeight: number[] | null,
  o: ReturnType<typeof resolveOptions>, onProgress?: ProgressFn, isCancelled?: () => boolean,
): Promise<FitPart> {
  const K = classes.length;
  const p = X.nCols;
  const codeToIdx = new Int32Array(Math.max(...classes) + 1).fill(-1);
  classes.forEach((c, i) => { codeToIdx[c] = i; });
  const labels = new Int32Array(new SharedArrayBuffer(Math.max(1, X.nRows) * 4), 0, X.nRows);
  for (let i = 0; i < X.nRows; i++) labels[i] = codeToIdx[y[i]];
  let rowWeight: Float64Array | null = null;
  if (classWeight) {
    rowWeight = sharedFloat64(X.nRows);
    for (let i = 0; i < X.nRows; i++) rowWeight[i] = classWeight[y[i]];
  }
  const dim = (p + 1) * K;
  const passes = o.wasm ? wasmPasses(runner, X, { labels, rowWeight, nClasses: K }) : null;
  const { W, grad, rowPass, gradientPass } = passes ?? jsPasses(runner, X, { labels, rowWeight, nClasses: K });
  const penalised = p * K;
  const lambda = 1 / o.C;
  const objective = async (x: Float64Array, g: Float64Array): Promise<number> => {
    W.set(x);
    const parts = await Promise.all(rowPass.map(job => runner.run(job) as Promise<{ loss: number }>));
    await Promise.all(gradientPass.map(job => runner.run(job)));
    let f = 0;
    for (const part of parts) f += part.loss;
    g.set(grad);
    let sq = 0;
    for (let i = 0; i < penalised; i++) {
      sq += x[i] * x[i];
      g[i] += lambda * x[i];
    }
    return f + 0.5 * lambda * sq;
  };
  const res = await lbfgs(objective, new Float64Array(dim), {
    maxIter: o.maxIter, gtol: o.tol,
    shouldStop: () => isCancelled?.() ?? false,
    onIteration: iter => onProgress?.(Math.min(0.99, iter / o.maxIter), 'fitting multinomial L2 logistic regression'),
  }).catch(e => {
    if ((e as Error)?.name === 'CancelledError') throw new CancelledError();
    throw e;
  });
  const coef: number[][] = [];
  for (let k = 0; k < K; k++) {
    const row = new Array<number>(p);
    for (let j = 0; j < p; j++) row[j] = res.x[j * K + k];
    coef.push(row);
  }
  const intercept = Array.from({ length: K }, (_, k) => res.x[p * K + k]);
  return { coef, intercept, nIter: [res.iter], converged: [res.converged], objective: [res.f] };
}

/** The buffers of the multinomial objective and the jobs of its two passes (rows: loss and residuals; columns:
 * gradient), which each evaluation runs after writing its parameters to W. */
interface SoftmaxPasses {
  W: Float64Array;
  grad: Float64Array;
  rowPass: SolverJob[];
  gradientPass: SolverJob[];
}

/** a row also costs its softmax over the classes, roughly ROW_COST stored values' worth */
const ROW_COST = 8;

/** JavaScript kernels: scores by rows of the CSR, gradient by columns of a row-blocked CSC (softmax.ts). */
function jsPasses(runner: JobRunner, X: CsrMatrix, rows: SoftmaxLabels): SoftmaxPasses {
  const K = rows.nClasses;
  const Xs = runner.threads > 1 ? shareCsr(X) : X;
  const csc = rowBlockedCscWithBias(Xs, residualBlockRows(K), 1);
  const dim = (X.nCols + 1) * K;
  const W = sharedFloat64(dim);
  const resid = sharedFloat64(X.nRows * K);
  const grad = sharedFloat64(dim);
  return {
    W, grad,
    rowPass: balancedChunks(Xs.indptr, X.nRows, runner.threads, ROW_COST).map(([start, end]) =>
      ({ kind: 'softmaxRows', rows: { ...rows, X: Xs }, start, end, W, resid })),
    gradientPass: balancedChunks(csc.colOffsets, X.nCols + 1, runner.threads, csc.nBlocks).map(([start, end]) =>
      ({ kind: 'softmaxColumns', csc, nClasses: K, start, end, resid, grad, wasm: null })),
  };
}

/**
 * WebAssembly kernels: both passes over one row-blocked CSC in a wasm arena (the CSR is not read again), the row
 * pass split by blocks. null where the kernels do not apply (class count, or more than wasm32's 4 GiB).
 */
function wasmPasses(runner: JobRunner, X: CsrMatrix, rows: SoftmaxLabels): SoftmaxPasses | null {
  const K = rows.nClasses;
  if (!wasmKernelsAvailable(K).ok) return null;
  // at least four blocks per thread, so that the row pass splits evenly on small data too
  const blockRows = Math.max(64, Math.min(residualBlockRows(K), Math.ceil(X.nRows / (4 * runner.threads))));
  const sizes = rowBlockedCscSizes(X, blockRows);
  const dim = (X.nCols + 1) * K;
  const arena = WasmArena.create([4 * sizes.colPtr, 4 * sizes.entries, 4 * sizes.entries, 8 * dim, 8 * X.nRows * K, 8 * dim]);
  if (!arena) return null;
  const csc = rowBlockedCscWithBias(X, blockRows, 1, arena);
  const W = arena.float64(dim);
  const resid = arena.float64(X.nRows * K);
  const grad = arena.float64(dim);
  const wasm = arena.handle;
  return {
    W, grad,
    rowPass: balancedChunks(blockOffsets(csc), csc.nBlocks, runner.threads, ROW_COST * blockRows).map(([start, end]) =>
      ({ kind: 'softmaxBlocks', csc, rows, wasm, start, end, W, resid })),
    gradientPass: balancedChunks(csc.colOffsets, X.nCols + 1, runner.threads, csc.nBlocks).map(([start, end]) =>
      ({ kind: 'softmaxColumns', csc, nClasses: K, start, end, resid, grad, wasm })),
  };
}

/** Decision values, row-major nRows x model.coef.length. */
export function decisionFunction(model: LogRegModel, X: CsrMatrix): Float64Array {
  if (X.nCols !== model.nFeatures) throw new Error(`matrix has ${X.nCols} columns, the model was fitted on ${model.nFeatures}`);
  const R = model.coef.length;
  const p = model.nFeatures;
  // feature-major copy so each stored value touches R contiguous weights
  const Wt = new Float64Array(p * R);
  for (let r = 0; r < R; r++) {
    const row = model.coef[r];
    for (let j = 0; j < p; j++) Wt[j * R + r] = row[j];
  }
  const out = new Float64Array(X.nRows * R);
  for (let i = 0; i < X.nRows; i++) {
    const o = i * R;
    for (let r = 0; r < R; r++) out[o + r] = model.intercept[r];
    for (let t = X.indptr[i]; t < X.indptr[i + 1]; t++) {
      const off = X.indices[t] * R;
      const v = X.data[t];
      for (let r = 0; r < R; r++) out[o + r] += v * Wt[off + r];
    }
  }
  return out;
}

/** Class code of every row: argmax of the decision values (first maximum), or the sign for one binary problem. */
export function predict(model: LogRegModel, X: CsrMatrix): Int32Array {
  const d = decisionFunction(model, X);
  const R = model.coef.length;
  const out = new Int32Array(X.nRows);
  for (let i = 0; i < X.nRows; i++) {
    if (R === 1) {
      out[i] = d[i] > 0 ? model.classes[1] : model.classes[0];
      continue;
    }
    let best = 0;
    for (let r = 1; r < R; r++) if (d[i * R + r] > d[i * R + best]) best = r;
    out[i] = model.classes[best];
  }
  return out;
}

/** Checks a parsed JSON value is a model this code wrote; throws naming the first problem. */
export function modelFromJson(value: unknown, source = 'model'): LogRegModel {
  const m = value as Partial<LogRegModel> | null;
  const bad = (what: string) => new Error(`${source}: ${what}`);
  if (!m || typeof m !== 'object') throw bad('not an object');
  if (m.format !== 'scwb-logreg/1') throw bad(`unknown format ${JSON.stringify(m.format)}`);
  if (m.penalty !== 'l1' && m.penalty !== 'l2') throw bad('penalty must be l1 or l2');
  if (m.multiClass !== 'ovr' && m.multiClass !== 'multinomial') throw bad('multiClass must be ovr or multinomial');
  if (!Number.isInteger(m.nFeatures) || !Number.isInteger(m.nClasses)) throw bad('nFeatures/nClasses must be integers');
  if (!Array.isArray(m.classes) || !Array.isArray(m.coef) || !Array.isArray(m.intercept)) throw bad('classes, coef and intercept must be arrays');
  const R = m.coef.length;
  if (m.intercept.length !== R) throw bad(`${R} coefficient rows but ${m.intercept.length} intercepts`);
  if (R !== (m.classes.length === 2 && m.multiClass === 'ovr' ? 1 : m.classes.length)) throw bad(`${R} coefficient rows for ${m.classes.length} classes`);
  for (const row of m.coef) {
    if (!Array.isArray(row) || row.length !== m.nFeatures) throw bad(`a coefficient row does not have ${m.nFeatures} numbers`);
    if (!row.every(v => typeof v === 'number' && Number.isFinite(v))) throw bad('non-finite coefficient');
  }
  if (!m.intercept.every(v => typeof v === 'number' && Number.isFinite(v))) throw bad('non-finite intercept');
  return m as LogRegModel;
}

/**
 * Stratified k-fold assignment: each class's rows are shuffled (seeded) and dealt to the folds in turn, the
 * deal continuing across classes so fold sizes differ by at most one. Not scikit-learn's StratifiedKFold fold for
 * fold (that uses its own allocation), but the same property: every fold has each class in proportion.
 */
export function stratifiedKFold(y: Int32Array, nClasses: number, k: number, seed = 0): Int32Array {
  if (!Number.isInteger(k) || k < 2) throw new Error(`folds must be an integer >= 2, got ${k}`);
  const fold = new Int32Array(y.length);
  const byClass: number[][] = Array.from({ length: nClasses }, () => []);
  for (let i = 0; i < y.length; i++) byClass[y[i]].push(i);
  const rand = mulberry32(seed);
  let next = 0;
  for (const rows of byClass) {
    for (let i = rows.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = rows[i]; rows[i] = rows[j]; rows[j] = t;
    }
    for (const r of rows) {
      fold[r] = next;
      next = (next + 1) % k;
    }
  }
  return fold;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The scGPT baseline's grid, 1e-3 ... 1e4. */
export const DEFAULT_C_GRID: readonly number[] = [1e-3, 1e-2, 1e-1, 1, 1e1, 1e2, 1e3, 1e4];

export interface CvOptions extends Omit<LogRegOptions, 'C'> {
  grid?: readonly number[];
  folds?: number;
  /** seed of the fold assignment */
  foldSeed?: number;
}

export interface CvResult {
  bestC: number;
  scores: Array<{ C: number; meanAccuracy: number; foldAccuracy: number[] }>;
  /** refitted on all rows with bestC */
  model: LogRegModel;
}

/**
 * k-fold cross-validation over a grid of C, selecting by mean validation accuracy (ties: the first in grid order,
 * as GridSearchCV ranks), then a refit on all rows.
 */
export async function cvSelectC(
  X: CsrMatrix, y: Int32Array, nClasses: number, opts: CvOptions,
  onProgress?: ProgressFn, isCancelled?: () => boolean,
): Promise<CvResult> {
  validateCsr(X, 'training matrix');
  validateLabels(X, y, nClasses);
  const grid = opts.grid ?? DEFAULT_C_GRID;
  if (grid.length === 0) throw new Error('the C grid is empty');
  const k = opts.folds ?? 5;
  const fold = stratifiedKFold(y, nClasses, k, opts.foldSeed ?? 0);
  const total = grid.length * k + 1;
  let done = 0;
  const sub = (frac: number) => onProgress?.(Math.min(0.99, (done + frac) / total), 'cross-validating C');
  const scores: CvResult['scores'] = grid.map(C => ({ C, meanAccuracy: 0, foldAccuracy: [] }));
  // One set of solver threads for all fits: fresh threads would each compile the solvers again.
  const base = resolveOptions({ ...opts, C: grid[0] });
  const runner = createRunner(base.threads, isCancelled);
  let best: CvResult['scores'][number];
  let model: LogRegModel;
  try {
    for (let f = 0; f < k; f++) {
      const trainRows: number[] = [];
      const testRows: number[] = [];
      for (let i = 0; i < y.length; i++) (fold[i] === f ? testRows : trainRows).push(i);
      const Xtr = selectRows(X, trainRows);
      const Xte = selectRows(X, testRows);
      const ytr = Int32Array.from(trainRows, i => y[i]);
      for (const s of scores) {
        if (isCancelled?.()) throw new CancelledError();
        const fitOpts = { ...opts, C: s.C };
        const m = await fitWithRunner(runner, Xtr, ytr, nClasses, fitOpts, resolveOptions(fitOpts), sub, isCancelled);
        const pred = predict(m, Xte);
        let hit = 0;
        testRows.forEach((r, t) => { if (pred[t] === y[r]) hit++; });
        s.foldAccuracy.push(testRows.length ? hit / testRows.length : 0);
        done++;
      }
    }
    for (const s of scores) s.meanAccuracy = s.foldAccuracy.reduce((a, b) => a + b, 0) / s.foldAccuracy.length;
    best = scores[0];
    for (const s of scores) if (s.meanAccuracy > best.meanAccuracy) best = s;
    const fitOpts = { ...opts, C: best.C };
    model = await fitWithRunner(runner, X, y, nClasses, fitOpts, resolveOptions(fitOpts), sub, isCancelled);
  } finally {
    await runner.close();
  }
  onProgress?.(1, 'done');
  return { bestC: best.C, scores, model };
}

/**
 * The objective each fit minimises, evaluated for `model` on rows X with labels y (one value per OvR problem, or
 * one for the multinomial fit). Lets a fitted model be compared with another solver's coefficients.
 */
export function logRegObjective(model: LogRegModel, X: CsrMatrix, y: Int32Array): number[] {
  const d = decisionFunction(model, X);
  const R = model.coef.length;
  const cw = (k: number) => (model.classWeight ? model.classWeight[k] : 1);
  const out: number[] = [];
  if (model.penalty === 'l1') {
    for (let r = 0; r < R; r++) {
      const positive = R === 1 ? model.classes[1] : model.classes[r];
      const Cp = model.C * cw(positive);
      const Cn = R === 1 ? model.C * cw(model.classes[0]) : model.C;
      let f = Math.abs(model.intercept[r]);
      for (const v of model.coef[r]) f += Math.abs(v);
      for (let i = 0; i < X.nRows; i++) {
        const m = d[i * R + r];
        f += y[i] === positive ? Cp * softplus(-m) : Cn * softplus(m);
      }
      out.push(f);
    }
    return out;
  }
  const idx = new Map(model.classes.map((c, k) => [c, k]));
  let f = 0;
  for (let i = 0; i < X.nRows; i++) {
    const k = idx.get(y[i]);
    if (k === undefined) throw new Error(`row ${i} has class ${y[i]}, which the model does not know`);
    let zmax = -Infinity;
    for (let r = 0; r < R; r++) zmax = Math.max(zmax, d[i * R + r]);
    let s = 0;
    for (let r = 0; r < R; r++) s += Math.exp(d[i * R + r] - zmax);
    f += cw(y[i]) * (Math.log(s) + zmax - d[i * R + k]);
  }
  let sq = 0;
  for (const row of model.coef) for (const v of row) sq += v * v;
  return [f + (0.5 * sq) / model.C];
}
