/**
 * The logistic-regression baseline of the published evaluations, run as a grid of (few-shot fraction x seed) runs
 * into the run store.
 *
 * Protocol (Boiarsky et al.): one fixed train/test split of the dataset (StratifiedShuffleSplit(test_size=0.2,
 * random_state=2022) for Zheng68K; the reference/query files for the scGPT datasets); for each fraction and seed k
 * the training subset is `np.random.seed(k); np.random.choice(n_train, int(n_train * fraction), replace=False)`
 * (optionally a stratified train_test_split instead); the test set never changes. The matrix is used as stored:
 * the published baseline fits on the already preprocessed X, so nothing here re-normalises.
 *
 * `runBaselineGrid` runs in the calling thread (it is the worker task `runs/tasks#baselineGrid`); callers that
 * must stay responsive use `runBaselinesInWorker`.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fitLogReg, cvSelectC, predict, DEFAULT_C_GRID, type LogRegModel } from '../baselines/logreg';
import { selectRows } from '../baselines/matrix';
import { checkH5adFile, openH5ad } from '../h5ad/read';
import { labelValues } from '../h5ad/labels';
import { H5adError, type AnnDataReader } from '../h5ad/types';
import { PACKAGE_ROOT } from '../paths';
import { applyValueTransform, BASELINE_TRANSFORMS, TRANSFORM_WORDS, type BaselineTransform, type BaselineValueRecord } from '../preflight/values';

export { labelValues };
import type { CsrMatrix } from '../sparse';
import { referenceQueryIndices, type Label, type SplitIndices } from '../splits';
import { runTask } from '../workers/run-task';
import { CancelledError, type TaskContext } from '../workers/task';
import { sha256File } from '../hash';
import { HEARTBEAT_INTERVAL_MS, currentOwner } from './owner';
import { FINAL_STATUSES, type DatasetRef, type ModelRef, type RunMetrics, type RunRecord, type RunSplit } from './schema';
import { runMetricsOf } from './run-metrics';
import { fewShotTrainRows, singleFileSplit, splitClasses } from './split-rows';
import { RunStore, type PredictionRow } from './store';

/** A fixed C, or a cross-validated choice over `cvGrid` per fraction and seed (the scGPT baseline). */
export type BaselineModelSpec =
  | { penalty: 'l1' | 'l2'; C: number }
  | { penalty: 'l1' | 'l2'; cvGrid: number[]; folds?: number };

export interface BaselineGridInput {
  datasetPath: string;
  labelColumn: string;
  split: RunSplit;
  model: BaselineModelSpec;
  /** few-shot fractions of the training split, each in (0, 1]; default [1] */
  fractions?: number[];
  /** few-shot seeds k (np.random.seed(k)); default [0] */
  seeds?: number[];
  /** stratified subsets (train_test_split(..., stratify=y, random_state=k)) instead of np.random.choice */
  stratifiedFewShot?: boolean;
  /** experiment name; default '<dataset stem> baseline' */
  experiment?: string;
  /** the run store's root folder */
  storeRoot: string;
  /** dataset name for matching published numbers when the file stem differs */
  publishedDataset?: string;
  /** tags every run of this call (parameters.batch) so a caller can settle them if the worker dies */
  batch?: string;
  /** solver threads; default: the solver's own default */
  threads?: number;
  /** rows per block when reading X */
  blockRows?: number;
  /**
   * log transform computed on the fly before the fit (reference and query alike; the file is not modified);
   * default 'none' (the values as stored)
   */
  valueTransform?: BaselineTransform;
  /** the pre-flight value check's outcome, recorded in run.json as `parameters.values` */
  valueCheck?: BaselineValueRecord;
}

/** How the query file's genes were matched to the reference's, by var name. */
export interface GeneAlignment {
  referenceGenes: number;
  queryGenes: number;
  /** reference genes found in the query */
  matched: number;
  /** reference genes absent from the query (zero columns) */
  missingInQuery: number;
  /** query genes not in the reference (dropped) */
  droppedFromQuery: number;
  /** query var names that occur more than once (all but the first are dropped) */
  duplicateQueryGenes: number;
}

