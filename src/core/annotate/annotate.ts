/**
 * Annotating a dataset with an exported classifier (`model.onnx` + `model.onnx.json`, written by the worker at the
 * end of a fine-tune run, docs/worker.md "ONNX export"): the dataset is read in row blocks, tokenised exactly as the
 * worker does, run through onnxruntime-node on the CPU, and a NEW .h5ad is written (atomically, the input is never
 * touched) with obs `scwb_predicted` (categorical over the model's classes) and obsm `scwb_probabilities`
 * (cells x classes, softmax of the logits). When the dataset has the label column, accuracy and macro F1 are
 * returned as well. Run it through `runTask('annotate/annotate', 'annotateTask', ...)` to keep it off the caller's
 * event loop (a worker thread).
 *
 * scBERT tokens: for each of the model's genes (aligned by var name; a gene the dataset lacks reads 0) the value is
 * clamped at 5 and truncated toward zero, then one token 0 is appended: int64 [batch, n_genes + 1]. scGPT: see
 * scgpt-tokens.ts (gene_ids int64, values float32, padding_mask bool, [batch, longest cell of the batch]).
 *
 * Batching matters for scBERT: the Performer's key features are stabilised by the maximum over the whole batch, so
 * outputs agree with the worker's (and torch's) to float precision when the batches are the same rows.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointError } from '../checkpoints/errors';
import { readOnnx, type OnnxSummary } from '../checkpoints/formats';
import { openH5ad } from '../h5ad/read';
import { readTextFileSync, TEXT_FILE_LIMIT, UnsafeFileError } from '../safe-read';
import { jsonProblem } from '../safe-text';
import { Column, DataFrame, H5adError } from '../h5ad/types';
import { H5adWriter, DenseMatrix } from '../h5ad/write';
import { accuracyScore, f1Score } from '../metrics';
import type { TaskContext } from '../workers/task';
import { CancelledError } from '../workers/task';
import { ScGPTTokenizer, type ScGPTTokenParams } from './scgpt-tokens';

export const PREDICTED_COLUMN = 'scwb_predicted';
export const PROBABILITIES_KEY = 'scwb_probabilities';
const READ_BLOCK = 1024;

export interface OnnxSidecar {
  schemaVersion: number;
  model: 'scbert' | 'scgpt';
  classes: string[];
  labelColumn?: string | null;
  runId?: string | null;
  valueLayer?: string | null;
  genes: string[];
  inputs: string[];
  outputs: string[];
  opset: number;
  scbert?: { maxToken: number; appendZero: boolean; nGenes: number; seqLen: number };
  scgpt?: ScGPTTokenParams & { layer: string | null };
}

export class AnnotateError extends Error {
  constructor(readonly file: string, readonly problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'AnnotateError';
  }
}

/** The model's sidecar: `<model>.json` (model.onnx -> model.onnx.json), checked field by field. */
export function readSidecar(modelPath: string): OnnxSidecar {
  const file = `${modelPath}.json`;
  let raw: unknown;
  try {
    raw = JSON.parse(readTextFileSync(file, { maxBytes: TEXT_FILE_LIMIT }));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new AnnotateError(file, code === 'ENOENT'
      ? `missing: the model needs the model.onnx.json the worker writes next to model.onnx (python -m scwb_worker export-onnx --run-dir RUN)`
      : e instanceof UnsafeFileError ? e.problem : `not readable JSON: ${e instanceof SyntaxError ? jsonProblem(e) : (e as Error).message}`);
  }
  const s = raw as Partial<OnnxSidecar>;
  const bad = (what: string): never => { throw new AnnotateError(file, what); };
  if (!s || typeof s !== 'object') bad('not a JSON object');
  if (s.model !== 'scbert' && s.model !== 'scgpt') bad(`'model' must be "scbert" or "scgpt", got ${JSON.stringify(s.model)}`);
  if (!Array.isArray(s.classes) || !s.classes.length || !s.classes.every(c => typeof c === 'string')) bad("'classes' must be a non-empty list of names");
  const seen = new Set<string>();
  for (const c of s.classes!) {
    if (seen.has(c)) bad(`'classes' names ${JSON.stringify(c)} twice; each class needs its own name (the annotation's categories must be unique)`);
    seen.add(c);
  }
  if (!Array.isArray(s.genes) || !s.genes.every(g => typeof g === 'string')) bad("'genes' must be a list of gene names");
  if (!Array.isArray(s.inputs) || !Array.isArray(s.outputs)) bad("'inputs' and 'outputs' must be lists");
  if (s.model === 'scbert') {
    const sb = s.scbert;
    if (!sb || typeof sb.maxToken !== 'number' || typeof sb.nGenes !== 'number') bad("'scbert' must hold maxToken and nGenes");
    if (sb!.nGenes !== s.genes!.length) bad(`'scbert.nGenes' is ${sb!.nGenes} but 'genes' lists ${s.genes!.length}`);
  } else {
    const g = s.scgpt;
    if (!g || !Array.isArray(g.geneIds) || g.geneIds.length !== s.genes!.length) bad("'scgpt.geneIds' must give a token id for each of 'genes'");
    for (const k of ['clsId', 'padId', 'padValue', 'maxSeqLen', 'seed', 'nBins'] as const) {
      if (typeof g![k] !== 'number' || !Number.isFinite(g![k])) bad(`'scgpt.${k}' must be a number`);
    }
    if (g!.maxSeqLen < 2) bad("'scgpt.maxSeqLen' must be at least 2");
  }
  return s as OnnxSidecar;
}

