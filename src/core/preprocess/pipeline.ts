/**
 * The preprocessing driver: streams row blocks from a source through a recipe into a sink.
 * Recipes that need statistics over all cells first (gene filters, highly variable genes) read the source
 * again for each such pass; the last pass writes. Memory stays O(block + genes x batches).
 *
 * Passes per recipe:
 *   scbert      1: align, filter cells, normalise, log2, write
 *   scgpt       +1 when a gene filter is set, +2 for highly variable genes, then the write pass
 *   benchmark   +1 when minCountsPerGene > 0, then the write pass
 * The first pass that reads values also checks them (counts vs log-normalised, negatives, NaN/Inf).
 */
import { genesForMessage } from '../safe-text';
import { MT19937 } from '../random/mt19937';
import type { CsrMatrix } from '../sparse';
import { geneMatchKey, keyedLookup } from '../h5ad/gene-ids';
import { H5adError, type Column, type DataFrame } from '../h5ad/types';
import { CancelledError } from '../workers/task';
import { binRows } from './binning';
import {
  BlockScratch, InputCheck, keptRowsFloat32, remapColumns, rowPositives, rowSums, toFloat64, type CsrBlock,
} from './blocks';
import {
  alignToReference, composeSelections, countDuplicateColumns, selectionFromFlags, type Selection,
} from './genes';
import { ClippedMoments, GeneMoments, HvgInputError, fitBatches, selectHvg, selectSameNames, type HvgResult } from './hvg';
import { provenanceUns } from './provenance';
import type { BenchmarkParams, InputKind, Recipe, ScbertParams, ScgptParams } from './recipe';

/** Where rows come from: the AnnData reader, or an in-memory fake in tests. */
export interface RowSource {
  /** the input file, named in every error */
  readonly path: string;
  readonly nObs: number;
  /** var of the matrix being read (raw/var for raw/X) */
  var(): DataFrame;
  obs(): DataFrame;
  /** rows [start, end) as CSR with a local indptr */
  readRows(start: number, end: number): CsrMatrix;
}

export interface OutputLayout {
  varNames: string[];
  varColumns: Column[];
  /** names of the layers each `append` carries besides X */
  layers: string[];
}

/** Where rows go: the streaming .h5ad writer, or an in-memory fake in tests. */
export interface RowSink {
  begin(layout: OutputLayout): Promise<void> | void;
  append(rows: { X: CsrMatrix; layers: Record<string, CsrMatrix> }): Promise<void> | void;
  /** `keptCells`: source row of each output row; `obsColumns`: per-cell columns added by the recipe */
  finish(result: { keptCells: Int32Array; obsColumns: Column[]; uns: Record<string, unknown> }): Promise<void> | void;
  /** called instead of finish when the run fails or is cancelled */
  abort(): Promise<void> | void;
}

export interface PipelineProgress {
  progress(fraction: number, message?: string): void;
  readonly cancelled: boolean;
}

export interface PipelineOptions {
  /** reference genes (scbert) and vocabulary (scgpt, benchmark with vocab), loaded by the caller */
  referenceGenes?: readonly string[];
  vocab?: ReadonlyMap<string, number>;
  /** file names for messages about those resources */
  referenceFile?: string;
  vocabFile?: string;
  /** sha256 of the input file for `uns` (the caller streams it, possibly while the recipe runs) */
  inputSha256: string | Promise<string>;
  blockRows?: number;
  ctx?: PipelineProgress;
}

export interface PreprocessReport {
  recipe: Recipe['recipe'];
  cellsIn: number;
  cellsOut: number;
  genesIn: number;
  genesOut: number;
  /** passes over the input */
  passes: number;
  /** scbert: size of the reference list, reference genes found in the data */
  referenceGenes?: number;
  referenceGenesFound?: number;
  /**
   * Data columns whose gene name repeats an earlier column's (among the reference genes for scbert, the vocabulary
   * genes for scgpt and benchmark with a vocabulary, all genes otherwise), the distinct names concerned, and what
   * was done with them: "first" (only the first column used), "sum" (columns added) or "keep" (every column kept
   * as a gene of its own, with the same name and token id).
   */
  duplicateColumns: number;
  duplicatedGenes: number;
  duplicateGenesRule: 'first' | 'sum' | 'keep';
  /** scgpt / benchmark with vocab: data genes present in the vocabulary */
  genesInVocab?: number;
  /** genes dropped by the minimum count / cell filters */
  genesFiltered?: number;
  /** cells dropped by the cell filter */
  cellsFiltered: number;
  highlyVariableGenes?: number;
  /** whether normalize_total + log were applied (false for log-normalised input) */
  normalized: boolean;
  /** what the recipe took the input values to be (the recipe's "input") */
  input: InputKind;
}