export interface BaselineRunOutcome {
  id: string;
  fraction: number;
  seed: number;
  status: RunRecord['status'];
  nTrain: number;
  metrics: RunMetrics | null;
  error: string | null;
}

export interface BaselineGridResult {
  experiment: string;
  storeRoot: string;
  nTest: number;
  geneAlignment: GeneAlignment | null;
  runs: BaselineRunOutcome[];
}

export function codeVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Short model label for tables, e.g. 'LR L1 C=0.1' or 'LR L1 CV'. */
export function baselineModelRef(spec: BaselineModelSpec): ModelRef {
  const pen = spec.penalty.toUpperCase();
  return { family: 'LR', label: 'C' in spec ? `LR ${pen} C=${spec.C}` : `LR ${pen} CV`, variant: '' };
}

/** The dataset display stem of a path. */
export function datasetStem(file: string): string {
  return path.basename(file).replace(/\.h5ad$/i, '');
}

function validateInput(input: BaselineGridInput): { fractions: number[]; seeds: number[] } {
  const fractions = input.fractions?.length ? input.fractions : [1];
  const seeds = input.seeds?.length ? input.seeds : [0];
  for (const f of fractions) if (!(f > 0 && f <= 1)) throw new Error(`fraction ${f} is not in (0, 1]`);
  for (const s of seeds) if (!Number.isInteger(s) || s < 0 || s > 0xffffffff) throw new Error(`seed ${s} must be an integer in 0..2^32-1`);
  if ('C' in input.model) {
    if (!(input.model.C > 0) || !Number.isFinite(input.model.C)) throw new Error(`C must be a positive number, got ${input.model.C}`);
  } else if (!input.model.cvGrid.length || input.model.cvGrid.some(c => !(c > 0) || !Number.isFinite(c))) {
    throw new Error('the C grid must hold positive numbers');
  }
  if (input.split.kind !== 'reference-query' && !(input.split.testSize > 0)) throw new Error('testSize must be positive');
  if (input.valueTransform !== undefined && !BASELINE_TRANSFORMS.includes(input.valueTransform)) {
    throw new Error(`valueTransform must be one of ${BASELINE_TRANSFORMS.join(', ')}, got '${String(input.valueTransform)}'`);
  }
  if (!('C' in input.model) && input.model.folds !== undefined && (!Number.isInteger(input.model.folds) || input.model.folds < 2)) {
    throw new Error(`the number of cross-validation folds must be an integer of at least 2, got ${input.model.folds}`);
  }
  if (input.threads !== undefined) {
    const max = maxThreads();
    if (!Number.isInteger(input.threads) || input.threads < 1 || input.threads > max) {
      throw new Error(`threads must be an integer from 1 to ${max} (4 x the ${os.availableParallelism()} cores here), got ${input.threads}`);
    }
  }
  return { fractions, seeds };
}

/** More solver threads than this (4 per core) only slow the fit down; more is refused as a mistake. */
export function maxThreads(): number {
  return 4 * os.availableParallelism();
}

/**
 * Every stored value of X is finite: a NaN or an infinity in any cell (training or test) would make scores NaN
 * and the run would still "complete". Names the file, the cell and the gene.
 */
export function checkFinite(X: CsrMatrix, file: string, obsNames: readonly string[], varNames: readonly string[]): void {
  for (let r = 0; r < X.nRows; r++) {
    for (let k = X.indptr[r]; k < X.indptr[r + 1]; k++) {
      const v = X.data[k];
      if (!Number.isFinite(v)) {
        const j = X.indices[k];
        throw new H5adError(file, `X holds ${v} at cell ${r} ('${obsNames[r] ?? r}'), gene ${j} ('${varNames[j] ?? j}'): ` +
          'the baseline needs finite values everywhere; remove or fix non-finite values first');
      }
    }
  }
}