/**
 * Checks the sidecar against the model itself (read with the project's protobuf reader, nothing run): the input
 * and output names it gives must be the model's, and the output's class dimension, when the model states it, must
 * equal the number of classes listed. A list one short would label cells with the wrong names; one too long would
 * read past the logits.
 */
export function checkModelMatchesSidecar(modelPath: string, side: OnnxSidecar): void {
  let onnx: OnnxSummary;
  try {
    onnx = readOnnx(modelPath);
  } catch (e) {
    if (e instanceof CheckpointError) throw new AnnotateError(modelPath, e.problem);
    throw e;
  }
  const sideFile = `${modelPath}.json`;
  const inputs = new Set(onnx.inputs.map(i => i.name));
  const want = side.model === 'scgpt' ? 3 : 1;
  if (side.inputs.length < want) throw new AnnotateError(sideFile, `'inputs' lists ${side.inputs.length} names; a ${side.model} model takes ${want}`);
  for (const name of side.inputs.slice(0, want)) {
    if (!inputs.has(name)) throw new AnnotateError(sideFile, `'inputs' names ${JSON.stringify(name)}, which is not an input of ${path.basename(modelPath)} (its inputs: ${[...inputs].join(', ') || 'none'})`);
  }
  const out = onnx.outputs.find(o => o.name === side.outputs[0]);
  if (!out) throw new AnnotateError(sideFile, `'outputs' names ${JSON.stringify(side.outputs[0] ?? null)}, which is not an output of ${path.basename(modelPath)} (its outputs: ${onnx.outputs.map(o => o.name).join(', ') || 'none'})`);
  const dim = out.shape[out.shape.length - 1];
  if (typeof dim === 'number' && dim > 0 && dim !== side.classes.length) {
    throw new AnnotateError(sideFile, `lists ${side.classes.length} classes but the model's output '${out.name}' has ${dim} (shape [${out.shape.join(', ')}]): the class list does not belong to this model`);
  }
}

export interface AnnotateInput {
  model: string;
  dataset: string;
  out: string;
  /** obs column with the true labels; metrics are computed when given (or when the sidecar's labelColumn exists) */
  labelColumn?: string;
  /** cells per ONNX run (default 32) */
  batchSize?: number;
  overwrite?: boolean;
  /** intra-op threads of onnxruntime (default: its own choice) */
  threads?: number;
  /**
   * rows not scored: the cells the model was trained on, when the dataset is its training file (trained-cells.ts);
   * they are still annotated
   */
  excludeRows?: number[];
}

