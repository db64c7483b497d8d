/**
 * "Check dataset against model…": will this .h5ad work with this model? Four checks, each with a verdict and the
 * fix: gene overlap with the model's gene list, gene namespace (symbols vs Ensembl ids, and a var column that would
 * match better), the value scale the model expects vs what the matrix holds, and the dataset's labels vs the head's
 * classes. Runs as a worker-thread task (`runTask('checkpoints/compat', 'checkDatasetTask', input)`): X is read in
 * row blocks, at most `maxRows` rows.
 */
import * as path from 'path';
import { geneMatchKey } from '../h5ad/gene-ids';
import { openH5ad } from '../h5ad/read';
import { detectGeneNamespace, GeneNamespaceKind, RowStatsAccumulator, ValueScale } from '../h5ad/stats';
import { AnnDataReader, Column, DataFrame, DatasetSummary, H5adError } from '../h5ad/types';
import { RECIPE_DEFAULTS, type RecipeInput } from '../preprocess/recipe';
import { CancelledError, type TaskContext } from '../workers/task';
import { cellsKeptByScbert, cellsKeptText } from './compat-cells';
import { describeModel, missingGenesAdvice, type ModelFacts } from './compat-model';
import { CheckpointError } from './errors';

export type Verdict = 'ok' | 'warn' | 'fail' | 'skip';
export type CheckId = 'genes' | 'namespace' | 'values' | 'labels';

/** Something the panel (or the user) can do about a check. */
export type CompatAction =
  /**
   * run Preprocess on the dataset with this recipe (recipe undefined: open the Preprocess flow); `note` says what it
   * will do before it runs (scBERT: how many cells the published cell filter keeps)
   */
  | { kind: 'preprocess'; label: string; recipe?: RecipeInput; note?: string }
  /** check again, matching genes on this var column */
  | { kind: 'geneColumn'; label: string; column: string }
  /** check again with a gene list the user picks */
  | { kind: 'chooseGenes'; label: string }
  /** check again with this obs column as the labels */
  | { kind: 'labelColumn'; label: string; column: string };

export interface CompatCheck {
  id: CheckId;
  title: string;
  verdict: Verdict;
  /** one sentence */
  summary: string;
  details: string[];
  /** what to do, in words; null when nothing needs doing */
  fix: string | null;
  actions: CompatAction[];
}

export interface GeneOverlapFacts {
  matchedOn: string;
  nDataGenes: number;
  nModelGenes: number;
  nOverlap: number;
  /** share of the dataset's distinct genes that the model knows */
  fractionOfData: number;
  /** share of the model's genes found in the dataset */
  fractionOfModel: number;
  /** dataset genes the model does not know (first 20, in var order) */
  missingFromModel: string[];
  /** model genes the dataset lacks (first 20, in the model's order) */
  missingFromData: string[];
  /** the overlap for var_names and every identifier-like var column */
  byColumn: { column: string; nOverlap: number; namespace: GeneNamespaceKind }[];
  /** the dataset holds exactly the model's genes in its order */
  aligned: boolean;
}

export interface LabelFacts {
  column: string;
  nClasses: number;
  nDataLabels: number;
  /** dataset labels the head cannot predict, with their cell counts */
  unknown: { label: string; cells: number }[];
  /** head classes no cell of the dataset carries */
  absent: string[];
  nCells: number;
  cellsWithUnknownLabel: number;
}

export interface CompatReport {
  model: ModelFacts;
  dataset: { path: string; nObs: number; nVars: number; recipe: string | null; matrix: string; labelCandidates: string[] };
  genes: GeneOverlapFacts | null;
  values: (ValueScale & { binned: boolean; rowsScanned: number; matrix: string }) | null;
  labels: LabelFacts | null;
  checks: CompatCheck[];
  verdict: Verdict;
}

export interface CheckDatasetInput {
  model: string;
  dataset: string;
  /** obs column with the labels (default: the column the model was trained on, when the dataset has it) */
  labelColumn?: string;
  /** var column holding the gene names to match (default var_names) */
  geneColumn?: string;
  /** a gene list or vocabulary for a model that carries none */
  genesFile?: string;
  /** rows of the matrix scanned for the value scale (default 2,000) */
  maxRows?: number;
}

