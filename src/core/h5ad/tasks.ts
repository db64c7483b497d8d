/**
 * Worker-thread tasks over .h5ad files, run with `runTask('h5ad/tasks', name, input)`. They stream X in row
 * blocks, so their memory stays bounded by the block size and the per-cell arrays.
 */
import { jsonProblem } from '../safe-text';
import { CancelledError, type TaskContext } from '../workers/task';
import { openH5ad } from './read';
import {
  Composition, Distribution, GeneNamespace, GeneOverlap, RowStatsAccumulator, ValueScale,
  composition, detectGeneNamespace, distribution, geneOverlap as overlapOf, parseGeneReference,
} from './stats';
import { AnnDataReader, DataFrame, DatasetSummary, H5adError } from './types';
import { readTextFileSync, UnsafeFileError } from '../safe-read';

export async function summarize(input: { path: string }): Promise<DatasetSummary> {
  const reader = await openH5ad(input.path);
  try {
    return reader.summary();
  } finally {
    reader.close();
  }
}

export interface DatasetStatsInput {
  path: string;
  /** obs column whose composition is reported */
  column?: string;
  /** scan only the first maxRows cells (a quick look at a huge file) */
  maxRows?: number;
  /** 'X' (default), 'layers/<name>' or 'raw/X' */
  matrix?: string;
  blockRows?: number;
}

export interface DatasetStats {
  path: string;
  matrix: string;
  nObs: number;
  nVars: number;
  rowsScanned: number;
  /** stored entries in the rows scanned */
  stored: number;
  /** fraction of zero entries in the rows scanned */
  sparsity: number;
  totalCounts: Distribution;
  genesPerCell: Distribution;
  values: ValueScale;
  composition: Composition | null;
  geneIds: GeneIdReport;
}

export interface GeneIdReport extends GeneNamespace {
  /** var columns that also look like gene identifiers (e.g. symbols beside an Ensembl index) */
  alternatives: { column: string; namespace: GeneNamespace['namespace']; duplicates: GeneNamespace['duplicates'] }[];
}