const DEFAULT_BLOCK_ROWS = 4096;

/**
 * One sentence on the duplicated gene names a run met and what the recipe did with them, for messages to the user;
 * null when there were none.
 */
export function describeDuplicates(report: Pick<PreprocessReport, 'duplicateColumns' | 'duplicatedGenes' | 'duplicateGenesRule'>): string | null {
  if (!report.duplicateColumns) return null;
  const n = report.duplicatedGenes;
  const names = `${n.toLocaleString('en-US')} gene name${n === 1 ? '' : 's'} on more than one column ` +
    `(${report.duplicateColumns.toLocaleString('en-US')} extra column${report.duplicateColumns === 1 ? '' : 's'})`;
  switch (report.duplicateGenesRule) {
    case 'first': return `${names}: the first column of each was used, as scBERT's script does`;
    case 'sum': return `${names}: their columns were summed`;
    case 'keep': return `${names}: every column was kept with the name's token id, as the published code does`;
  }
}

export async function runPipeline(recipe: Recipe, source: RowSource, sink: RowSink, opts: PipelineOptions): Promise<PreprocessReport> {
  const run = new PipelineRun(source, sink, opts);
  try {
    switch (recipe.recipe) {
      case 'scbert':
        return await run.scbert(recipe, recipe.params);
      case 'scgpt':
        return await run.scgpt(recipe, recipe.params);
      case 'benchmark':
        return await run.benchmark(recipe, recipe.params);
    }
  } catch (e) {
    await sink.abort();
    if (e instanceof HvgInputError) throw new H5adError(source.path, e.message);
    throw e;
  }
}

/** The gene names to match: var_names, or a string / categorical var column. */
export function geneNamesOf(source: RowSource, geneColumn: string | null): string[] {
  const v = source.var();
  if (geneColumn === null) return v.index;
  const col = v.columns.find(c => c.name === geneColumn);
  if (!col) throw new H5adError(source.path, `var has no column "${geneColumn}" (columns: ${v.columns.map(c => c.name).join(', ') || 'none'})`);
  if (col.kind === 'string') return col.values;
  if (col.kind === 'categorical') return Array.from(col.codes, c => (c < 0 ? '' : col.categories[c]));
  throw new H5adError(source.path, `var column "${geneColumn}" holds ${col.kind} values, not gene names`);
}

/** Batch of each cell from an obs column; missing labels are an error (a cell must belong to some batch). */
export function batchesOf(source: RowSource, key: string): { codes: Int32Array; names: string[] } {
  const o = source.obs();
  const col = o.columns.find(c => c.name === key);
  if (!col) throw new H5adError(source.path, `obs has no column "${key}" for the batch key (columns: ${o.columns.map(c => c.name).join(', ') || 'none'})`);
  let labels: string[];
  switch (col.kind) {
    case 'categorical':
      if (col.codes.some(c => c < 0)) throw new H5adError(source.path, `obs column "${key}" has cells without a batch label`);
      labels = Array.from(col.codes, c => col.categories[c]);
      break;
    case 'string':
      labels = col.values;
      break;
    case 'numeric':
      if (col.values.some(v => Number.isNaN(v))) throw new H5adError(source.path, `obs column "${key}" has cells without a batch label`);
      labels = Array.from(col.values, v => String(v));
      break;
    case 'boolean':
      labels = Array.from(col.values, v => String(v === 1));
      break;
    default:
      if (col.mask.some(m => m === 1)) throw new H5adError(source.path, `obs column "${key}" has cells without a batch label`);
      labels = Array.from(col.values as ArrayLike<number>, v => String(v));
  }
  // Sorted like np.unique; the order does not change the result (median ranks are symmetric).
  const names = [...new Set(labels)].sort();
  const codeOf = new Map(names.map((n, i) => [n, i]));
  return { codes: Int32Array.from(labels, l => codeOf.get(l)!), names };
}