/**
 * k-fold cross-validation needs every class of the training rows in each fold: k above the smallest class's
 * count is refused (scikit-learn's StratifiedKFold refuses k above every class's count and warns below).
 */
export function checkFoldsFit(folds: number, y: Int32Array, classes: readonly Label[]): void {
  const counts = new Map<number, number>();
  for (const c of y) counts.set(c, (counts.get(c) ?? 0) + 1);
  let smallest = -1;
  let n = Infinity;
  for (const [c, k] of counts) if (k < n || (k === n && c < smallest)) { n = k; smallest = c; }
  if (smallest >= 0 && folds > n) {
    throw new Error(`${folds}-fold cross-validation needs at least ${folds} training cells of every class, but class ` +
      `'${String(classes[smallest])}' has only ${n}: lower --cv-folds to at most ${n} or use a larger training fraction`);
  }
}

/**
 * Column map from the query's genes to the reference's by var name: map[q] = reference column or -1. Reference
 * names that repeat keep their first column; repeated query names keep their first occurrence only.
 */
export function alignGenes(referenceVar: readonly string[], queryVar: readonly string[]): { map: Int32Array; report: GeneAlignment } {
  const refIndex = new Map<string, number>();
  referenceVar.forEach((g, j) => { if (!refIndex.has(g)) refIndex.set(g, j); });
  const map = new Int32Array(queryVar.length).fill(-1);
  const seen = new Set<string>();
  let duplicates = 0;
  let dropped = 0;
  const hit = new Uint8Array(referenceVar.length);
  queryVar.forEach((g, q) => {
    if (seen.has(g)) { duplicates++; return; }
    seen.add(g);
    const j = refIndex.get(g);
    if (j === undefined) { dropped++; return; }
    map[q] = j;
    hit[j] = 1;
  });
  let matched = 0;
  for (let j = 0; j < hit.length; j++) matched += hit[j];
  return {
    map,
    report: {
      referenceGenes: referenceVar.length, queryGenes: queryVar.length, matched,
      missingInQuery: referenceVar.length - matched, droppedFromQuery: dropped, duplicateQueryGenes: duplicates,
    },
  };
}

/** X with its columns moved to `map[column]` (dropped where -1) in a matrix of `nCols` columns. */
export function remapColumns(X: CsrMatrix, map: Int32Array, nCols: number): CsrMatrix {
  const indptr = new Int32Array(X.nRows + 1);
  let kept = 0;
  for (let i = 0; i < X.nRows; i++) {
    for (let t = X.indptr[i]; t < X.indptr[i + 1]; t++) if (map[X.indices[t]] >= 0) kept++;
    indptr[i + 1] = kept;
  }
  const indices = new Int32Array(kept);
  const data = X.data instanceof Float64Array ? new Float64Array(kept) : new Float32Array(kept);
  let k = 0;
  for (let i = 0; i < X.nRows; i++) {
    for (let t = X.indptr[i]; t < X.indptr[i + 1]; t++) {
      const j = map[X.indices[t]];
      if (j < 0) continue;
      indices[k] = j;
      data[k] = X.data[t];
      k++;
    }
  }
  return { nRows: X.nRows, nCols, indptr, indices, data };
}

interface LoadedData {
  Xtrain: CsrMatrix;
  Xtest: CsrMatrix;
  /** label of every row of the train/test source (one array each; the same array for a single-file split) */
  trainLabels: Label[];
  testLabels: Label[];
  testNames: string[];
  split: SplitIndices;
  geneAlignment: GeneAlignment | null;
  nObs: number;
  nVars: number;
  queryShape: [number, number] | null;
}

function readMatrix(reader: AnnDataReader, blockRows: number | undefined, ctx: TaskContext, onFraction: (f: number) => void): CsrMatrix {
  const n = reader.summary().nObs;
  return reader.readAllRows(undefined, {
    blockRows,
    onBlock: done => {
      if (ctx.cancelled) throw new CancelledError();
      onFraction(n ? done / n : 1);
    },
  });
}