const DEFAULT_ROWS = 2000;
const GENES_OK = 0.7;
const GENES_WARN = 0.3;
const fmt = (n: number) => n.toLocaleString('en-US');
const pct = (x: number) => `${(100 * x).toFixed(x > 0 && x < 0.01 ? 2 : 1)}%`;
const RANK: Record<Verdict, number> = { skip: 0, ok: 1, warn: 2, fail: 3 };

function columnStrings(col: Column): (string | null)[] | null {
  switch (col.kind) {
    case 'categorical': return Array.from(col.codes, c => (c >= 0 ? col.categories[c] : null));
    case 'string': return col.values;
    case 'numeric': return Array.from(col.values, v => (Number.isNaN(v) ? null : String(v)));
    case 'nullable-integer': return Array.from(col.values, (v, i) => (col.mask[i] ? null : String(v)));
    case 'boolean': return Array.from(col.values, v => (v ? 'True' : 'False'));
    case 'nullable-boolean': return Array.from(col.values, (v, i) => (col.mask[i] ? null : v ? 'True' : 'False'));
  }
}

/** Identifier-like var columns (strings, mostly distinct): where gene ids or symbols sit beside var_names. */
function geneColumns(frame: DataFrame): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const col of frame.columns) {
    if (col.kind !== 'string' && col.kind !== 'categorical') continue;
    const values = columnStrings(col)!.map(v => v ?? '');
    if (values.length && new Set(values).size >= 0.5 * values.length) out.set(col.name, values);
  }
  return out;
}

export function compareGenes(dataGenes: readonly string[], modelGenes: readonly string[], matchedOn: string, alternatives: Map<string, string[]>): GeneOverlapFacts {
  // Matched on geneMatchKey: a versioned Ensembl id finds the unversioned one.
  const model = new Set(modelGenes);
  const modelKeys = new Set(modelGenes.map(geneMatchKey));
  const data = new Set(dataGenes);
  const dataKeys = new Set(dataGenes.map(geneMatchKey));
  let nOverlap = 0;
  const missingFromModel: string[] = [];
  for (const g of data) {
    if (modelKeys.has(geneMatchKey(g))) nOverlap++;
    else if (missingFromModel.length < 20) missingFromModel.push(g);
  }
  const missingFromData: string[] = [];
  for (const g of model) {
    if (missingFromData.length >= 20) break;
    if (!dataKeys.has(geneMatchKey(g))) missingFromData.push(g);
  }
  const byColumn = [...alternatives.entries()].map(([column, names]) => {
    const distinct = new Set(names);
    let n = 0;
    for (const g of distinct) if (modelKeys.has(geneMatchKey(g))) n++;
    return { column, nOverlap: n, namespace: detectGeneNamespace(names).namespace };
  });
  const aligned = dataGenes.length === modelGenes.length && dataGenes.every((g, i) => g === modelGenes[i]);
  return {
    matchedOn, nDataGenes: data.size, nModelGenes: model.size, nOverlap,
    fractionOfData: data.size ? nOverlap / data.size : 0, fractionOfModel: model.size ? nOverlap / model.size : 0,
    missingFromModel, missingFromData, byColumn, aligned,
  };
}

