/**
 * Highly variable genes, Seurat v3 flavour on raw counts, as scanpy's highly_variable_genes(flavor='seurat_v3')
 * computes it, in two streaming passes over the cells:
 *   pass 1 (`GeneMoments`): per batch and gene, the sum and sum of squares -> mean and variance (ddof 1);
 *     loess of log10(variance) on log10(mean) over the non-constant genes -> regularised sd = sqrt(10^fit);
 *     each value is clipped at sd * sqrt(N) + mean;
 *   pass 2 (`ClippedMoments`): per batch and gene, the sum and sum of squares of the clipped values ->
 *     normalised variance = (N mean^2 + sum(xc^2) - 2 mean sum(xc)) / ((N - 1) sd^2).
 * Genes are ranked per batch by normalised variance (descending); ranks >= n_top are ignored; genes are ordered
 * by the median of their remaining ranks, then by the number of batches where they ranked < n_top (more first),
 * and the first n_top are selected.
 *
 * Two documented differences from scanpy:
 * - The loess is the "direct" local regression (R's loess with surface = "direct"): at each distinct mean, a
 *   degree-2 weighted least-squares fit over the q = floor(span * n) nearest genes, tricube weights
 *   (1 - (d / h)^3)^3 with h the q-th smallest distance. scanpy calls skmisc's loess with its default
 *   surface = "interpolate" (kd-tree vertices blended by cubic interpolation), whose fitted values differ
 *   slightly from the direct ones. When h is 0 (q or more genes share one mean) the fit there is the mean of their
 *   log variances; with fewer than 3 distinct means among the weighted genes the degree drops to 1 or 0.
 * - Ties (equal normalised variance, equal median rank and batch count) keep gene order; scanpy sorts with
 *   numpy's unstable quicksort, which leaves their order unspecified.
 */

/** Per batch and gene sums of x and x^2 over the cells seen so far. */
export class GeneMoments {
  readonly cells: Float64Array;
  readonly sum: Float64Array[];
  readonly sumSq: Float64Array[];

  constructor(readonly nBatches: number, readonly nGenes: number) {
    this.cells = new Float64Array(nBatches);
    this.sum = Array.from({ length: nBatches }, () => new Float64Array(nGenes));
    this.sumSq = Array.from({ length: nBatches }, () => new Float64Array(nGenes));
  }

  /** Adds one cell: its stored (column, value) pairs and its batch. */
  addRow(indices: Int32Array, data: Float64Array, start: number, end: number, batch: number): void {
    this.cells[batch]++;
    const sum = this.sum[batch];
    const sumSq = this.sumSq[batch];
    for (let k = start; k < end; k++) {
      const v = data[k];
      sum[indices[k]] += v;
      sumSq[indices[k]] += v * v;
    }
  }
}

/** Per batch and gene sums of the clipped values (pass 2). */
export class ClippedMoments {
  readonly sum: Float64Array[];
  readonly sumSq: Float64Array[];

  constructor(private readonly clip: Float64Array[]) {
    this.sum = clip.map(c => new Float64Array(c.length));
    this.sumSq = clip.map(c => new Float64Array(c.length));
  }

  addRow(indices: Int32Array, data: Float64Array, start: number, end: number, batch: number): void {
    const clip = this.clip[batch];
    const sum = this.sum[batch];
    const sumSq = this.sumSq[batch];
    for (let k = start; k < end; k++) {
      const g = indices[k];
      const v = data[k] > clip[g] ? clip[g] : data[k];
      sum[g] += v;
      sumSq[g] += v * v;
    }
  }
}

export interface BatchFit {
  /** cells in the batch */
  n: number;
  mean: Float64Array;
  variance: Float64Array;
  /** sqrt(10^loess fit); 1 for constant genes */
  regStd: Float64Array;
  /** values above this are clipped in pass 2 */
  clip: Float64Array;
}

/** Thrown for data the method cannot handle; the driver adds the file name. */
export class HvgInputError extends Error {}