async function loadData(input: BaselineGridInput, ctx: TaskContext, report: (f: number, m: string) => void): Promise<LoadedData> {
  const reader = await openH5ad(input.datasetPath);
  try {
    const summary = reader.summary();
    if (!summary.X) throw new H5adError(input.datasetPath, 'the file has no X matrix to fit on');
    const labels = labelValues(reader.obs(), input.labelColumn, input.datasetPath);
    const split = input.split;
    if (split.kind === 'reference-query') {
      const query = await openH5ad(split.queryPath);
      try {
        const qs = query.summary();
        if (!qs.X) throw new H5adError(split.queryPath, 'the file has no X matrix to predict on');
        const queryObs = query.obs();
        const queryLabels = labelValues(queryObs, input.labelColumn, split.queryPath);
        const { map, report: alignment } = alignGenes(reader.var().index, query.var().index);
        if (alignment.matched === 0) {
          throw new H5adError(split.queryPath, `none of its ${alignment.queryGenes} var names occur in the reference ${input.datasetPath}`);
        }
        const Xref = readMatrix(reader, input.blockRows, ctx, f => report(0.5 * f, 'reading the reference matrix'));
        checkFinite(Xref, input.datasetPath, reader.obs().index, reader.var().index);
        applyValueTransform(Xref, input.valueTransform ?? 'none');
        const Xq = readMatrix(query, input.blockRows, ctx, f => report(0.5 + 0.5 * f, 'reading the query matrix'));
        checkFinite(Xq, split.queryPath, queryObs.index, query.var().index);
        applyValueTransform(Xq, input.valueTransform ?? 'none');
        return {
          Xtrain: Xref, Xtest: remapColumns(Xq, map, Xref.nCols), trainLabels: labels, testLabels: queryLabels,
          testNames: queryObs.index, split: referenceQueryIndices(Xref.nRows, Xq.nRows), geneAlignment: alignment,
          nObs: summary.nObs, nVars: summary.nVars, queryShape: [qs.nObs, qs.nVars],
        };
      } finally {
        query.close();
      }
    }
    const indices = singleFileSplit(reader, labels, split, input.datasetPath);
    const X = readMatrix(reader, input.blockRows, ctx, f => report(f, 'reading the matrix'));
    checkFinite(X, input.datasetPath, reader.obs().index, reader.var().index);
    applyValueTransform(X, input.valueTransform ?? 'none');
    return {
      Xtrain: X, Xtest: X, trainLabels: labels, testLabels: labels, testNames: reader.obs().index, split: indices,
      geneAlignment: null, nObs: summary.nObs, nVars: summary.nVars, queryShape: null,
    };
  } finally {
    reader.close();
  }
}

/** Progress over phases: hashing 0-5%, reading 5-20%, runs 20-100%. */
function phase(ctx: TaskContext, from: number, to: number) {
  return (f: number, message?: string) => ctx.progress(from + (to - from) * Math.max(0, Math.min(1, f)), message);
}

/**
 * Runs the grid: one run per (fraction, seed), in that order, each written to the store as it finishes. On
 * cancellation the current run and those not started are marked cancelled and CancelledError is thrown; a run
 * that fails is marked failed and the grid goes on.
 */
