/**
 * Pure computations behind the dataset statistics: per-cell totals accumulated block by block, histograms,
 * a guess at what X holds (raw counts, normalised, log-normalised, scaled), the composition of a label column,
 * the gene identifier namespace (with the gene names found on more than one column), and the overlap of the data's
 * genes with a model's vocabulary.
 */
import type { CsrMatrix } from '../sparse';
import { geneMatchKey } from './gene-ids';
import type { Column } from './types';

export interface Histogram {
  /** nBins + 1 edges, equal width from min to max (numpy.histogram semantics: the last bin includes max) */
  edges: number[];
  counts: number[];
}

export interface Distribution {
  n: number;
  min: number;
  max: number;
  mean: number;
  median: number;
  histogram: Histogram;
}

/** numpy.histogram(values, bins=nBins) with range (min, max); a constant sample gets the range (v - 0.5, v + 0.5). */
export function histogram(values: ArrayLike<number>, nBins = 50): Histogram {
  if (values.length === 0) return { edges: [], counts: [] };
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === hi) { lo -= 0.5; hi += 0.5; }
  const edges: number[] = [];
  // numpy builds edges with linspace: lo + i * (hi - lo) / nBins, computed as in linspace.
  const step = (hi - lo) / nBins;
  for (let i = 0; i <= nBins; i++) edges.push(i === nBins ? hi : lo + i * step);
  const counts = new Array<number>(nBins).fill(0);
  const norm = nBins / (hi - lo);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    let b = Math.floor((v - lo) * norm);
    if (b >= nBins) b = nBins - 1;
    // Floating-point rounding can put a value one bin off its edges; numpy corrects the same way.
    if (b > 0 && v < edges[b]) b--;
    else if (b < nBins - 1 && v >= edges[b + 1]) b++;
    counts[b]++;
  }
  return { edges, counts };
}

export function distribution(values: ArrayLike<number>, nBins = 50): Distribution {
  const n = values.length;
  if (n === 0) return { n: 0, min: NaN, max: NaN, mean: NaN, median: NaN, histogram: { edges: [], counts: [] } };
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return { n, min: sorted[0], max: sorted[n - 1], mean: sum / n, median, histogram: histogram(values, nBins) };
}

export type ValueScaleKind = 'empty' | 'raw-counts' | 'normalized' | 'log-normalized' | 'scaled';

export interface ValueScale {
  kind: ValueScaleKind;
  /** one sentence a user can check */
  reason: string;
  min: number;
  max: number;
  hasNegative: boolean;
  /** stored values that are not whole numbers */
  nNonInteger: number;
  /** coefficient of variation of the per-cell totals (cells with a non-zero total) */
  totalsCv: number;
}

/** Non-integer values whose largest value stays below this look log-transformed (log1p of 1e4-normalised counts stays near 10). */
const LOG_MAX = 20;
/** Per-cell totals this similar mean the rows were scaled to a fixed total. */
const CONSTANT_TOTALS_CV = 0.01;

/** Accumulates, block by block, what the statistics need: per-cell totals and genes, value range and kind. */
export class RowStatsAccumulator {
  readonly totals: Float64Array;
  readonly genesPerCell: Float64Array;
  rows = 0;
  /** stored entries (explicit zeros included) */
  stored = 0;
  /** entries that are not zero */
  nonZero = 0;
  min = Infinity;
  max = -Infinity;
  nNonInteger = 0;

  constructor(readonly nRows: number, readonly nCols: number) {
    this.totals = new Float64Array(nRows);
    this.genesPerCell = new Float64Array(nRows);
  }

  add(block: CsrMatrix): void {
    const { indptr, data } = block;
    for (let r = 0; r < block.nRows; r++) {
      let total = 0;
      let genes = 0;
      for (let k = indptr[r]; k < indptr[r + 1]; k++) {
        const v = data[k];
        total += v;
        if (v !== 0) genes++;
        if (v < this.min) this.min = v;
        if (v > this.max) this.max = v;
        if (!Number.isInteger(v)) this.nNonInteger++;
      }
      this.totals[this.rows + r] = total;
      this.genesPerCell[this.rows + r] = genes;
      this.nonZero += genes;
    }
    this.stored += indptr[block.nRows];
    this.rows += block.nRows;
  }