class PipelineRun {
  private readonly blockRows: number;
  private passIndex = 0;
  private nPasses = 1;

  constructor(private readonly source: RowSource, private readonly sink: RowSink, private readonly opts: PipelineOptions) {
    this.blockRows = Math.max(1, opts.blockRows ?? DEFAULT_BLOCK_ROWS);
  }

  private fail(problem: string): never {
    throw new H5adError(this.source.path, problem);
  }

  /** One pass over all rows, block by block, with progress and cancellation between blocks. */
  private async pass(label: string, fn: (block: CsrMatrix, firstRow: number) => Promise<void> | void): Promise<void> {
    const n = this.source.nObs;
    const ctx = this.opts.ctx;
    for (let start = 0; start < n; start += this.blockRows) {
      if (ctx?.cancelled) throw new CancelledError();
      const end = Math.min(n, start + this.blockRows);
      const block = this.source.readRows(start, end);
      if (block.nRows !== end - start) this.fail(`reading rows ${start}-${end} returned ${block.nRows} rows`);
      await fn(block, start);
      ctx?.progress((this.passIndex + end / n) / this.nPasses, `${label}: ${end} / ${n} cells`);
    }
    this.passIndex++;
  }

  /** The vocabulary keyed by geneMatchKey: look genes up with `geneMatchKey(gene)`. */
  private vocabOrFail(): ReadonlyMap<string, number> {
    if (!this.opts.vocab) throw new Error('the recipe needs a vocabulary: pass opts.vocab');
    return keyedLookup(this.opts.vocab);
  }

  private vocabSelection(genes: string[], vocab: ReadonlyMap<string, number>): Selection {
    const sel = selectionFromFlags(genes.map(g => vocab.has(geneMatchKey(g))));
    if (sel.kept.length === 0) {
      const where = this.opts.vocabFile ? ` ${this.opts.vocabFile}` : '';
      this.fail(`no gene is in the vocabulary${where} (first genes: ${genesForMessage(genes)}); ` +
        'check that genes are symbols like the vocabulary\'s, or set "geneColumn" to a var column of symbols');
    }
    return sel;
  }

  /** Per-gene totals and expressing cells over all cells: the statistics pass of the gene filters. */
  private async geneTotals(sel: Selection, check: InputCheck): Promise<{ counts: Float64Array; cells: Float64Array }> {
    const n = sel.kept.length;
    const counts = new Float64Array(n);
    const cells = new Float64Array(n);
    const scratch = new BlockScratch();
    await this.pass('gene filter statistics', (block, firstRow) => {
      check.check(block, sel.colMap, firstRow);
      const b = remapColumns(block, sel.colMap, n, scratch);
      for (let k = 0; k < b.data.length; k++) {
        counts[b.indices[k]] += b.data[k];
        if (b.data[k] > 0) cells[b.indices[k]]++;
      }
    });
    return { counts, cells };
  }

  private async finish(
    recipe: Recipe, keptCells: number[], obsColumns: Column[], report: PreprocessReport,
  ): Promise<PreprocessReport> {
    if (keptCells.length === 0) this.fail('no cell is left after filtering; lower the cell filter thresholds');
    const uns = provenanceUns(recipe, { file: this.source.path, sha256: await this.opts.inputSha256 }, report);
    await this.sink.finish({ keptCells: Int32Array.from(keptCells), obsColumns, uns });
    this.opts.ctx?.progress(1, 'done');
    return report;
  }