/** From pass 1: per batch mean, variance (ddof 1), loess-regularised sd and clip value of every gene. */
export function fitBatches(moments: GeneMoments, span: number, batchNames: readonly string[]): BatchFit[] {
  const fits: BatchFit[] = [];
  for (let b = 0; b < moments.nBatches; b++) {
    const n = moments.cells[b];
    if (n < 2) throw new HvgInputError(`batch "${batchNames[b]}" has ${n} cell(s); highly variable genes need at least 2 per batch`);
    const G = moments.nGenes;
    const mean = new Float64Array(G);
    const variance = new Float64Array(G);
    const notConst: number[] = [];
    for (let g = 0; g < G; g++) {
      const m = moments.sum[b][g] / n;
      const meanSq = moments.sumSq[b][g] / n;
      mean[g] = m;
      variance[g] = (meanSq - m * m) * (n / (n - 1));
      if (variance[g] > 0) notConst.push(g);
    }
    const x = Float64Array.from(notConst, g => Math.log10(mean[g]));
    const y = Float64Array.from(notConst, g => Math.log10(variance[g]));
    if (Math.floor(notConst.length * span) < 3) {
      throw new HvgInputError(`batch "${batchNames[b]}" has ${notConst.length} non-constant genes: too few for the loess fit with span ${span}`);
    }
    const fitted = loessFit(x, y, span);
    const regStd = new Float64Array(G).fill(1);
    notConst.forEach((g, i) => { regStd[g] = Math.sqrt(Math.pow(10, fitted[i])); });
    const clip = new Float64Array(G);
    const vmax = Math.sqrt(n);
    for (let g = 0; g < G; g++) clip[g] = regStd[g] * vmax + mean[g];
    fits.push({ n, mean, variance, regStd, clip });
  }
  return fits;
}

export interface HvgResult {
  selected: Uint8Array;
  /** median rank over the batches where the gene ranked < n_top; NaN elsewhere */
  rank: Float64Array;
  nBatches: Int32Array;
  /** mean normalised variance over batches */
  variancesNorm: Float64Array;
  /** over all cells */
  means: Float64Array;
  variances: Float64Array;
}

/**
 * scanpy marks the selected genes by label (`df.loc[sorted_index[:n_top_genes], "highly_variable"] = True` on a
 * frame indexed by var_names), so when a name is on several columns and one of them is among the top genes, every
 * column with that name is selected, and more than n_top_genes columns can be kept. `names[g]` is gene g's name.
 */
export function selectSameNames(selected: Uint8Array, names: readonly string[]): Uint8Array {
  const chosen = new Set<string>();
  for (let g = 0; g < selected.length; g++) if (selected[g]) chosen.add(names[g]);
  return Uint8Array.from(names, n => (chosen.has(n) ? 1 : 0));
}

/** From pass 2: ranks, median ranks and the selected genes. */
export function selectHvg(moments: GeneMoments, fits: BatchFit[], clipped: ClippedMoments, nTop: number): HvgResult {
  const B = fits.length;
  const G = moments.nGenes;
  const normVars = fits.map((f, b) => {
    const nv = new Float64Array(G);
    const N = f.n;
    for (let g = 0; g < G; g++) {
      const m = f.mean[g];
      const sd = f.regStd[g];
      nv[g] = (1 / ((N - 1) * (sd * sd))) * (N * (m * m) + clipped.sumSq[b][g] - 2 * clipped.sum[b][g] * m);
    }
    return nv;
  });
  const ranks = normVars.map(nv => {
    const order = Array.from({ length: G }, (_, g) => g).sort((a, c) => nv[c] - nv[a] || a - c);
    const rank = new Int32Array(G);
    order.forEach((g, i) => { rank[g] = i; });
    return rank;
  });
  const rank = new Float64Array(G);
  const nBatches = new Int32Array(G);
  const variancesNorm = new Float64Array(G);
  const kept: number[] = [];
  for (let g = 0; g < G; g++) {
    kept.length = 0;
    let nvSum = 0;
    for (let b = 0; b < B; b++) {
      if (ranks[b][g] < nTop) kept.push(ranks[b][g]);
      nvSum += normVars[b][g];
    }
    variancesNorm[g] = nvSum / B;
    nBatches[g] = kept.length;
    if (kept.length === 0) {
      rank[g] = NaN;
      continue;
    }
    kept.sort((a, c) => a - c);
    const mid = kept.length >> 1;
    rank[g] = kept.length % 2 ? kept[mid] : (kept[mid - 1] + kept[mid]) / 2;
  }
  const order = Array.from({ length: G }, (_, g) => g).sort((a, c) => {
    const ra = rank[a];
    const rc = rank[c];
    if (Number.isNaN(ra) !== Number.isNaN(rc)) return Number.isNaN(ra) ? 1 : -1;
    if (!Number.isNaN(ra) && ra !== rc) return ra - rc;
    return nBatches[c] - nBatches[a] || a - c;
  });
  const selected = new Uint8Array(G);
  for (let i = 0; i < Math.min(nTop, G); i++) selected[order[i]] = 1;

  const means = new Float64Array(G);
  const variances = new Float64Array(G);
  let nAll = 0;
  for (let b = 0; b < B; b++) nAll += moments.cells[b];
  for (let g = 0; g < G; g++) {
    let s = 0;
    let ss = 0;
    for (let b = 0; b < B; b++) {
      s += moments.sum[b][g];
      ss += moments.sumSq[b][g];
    }
    const m = s / nAll;
    means[g] = m;
    variances[g] = (ss / nAll - m * m) * (nAll / (nAll - 1));
  }
  return { selected, rank, nBatches, variancesNorm, means, variances };
}