export async function runBaselineGrid(input: BaselineGridInput, ctx: TaskContext): Promise<BaselineGridResult> {
  const { fractions, seeds } = validateInput(input);
  // The inputs are checked (regular files, HDF5) before anything reads them whole: a FIFO or device named
  // *.h5ad would block the hash forever.
  checkH5adFile(input.datasetPath);
  if (input.split.kind === 'reference-query') checkH5adFile(input.split.queryPath);
  const store = new RunStore(input.storeRoot);
  const isCancelled = () => ctx.cancelled;

  const hashProgress = phase(ctx, 0, 0.05);
  const dataset: DatasetRef = { path: path.resolve(input.datasetPath), sha256: '' };
  dataset.sha256 = await sha256File(input.datasetPath, (d, t) => hashProgress(t ? d / t : 1, 'hashing the dataset'), isCancelled);
  let query: DatasetRef | undefined;
  if (input.split.kind === 'reference-query') {
    query = { path: path.resolve(input.split.queryPath), sha256: await sha256File(input.split.queryPath, undefined, isCancelled) };
  }

  const experiment = input.experiment?.trim() || `${datasetStem(input.datasetPath)} baseline`;
  const model = baselineModelRef(input.model);
  const batch = input.batch ?? crypto.randomBytes(6).toString('hex');
  const owner = currentOwner();
  const version = codeVersion();
  const split: RunSplit = input.split.kind === 'reference-query'
    ? { kind: 'reference-query', queryPath: path.resolve(input.split.queryPath) } : input.split;
  const baseParameters: Record<string, unknown> = {
    batch, penalty: input.model.penalty,
    solver: input.model.penalty === 'l1' ? 'liblinear (newGLMNET, one-vs-rest)' : 'lbfgs (multinomial)',
    ...('C' in input.model ? { C: input.model.C } : { cvGrid: input.model.cvGrid, folds: input.model.folds ?? 5 }),
    values: input.valueCheck ? { ...input.valueCheck, transform: input.valueTransform ?? 'none' }
      : { scale: null, reason: 'not checked before the run', transform: input.valueTransform ?? 'none', decision: 'unchecked' },
  };

  // Every run of the grid exists (queued) before work starts, so views show the whole grid at once.
  const planned: { record: RunRecord; fraction: number; seed: number }[] = [];
  for (const fraction of fractions) {
    for (const seed of seeds) {
      const record = await store.create({
        kind: 'baseline', name: `${model.label} f=${fraction} seed=${seed}`, experiment, dataset, query,
        publishedDataset: input.publishedDataset, labelColumn: input.labelColumn, split, seed, fraction,
        stratifiedFewShot: input.stratifiedFewShot ?? false, model, parameters: baseParameters, codeVersion: version, owner,
      });
      planned.push({ record, fraction, seed });
    }
  }

  const outcomes: BaselineRunOutcome[] = [];
  let data: LoadedData;
  try {
    data = await loadData(input, ctx, phase(ctx, 0.05, 0.2));
  } catch (e) {
    const cancelled = e instanceof CancelledError;
    for (const p of planned) await settle(store, p.record.id, cancelled ? 'cancelled' : 'failed', cancelled ? null : errorText(e));
    throw e;
  }
  const meta = { nObs: data.nObs, nVars: data.nVars };
  Object.assign(dataset, meta);
  if (query && data.queryShape) Object.assign(query, { nObs: data.queryShape[0], nVars: data.queryShape[1] });

  // Class codes over the labels of both sides, so a class seen only in the test set still has a code.
  const classes = splitClasses(data.split, data.trainLabels, data.testLabels);
  const codeOf = new Map<Label, number>(classes.map((c, k) => [c, k]));
  const yAll = Int32Array.from(data.trainLabels, l => codeOf.get(l) ?? -1);
  const Xtest = selectRows(data.Xtest, data.split.test);
  const yTestLabels = data.split.test.map(i => data.testLabels[i]);

  const runsProgress = phase(ctx, 0.2, 1);
  for (let r = 0; r < planned.length; r++) {
    const { record, fraction, seed } = planned[r];
    const id = record.id;
    if (ctx.cancelled) {
      for (const p of planned.slice(r)) await settle(store, p.record.id, 'cancelled', null);
      throw new CancelledError();
    }
    const heartbeat = setInterval(() => { void store.heartbeat(id).catch(() => undefined); }, HEARTBEAT_INTERVAL_MS);
    let lastEvent = 0;
    const onProgress = (f: number, message?: string) => {
      runsProgress((r + f) / planned.length, `run ${r + 1}/${planned.length} (fraction ${fraction}, seed ${seed}): ${message ?? ''}`.trim());
      const now = Date.now();
      if (now - lastEvent > 1000 || f >= 1) {
        lastEvent = now;
        void store.appendEvent(id, { type: 'progress', fraction: f, message }).catch(() => undefined);
      }
    };
    try {
      await store.heartbeat(id);
      await store.update(id, {
        status: 'running', startedAt: new Date().toISOString(), owner, dataset, query,
        parameters: { ...baseParameters, classes: classes.map(String), ...(data.geneAlignment ? { geneAlignment: data.geneAlignment } : {}) },
      });
      await store.appendEvent(id, { type: 'status', status: 'running' });
      await store.appendLog(id, `dataset ${dataset.path} (sha256 ${dataset.sha256}), ${data.nObs} cells x ${data.nVars} genes, label '${input.labelColumn}'`);
      await store.appendLog(id, `fitted on ${TRANSFORM_WORDS[input.valueTransform ?? 'none']}${input.valueCheck ? ` (X holds ${input.valueCheck.scale} values; ${input.valueCheck.decision})` : ''}`);
      if (data.geneAlignment) {
        const a = data.geneAlignment;
        await store.appendLog(id, `query ${query?.path}: ${a.matched} of ${a.referenceGenes} reference genes found (${a.missingInQuery} set to 0), ${a.droppedFromQuery} query genes not in the reference dropped`);
      }
      const trainRows = fewShotTrainRows(data.split.train, data.trainLabels, fraction, seed, input.stratifiedFewShot ?? false);
      await store.appendLog(id, `split ${JSON.stringify(split)}: ${data.split.train.length} train, ${data.split.test.length} test; few-shot ${input.stratifiedFewShot ? 'stratified' : 'np.random.choice'} fraction ${fraction} seed ${seed}: ${trainRows.length} training cells`);
      await store.writeSplit(id, { train: trainRows, test: data.split.test });
      const Xtr = selectRows(data.Xtrain, trainRows);
      const ytr = Int32Array.from(trainRows, i => yAll[i]);
      if (!('C' in input.model)) checkFoldsFit(input.model.folds ?? 5, ytr, classes);
      const { model: fitted, chosen } = await fitBaseline(Xtr, ytr, classes.length, input, onProgress, isCancelled);
      const pred = predict(fitted, Xtest);
      const predLabels = Array.from(pred, c => classes[c]);
      const metrics = await store.writeMetrics(id, runMetricsOf(yTestLabels, predLabels));
      const rows: PredictionRow[] = data.split.test.map((i, t) => ({
        index: i, obsName: data.testNames[i], trueLabel: String(yTestLabels[t]), predictedLabel: String(predLabels[t]),
      }));
      await store.writePredictions(id, rows);
      for (const [name, value] of [['accuracy', metrics.accuracy], ['macroF1', metrics.macroF1], ['weightedF1', metrics.weightedF1]] as const) {
        await store.appendEvent(id, { type: 'metric', name, value });
      }
      const converged = fitted.converged.every(Boolean);
      await store.appendLog(id, `fitted ${model.label}${chosen ? ` (cross-validation chose C=${chosen.C})` : ''} in ${fitted.nIter.join('/')} iterations${converged ? '' : ' (did not converge within maxIter)'}; accuracy ${metrics.accuracy.toFixed(4)}, macro F1 ${metrics.macroF1.toFixed(4)}`);
      await store.update(id, r0 => ({
        status: 'completed', endedAt: new Date().toISOString(),
        parameters: { ...r0.parameters, converged, nIter: fitted.nIter, ...(chosen ? { chosenC: chosen.C, cvScores: chosen.scores } : {}) },
        summary: { accuracy: metrics.accuracy, macroF1: metrics.macroF1, weightedF1: metrics.weightedF1, nTrain: trainRows.length, nTest: metrics.nTest },
      }));
      await store.appendEvent(id, { type: 'status', status: 'completed' });
      outcomes.push({ id, fraction, seed, status: 'completed', nTrain: trainRows.length, metrics, error: null });
    } catch (e) {
      if (e instanceof CancelledError || ctx.cancelled) {
        for (const p of planned.slice(r)) await settle(store, p.record.id, 'cancelled', null);
        throw new CancelledError();
      }
      const message = errorText(e);
      await settle(store, id, 'failed', message);
      outcomes.push({ id, fraction, seed, status: 'failed', nTrain: 0, metrics: null, error: message });
    } finally {
      clearInterval(heartbeat);
    }
  }
  ctx.progress(1, 'done');
  return { experiment, storeRoot: store.root, nTest: data.split.test.length, geneAlignment: data.geneAlignment, runs: outcomes };
}