  async scbert(recipe: Recipe, p: ScbertParams): Promise<PreprocessReport> {
    const reference = this.opts.referenceGenes;
    if (!reference) throw new Error('the scbert recipe needs a reference gene list: pass opts.referenceGenes');
    const genes = geneNamesOf(this.source, p.geneColumn);
    const align = alignToReference(genes, reference, p.duplicateGenes);
    if (align.found === 0) {
      const where = this.opts.referenceFile ? ` ${this.opts.referenceFile}` : '';
      this.fail(`no gene matches the reference list${where} (first genes here: ${genesForMessage(genes)}; ` +
        `in the reference: ${genesForMessage(reference)}); set "geneColumn" if symbols are in a var column` +
        (p.geneColumn === null ? varColumnsNote(this.source) : ''));
    }
    const check = new InputCheck(this.source.path, p.input, genes, inputHint(p.input));
    const logNormalized = p.input === 'log-normalized';
    const nRef = reference.length;
    await this.sink.begin({
      varNames: [...reference],
      varColumns: withInputVar(this.source, [{ kind: 'boolean', name: 'present_in_input', values: align.present }], firstColumnOf(align.colMap, nRef)),
      layers: [],
    });
    const kept: number[] = [];
    const nGenes: number[] = [];
    const nCounts: number[] = [];
    const scratch = new BlockScratch();
    await this.pass('scBERT', async (block, firstRow) => {
      check.check(block, align.colMap, firstRow);
      const aligned = remapColumns(block, align.colMap, nRef, scratch);
      const positives = rowPositives(aligned);
      const totals = rowSums(aligned);
      const keep = new Uint8Array(aligned.nRows);
      for (let r = 0; r < aligned.nRows; r++) {
        if (positives[r] < p.minGenes) continue;
        keep[r] = 1;
        kept.push(firstRow + r);
        nGenes.push(positives[r]);
        nCounts.push(totals[r]);
      }
      const transform = logNormalized ? null : { targetSum: p.targetSum, logBase: p.logBase };
      await this.sink.append({ X: keptRowsFloat32(aligned, keep, transform), layers: {} });
    });
    check.finish();
    return this.finish(recipe, kept, cellCountColumns(nGenes, logNormalized ? null : nCounts), {
      recipe: 'scbert', cellsIn: this.source.nObs, cellsOut: kept.length, genesIn: genes.length, genesOut: nRef,
      passes: this.passIndex, referenceGenes: nRef, referenceGenesFound: align.found,
      duplicateColumns: align.duplicateColumns, duplicatedGenes: align.duplicatedGenes, duplicateGenesRule: align.rule,
      cellsFiltered: this.source.nObs - kept.length, normalized: !logNormalized, input: p.input,
    });
  }