  /** Fraction of zero entries among the rows seen. */
  sparsity(): number {
    const cells = this.rows * this.nCols;
    return cells === 0 ? NaN : 1 - this.nonZero / cells;
  }

  valueScale(): ValueScale {
    const seenZero = this.stored < this.rows * this.nCols;
    const min = this.stored === 0 ? 0 : seenZero ? Math.min(0, this.min) : this.min;
    const max = this.stored === 0 ? 0 : seenZero ? Math.max(0, this.max) : this.max;
    const totalsCv = coefficientOfVariation(this.totals.subarray(0, this.rows).filter(t => t !== 0));
    const base = { min, max, hasNegative: min < 0, nNonInteger: this.nNonInteger, totalsCv };
    if (this.nonZero === 0) return { ...base, kind: 'empty', reason: 'every value is zero' };
    if (min < 0) return { ...base, kind: 'scaled', reason: `negative values (min ${fmt(min)}): centred or scaled data (e.g. sc.pp.scale), not counts` };
    if (this.nNonInteger === 0) return { ...base, kind: 'raw-counts', reason: `all values are non-negative integers (max ${fmt(max)}): looks like raw counts` };
    if (totalsCv < CONSTANT_TOTALS_CV) {
      return { ...base, kind: 'normalized', reason: `non-integer values and nearly equal per-cell totals (CV ${fmt(totalsCv)}): normalised to a fixed total, not log-transformed` };
    }
    if (max <= LOG_MAX) return { ...base, kind: 'log-normalized', reason: `non-integer values, max ${fmt(max)}: looks log-transformed (e.g. log1p of normalised counts)` };
    return { ...base, kind: 'normalized', reason: `non-integer values up to ${fmt(max)} with varying per-cell totals: normalised in some way, not log-transformed` };
  }
}

function coefficientOfVariation(v: ArrayLike<number>): number {
  const n = v.length;
  if (n < 2) return 0;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += v[i];
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (v[i] - mean) ** 2;
  return mean === 0 ? Infinity : Math.sqrt(ss / n) / Math.abs(mean);
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(4);
}

export interface Composition {
  column: string;
  kind: Column['kind'];
  /** rows without a value */
  nMissing: number;
  /**
   * in category order: a categorical column's own order, numbers ascending, other values sorted as text (numbers
   * within text compared as numbers: "cluster 2" before "cluster 10")
   */
  counts: { value: string; count: number }[];
  /** true when there were more distinct values than listed */
  truncated: boolean;
  /** a numeric column with many distinct values: `counts` are value ranges ("1,000–1,500"), in ascending order */
  binned?: boolean;
}

const MAX_COMPOSITION_VALUES = 1000;
/** a numeric column with more distinct values than this is shown as ranges (n_counts would draw a bar per cell) */
export const MAX_NUMERIC_VALUES = 20;
const TARGET_BINS = 12;

/** Equal-width bins with round edges (a step of 1, 2 or 5 times a power of ten) over the finite values. */
export function numericBins(values: readonly number[]): { value: string; count: number; low: number; high: number }[] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
  if (!(hi > lo)) return Number.isFinite(lo) ? [{ value: String(lo), count: values.length, low: lo, high: lo }] : [];
  const raw = (hi - lo) / TARGET_BINS;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map(m => m * p).find(x => x >= raw) ?? 10 * p;
  const start = Math.floor(lo / step) * step;
  const n = Math.max(1, Math.floor((hi - start) / step) + 1);
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const nf = new Intl.NumberFormat('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  const bins = Array.from({ length: n }, (_, i) => {
    const low = start + i * step;
    const high = start + (i + 1) * step;
    return { value: `${nf.format(low)}–${nf.format(high)}`, count: 0, low, high };
  });
  for (const v of values) bins[Math.min(n - 1, Math.floor((v - start) / step))].count++;
  return bins;
}

const TEXT_ORDER = new Intl.Collator('en', { numeric: true });

