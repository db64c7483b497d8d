/**
 * Datasets view → Preprocess…: pick a recipe (scBERT, scGPT, benchmark) and its parameters in a short quick-pick
 * flow, or run a saved recipe file. The recipe runs in a worker thread behind a cancellable progress notification;
 * the output is a new .h5ad beside the input (never the input), written atomically, so a cancelled run leaves nothing.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { orderColumnsForLabels } from '../../core/h5ad/labels';
import type { DatasetSummary } from '../../core/h5ad/types';
import { describeDuplicates, type PreprocessReport } from '../../core/preprocess/pipeline';
import { proposedOutput } from '../../core/preprocess/output-name';
import { RECIPE_DEFAULTS, parseRecipe, readRecipeFile, type RecipeInput } from '../../core/preprocess/recipe';
import { writeFileAtomic } from '../../core/fs-atomic';
import { runTask } from '../../core/workers/run-task';
import { CancelledError } from '../../core/workers/task';
import { withCancellableProgress } from '../progress';
import { windowPrompts, type Prompts } from '../prompts';
import { pickGeneColumn, pickInputKind, profileInput } from './preprocess-input';
import { requireTrust } from '../trust';

/** Everything the flow collects; tests (and other commands) can pass it directly and skip the questions. */
export interface PreprocessRequest {
  dataset: string;
  recipe?: RecipeInput;
  recipeFile?: string;
  outPath?: string;
  overwrite?: boolean;
}

export interface PreprocessOutcome {
  outPath: string;
  report: PreprocessReport;
}

export async function preprocessCommand(
  target: vscode.Uri | { uri: vscode.Uri } | PreprocessRequest | undefined,
  summaryOf: (file: string) => Promise<DatasetSummary>,
  pickDataset: () => Promise<string | undefined>,
): Promise<PreprocessOutcome | undefined> {
  if (!requireTrust('preprocess datasets')) return undefined;
  let request: PreprocessRequest | undefined;
  if (target && 'dataset' in target) request = target;
  else {
    const dataset = target instanceof vscode.Uri ? target.fsPath : target?.uri.fsPath ?? await pickDataset();
    if (!dataset) return undefined;
    request = await askForRecipe(dataset, summaryOf);
  }
  if (!request) return undefined;
  const programmatic = !!target && 'dataset' in target;
  try {
    return await runPreprocess(request);
  } catch (e) {
    void vscode.window.showErrorMessage(`Preprocessing failed: ${(e as Error).message}`);
    if (programmatic) throw e; // callers that passed a request want the error itself
    return undefined;
  }
}

/**
 * The quick-pick flow: recipe, input matrix, gene names (when var has a column of other identifiers), what the
 * values are (the dataset view's verdict first), the recipe's own questions, output. `prompts` answers in tests.
 */