  async scgpt(recipe: Recipe, p: ScgptParams): Promise<PreprocessReport> {
    const vocab = this.vocabOrFail();
    const genes = geneNamesOf(this.source, p.geneColumn);
    const logNormalized = p.input === 'log-normalized';
    if (p.nTopGenes !== null && logNormalized) {
      this.fail('highly variable genes (Seurat v3 flavour) need raw counts, but "input" is "log-normalized"; ' +
        'set "nTopGenes": null (the published scGPT datasets already hold 3,000 highly variable genes)');
    }
    const inVocab = this.vocabSelection(genes, vocab);
    const check = new InputCheck(this.source.path, p.input, genes, inputHint(p.input));
    const geneFilter = p.minCountsPerGene > 0 || p.minCellsPerGene > 0;
    const batches = p.nTopGenes !== null && p.hvgBatchKey !== null ? batchesOf(this.source, p.hvgBatchKey) : null;
    this.nPasses = 1 + (geneFilter ? 1 : 0) + (p.nTopGenes !== null ? 2 : 0);
    let checked = false;

    let genesSel = inVocab;
    if (geneFilter) {
      const totals = await this.geneTotals(inVocab, check);
      checked = true;
      const pass = Array.from(totals.counts, (c, g) => c >= p.minCountsPerGene && totals.cells[g] >= p.minCellsPerGene);
      genesSel = composeSelections(inVocab, selectionFromFlags(pass));
      if (genesSel.kept.length === 0) {
        this.fail(`no gene passes the gene filters (minCountsPerGene ${p.minCountsPerGene}, minCellsPerGene ${p.minCellsPerGene})`);
      }
    }
    const nGenes2 = genesSel.kept.length;
    const cellPasses = (b: CsrBlock): Uint8Array => {
      const totals = rowSums(b);
      return Uint8Array.from(totals, t => (t >= p.minCountsPerCell ? 1 : 0));
    };

    let hvg: HvgResult | null = null;
    if (p.nTopGenes !== null) {
      const batchOf = batches ? batches.codes : new Int32Array(this.source.nObs);
      const batchNames = batches ? batches.names : ['all cells'];
      const moments = new GeneMoments(batchNames.length, nGenes2);
      const scratch = new BlockScratch();
      const forKeptRows = async (label: string, add: (b: CsrBlock, r: number, batch: number) => void) => {
        await this.pass(label, (block, firstRow) => {
          if (!checked) check.check(block, genesSel.colMap, firstRow);
          const b = remapColumns(block, genesSel.colMap, nGenes2, scratch);
          const keep = cellPasses(b);
          for (let r = 0; r < b.nRows; r++) if (keep[r]) add(b, r, batchOf[firstRow + r]);
        });
        checked = true;
      };
      await forKeptRows('highly variable genes, pass 1', (b, r, batch) => moments.addRow(b.indices, b.data, b.indptr[r], b.indptr[r + 1], batch));
      const fits = fitBatches(moments, p.hvgSpan, batchNames);
      const clipped = new ClippedMoments(fits.map(f => f.clip));
      await forKeptRows('highly variable genes, pass 2', (b, r, batch) => clipped.addRow(b.indices, b.data, b.indptr[r], b.indptr[r + 1], batch));
      hvg = selectHvg(moments, fits, clipped, p.nTopGenes);
      hvg.selected = selectSameNames(hvg.selected, Array.from(genesSel.kept, c => genes[c]));
    }
    const outSel = hvg ? selectionFromFlags(hvg.selected) : selectionFromFlags(new Uint8Array(nGenes2).fill(1));
    const finalSel = composeSelections(genesSel, outSel);

    const recipeColumns: Column[] = [vocabIdColumn(genes, finalSel.kept, vocab)];
    if (hvg) recipeColumns.push(...hvgColumns(hvg, outSel.kept));
    const varColumns = withInputVar(this.source, recipeColumns, finalSel.kept);
    await this.sink.begin({ varNames: Array.from(finalSel.kept, c => genes[c]), varColumns, layers: [p.binnedLayer] });

    const rng = new MT19937(p.seed);
    const rand = () => rng.randomSample();
    const kept: number[] = [];
    const nGenesPerCell: number[] = [];
    const nCounts: number[] = [];
    const scratch = new BlockScratch();
    const hvgSelect = hvg ? { colMap: outSel.colMap, nOut: outSel.kept.length } : undefined;
    await this.pass('scGPT', async (block, firstRow) => {
      if (!checked) check.check(block, genesSel.colMap, firstRow);
      const b = remapColumns(block, genesSel.colMap, nGenes2, scratch);
      const keep = cellPasses(b);
      const positives = rowPositives(b);
      const totals = rowSums(b);
      for (let r = 0; r < b.nRows; r++) {
        if (!keep[r]) continue;
        kept.push(firstRow + r);
        nGenesPerCell.push(positives[r]);
        nCounts.push(totals[r]);
      }
      const X = keptRowsFloat32(b, keep, logNormalized ? null : { targetSum: p.targetSum }, hvgSelect);
      await this.sink.append({ X, layers: { [p.binnedLayer]: binnedLayer(X, p.nBins, rand) } });
    });
    check.finish();
    return this.finish(recipe, kept, cellCountColumns(nGenesPerCell, logNormalized ? null : nCounts), {
      recipe: 'scgpt', cellsIn: this.source.nObs, cellsOut: kept.length, genesIn: genes.length,
      genesOut: finalSel.kept.length, passes: this.passIndex, genesInVocab: inVocab.kept.length,
      genesFiltered: inVocab.kept.length - nGenes2, cellsFiltered: this.source.nObs - kept.length,
      ...countDuplicateColumns(genes, inVocab.kept), duplicateGenesRule: 'keep',
      ...(hvg ? { highlyVariableGenes: outSel.kept.length } : {}), normalized: !logNormalized, input: p.input,
    });
  }