export interface AnnotateMetrics {
  labelColumn: string;
  /** cells whose label is present */
  nLabelled: number;
  accuracy: number;
  macroF1: number;
  /** labelled cells whose label is not among the model's classes (always counted wrong) */
  unknownLabels: number;
  /** labelled cells left out of the scores because the model was trained on them (input.excludeRows) */
  excludedTrained: number;
}

export interface AnnotateResult {
  out: string;
  nCells: number;
  classes: string[];
  counts: Record<string, number>;
  genesMatched: number;
  genesMissing: number;
  /** cells per second of the tokenise + ONNX part (reading/writing excluded) */
  cellsPerSec: number;
  seconds: number;
  metrics: AnnotateMetrics | null;
  /** true labels and predictions of the labelled cells (for the run store), when metrics were computed */
  labelled?: { obsNames: string[]; trueLabels: string[]; predicted: string[]; rows: number[] };
}

type Ort = typeof import('onnxruntime-node');

function loadOrt(): Ort {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('onnxruntime-node') as Ort;
  } catch (e) {
    throw new Error(`onnxruntime-node is not installed or cannot load its CPU binary: ${(e as Error).message}`);
  }
}

/** Softmax of one row of logits (float64 arithmetic), written into `out` at `offset`. */
export function softmaxInto(logits: Float32Array, start: number, n: number, out: Float32Array, offset: number): void {
  let max = -Infinity;
  for (let k = 0; k < n; k++) max = Math.max(max, logits[start + k]);
  let sum = 0;
  for (let k = 0; k < n; k++) sum += Math.exp(logits[start + k] - max);
  for (let k = 0; k < n; k++) out[offset + k] = Math.exp(logits[start + k] - max) / sum;
}