async function fitBaseline(
  X: CsrMatrix, y: Int32Array, nClasses: number, input: BaselineGridInput,
  onProgress: (f: number, m?: string) => void, isCancelled: () => boolean,
): Promise<{ model: LogRegModel; chosen: { C: number; scores: unknown } | null }> {
  const spec = input.model;
  const common = { penalty: spec.penalty, threads: input.threads } as const;
  if ('C' in spec) {
    return { model: await fitLogReg(X, y, nClasses, { ...common, C: spec.C }, onProgress, isCancelled), chosen: null };
  }
  const cv = await cvSelectC(X, y, nClasses, { ...common, grid: spec.cvGrid.length ? spec.cvGrid : DEFAULT_C_GRID, folds: spec.folds ?? 5 }, onProgress, isCancelled);
  return { model: cv.model, chosen: { C: cv.bestC, scores: cv.scores.map(s => ({ C: s.C, meanAccuracy: s.meanAccuracy })) } };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Moves a run that has not finished to a final status (a final one is left alone). */
export async function settle(store: RunStore, id: string, status: 'cancelled' | 'failed' | 'interrupted', error: string | null): Promise<void> {
  const before = await store.get(id).catch(() => null);
  if (!before || FINAL_STATUSES.includes(before.status)) return;
  await store.update(id, r => (FINAL_STATUSES.includes(r.status) ? {} : { status, endedAt: new Date().toISOString(), error }));
  await store.appendEvent(id, { type: 'status', status, ...(error ? { message: error } : {}) });
  await store.appendLog(id, error ? `${status}: ${error}` : status);
}

/**
 * After a preparation that threw `e`: the unfinished runs of its batch (`parameters.batch`) end cancelled (a
 * cancel) or failed with the error, so none stays queued.
 */
export async function settleBatch(store: RunStore, batch: string, e: unknown): Promise<void> {
  const cancelled = e instanceof CancelledError;
  for (const r of await store.list().catch(() => [])) {
    if (r.parameters.batch === batch && !FINAL_STATUSES.includes(r.status)) {
      await settle(store, r.id, cancelled ? 'cancelled' : 'failed', cancelled ? null : errorText(e));
    }
  }
}

export interface RunBaselinesOptions {
  onProgress?: (fraction: number, message?: string) => void;
  /** aborting cancels the current run; the grid stops */
  signal?: AbortSignal;
}

/**
 * Runs the grid in a worker thread (the extension host and the CLI stay responsive). Whatever happens to the
 * worker, no run of this call is left queued or running: leftovers become cancelled (after an abort) or failed.
 */
export async function runBaselinesInWorker(input: BaselineGridInput, opts: RunBaselinesOptions = {}): Promise<BaselineGridResult> {
  const batch = input.batch ?? crypto.randomBytes(6).toString('hex');
  try {
    return await runTask<BaselineGridResult>('runs/tasks', 'baselineGrid', { ...input, batch }, {
      onProgress: opts.onProgress, signal: opts.signal, graceMs: 30_000,
    });
  } catch (e) {
    const store = new RunStore(input.storeRoot);
    const cancelled = e instanceof CancelledError;
    for (const r of await store.list()) {
      if (r.parameters.batch === batch && !FINAL_STATUSES.includes(r.status)) {
        await settle(store, r.id, cancelled ? 'cancelled' : 'failed', cancelled ? null : errorText(e));
      }
    }
    throw e;
  }
}