export async function askForRecipe(
  dataset: string, summaryOf: (file: string) => Promise<DatasetSummary>, prompts: Prompts = windowPrompts,
): Promise<PreprocessRequest | undefined> {
  const summary = await summaryOf(dataset);
  const choice = await prompts.pick([
    { label: 'scBERT', id: 'scbert', detail: 'Align to a reference gene list (Panglao 16,906 genes), drop cells with < 200 genes, normalise to 1e4, log2(1 + x)' },
    { label: 'scGPT', id: 'scgpt', detail: 'Keep vocabulary genes, normalise to 1e4, log1p, optional highly variable genes, 51 value bins per cell' },
    { label: 'Benchmark (AAAI 2025)', id: 'benchmark', detail: 'log1p of raw counts without size normalisation, optionally 51 bins; minimum-count gene filter' },
    { label: 'Run a saved recipe file…', id: 'file', detail: 'A JSON recipe in the workspace: the same step, reproducibly' },
  ], { title: `Preprocess ${path.basename(dataset)}`, placeHolder: 'Recipe' });
  if (!choice) return undefined;
  let recipe: RecipeInput | undefined;
  let recipeFile: string | undefined;
  let recipeKind: string | undefined;
  if (choice.id === 'file') {
    const picked = await prompts.open({ title: 'Recipe file', filters: { 'Recipe (JSON)': ['json'] }, canSelectMany: false, defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri });
    if (!picked) return undefined;
    recipeFile = picked[0].fsPath;
    recipeKind = readRecipeFile(recipeFile).recipe; // refuse a bad file now, with its problems, before any work starts
  } else {
    const inputMatrix = await pickInputMatrix(summary, prompts);
    if (inputMatrix === undefined) return undefined;
    const profile = await profileInput(dataset, inputMatrix);
    const geneColumn = await pickGeneColumn(profile.geneIds, prompts);
    if (geneColumn === undefined) return undefined;
    const input = await pickInputKind(profile.values, choice.id, prompts);
    if (input === undefined) return undefined;
    const common = { inputMatrix, input, ...(geneColumn !== null ? { geneColumn } : {}) };
    if (choice.id === 'scbert') {
      const ref = await pickFile(prompts, 'Reference gene list (text list, gene2vec table or .h5ad)', { 'Gene lists': ['txt', 'tsv', 'csv', 'h5ad'], 'All files': ['*'] });
      if (!ref) return undefined;
      const minGenes = await askNumber(prompts, 'Minimum expressed genes per cell', RECIPE_DEFAULTS.scbert.minGenes, true);
      if (minGenes === undefined) return undefined;
      const duplicates = await prompts.pick([
        { label: 'First column', value: 'first' as const, detail: 'as scBERT\'s preprocessing script (list.index): later columns with the same name are ignored' },
        { label: 'Sum the columns', value: 'sum' as const, detail: 'add the counts of every column with the name' },
      ], { title: 'A gene named in more than one column of the data', placeHolder: 'Duplicated gene names' });
      if (!duplicates) return undefined;
      recipe = { recipe: 'scbert', params: { referenceGenes: ref, ...common, minGenes, duplicateGenes: duplicates.value } };
    } else if (choice.id === 'scgpt') {
      const vocab = await pickFile(prompts, 'scGPT vocabulary (vocab.json)', { 'Vocabulary (JSON)': ['json'] });
      if (!vocab) return undefined;
      // Seurat v3 genes need the values before the log: not offered for log-normalised input.
      const hvg = input === 'log-normalized' ? '' : await prompts.input({ title: 'Highly variable genes (Seurat v3)', prompt: 'Number of top genes; empty keeps every vocabulary gene', value: '', validateInput: v => (v === '' || /^[1-9]\d*$/.test(v) ? undefined : 'a positive whole number, or empty') });
      if (hvg === undefined) return undefined;
      let hvgBatchKey: string | null = null;
      if (hvg !== '') {
        const cols = orderColumnsForLabels(summary.obs).candidates;
        const batch = await prompts.pick([{ label: '(no batch column)', value: null as string | null }, ...cols.map(c => ({ label: c, value: c as string | null }))], { title: 'Batch-aware HVG selection: batch column', placeHolder: 'Batch column' });
        if (!batch) return undefined;
        hvgBatchKey = batch.value;
      }
      const nBins = await askNumber(prompts, 'Number of value bins', RECIPE_DEFAULTS.scgpt.nBins, true);
      if (nBins === undefined) return undefined;
      recipe = { recipe: 'scgpt', params: { vocab, ...common, nTopGenes: hvg === '' ? null : Number(hvg), hvgBatchKey, nBins } };
    } else {
      const mode = await prompts.pick([
        { label: 'none', detail: 'log1p of the values' },
        { label: 'bin', detail: 'log1p of the values, plus 51 value bins per cell in a layer' },
      ], { title: 'Benchmark preprocessing mode', placeHolder: 'Mode' });
      if (!mode) return undefined;
      const minCountsPerGene = await askNumber(prompts, 'Minimum counts per gene (0 keeps all genes)', RECIPE_DEFAULTS.benchmark.minCountsPerGene, true);
      if (minCountsPerGene === undefined) return undefined;
      recipe = { recipe: 'benchmark', params: { mode: mode.label as 'none' | 'bin', ...common, minCountsPerGene } };
    }
    parseRecipe(recipe); // the schema has the last word on every value
  }
  const outPath = await askOutput(dataset, recipe?.recipe ?? recipeKind ?? 'preprocessed', prompts);
  if (!outPath) return undefined;
  if (recipe) {
    const save = await prompts.pick([{ label: 'Run', save: false }, { label: 'Run and save the recipe file beside the output', save: true }], { title: 'Ready', placeHolder: 'Ready' });
    if (!save) return undefined;
    if (save.save) await writeFileAtomic(outPath.replace(/\.h5ad$/, '.recipe.json'), JSON.stringify(recipe, null, 2) + '\n');
  }
  return { dataset, recipe, recipeFile, outPath, overwrite: true };
}