/** How many rows carry each value of a column (categories keep their names; numbers are shown as text). */
export function composition(col: Column): Composition {
  const counts = new Map<string, number>();
  let nMissing = 0;
  let truncated = false;
  const bump = (v: string) => {
    const c = counts.get(v);
    if (c !== undefined) counts.set(v, c + 1);
    else if (counts.size < MAX_COMPOSITION_VALUES) counts.set(v, 1);
    else truncated = true;
  };
  switch (col.kind) {
    case 'categorical': {
      const perCode = new Float64Array(col.categories.length);
      for (const c of col.codes) if (c < 0 || c >= perCode.length) nMissing++; else perCode[c]++;
      col.categories.forEach((name, i) => counts.set(name, perCode[i]));
      break;
    }
    case 'string':
      for (const v of col.values) bump(v);
      break;
    case 'boolean':
      for (const v of col.values) bump(v ? 'True' : 'False');
      break;
    case 'nullable-boolean':
      col.values.forEach((v, i) => (col.mask[i] ? nMissing++ : bump(v ? 'True' : 'False')));
      break;
    case 'nullable-integer':
    case 'numeric': {
      const present: number[] = [];
      col.values.forEach((v, i) => ((col.kind === 'nullable-integer' && col.mask[i]) || Number.isNaN(v) ? nMissing++ : present.push(v)));
      if (new Set(present).size > MAX_NUMERIC_VALUES) {
        const bins = numericBins(present).map(({ value, count }) => ({ value, count }));
        return { column: col.name, kind: col.kind, nMissing, counts: bins, truncated: false, binned: true };
      }
      for (const v of [...present].sort((a, b) => a - b)) bump(String(v));
      break;
    }
  }
  const list = [...counts.entries()].map(([value, count]) => ({ value, count }));
  // categories and numbers are already in their order (categories as declared, numbers bumped ascending)
  if (col.kind === 'string' || col.kind === 'boolean' || col.kind === 'nullable-boolean') list.sort((a, b) => TEXT_ORDER.compare(a.value, b.value));
  return { column: col.name, kind: col.kind, nMissing, counts: list, truncated };
}

export type GeneNamespaceKind = 'ensembl-human' | 'ensembl-mouse' | 'ensembl-other' | 'symbol' | 'mixed' | 'unknown';

export interface GeneNamespace {
  namespace: GeneNamespaceKind;
  nNames: number;
  fractionEnsembl: number;
  fractionSymbol: number;
  /** for symbols: human symbols are upper-case (CD3E), mouse ones capitalised (Cd3e) */
  symbolCase?: 'upper' | 'capitalized' | 'mixed';
  examples: string[];
  /** names on more than one column (the recipes treat them differently: docs/recipes.md) */
  duplicates: DuplicateNames;
}

export interface DuplicateNames {
  /** distinct names found on more than one column */
  names: number;
  /** columns beyond the first of each such name */
  extraColumns: number;
  /** the first duplicated names (in order of first appearance) with their number of columns */
  examples: { name: string; count: number }[];
}

/** The names that occur more than once, as counts and the first `maxExamples` of them. */
export function duplicateNames(names: readonly string[], maxExamples = 5): DuplicateNames {
  const count = new Map<string, number>();
  for (const name of names) count.set(name, (count.get(name) ?? 0) + 1);
  let repeated = 0;
  let extraColumns = 0;
  const examples: DuplicateNames['examples'] = [];
  for (const [name, n] of count) {
    if (n < 2) continue;
    repeated++;
    extraColumns += n - 1;
    if (examples.length < maxExamples) examples.push({ name, count: n });
  }
  return { names: repeated, extraColumns, examples };
}

/**
 * The dataset view's warning about duplicated gene names in `where` (var_names or a var column); null when
 * every name is unique.
 */
export function duplicateNamesWarning(d: DuplicateNames, where: string): string | null {
  if (d.names === 0) return null;
  const fmt = (n: number) => n.toLocaleString('en-US');
  const examples = d.examples.map(e => `${e.name} (${e.count}×)`).join(', ');
  return `${fmt(d.names)} gene name${d.names === 1 ? '' : 's'} in ${where} ${d.names === 1 ? 'is' : 'are'} on more than one column ` +
    `(${fmt(d.extraColumns)} extra column${d.extraColumns === 1 ? '' : 's'}), e.g. ${examples}. ` +
    'Preprocessing with scBERT uses the first column of each, as its script does (or sums them with "duplicateGenes": "sum"); ' +
    'scGPT and the benchmark keep every column.';
}