/** The dataset's values: kind, plus whether they look like per-cell bins 0..nBins-1 (most cells reach the top bin). */
async function scanValues(reader: AnnDataReader, matrix: string, rows: number, nBins: number, ctx: TaskContext, from: number, to: number) {
  const info = matrix === 'X' ? reader.summary().X : matrix === 'raw/X' ? reader.summary().raw?.X : reader.summary().layers[matrix.replace(/^layers\//, '')];
  if (!info) throw new H5adError(reader.path, `the file has no matrix ${matrix}`);
  const n = Math.min(rows, info.shape[0]);
  const acc = new RowStatsAccumulator(n, info.shape[1]);
  let topBin = 0;
  let cellsWithValues = 0;
  const block = info.encoding === 'csc' ? Math.max(n, 1) : 1024;
  for (let r0 = 0; r0 < n; r0 += block) {
    if (ctx.cancelled) throw new CancelledError();
    const r1 = Math.min(n, r0 + block);
    const m = reader.readRows(r0, r1, matrix === 'X' ? undefined : matrix);
    acc.add(m);
    for (let r = 0; r < m.nRows; r++) {
      let max = 0;
      for (let k = m.indptr[r]; k < m.indptr[r + 1]; k++) if (m.data[k] > max) max = m.data[k];
      if (max > 0) cellsWithValues++;
      if (max === nBins - 1) topBin++;
    }
    ctx.progress(from + (to - from) * (r1 / n), `${matrix}: ${fmt(r1)} of ${fmt(n)} cells`);
    await new Promise(resolve => setImmediate(resolve));
  }
  const scale = acc.valueScale();
  const binned = scale.kind === 'raw-counts' && scale.max <= nBins - 1 && cellsWithValues > 0 && topBin >= 0.9 * cellsWithValues;
  return { ...scale, binned, rowsScanned: n, matrix };
}

function describeValues(v: { kind: string; binned: boolean; reason: string }): string {
  return v.binned ? 'per-cell bins (whole numbers up to the top bin in nearly every cell)' : v.reason;
}

export async function checkDatasetTask(input: CheckDatasetInput, ctx: TaskContext): Promise<CompatReport> {
  ctx.progress(0, 'reading the model');
  input = { ...input, model: path.resolve(input.model), dataset: path.resolve(input.dataset), genesFile: input.genesFile === undefined ? undefined : path.resolve(input.genesFile) };
  const model = await describeModel(input.model, { genesFile: input.genesFile }, async file => {
    const r = await openH5ad(file);
    try { return r.var().index; } finally { r.close(); }
  });
  ctx.progress(0.1, 'reading the dataset');
  const reader = await openH5ad(input.dataset);
  try {
    return await check(model, reader, input, ctx);
  } finally {
    reader.close();
  }
}

async function check(model: ModelFacts, reader: AnnDataReader, input: CheckDatasetInput, ctx: TaskContext): Promise<CompatReport> {
  const summary: DatasetSummary = reader.summary();
  const file = input.dataset;
  const frame = reader.var();
  const alternatives = geneColumns(frame);
  let dataGenes = frame.index;
  if (input.geneColumn !== undefined) {
    const col = frame.columns.find(c => c.name === input.geneColumn);
    if (!col) throw new H5adError(file, `var has no column '${input.geneColumn}' (it has: ${frame.columns.map(c => c.name).join(', ') || 'none'})`);
    if (col.kind !== 'string' && col.kind !== 'categorical') throw new H5adError(file, `var column '${input.geneColumn}' holds ${col.kind} values, not gene names`);
    dataGenes = columnStrings(col)!.map(v => v ?? '');
  }
  const matchedOn = input.geneColumn ?? 'var_names';
  const candidates = new Map<string, string[]>([['var_names', frame.index], ...alternatives]);
  const labelCandidates = summary.obs.filter(c => c.kind === 'categorical' || c.kind === 'string').map(c => c.name);
  const recipe = summary.provenance?.recipe ?? null;

  // which matrix the model reads
  const layers = Object.keys(summary.layers);
  let matrix = 'X';
  if (model.valueLayer && layers.includes(model.valueLayer)) matrix = `layers/${model.valueLayer}`;
  else if ((model.valueMode === 'scgpt' || model.valueMode === 'bins') && layers.includes('X_binned')) matrix = 'layers/X_binned';
  if (!summary.X && matrix === 'X') throw new H5adError(file, 'the file has no X (no expression matrix): it holds only annotations');

  const checks: CompatCheck[] = [];
  const genes = model.genes ? compareGenes(dataGenes, model.genes, matchedOn, candidates) : null;
  const bestColumn = genes ? genes.byColumn.reduce((a, b) => (b.nOverlap > a.nOverlap ? b : a)) : null;
  const matched = genes?.byColumn.find(c => c.column === matchedOn)?.nOverlap ?? genes?.nOverlap ?? 0;
  const betterColumn = bestColumn && bestColumn.column !== matchedOn && bestColumn.nOverlap > 1.5 * matched + 10 ? bestColumn : null;
  const geneColumnParam = betterColumn && betterColumn.column !== 'var_names' ? betterColumn.column : input.geneColumn ?? null;

  ctx.progress(0.2, 'reading values');
  const values = summary.X || matrix !== 'X' ? await scanValues(reader, matrix, input.maxRows ?? DEFAULT_ROWS, model.nBins, ctx, 0.2, 0.8) : null;
  // raw counts for a recipe: X, else raw/X
  let countsMatrix: string | null = values && matrix === 'X' && values.kind === 'raw-counts' && !values.binned ? 'X' : null;
  if (!countsMatrix && summary.raw?.X && summary.raw.nVars === summary.nVars) {
    const raw = await scanValues(reader, 'raw/X', Math.min(input.maxRows ?? DEFAULT_ROWS, 500), model.nBins, ctx, 0.8, 0.9);
    if (raw.kind === 'raw-counts' && !raw.binned) countsMatrix = 'raw/X';
  }
  if (!countsMatrix && matrix !== 'X' && summary.X) {
    const x = await scanValues(reader, 'X', Math.min(input.maxRows ?? DEFAULT_ROWS, 500), model.nBins, ctx, 0.9, 0.95);
    if (x.kind === 'raw-counts' && !x.binned) countsMatrix = 'X';
  }
  // log-normalised values (scGPT's recipe takes them with inputIsLogNormalized): X, else raw/X
  let logMatrix: string | null = values && matrix === 'X' && values.kind === 'log-normalized' ? 'X' : null;
  if (!countsMatrix && !logMatrix && summary.raw?.X && summary.raw.nVars === summary.nVars) {
    const raw = await scanValues(reader, 'raw/X', Math.min(input.maxRows ?? DEFAULT_ROWS, 500), model.nBins, ctx, 0.95, 0.97);
    if (raw.kind === 'log-normalized') logMatrix = 'raw/X';
  }
  const logX = logMatrix !== null;

  // how many cells the scBERT fix keeps (its published cell filter), said on the fix before it runs
  const fixGenes = geneColumnParam ? candidates.get(geneColumnParam) ?? dataGenes : dataGenes;
  const scbertKeeps = model.family === 'scbert' && model.genes && countsMatrix
    ? cellsKeptText(await cellsKeptByScbert(reader, countsMatrix, fixGenes, model.genes, RECIPE_DEFAULTS.scbert.minGenes, input.maxRows ?? DEFAULT_ROWS, ctx))
    : undefined;

  // the fix: the model's own preprocessing recipe, with its gene list when we have it as a file
  const preprocessAction = (): Extract<CompatAction, { kind: 'preprocess' }> | null => {
    const gc = geneColumnParam ? { geneColumn: geneColumnParam } : {};
    const family = model.family === 'unknown' ? null : model.family;
    if (!family) return null;
    const name = family === 'scbert' ? 'scBERT' : family === 'scgpt' ? 'scGPT' : 'benchmark';
    const open = { kind: 'preprocess' as const, label: `Preprocess ${name}…` };
    if (family === 'scbert') {
      if (!model.genesFile || /\.json$/i.test(model.genesFile) || !countsMatrix) return open;
      return {
        kind: 'preprocess', label: `Preprocess scBERT with ${path.basename(model.genesFile)}${countsMatrix !== 'X' ? ` (from ${countsMatrix})` : ''}`,
        recipe: { recipe: 'scbert', params: { referenceGenes: model.genesFile, inputMatrix: countsMatrix, ...gc } }, ...(scbertKeeps ? { note: scbertKeeps } : {}),
      };
    }
    if (family === 'scgpt') {
      if (!model.genesFile || !/\.json$/i.test(model.genesFile) || (!countsMatrix && !logX)) return open;
      const inputMatrix = countsMatrix ?? logMatrix ?? 'X';
      return { kind: 'preprocess', label: `Preprocess scGPT with ${path.basename(model.genesFile)}${inputMatrix !== 'X' ? ` (from ${inputMatrix})` : ''}`, recipe: { recipe: 'scgpt', params: { vocab: model.genesFile, inputMatrix, inputIsLogNormalized: !countsMatrix, nBins: model.nBins, ...gc } } };
    }
    if (!countsMatrix) return open;
    const vocab = model.genesFile && /\.json$/i.test(model.genesFile) ? model.genesFile : null;
    const mode = model.valueMode === 'bins' ? 'bin' : 'none';
    return { kind: 'preprocess', label: `Preprocess benchmark (mode ${mode})${countsMatrix !== 'X' ? ` from ${countsMatrix}` : ''}`, recipe: { recipe: 'benchmark', params: { mode, vocab, inputMatrix: countsMatrix, nBins: model.nBins, ...gc } } };
  };
  const fixAction = preprocessAction();
  const recipeWord = fixAction?.label.replace(/…$/, '') ?? 'the model\'s preprocessing recipe';

  // 1. gene overlap
  if (!genes) {
    checks.push({
      id: 'genes', title: 'Gene overlap', verdict: 'warn', summary: 'The model\'s gene list is unknown, so the overlap cannot be checked.',
      details: model.notes, fix: missingGenesAdvice(model), actions: [{ kind: 'chooseGenes', label: 'Choose gene list…' }],
    });
  } else {
    let verdict: Verdict = genes.fractionOfData >= GENES_OK ? 'ok' : genes.fractionOfData >= GENES_WARN ? 'warn' : 'fail';
    if (genes.nOverlap === 0) verdict = 'fail';
    const details = [
      `${fmt(genes.nOverlap)} of the dataset's ${fmt(genes.nDataGenes)} genes (${matchedOn}) are among the model's ${fmt(genes.nModelGenes)} (${model.genesSource})`,
      `${pct(genes.fractionOfModel)} of the model's genes are in the dataset`,
    ];
    if (genes.missingFromModel.length) details.push(`not in the model, e.g.: ${genes.missingFromModel.slice(0, 10).join(', ')}`);
    if (genes.missingFromData.length && genes.nModelGenes - genes.nOverlap > 0) details.push(`model genes the dataset lacks (their positions get zeros), e.g.: ${genes.missingFromData.slice(0, 10).join(', ')}`);
    if (model.weightGenes !== null && model.family === 'scbert' && model.weightGenes !== genes.nModelGenes) {
      details.push(`the gene list has ${fmt(genes.nModelGenes)} genes but the weights have ${fmt(model.weightGenes)} gene positions: it is not this model's list`);
      verdict = 'fail';
    }
    let fix: string | null = null;
    const actions: CompatAction[] = [];
    if (model.family === 'scbert' && !model.alignsByName && !genes.aligned && verdict !== 'fail') {
      details.push('fine-tuning scBERT needs exactly the model\'s genes in its order; Preprocess scBERT aligns the dataset to the list (missing genes become zero columns)');
      if (verdict === 'ok') verdict = 'warn';
      fix = `Run ${recipeWord}: it aligns the genes to the model's list.`;
      if (fixAction) actions.push(fixAction);
    }
    if (model.family === 'scbert' && genes.fractionOfModel < 0.5 && verdict === 'ok') verdict = 'warn';
    if (verdict === 'fail' || (verdict === 'warn' && !fix)) {
      fix = betterColumn
        ? `Match genes on the var column '${betterColumn.column}' (${fmt(betterColumn.nOverlap)} genes in common).`
        : 'Few of the dataset\'s genes are known to the model: check the species and the gene identifiers, or use the model\'s own gene list.';
      if (betterColumn) actions.push({ kind: 'geneColumn', label: `Match on '${betterColumn.column}'`, column: betterColumn.column });
      actions.push({ kind: 'chooseGenes', label: 'Choose gene list…' });
    }
    checks.push({
      id: 'genes', title: 'Gene overlap', verdict,
      summary: `${fmt(genes.nOverlap)} of ${fmt(genes.nDataGenes)} dataset genes (${pct(genes.fractionOfData)}) are in the model's gene list.`,
      details, fix, actions,
    });
  }

  // 2. namespace
  if (!genes || !model.genes) {
    checks.push({ id: 'namespace', title: 'Gene identifiers', verdict: 'skip', summary: 'Not checked: the model\'s gene list is unknown.', details: [], fix: null, actions: [] });
  } else {
    const dataNs = detectGeneNamespace(dataGenes);
    const modelNs = detectGeneNamespace(model.genes);
    const words = (n: GeneNamespaceKind, c?: string) => ({
      'ensembl-human': 'human Ensembl ids (ENSG…)', 'ensembl-mouse': 'mouse Ensembl ids (ENSMUSG…)', 'ensembl-other': 'Ensembl ids',
      symbol: `gene symbols${c === 'upper' ? ' (upper case, human style)' : c === 'capitalized' ? ' (capitalised, mouse style)' : ''}`, mixed: 'a mix of symbols and Ensembl ids', unknown: 'unrecognised identifiers',
    })[n];
    const isEns = (n: GeneNamespaceKind) => n.startsWith('ensembl');
    const differ = (isEns(dataNs.namespace) && modelNs.namespace === 'symbol') || (dataNs.namespace === 'symbol' && isEns(modelNs.namespace))
      || (isEns(dataNs.namespace) && isEns(modelNs.namespace) && dataNs.namespace !== modelNs.namespace);
    const caseDiffers = dataNs.namespace === 'symbol' && modelNs.namespace === 'symbol' && dataNs.symbolCase && modelNs.symbolCase
      && dataNs.symbolCase !== 'mixed' && modelNs.symbolCase !== 'mixed' && dataNs.symbolCase !== modelNs.symbolCase;
    const details = [`dataset (${matchedOn}): ${words(dataNs.namespace, dataNs.symbolCase)}, e.g. ${dataNs.examples.slice(0, 3).join(', ')}`,
      `model: ${words(modelNs.namespace, modelNs.symbolCase)}, e.g. ${modelNs.examples.slice(0, 3).join(', ')}`];
    for (const c of genes.byColumn) if (c.column !== matchedOn) details.push(`var column '${c.column}' (${words(c.namespace)}): ${fmt(c.nOverlap)} genes in common`);
    let verdict: Verdict = 'ok';
    let summaryText = `Both use ${words(modelNs.namespace)}.`;
    let fix: string | null = null;
    const actions: CompatAction[] = [];
    if (differ || caseDiffers) {
      verdict = genes.fractionOfData < 0.1 ? 'fail' : 'warn';
      summaryText = `The dataset's ${matchedOn} are ${words(dataNs.namespace, dataNs.symbolCase)} but the model uses ${words(modelNs.namespace, modelNs.symbolCase)}${genes.fractionOfData < 0.1 ? ': that is why almost no gene matches' : ''}.`;
    } else if (dataNs.namespace !== modelNs.namespace) {
      summaryText = `Dataset: ${words(dataNs.namespace)}; model: ${words(modelNs.namespace)}.`;
    }
    if (betterColumn) {
      if (verdict === 'ok') verdict = 'warn';
      fix = `Use the var column '${betterColumn.column}' as gene names (${fmt(betterColumn.nOverlap)} genes in common vs ${fmt(matched)} on ${matchedOn}): the recipes' "geneColumn" parameter.`;
      actions.push({ kind: 'geneColumn', label: `Match on '${betterColumn.column}'`, column: betterColumn.column });
    } else if (verdict !== 'ok') {
      fix = 'Map the dataset\'s gene identifiers to the model\'s namespace (no var column of this dataset holds them), or use a model with a matching vocabulary.';
    }
    checks.push({ id: 'namespace', title: 'Gene identifiers', verdict, summary: summaryText, details, fix, actions });
  }

  // 3. value scale
  {
    const expected: Record<ModelFacts['valueMode'], string> = {
      scbert: 'log2(1 + x) of counts normalised to 1e4 per cell (tokens 0..5 after clamping)',
      scgpt: `${model.nBins} value bins per cell (the X_binned layer of Preprocess scGPT, or log-normalised values the worker bins)`,
      log1p: 'log1p of raw counts, no size normalisation (Preprocess benchmark)',
      bins: `${model.nBins} value bins per cell of log1p(counts) (the X_binned layer of Preprocess benchmark, mode bin)`,
      unknown: 'unknown (the file does not say)',
    };
    const details: string[] = [];
    let verdict: Verdict = 'ok';
    let summaryText: string;
    if (!values) {
      verdict = 'fail';
      summaryText = 'The dataset has no expression matrix.';
    } else {
      const what = describeValues(values);
      details.push(`${values.matrix} (first ${fmt(values.rowsScanned)} cells): ${what}`);
      if (recipe) details.push(`made by Preprocess (${recipe} recipe)`);
      if (countsMatrix && countsMatrix !== values.matrix) details.push(`${countsMatrix} holds raw counts`);
      else if (!countsMatrix && logMatrix && logMatrix !== values.matrix) details.push(`${logMatrix} holds log-normalised values`);
      const k = values.kind;
      const bad = k === 'empty' || k === 'scaled';
      switch (model.valueMode) {
        case 'scbert':
          if (recipe === 'scbert' && k === 'log-normalized') verdict = 'ok';
          else if (k === 'log-normalized') { verdict = 'warn'; details.push('log-normalised, but the base cannot be told: scBERT uses base 2 (natural-log values give tokens about 30% lower)'); }
          else verdict = 'fail';
          break;
        case 'scgpt':
          if (values.binned || recipe === 'scgpt' || k === 'log-normalized') verdict = 'ok';
          else if (k === 'raw-counts' || k === 'normalized') verdict = 'warn';
          else verdict = 'fail';
          if (!values.binned && k === 'log-normalized') details.push('the worker bins these values per cell itself');
          break;
        case 'log1p':
          if (recipe === 'benchmark' && k === 'log-normalized') verdict = 'ok';
          else if (k === 'log-normalized') { verdict = 'warn'; details.push('log values, but whether they were size-normalised first (the benchmark does not) cannot be told'); }
          else verdict = 'fail';
          break;
        case 'bins':
          verdict = values.binned ? 'ok' : 'fail';
          break;
        default:
          verdict = bad ? 'fail' : 'warn';
      }
      if (bad) verdict = 'fail';
      summaryText = verdict === 'ok' ? `${values.matrix} holds what the model expects: ${what}.` : `${values.matrix}: ${what}; the model expects ${expected[model.valueMode]}.`;
      if (verdict === 'ok') details.unshift(`the model expects ${expected[model.valueMode]}`);
    }
    let fix: string | null = null;
    const actions: CompatAction[] = [];
    if (verdict !== 'ok' && model.valueMode !== 'unknown') {
      if (fixAction && (fixAction.recipe || countsMatrix || (logX && model.family === 'scgpt'))) {
        fix = fixAction.recipe ? `Run ${recipeWord} on this dataset.` : `Run ${recipeWord} on this dataset, with the model's ${model.family === 'scbert' ? 'gene list' : 'vocabulary'}${model.genesSource ? ` (${model.genesSource})` : ''}.`;
        actions.push(fixAction);
      } else {
        fix = `The model's recipe needs raw counts, and this file has none in X or raw/X: start from the raw-count version of the dataset.`;
      }
    }
    checks.push({ id: 'values', title: 'Value scale', verdict, summary: summaryText!, details, fix, actions });
  }

  // 4. labels vs the head's classes
  let labels: LabelFacts | null = null;
  if (!model.classes) {
    checks.push({ id: 'labels', title: 'Labels vs the head\'s classes', verdict: 'skip', summary: model.form === 'benchmark-encoder' || model.form === 'scgpt-folder' || model.form === 'scbert-checkpoint' ? 'A pre-trained model without a classifier head: fine-tuning adds one for the dataset\'s labels.' : 'The file names no classes.', details: [], fix: null, actions: [] });
  } else {
    const column = input.labelColumn ?? (model.labelColumn && summary.obs.some(c => c.name === model.labelColumn) ? model.labelColumn : undefined);
    if (column === undefined) {
      checks.push({
        id: 'labels', title: 'Labels vs the head\'s classes', verdict: 'warn',
        summary: `The head has ${model.classes.length} classes; choose the obs column with the dataset's labels to compare.`,
        details: [`classes: ${model.classes.slice(0, 20).join(', ')}${model.classes.length > 20 ? ', …' : ''}`, model.labelColumn ? `the model was trained on '${model.labelColumn}', which this dataset lacks` : ''].filter(Boolean),
        fix: 'Pick the label column.', actions: labelCandidates.slice(0, 8).map(c => ({ kind: 'labelColumn' as const, label: `Labels from '${c}'`, column: c })),
      });
    } else {
      const col = reader.obs().columns.find(c => c.name === column);
      if (!col) throw new H5adError(input.dataset, `obs has no column '${column}' (it has: ${summary.obs.map(c => c.name).join(', ') || 'none'})`);
      const counts = new Map<string, number>();
      for (const v of columnStrings(col)!) if (v !== null) counts.set(v, (counts.get(v) ?? 0) + 1);
      const classes = new Set(model.classes);
      const unknown = [...counts.entries()].filter(([l]) => !classes.has(l)).map(([label, cells]) => ({ label, cells })).sort((a, b) => b.cells - a.cells);
      const absent = model.classes.filter(c => !counts.has(c));
      const nCells = [...counts.values()].reduce((a, b) => a + b, 0);
      const cellsWithUnknownLabel = unknown.reduce((a, b) => a + b.cells, 0);
      labels = { column, nClasses: model.classes.length, nDataLabels: counts.size, unknown, absent, nCells, cellsWithUnknownLabel };
      const known = counts.size - unknown.length;
      const verdict: Verdict = known === 0 ? 'fail' : unknown.length ? 'warn' : 'ok';
      const details: string[] = [];
      if (unknown.length) details.push(`labels the head cannot predict: ${unknown.slice(0, 10).map(u => `${u.label} (${fmt(u.cells)} cells)`).join(', ')}${unknown.length > 10 ? ', …' : ''}`);
      if (absent.length) details.push(`head classes absent from the data: ${absent.slice(0, 10).join(', ')}${absent.length > 10 ? ', …' : ''}`);
      checks.push({
        id: 'labels', title: 'Labels vs the head\'s classes', verdict,
        summary: `${fmt(known)} of the dataset's ${fmt(counts.size)} labels in '${column}' are among the head's ${fmt(model.classes.length)} classes${unknown.length ? `; ${fmt(cellsWithUnknownLabel)} of ${fmt(nCells)} cells (${pct(nCells ? cellsWithUnknownLabel / nCells : 0)}) carry a label the head does not know` : ''}.`,
        details,
        fix: verdict === 'ok' ? null : known === 0 ? 'The labels do not match the head\'s classes at all: check the label column (or map the names), or fine-tune a new head on this dataset.' : 'Cells with unknown labels will always be wrong: leave them out of the evaluation, map their names to the head\'s classes, or fine-tune on this dataset.',
        actions: known === 0 ? labelCandidates.filter(c => c !== column).slice(0, 6).map(c => ({ kind: 'labelColumn' as const, label: `Labels from '${c}'`, column: c })) : [],
      });
    }
  }
  ctx.progress(1, 'done');
  const verdict = checks.reduce<Verdict>((a, c) => (RANK[c.verdict] > RANK[a] ? c.verdict : a), 'ok');
  return {
    model, dataset: { path: input.dataset, nObs: summary.nObs, nVars: summary.nVars, recipe, matrix, labelCandidates },
    genes, values, labels, checks, verdict,
  };
}

/** The error of a task as text for users (a model or dataset problem names its file). */
export function compatError(e: unknown): string {
  if (e instanceof CheckpointError || e instanceof H5adError) return e.message;
  return e instanceof Error ? e.message : String(e);
}