export async function datasetStats(input: DatasetStatsInput, ctx: TaskContext): Promise<DatasetStats> {
  const reader = await openH5ad(input.path);
  try {
    const summary = reader.summary();
    const matrix = input.matrix ?? 'X';
    const info = matrix === 'X' ? summary.X : matrix === 'raw/X' ? summary.raw?.X ?? null : summary.layers[matrix.replace(/^layers\//, '')] ?? null;
    if (!info) throw new H5adError(input.path, matrix === 'X' ? 'the file has no X (no expression matrix): it holds only annotations' : `the file has no matrix '${matrix}'`);
    const [nRows, nCols] = info.shape;
    const rows = Math.min(nRows, input.maxRows ?? nRows);
    let compositionResult: Composition | null = null;
    if (input.column !== undefined) {
      const col = reader.obs().columns.find(c => c.name === input.column);
      if (!col) throw new H5adError(input.path, `obs has no column '${input.column}' (it has: ${reader.obs().columns.map(c => c.name).join(', ') || 'none'})`);
      compositionResult = composition(col);
    }
    const acc = new RowStatsAccumulator(rows, nCols);
    // CSC blocks each cost a pass over the whole matrix: take them large.
    const blockRows = input.blockRows ?? (info.encoding === 'csc' ? Math.max(rows, 1) : 4096);
    ctx.progress(0, `reading ${matrix}`);
    for (let r0 = 0; r0 < rows; r0 += blockRows) {
      if (ctx.cancelled) throw new CancelledError();
      const r1 = Math.min(rows, r0 + blockRows);
      acc.add(reader.readRows(r0, r1, matrix === 'X' ? undefined : matrix));
      ctx.progress(r1 / rows, `${r1.toLocaleString('en-US')} of ${rows.toLocaleString('en-US')} cells`);
      // Let the cancel message in between blocks.
      await new Promise(resolve => setImmediate(resolve));
    }
    const genes = matrix === 'raw/X' ? reader.rawVar() ?? reader.var() : reader.var();
    return {
      path: input.path,
      matrix,
      nObs: summary.nObs,
      nVars: nCols,
      rowsScanned: rows,
      stored: acc.stored,
      sparsity: acc.sparsity(),
      totalCounts: distribution(acc.totals),
      genesPerCell: distribution(acc.genesPerCell),
      values: acc.valueScale(),
      composition: compositionResult,
      geneIds: geneIdReport(genes),
    };
  } finally {
    reader.close();
  }
}

/** The namespace of var names, plus var columns that hold gene identifiers of another kind. */
export function geneIdReport(frame: DataFrame): GeneIdReport {
  const main = detectGeneNamespace(frame.index);
  const alternatives: GeneIdReport['alternatives'] = [];
  for (const [column, values] of geneLikeColumns(frame)) {
    const ns = detectGeneNamespace(values);
    if (ns.namespace !== 'unknown' && ns.namespace !== 'mixed') alternatives.push({ column, namespace: ns.namespace, duplicates: ns.duplicates });
  }
  return { ...main, alternatives };
}

/**
 * String-valued var columns with mostly distinct values (at least half as many as genes): identifiers, not
 * categories such as a chromosome or feature type. Symbols mapped from Ensembl ids repeat some names, and those
 * repeats are what the dataset view warns about, so the bar is not "nearly one per gene".
 */
function geneLikeColumns(frame: DataFrame): [string, string[]][] {
  const out: [string, string[]][] = [];
  for (const col of frame.columns) {
    let values: string[] | undefined;
    if (col.kind === 'string') values = col.values;
    else if (col.kind === 'categorical') values = Array.from(col.codes, c => (c >= 0 ? col.categories[c] : ''));
    if (!values || values.length === 0) continue;
    if (new Set(values).size >= 0.5 * values.length) out.push([col.name, values]);
  }
  return out;
}

export interface GeneOverlapInput {
  path: string;
  /** scGPT-style vocab.json, a JSON array, or a text file with one gene per line */
  genesFile: string;
  /** a var column holding the names to match instead of var_names */
  geneColumn?: string;
  /** 'var' (default) or 'raw' (raw/var) */
  genesFrom?: 'var' | 'raw';
}

export interface GeneOverlapResult extends GeneOverlap {
  /**
   * what was matched: the column asked for, or else the candidate (var_names or a gene-like var column) that
   * shares the most genes with the list (var_names on a tie)
   */
  matchedOn: string;
  /** true when matchedOn was chosen as the best candidate rather than asked for */
  bestOfCandidates: boolean;
  /** the same overlap for var_names and each gene-like var column, to spot a better choice */
  byColumn: { column: string; nOverlap: number }[];
}

export async function geneOverlap(input: GeneOverlapInput, ctx: TaskContext): Promise<GeneOverlapResult> {
  let text: string;
  try {
    text = readTextFileSync(input.genesFile);
  } catch (e) {
    throw new H5adError(input.genesFile, e instanceof UnsafeFileError ? e.problem : 'cannot read the gene list (file not found or unreadable)');
  }
  let reference: string[];
  try {
    reference = parseGeneReference(text);
  } catch (e) {
    throw new H5adError(input.genesFile, `not a valid gene list: ${e instanceof SyntaxError ? jsonProblem(e) : 'it cannot be parsed'}`);
  }
  if (reference.length === 0) throw new H5adError(input.genesFile, 'the gene list is empty');
  ctx.progress(0.3, 'reading var');
  const reader: AnnDataReader = await openH5ad(input.path);
  try {
    const frame = input.genesFrom === 'raw' ? reader.rawVar() : reader.var();
    if (!frame) throw new H5adError(input.path, 'the file has no raw/var');
    const candidates = new Map<string, string[]>([['var_names', frame.index], ...geneLikeColumns(frame)]);
    let genes: string[] | undefined;
    if (input.geneColumn !== undefined) {
      const col = frame.columns.find(c => c.name === input.geneColumn);
      if (!col) throw new H5adError(input.path, `var has no column '${input.geneColumn}'`);
      if (col.kind === 'string') genes = col.values;
      else if (col.kind === 'categorical') genes = Array.from(col.codes, c => (c >= 0 ? col.categories[c] : ''));
      else throw new H5adError(input.path, `var column '${input.geneColumn}' holds ${col.kind} values, not gene names`);
      candidates.set(input.geneColumn, genes);
    }
    const overlaps = [...candidates.entries()].map(([column, names]) => ({ column, names, overlap: overlapOf(names, reference) }));
    const byColumn = overlaps.map(o => ({ column: o.column, nOverlap: o.overlap.nOverlap }));
    ctx.progress(1, 'done');
    if (genes !== undefined) return { ...overlapOf(genes, reference), matchedOn: input.geneColumn!, bestOfCandidates: false, byColumn };
    // The headline reports the best candidate: var_names of Ensembl ids share nothing with a vocabulary of symbols
    // that a var column of symbols matches well.
    const best = overlaps.reduce((a, b) => (b.overlap.nOverlap > a.overlap.nOverlap ? b : a));
    return { ...best.overlap, matchedOn: best.column, bestOfCandidates: true, byColumn };
  } finally {
    reader.close();
  }
}
