/**
 * scGPT's value binning, reproduced value for value (scGPT `preprocess.py`, `binning` / `_digitize`):
 * for each cell with any non-zero value, taking its non-zero values x in ascending gene order,
 *   edges  = np.quantile(x, np.linspace(0, 1, n_bins - 1))          (linear interpolation)
 *   left   = np.digitize(x, edges); right = np.digitize(x, edges, right=True)
 *   u      = np.random.rand(len(x))                                  (one call per cell, legacy MT19937 stream)
 *   digits = ceil(u * (right - left) + left)
 * Zeros stay 0; non-zero values get 1 .. n_bins - 1. Untied values are deterministic; values sitting on tied edges
 * are spread at random, so they match scGPT only with the same stream: np.random.seed(seed) right before
 * binning, the cells in order, and random numbers drawn for every non-empty cell (also when it has no ties).
 */
import type { CsrBlock } from './blocks';

/** np.linspace(0, 1, n): i * (1 / (n - 1)), the last value exactly 1. */
export function unitLinspace(n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) return out;
  const step = 1 / (n - 1);
  for (let i = 0; i < n; i++) out[i] = i * step;
  out[n - 1] = 1;
  return out;
}

/**
 * np.quantile(values, q) with the default linear method, on values already sorted ascending.
 * numpy takes the difference b - a in the array's dtype before interpolating in float64, so float32 data
 * (`float32Data`) round that difference to float32: this decides whether an edge lands exactly on a value.
 */
export function quantilesLinear(sorted: Float64Array, q: Float64Array, float32Data: boolean): Float64Array {
  const n = sorted.length;
  const out = new Float64Array(q.length);
  for (let i = 0; i < q.length; i++) {
    const virtualIndex = (n - 1) * q[i];
    if (virtualIndex >= n - 1) {
      out[i] = sorted[n - 1];
      continue;
    }
    const prev = Math.floor(virtualIndex);
    const gamma = virtualIndex - prev;
    const a = sorted[prev];
    const b = sorted[prev + 1];
    const diff = float32Data ? Math.fround(b - a) : b - a;
    // numpy's _lerp: from the nearer end, for monotonicity.
    out[i] = gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
  }
  return out;
}

/** np.digitize(x, edges) for non-decreasing edges: the number of edges <= x (`right`: edges < x). */
export function digitize(x: number, edges: Float64Array, right: boolean): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (right ? edges[mid] < x : edges[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Bins every row of `block` (values must be >= 0, rows with ascending indices). Returns the bin of each stored
 * value, aligned with `block.data` (0 for stored zeros). `rand` is called once per non-zero value of each
 * non-empty row, in column order, as np.random.rand(len(x)) consumes the stream.
 */
export function binRows(block: CsrBlock, nBins: number, rand: () => number, float32Data: boolean): Float64Array {
  const q = unitLinspace(nBins - 1);
  const bins = new Float64Array(block.data.length);
  for (let r = 0; r < block.nRows; r++) {
    const s = block.indptr[r];
    const e = block.indptr[r + 1];
    let nNonZero = 0;
    for (let k = s; k < e; k++) if (block.data[k] !== 0) nNonZero++;
    if (nNonZero === 0) continue;
    const values = new Float64Array(nNonZero);
    let j = 0;
    for (let k = s; k < e; k++) if (block.data[k] !== 0) values[j++] = block.data[k];
    const edges = quantilesLinear(values.slice().sort(), q, float32Data);
    for (let k = s; k < e; k++) {
      const x = block.data[k];
      if (x === 0) continue;
      const left = digitize(x, edges, false);
      // digitize(x, edges, right=True) counts edges < x: the edges equal to x sit just below `left`.
      let rightDigit = left;
      while (rightDigit > 0 && edges[rightDigit - 1] === x) rightDigit--;
      bins[k] = Math.ceil(rand() * (rightDigit - left) + left);
    }
  }
  return bins;
}