  async benchmark(recipe: Recipe, p: BenchmarkParams): Promise<PreprocessReport> {
    const genes = geneNamesOf(this.source, p.geneColumn);
    const vocab = p.vocab === null ? null : this.vocabOrFail();
    const stage1 = vocab ? this.vocabSelection(genes, vocab) : selectionFromFlags(new Uint8Array(genes.length).fill(1));
    const check = new InputCheck(this.source.path, p.input, genes, inputHint(p.input));
    const logNormalized = p.input === 'log-normalized';
    const geneFilter = p.minCountsPerGene > 0;
    this.nPasses = geneFilter ? 2 : 1;
    let sel = stage1;
    if (geneFilter) {
      const totals = await this.geneTotals(stage1, check);
      sel = composeSelections(stage1, selectionFromFlags(Array.from(totals.counts, c => c >= p.minCountsPerGene)));
      if (sel.kept.length === 0) this.fail(`no gene has at least ${p.minCountsPerGene} counts (minCountsPerGene)`);
    }
    const nOut = sel.kept.length;
    const varColumns = withInputVar(this.source, vocab ? [vocabIdColumn(genes, sel.kept, vocab)] : [], sel.kept);
    const binning = p.mode === 'bin';
    await this.sink.begin({ varNames: Array.from(sel.kept, c => genes[c]), varColumns, layers: binning ? [p.binnedLayer] : [] });
    const rng = new MT19937(p.seed);
    const rand = () => rng.randomSample();
    const nGenesPerCell: number[] = [];
    const nCounts: number[] = [];
    const scratch = new BlockScratch();
    await this.pass('benchmark', async (block, firstRow) => {
      if (!geneFilter) check.check(block, sel.colMap, firstRow);
      const b = remapColumns(block, sel.colMap, nOut, scratch);
      rowPositives(b).forEach(n => nGenesPerCell.push(n));
      rowSums(b).forEach(n => nCounts.push(n));
      const X = keptRowsFloat32(b, new Uint8Array(b.nRows).fill(1), logNormalized ? null : { targetSum: null });
      await this.sink.append({ X, layers: binning ? { [p.binnedLayer]: binnedLayer(X, p.nBins, rand) } : {} });
    });
    check.finish();
    const kept = Array.from({ length: this.source.nObs }, (_, i) => i);
    return this.finish(recipe, kept, cellCountColumns(nGenesPerCell, logNormalized ? null : nCounts), {
      recipe: 'benchmark', cellsIn: this.source.nObs, cellsOut: kept.length, genesIn: genes.length, genesOut: nOut,
      passes: this.passIndex, ...(vocab ? { genesInVocab: stage1.kept.length } : {}),
      ...countDuplicateColumns(genes, stage1.kept), duplicateGenesRule: 'keep',
      genesFiltered: stage1.kept.length - nOut, cellsFiltered: 0, normalized: false, input: p.input,
    });
  }
}

/** Bins of the float32 values as written to X, as a CSR layer with X's structure. */
function binnedLayer(X: CsrMatrix, nBins: number, rand: () => number): CsrMatrix {
  const bins = binRows(toFloat64(X), nBins, rand, X.data instanceof Float32Array);
  return { nRows: X.nRows, nCols: X.nCols, indptr: X.indptr, indices: X.indices, data: Float32Array.from(bins) };
}

/** `vocab` keyed by geneMatchKey (vocabOrFail). */
function vocabIdColumn(genes: readonly string[], kept: Int32Array, vocab: ReadonlyMap<string, number>): Column {
  return { kind: 'numeric', name: 'id_in_vocab', dtype: 'int64', values: Float64Array.from(kept, c => vocab.get(geneMatchKey(genes[c]))!) };
}

/** " (var columns: a, b)" for a message that suggests "geneColumn"; empty when var has no columns. */
function varColumnsNote(source: RowSource): string {
  const names = source.var().columns.filter(c => c.kind === 'string' || c.kind === 'categorical').map(c => `"${c.name}"`);
  return names.length ? ` (var columns: ${names.join(', ')})` : '';
}