/** The task (worker thread): see the module comment. */
export async function annotateTask(input: AnnotateInput, ctx?: TaskContext): Promise<AnnotateResult> {
  const modelPath = path.resolve(input.model);
  const side = readSidecar(modelPath);
  if (!fs.existsSync(modelPath)) throw new AnnotateError(modelPath, 'file not found');
  checkModelMatchesSidecar(modelPath, side); // before anything runs; also refuses a FIFO or device as the model
  const batchSize = input.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batch size must be a positive integer, got ${batchSize}`);
  const ort = loadOrt();
  let session: import('onnxruntime-node').InferenceSession;
  try {
    session = await ort.InferenceSession.create(modelPath, {
      executionProviders: ['cpu'], graphOptimizationLevel: 'all',
      ...(input.threads ? { intraOpNumThreads: input.threads } : {}),
    });
  } catch (e) {
    throw new AnnotateError(modelPath, `onnxruntime cannot load it: ${(e as Error).message}`);
  }
  const reader = await openH5ad(input.dataset);
  let writer: H5adWriter | null = null;
  try {
    const summary = reader.summary();
    const nObs = summary.nObs;
    const varNames = reader.var().index;
    const nGenes = side.genes.length;
    // dataset column -> model position (first occurrence of a duplicated name, as the worker's column_map)
    const colPos = new Int32Array(varNames.length).fill(-1);
    const firstCol = new Map<string, number>();
    varNames.forEach((g, i) => { if (!firstCol.has(g)) firstCol.set(g, i); });
    let matched = 0;
    side.genes.forEach((g, p) => {
      const c = firstCol.get(g);
      if (c !== undefined) { colPos[c] = p; matched++; }
    });
    if (matched === 0) {
      throw new AnnotateError(input.dataset, `none of its ${varNames.length} var names are among the model's ${nGenes} genes (e.g. ${side.genes.slice(0, 3).join(', ')}): run the recipe the model was trained with (Preprocess scBERT) first`);
    }
    const layer = side.model === 'scgpt' ? side.scgpt!.layer : side.valueLayer;
    const valueMatrix = layer ? `layers/${layer}` : undefined;
    if (layer && !summary.layers[layer]) throw new AnnotateError(input.dataset, `has no layer '${layer}', which the model reads its values from (run the recipe the model was trained with)`);
    const gpt = side.model === 'scgpt' ? new ScGPTTokenizer(side.scgpt!) : null;
    const labelColumn = input.labelColumn ?? undefined;
    const obs = reader.obs();
    let trueLabels: string[] | null = null;
    if (labelColumn !== undefined) {
      const col = obs.columns.find(c => c.name === labelColumn);
      if (!col) throw new AnnotateError(input.dataset, `obs has no column '${labelColumn}' (columns: ${obs.columns.map(c => c.name).join(', ') || 'none'})`);
      trueLabels = columnStrings(col);
    }
    const nClasses = side.classes.length;
    const seq = nGenes + 1;
    const maxToken = side.scbert?.maxToken ?? 0;
    const dense = new Float32Array(nGenes);
    const predicted = new Int32Array(nObs);
    const probs = new Float32Array(nObs * nClasses);
    writer = await H5adWriter.create(input.out, {
      nVars: varNames.length, overwrite: input.overwrite, protect: [path.resolve(input.dataset), modelPath],
    });
    const tokens = new BigInt64Array(batchSize * seq);
    let computeMs = 0;
    for (let s = 0; s < nObs; s += READ_BLOCK) {
      if (ctx?.cancelled) throw new CancelledError();
      const e = Math.min(nObs, s + READ_BLOCK);
      const x = reader.readRows(s, e);
      writer.appendRows(x);
      const values = valueMatrix ? reader.readRows(s, e, valueMatrix) : x;
      for (let b = 0; b < e - s; b += batchSize) {
        if (ctx?.cancelled) throw new CancelledError();
        const t0 = performance.now();
        const nb = Math.min(batchSize, e - s - b);
        let feed: Record<string, import('onnxruntime-node').Tensor>;
        if (gpt) {
          const cells = [];
          for (let i = 0; i < nb; i++) {
            const r = b + i;
            dense.fill(0);
            for (let q = values.indptr[r]; q < values.indptr[r + 1]; q++) {
              const p = colPos[values.indices[q]];
              if (p >= 0) dense[p] = values.data[q];
            }
            try {
              cells.push(gpt.cell(dense, s + r));
            } catch (err) {
              throw new AnnotateError(input.dataset, (err as Error).message);
            }
          }
          const t = gpt.batch(cells);
          feed = {
            [side.inputs[0]]: new ort.Tensor('int64', t.ids, [nb, t.length]),
            [side.inputs[1]]: new ort.Tensor('float32', t.vals, [nb, t.length]),
            [side.inputs[2]]: new ort.Tensor('bool', t.mask, [nb, t.length]),
          };
        } else {
          tokens.fill(0n);
          for (let i = 0; i < nb; i++) {
            const r = b + i;
            for (let q = values.indptr[r]; q < values.indptr[r + 1]; q++) {
              const p = colPos[values.indices[q]];
              if (p < 0) continue;
              const v = Math.fround(values.data[q]); // the worker reads values as float32
              if (!Number.isFinite(v)) throw new AnnotateError(input.dataset, `row ${s + r} holds NaN or infinite values`);
              if (v < 0) throw new AnnotateError(input.dataset, `row ${s + r} has negative values; scBERT needs the scBERT recipe's log2-normalised values (run Preprocess scBERT)`);
              tokens[i * seq + p] = BigInt(Math.trunc(Math.min(v, maxToken)));
            }
          }
          feed = { [side.inputs[0]]: new ort.Tensor('int64', nb === batchSize ? tokens : tokens.subarray(0, nb * seq), [nb, seq]) };
        }
        const res = await session.run(feed);
        const logits = res[side.outputs[0]].data as Float32Array;
        // A model whose output size the file leaves open is checked here, on its first batch.
        if (logits.length !== nb * nClasses) {
          throw new AnnotateError(`${modelPath}.json`, `lists ${nClasses} classes but the model gives ${logits.length / nb} values per cell: the class list does not belong to this model`);
        }
        for (let i = 0; i < nb; i++) {
          const row = s + b + i;
          let best = 0;
          for (let k = 1; k < nClasses; k++) if (logits[i * nClasses + k] > logits[i * nClasses + best]) best = k;
          predicted[row] = best;
          softmaxInto(logits, i * nClasses, nClasses, probs, row * nClasses);
        }
        computeMs += performance.now() - t0;
      }
      ctx?.progress(e / nObs, `${e.toLocaleString('en-US')} of ${nObs.toLocaleString('en-US')} cells`);
    }
    const predictedColumn: Column = { kind: 'categorical', name: PREDICTED_COLUMN, categories: [...side.classes], codes: predicted, ordered: false };
    const outObs: DataFrame = { ...obs, columns: [...obs.columns.filter(c => c.name !== PREDICTED_COLUMN), predictedColumn] };
    const obsm: Record<string, DenseMatrix> = {};
    for (const o of summary.obsm) {
      if (o.name === PROBABILITIES_KEY || o.encoding !== 'array' || o.shape.length !== 2) continue;
      const m = reader.readObsm(o.name);
      obsm[o.name] = { nRows: m.shape[0], nCols: m.shape[1], data: m.data };
    }
    obsm[PROBABILITIES_KEY] = { nRows: nObs, nCols: nClasses, data: probs };
    await writer.finish({
      obs: outObs, var: reader.var(), obsm,
      uns: { scwb_annotation: { model: modelPath, modelKind: side.model, classes: [...side.classes], runId: side.runId ?? '' } },
    });
    const counts: Record<string, number> = {};
    for (const c of side.classes) counts[c] = 0;
    for (let i = 0; i < nObs; i++) counts[side.classes[predicted[i]]]++;
    const result: AnnotateResult = {
      out: path.resolve(input.out), nCells: nObs, classes: side.classes, counts, genesMatched: matched, genesMissing: nGenes - matched,
      cellsPerSec: computeMs > 0 ? nObs / (computeMs / 1000) : 0, seconds: computeMs / 1000, metrics: null,
    };
    if (trueLabels && labelColumn !== undefined) {
      const rows: number[] = [];
      const excluded = new Set(input.excludeRows ?? []);
      let excludedTrained = 0;
      for (let i = 0; i < nObs; i++) {
        if (trueLabels[i] === '') continue;
        if (excluded.has(i)) excludedTrained++;
        else rows.push(i);
      }
      if (rows.length) {
        const yTrue = rows.map(i => trueLabels![i]);
        const yPred = rows.map(i => side.classes[predicted[i]]);
        const known = new Set(side.classes);
        result.metrics = {
          labelColumn, nLabelled: rows.length, accuracy: accuracyScore(yTrue, yPred), macroF1: f1Score(yTrue, yPred, 'macro', { zeroDivision: 0 }),
          unknownLabels: yTrue.filter(l => !known.has(l)).length, excludedTrained,
        };
        result.labelled = { obsNames: rows.map(i => obs.index[i]), trueLabels: yTrue, predicted: yPred, rows };
      }
    }
    return result;
  } catch (e) {
    writer?.abort();
    throw e;
  } finally {
    reader.close();
    await session.release();
  }
}

function columnStrings(c: Column): string[] {
  switch (c.kind) {
    case 'categorical': return Array.from(c.codes, k => (k >= 0 && k < c.categories.length ? c.categories[k] : ''));
    case 'string': return c.values;
    case 'numeric': return Array.from(c.values, v => (Number.isNaN(v) ? '' : String(v)));
    case 'boolean': return Array.from(c.values, v => (v ? 'True' : 'False'));
    case 'nullable-integer': return Array.from(c.values, (v, i) => (c.mask[i] ? '' : String(v)));
    case 'nullable-boolean': return Array.from(c.values, (v, i) => (c.mask[i] ? '' : v ? 'True' : 'False'));
  }
}

export { H5adError };
