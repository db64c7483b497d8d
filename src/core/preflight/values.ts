/**
 * Pre-flight check of the values a logistic-regression baseline is fitted on. The published baselines fit on
 * log-normalised expression (scBERT's preprocessing: normalise to 1e4 per cell, log; the scGPT datasets ship
 * log-normalised). The dataset view's classifier (RowStatsAccumulator.valueScale) tells what X holds; anything but
 * log-normalised values is either fixed before the fit (a preprocessed version of the file, Preprocess first, or a
 * log transform computed on the fly and recorded in run.json) or kept as stored on explicit request (`force`).
 *
 * On-the-fly transforms (the input file is never modified):
 * - `normalize-log1p` for raw counts: scanpy's `normalize_total(target_sum=1e4)` then `log1p` (natural log);
 *   a cell whose total is 0 is left as it is, as scanpy does;
 * - `log1p` for values already depth-normalised but not log-transformed (TPM, FPKM, CPM): `log1p` of the stored values.
 */
import { openH5ad } from '../h5ad/read';
import { RowStatsAccumulator, type ValueScale, type ValueScaleKind } from '../h5ad/stats';
import { H5adError } from '../h5ad/types';
import type { CsrMatrix } from '../sparse';

export type BaselineTransform = 'none' | 'log1p' | 'normalize-log1p';
export const BASELINE_TRANSFORMS: readonly BaselineTransform[] = ['none', 'log1p', 'normalize-log1p'];

/** normalize_total's target sum (scBERT's preprocessing and scanpy's usual choice). */
export const NORMALIZE_TARGET = 1e4;

/** How the values a baseline fitted on were decided; stored in run.json as `parameters.values`. */
export interface BaselineValueRecord {
  /** what the classifier found in the file's X (first rows) */
  scale: ValueScaleKind;
  reason: string;
  /** the transform applied before the fit */
  transform: BaselineTransform;
  /** why the values are what they are: log-normalised already, a transform chosen, or kept as stored on request */
  decision: 'log-normalized' | 'transform' | 'forced';
}

/** In words, for logs, warnings and docs. */
export const TRANSFORM_WORDS: Record<BaselineTransform, string> = {
  'none': 'the values as stored',
  'log1p': 'log1p of the stored values',
  'normalize-log1p': `log1p of the values normalised to ${NORMALIZE_TARGET.toLocaleString('en-US')} per cell (normalize_total, then log1p)`,
};

export const BASELINE_EXPECTS = 'the published LR baseline is fitted on log-normalised values (counts normalised per cell, then log-transformed)';

export interface BaselineValueAdvice {
  /** true: log-normalised, nothing to ask */
  ok: boolean;
  scale: ValueScale;
  /** one sentence: what the file holds and what the baseline expects */
  message: string;
  /** the on-the-fly transform that fits these values, or null when none does (scaled or empty data) */
  transform: Exclude<BaselineTransform, 'none'> | null;
}

const KIND_WORDS: Record<ValueScaleKind, string> = {
  'empty': 'no non-zero values',
  'raw-counts': 'raw counts',
  'normalized': 'normalised values that are not log-transformed (TPM, FPKM, CPM or similar)',
  'log-normalized': 'log-normalised values',
  'scaled': 'centred or scaled values (negative entries)',
};

/** What to tell a user before a baseline on values of this scale. */
export function baselineValueAdvice(scale: ValueScale, file: string): BaselineValueAdvice {
  const name = file.split(/[\\/]/).pop() ?? file;
  if (scale.kind === 'log-normalized') return { ok: true, scale, message: `${name} holds ${KIND_WORDS[scale.kind]}.`, transform: null };
  const transform = scale.kind === 'raw-counts' ? 'normalize-log1p' : scale.kind === 'normalized' ? 'log1p' : null;
  return {
    ok: false, scale, transform,
    message: `${name} holds ${KIND_WORDS[scale.kind]} (${scale.reason}); ${BASELINE_EXPECTS}.`,
  };
}

/** The values' scale by the dataset view's classifier, over the first `maxRows` cells of X (or of a layer). */
export async function scanValueScale(file: string, maxRows = 2000, blockRows = 1024, layer?: string): Promise<ValueScale> {
  const reader = await openH5ad(file);
  try {
    const s = reader.summary();
    const info = layer ? s.layers[layer] : s.X;
    if (!info) throw new H5adError(file, layer ? `the file has no layer '${layer}'` : 'the file has no X matrix');
    const n = Math.min(maxRows, s.nObs);
    const acc = new RowStatsAccumulator(n, s.nVars);
    const block = info.encoding === 'csc' ? Math.max(n, 1) : blockRows;
    for (let r0 = 0; r0 < n; r0 += block) acc.add(reader.readRows(r0, Math.min(n, r0 + block), layer ? `layers/${layer}` : undefined));
    return acc.valueScale();
  } finally {
    reader.close();
  }
}

/**
 * Applies a transform to X's stored values in place (X must be a matrix the caller owns, e.g. just read) and
 * returns it. Arithmetic in float64; the result is stored in X's own float width.
 */
export function applyValueTransform(X: CsrMatrix, transform: BaselineTransform): CsrMatrix {
  if (transform === 'none') return X;
  const { indptr, data } = X;
  for (let r = 0; r < X.nRows; r++) {
    let scale = 1;
    if (transform === 'normalize-log1p') {
      let total = 0;
      for (let k = indptr[r]; k < indptr[r + 1]; k++) total += data[k];
      // scanpy leaves a cell without counts unchanged (its total is replaced by 1 before dividing)
      if (total > 0) scale = NORMALIZE_TARGET / total;
    }
    for (let k = indptr[r]; k < indptr[r + 1]; k++) data[k] = Math.log1p(data[k] * scale);
  }
  return X;
}

/** A transform that cannot apply to these values (log of negative numbers), or null. */
export function transformProblem(transform: BaselineTransform, scale: ValueScale): string | null {
  if (transform === 'none') return null;
  if (scale.hasNegative) return `${TRANSFORM_WORDS[transform]} needs non-negative values, but X holds negative ones (min ${scale.min}): it is scaled data`;
  return null;
}