/**
 * Direct loess (see the module comment): fitted values of a degree-2 local regression of y on x at every x,
 * span = fraction of points in each neighbourhood, tricube weights.
 */
export function loessFit(x: Float64Array, y: Float64Array, span: number): Float64Array {
  const n = x.length;
  const q = Math.min(n, Math.floor(n * span));
  if (q < 1) throw new RangeError(`loess: span ${span} leaves no points in a neighbourhood of ${n}`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b] || a - b);
  const xs = Float64Array.from(order, i => x[i]);
  const ys = Float64Array.from(order, i => y[i]);
  const fittedSorted = new Float64Array(n);
  let lo = 0;
  for (let p0 = 0; p0 < n;) {
    const x0 = xs[p0];
    let p1 = p0;
    while (p1 + 1 < n && xs[p1 + 1] === x0) p1++;
    // The q nearest points form a contiguous window of the sorted x; slide it right while that brings it closer.
    while (lo + q < n && xs[lo + q] - x0 < x0 - xs[lo]) lo++;
    const h = Math.max(x0 - xs[lo], xs[lo + q - 1] - x0);
    let fit: number;
    if (h === 0) {
      let s = 0;
      for (let j = p0; j <= p1; j++) s += ys[j];
      fit = s / (p1 - p0 + 1);
    } else {
      fit = localQuadraticAtZero(xs, ys, lo, lo + q, x0, h);
    }
    for (let j = p0; j <= p1; j++) fittedSorted[j] = fit;
    p0 = p1 + 1;
  }
  const fitted = new Float64Array(n);
  order.forEach((i, j) => { fitted[i] = fittedSorted[j]; });
  return fitted;
}

/** Weighted least squares of y on 1, t, t^2 with t = (x - x0) / h over xs[from..to), evaluated at t = 0. */
function localQuadraticAtZero(xs: Float64Array, ys: Float64Array, from: number, to: number, x0: number, h: number): number {
  // Moments S_k = sum w t^k (k = 0..4) and T_k = sum w t^k y (k = 0..2).
  const S = [0, 0, 0, 0, 0];
  const T = [0, 0, 0];
  let distinct = 0;
  let lastX = NaN;
  for (let j = from; j < to; j++) {
    const d = Math.abs(xs[j] - x0);
    if (d >= h) continue;
    const u = d / h;
    const c = 1 - u * u * u;
    const w = c * c * c;
    if (w <= 0) continue;
    if (xs[j] !== lastX) {
      distinct++;
      lastX = xs[j];
    }
    const t = (xs[j] - x0) / h;
    let tk = w;
    for (let k = 0; k < 5; k++) {
      S[k] += tk;
      if (k < 3) T[k] += tk * ys[j];
      tk *= t;
    }
  }
  const degree = Math.min(2, distinct - 1);
  const size = degree + 1;
  const A = Array.from({ length: size }, (_, r) => Array.from({ length: size }, (_, c) => S[r + c]));
  const rhs = T.slice(0, size);
  return solve(A, rhs)[0];
}

/** Gaussian elimination with partial pivoting (systems of at most 3 unknowns). */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(A[r][col]) > Math.abs(A[pivot][col])) pivot = r;
    [A[col], A[pivot]] = [A[pivot], A[col]];
    [b[col], b[pivot]] = [b[pivot], b[col]];
    for (let r = col + 1; r < n; r++) {
      const f = A[r][col] / A[col][col];
      for (let c = col; c < n; c++) A[r][c] -= f * A[col][c];
      b[r] -= f * b[col];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r];
    for (let c = r + 1; c < n; c++) s -= A[r][c] * x[c];
    x[r] = s / A[r][r];
  }
  return x;
}