async function pickInputMatrix(summary: DatasetSummary, prompts: Prompts): Promise<string | undefined> {
  const options = [{ label: 'X', detail: summary.X ? `${summary.X.encoding} ${summary.X.dtype}` : 'none' }];
  if (summary.raw?.X) options.push({ label: 'raw/X', detail: `raw counts? ${summary.raw.nVars} genes` });
  for (const name of Object.keys(summary.layers)) options.push({ label: `layers/${name}`, detail: `${summary.layers[name].encoding} ${summary.layers[name].dtype}` });
  if (options.length === 1) return 'X';
  return (await prompts.pick(options, { title: 'Which matrix holds the input values?', placeHolder: 'Input matrix' }))?.label;
}

async function pickFile(prompts: Prompts, title: string, filters: Record<string, string[]>): Promise<string | undefined> {
  const picked = await prompts.open({ title, filters, canSelectMany: false, defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri });
  return picked?.[0]?.fsPath;
}

async function askNumber(prompts: Prompts, title: string, value: number, integer: boolean): Promise<number | undefined> {
  const text = await prompts.input({
    title, prompt: title, value: String(value),
    validateInput: v => (integer ? /^\d+$/.test(v) : Number.isFinite(Number(v))) ? undefined : `a ${integer ? 'whole ' : ''}number`,
  });
  return text === undefined ? undefined : Number(text);
}

async function askOutput(dataset: string, recipeName: string, prompts: Prompts): Promise<string | undefined> {
  const dir = path.dirname(dataset);
  const proposed = path.basename(proposedOutput(dataset, recipeName));
  const name = await prompts.input({
    title: 'Output file (beside the input)', prompt: 'Output file (beside the input)', value: proposed,
    validateInput: v => {
      if (!/^[^/\\]+\.h5ad$/.test(v)) return 'a file name ending in .h5ad';
      if (path.join(dir, v) === dataset) return 'the input is never overwritten: choose another name';
      return undefined;
    },
  });
  if (!name) return undefined;
  const out = path.join(dir, name);
  if (await fs.promises.access(out).then(() => true, () => false)) {
    const ok = await vscode.window.showWarningMessage(`${name} exists. Replace it?`, { modal: true }, 'Replace');
    if (ok !== 'Replace') return undefined;
  }
  return out;
}

/** Runs the recipe in a worker with a cancellable progress notification; reports the outcome to the user. */
export async function runPreprocess(req: PreprocessRequest): Promise<PreprocessOutcome | undefined> {
  const outPath = req.outPath ?? path.join(path.dirname(req.dataset), `${path.basename(req.dataset, '.h5ad')}.${req.recipe?.recipe ?? 'preprocessed'}.h5ad`);
  const title = `Preprocessing ${path.basename(req.dataset)} → ${path.basename(outPath)}`;
  try {
    const report = await withCancellableProgress(title, progress => runTask<PreprocessReport>('preprocess/tasks', 'preprocess', {
      inPath: req.dataset, outPath, recipePath: req.recipeFile, recipe: req.recipe,
      baseDir: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? path.dirname(req.dataset), overwrite: req.overwrite ?? false,
    }, progress));
    const parts = [`${report.cellsOut.toLocaleString('en-US')} of ${report.cellsIn.toLocaleString('en-US')} cells`, `${report.genesOut.toLocaleString('en-US')} genes`];
    if (report.referenceGenesFound !== undefined) parts.push(`${report.referenceGenesFound.toLocaleString('en-US')} of ${report.referenceGenes?.toLocaleString('en-US')} reference genes found`);
    if (report.genesInVocab !== undefined) parts.push(`${report.genesInVocab.toLocaleString('en-US')} genes in the vocabulary`);
    const duplicates = describeDuplicates(report);
    if (duplicates) parts.push(duplicates);
    void vscode.window.showInformationMessage(`Preprocessed (${report.recipe}): ${path.basename(outPath)} — ${parts.join(', ')}.`, 'Open').then(open => {
      if (open) void vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(outPath), 'scwb.datasetView');
    });
    return { outPath, report };
  } catch (e) {
    if (e instanceof CancelledError) {
      void vscode.window.showInformationMessage(`Preprocessing cancelled: no output was written.`);
      return undefined;
    }
    throw e;
  }
}