/** How to tell the user that the input is of another kind than the recipe's "input" says. */
function inputHint(input: InputKind): string {
  switch (input) {
    case 'counts': return 'set "input": "normalized" for TPM, FPKM or CPM values, or "log-normalized" for log-transformed values';
    case 'normalized': return 'set "input": "log-normalized" for log-transformed values';
    case 'log-normalized': return 'set "input": "counts" for raw counts';
  }
}

function hvgColumns(h: HvgResult, kept: Int32Array): Column[] {
  const pick = (a: ArrayLike<number>) => Float64Array.from(kept, g => a[g]);
  return [
    { kind: 'numeric', name: 'means', dtype: 'float64', values: pick(h.means) },
    { kind: 'numeric', name: 'variances', dtype: 'float64', values: pick(h.variances) },
    { kind: 'numeric', name: 'variances_norm', dtype: 'float64', values: pick(h.variancesNorm) },
    { kind: 'numeric', name: 'highly_variable_rank', dtype: 'float64', values: pick(h.rank) },
    { kind: 'numeric', name: 'highly_variable_nbatches', dtype: 'int64', values: pick(h.nBatches) },
  ];
}

/** Per output gene, the first input column aligned to it (-1: not in the input). */
function firstColumnOf(colMap: Int32Array, nOut: number): Int32Array {
  const first = new Int32Array(nOut).fill(-1);
  for (let c = colMap.length - 1; c >= 0; c--) if (colMap[c] >= 0) first[colMap[c]] = c;
  return first;
}

/**
 * The recipe's var columns, then the input's var columns (gene ids, feature types…) for the kept genes:
 * `from[i]` is the input gene of output gene i, -1 for a gene the input lacks (a missing value). A recipe column
 * wins over an input column of the same name.
 */
function withInputVar(source: RowSource, recipeColumns: Column[], from: Int32Array): Column[] {
  const taken = new Set(recipeColumns.map(c => c.name));
  const inputColumns = source.var().columns.filter(c => !taken.has(c.name)).map(c => takeGenes(c, from));
  return [...recipeColumns, ...inputColumns];
}

function takeGenes(col: Column, from: Int32Array): Column {
  const missing = from.some(i => i < 0);
  const mask = Uint8Array.from(from, i => (i < 0 ? 1 : 0));
  switch (col.kind) {
    case 'categorical':
      return { ...col, codes: Int32Array.from(from, i => (i < 0 ? -1 : col.codes[i])) };
    case 'string':
      return { ...col, values: Array.from(from, i => (i < 0 ? '' : col.values[i])) };
    case 'numeric': {
      const values = Float64Array.from(from, i => (i < 0 ? NaN : col.values[i]));
      // an integer column cannot hold NaN: its missing genes become a nullable integer's masked entries
      if (missing && /int/.test(col.dtype)) return { kind: 'nullable-integer', name: col.name, values: values.map(v => (Number.isNaN(v) ? 0 : v)), mask };
      return { ...col, values };
    }
    case 'boolean': {
      const values = Uint8Array.from(from, i => (i < 0 ? 0 : col.values[i]));
      return missing ? { kind: 'nullable-boolean', name: col.name, values, mask } : { ...col, values };
    }
    case 'nullable-integer':
      return { ...col, values: Float64Array.from(from, i => (i < 0 ? 0 : col.values[i])), mask: Uint8Array.from(from, i => (i < 0 ? 1 : col.mask[i])) };
    case 'nullable-boolean':
      return { ...col, values: Uint8Array.from(from, i => (i < 0 ? 0 : col.values[i])), mask: Uint8Array.from(from, i => (i < 0 ? 1 : col.mask[i])) };
  }
}

/** scanpy-style per-cell columns of the input (after gene selection, before normalisation). */
function cellCountColumns(nGenes: number[], nCounts: number[] | null): Column[] {
  const cols: Column[] = [{ kind: 'numeric', name: 'n_genes', dtype: 'int64', values: Float64Array.from(nGenes) }];
  if (nCounts) cols.push({ kind: 'numeric', name: 'n_counts', dtype: 'float64', values: Float64Array.from(nCounts) });
  return cols;
}