const ENSEMBL_HUMAN = /^ENSG\d{11}(\.\d+)?$/;
const ENSEMBL_MOUSE = /^ENSMUSG\d{11}(\.\d+)?$/;
const ENSEMBL_ANY = /^ENS[A-Z]{0,6}G\d{11}(\.\d+)?$/;
const SYMBOL = /^(?=.*[A-Za-z])[A-Za-z0-9][A-Za-z0-9._\-/@:]*$/;
/** a namespace is named when at least this share of the names belongs to it */
const MAJORITY = 0.9;

/** Which identifiers the names are: Ensembl gene ids (by species prefix) or gene symbols. */
export function detectGeneNamespace(names: readonly string[]): GeneNamespace {
  const n = names.length;
  let human = 0, mouse = 0, other = 0, symbol = 0, upper = 0, capitalized = 0;
  for (const name of names) {
    if (ENSEMBL_HUMAN.test(name)) human++;
    else if (ENSEMBL_MOUSE.test(name)) mouse++;
    else if (ENSEMBL_ANY.test(name)) other++;
    else if (SYMBOL.test(name)) {
      symbol++;
      if (name === name.toUpperCase()) upper++;
      else if (/^[A-Z][a-z0-9]/.test(name) && name.slice(1) === name.slice(1).toLowerCase()) capitalized++;
    }
  }
  const ensembl = human + mouse + other;
  const share = (k: number) => (n === 0 ? 0 : k / n);
  let namespace: GeneNamespaceKind = 'unknown';
  if (n === 0) namespace = 'unknown';
  else if (share(human) >= MAJORITY) namespace = 'ensembl-human';
  else if (share(mouse) >= MAJORITY) namespace = 'ensembl-mouse';
  else if (share(ensembl) >= MAJORITY) namespace = 'ensembl-other';
  else if (share(symbol) >= MAJORITY) namespace = 'symbol';
  else if (share(ensembl + symbol) >= MAJORITY) namespace = 'mixed';
  const out: GeneNamespace = {
    namespace, nNames: n, fractionEnsembl: share(ensembl), fractionSymbol: share(symbol), examples: names.slice(0, 5),
    duplicates: duplicateNames(names),
  };
  if (symbol > 0) out.symbolCase = upper / symbol >= 0.8 ? 'upper' : capitalized / symbol >= 0.8 ? 'capitalized' : 'mixed';
  return out;
}

/**
 * Gene names from a reference file: a scGPT-style vocab.json (object gene -> id; special tokens such as
 * <pad> and <cls> are not genes), a JSON array of names, or a text list with one gene per line (# comments).
 */
export function parseGeneReference(text: string): string[] {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    const parsed: unknown = JSON.parse(text);
    const names = Array.isArray(parsed) ? parsed.map(String) : Object.keys(parsed as object);
    return names.filter(g => !/^<.*>$/.test(g));
  }
  return text.split(/\r?\n/).map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#'));
}

export interface GeneOverlap {
  nDataGenes: number;
  nReference: number;
  nOverlap: number;
  /** data genes absent from the reference, in data order (at most 20) */
  examplesMissing: string[];
}

/** Data genes found in the reference; a versioned Ensembl id finds the unversioned one (geneMatchKey). */
export function geneOverlap(dataGenes: readonly string[], referenceGenes: readonly string[]): GeneOverlap {
  const ref = new Set(referenceGenes.map(geneMatchKey));
  const distinct = new Set(dataGenes);
  let nOverlap = 0;
  const examplesMissing: string[] = [];
  for (const g of distinct) {
    if (ref.has(geneMatchKey(g))) nOverlap++;
    else if (examplesMissing.length < 20) examplesMissing.push(g);
  }
  return { nDataGenes: distinct.size, nReference: new Set(referenceGenes).size, nOverlap, examplesMissing };
}
