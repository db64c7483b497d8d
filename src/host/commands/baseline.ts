/**
 * Run Baseline…: label column, split (stratified 80/20 seed 2022 by default, reference/query, or by donor/batch),
 * C or a cross-validation grid, few-shot fractions and seeds → one run per combination in the run store, executed in
 * a worker thread behind a cancellable progress notification; the results panel opens beside the editor.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import { orderColumnsForLabels } from '../../core/h5ad/labels';
import type { DatasetStats } from '../../core/h5ad/tasks';
import type { DatasetSummary } from '../../core/h5ad/types';
import { decideBaselineValues, preprocessedVersions, type BaselineValueChoice } from '../../core/preflight/baseline';
import { TRANSFORM_WORDS, type BaselineTransform, type BaselineValueRecord } from '../../core/preflight/values';
import { runBaselinesInWorker, type BaselineGridInput, type BaselineGridResult } from '../../core/runs/baseline';
import { runTask } from '../../core/workers/run-task';
import { CancelledError } from '../../core/workers/task';
import { withCancellableProgress } from '../progress';
import { askList, askNumber, windowPrompts, type Prompts } from '../prompts';
import { countOf } from '../../shared/view-format';
import { requireTrust } from '../trust';
import type { RunsTree } from '../runs/tree';

/**
 * What the flow collects; tests and scripts can pass it directly (storeRoot is filled in). `fullFractionOnce`: run
 * fraction 1 with the first seed only (every seed trains on the whole training split, so the fits are the same).
 */
export type BaselineRequest = Omit<BaselineGridInput, 'storeRoot'> & { storeRoot?: string; fullFractionOnce?: boolean };

/** The questions the flow asks (tests answer them with a script). */
export type BaselinePrompts = Prompts;

export interface BaselineDeps {
  summaryOf: (file: string) => Promise<DatasetSummary>;
  pickDataset: () => Promise<string | undefined>;
  runs: RunsTree;
  showResults: (experiment: string) => void;
  prompts?: BaselinePrompts;
}

export async function runBaselineCommand(
  target: vscode.Uri | { uri: vscode.Uri } | BaselineRequest | undefined,
  deps: BaselineDeps,
): Promise<BaselineGridResult | undefined> {
  if (!requireTrust('run baselines')) return undefined;
  const store = deps.runs.store;
  if (!store) {
    void vscode.window.showWarningMessage('Open a folder first: runs are stored in its .scwb/runs folder.');
    return undefined;
  }
  const programmatic = !!target && 'datasetPath' in target;
  let request: BaselineRequest | undefined;
  if (target && 'datasetPath' in target) request = target;
  else {
    const dataset = target instanceof vscode.Uri ? target.fsPath : target?.uri.fsPath ?? await deps.pickDataset();
    if (!dataset) return undefined;
    request = await askForBaseline(dataset, deps.summaryOf, deps.prompts ?? windowPrompts);
  }
  if (!request) return undefined;
  const grids = baselineGrids(request, store.root);
  try {
    deps.runs.refresh();
    const result = await withCancellableProgress(`Baseline on ${path.basename(request.datasetPath)}`, async progress => {
      const parts: BaselineGridResult[] = [];
      for (const [i, grid] of grids.entries()) {
        parts.push(await runBaselinesInWorker(grid, {
          signal: progress.signal,
          onProgress: (f, message) => progress.onProgress?.((i + f) / grids.length, message),
        }));
      }
      return { ...parts[0], runs: parts.flatMap(p => p.runs) };
    });
    deps.runs.refresh();
    const done = result.runs.filter(r => r.status === 'completed');
    const failed = result.runs.filter(r => r.status === 'failed');
    const mean = done.length ? done.reduce((a, r) => a + (r.metrics?.accuracy ?? 0), 0) / done.length : NaN;
    const text = `${result.experiment}: ${done.length} of ${countOf(result.runs.length, 'run')} completed${done.length ? `, mean accuracy ${mean.toFixed(3)}` : ''}.`;
    if (failed.length) void vscode.window.showWarningMessage(`${text} ${failed.length} failed: ${failed[0].error ?? ''}`);
    else void vscode.window.showInformationMessage(text);
    deps.showResults(result.experiment);
    return result;
  } catch (e) {
    deps.runs.refresh();
    if (e instanceof CancelledError) {
      void vscode.window.showInformationMessage('Baseline runs cancelled; finished runs are kept, the rest are marked cancelled.');
      return undefined;
    }
    void vscode.window.showErrorMessage(`Baseline failed: ${(e as Error).message}`);
    if (programmatic) throw e;
    return undefined;
  }
}

/**
 * The grids one request runs: one, or with `fullFractionOnce` two (the fractions below 1 with every seed, then
 * fraction 1 with the first seed), into the same experiment.
 */
export function baselineGrids(request: BaselineRequest, storeRoot: string): BaselineGridInput[] {
  const { fullFractionOnce, ...rest } = request;
  const input: BaselineGridInput = { ...rest, storeRoot: request.storeRoot ?? storeRoot };
  const fractions = input.fractions?.length ? input.fractions : [1];
  const seeds = input.seeds?.length ? input.seeds : [0];
  if (!fullFractionOnce || !fractions.includes(1) || seeds.length < 2) return [input];
  const partial = fractions.filter(f => f !== 1);
  const full: BaselineGridInput = { ...input, fractions: [1], seeds: [seeds[0]] };
  return partial.length ? [{ ...input, fractions: partial, seeds }, full] : [full];
}

/** Rows of X looked at to tell raw counts from normalised values before a baseline. */
const VALUE_CHECK_ROWS = 2000;

type ValueStep = { dataset: string; valueTransform: BaselineTransform; valueCheck?: BaselineValueRecord };

/**
 * The published baseline is fitted on log-normalised data. On anything else (raw counts, TPM/FPKM/CPM, scaled
 * values) say so and offer the fixes: the preprocessed files made from this one, Preprocess first, a log transform
 * computed on the fly, or the values as stored. Returns what to fit on, or undefined when the user cancels.
 */
async function checkValueScale(dataset: string, summaryOf: (file: string) => Promise<DatasetSummary>, prompts: BaselinePrompts, title: string): Promise<ValueStep | undefined> {
  let stats: DatasetStats;
  try {
    stats = await runTask<DatasetStats>('h5ad/tasks', 'datasetStats', { path: dataset, maxRows: VALUE_CHECK_ROWS });
  } catch {
    // the baseline itself reports a file it cannot read, naming the problem
    return { dataset, valueTransform: 'none' };
  }
  const first = decideBaselineValues(stats.values, dataset, undefined);
  if (first.ok) return { dataset, valueTransform: first.valueTransform, valueCheck: first.valueCheck };
  const { advice } = first;
  const versions = await preprocessedVersions(dataset, summaryOf);
  type Choice = vscode.QuickPickItem & { file?: string; preprocess?: boolean; choice?: BaselineValueChoice };
  const asStored = advice.scale.kind === 'raw-counts' ? 'Continue with raw counts' : 'Continue with the values as stored';
  const items: Choice[] = [
    ...versions.map(v => ({ label: `Use ${path.basename(v.file)}`, description: `preprocessed (${v.recipe} recipe)`, file: v.file })),
    { label: `Preprocess ${path.basename(dataset)} first…`, detail: 'normalise and log-transform with a recipe, then run the baseline on its output', preprocess: true },
    ...(advice.transform ? [{
      label: `Fit on ${advice.transform === 'log1p' ? 'log1p of the stored values' : 'log1p(normalize_total 1e4)'}, computed on the fly`,
      detail: `${TRANSFORM_WORDS[advice.transform]}; the file is not changed and run.json records the transform`,
      choice: { kind: 'transform' as const, transform: advice.transform },
    }] : []),
    { label: asStored, detail: `${advice.scale.reason}; results will not be comparable with the published baseline (recorded in run.json)`, choice: { kind: 'force' } },
  ];
  const choice = await prompts.pick(items, {
    title,
    placeHolder: `${path.basename(dataset)} holds ${SHORT_KIND[advice.scale.kind]}; the published baseline is fitted on log-normalised data`,
    ignoreFocusOut: true,
  });
  if (!choice) return undefined;
  if (choice.preprocess) {
    void vscode.commands.executeCommand('scwb.preprocess', vscode.Uri.file(dataset));
    return undefined;
  }
  if (choice.file) {
    // the preprocessed file is checked as any other (it is normally log-normalised and passes)
    return checkValueScale(choice.file, summaryOf, prompts, title);
  }
  const decided = decideBaselineValues(stats.values, dataset, choice.choice);
  if (!decided.ok) {
    void vscode.window.showErrorMessage(decided.problem);
    return undefined;
  }
  return { dataset, valueTransform: decided.valueTransform, valueCheck: decided.valueCheck };
}

const SHORT_KIND: Record<BaselineValueRecord['scale'], string> = {
  'empty': 'no non-zero values', 'raw-counts': 'raw counts', 'normalized': 'normalised values that are not log-transformed (TPM/FPKM/CPM)',
  'log-normalized': 'log-normalised values', 'scaled': 'centred or scaled values',
};

async function askForBaseline(chosen: string, summaryOf: (file: string) => Promise<DatasetSummary>, prompts: BaselinePrompts): Promise<BaselineRequest | undefined> {
  const title = `Run Baseline on ${path.basename(chosen)}`;
  const values = await checkValueScale(chosen, summaryOf, prompts, title);
  if (!values) return undefined;
  const { dataset } = values;
  const summary = await summaryOf(dataset);
  const { candidates } = orderColumnsForLabels(summary.obs);
  if (!candidates.length) {
    void vscode.window.showWarningMessage(`${path.basename(dataset)} has no categorical obs column to use as labels.`);
    return undefined;
  }
  const label = await prompts.pick(candidates.map(c => {
    const col = summary.obs.find(o => o.name === c);
    return { label: c, description: col?.nCategories !== undefined ? `${col.nCategories} classes` : col?.kind };
  }), { title, placeHolder: 'Label column (cell types)' });
  if (!label) return undefined;

  const splitChoice = await prompts.pick([
    { label: 'Stratified 80/20, seed 2022', id: 'default', detail: 'StratifiedShuffleSplit(test_size=0.2, random_state=2022), as published' },
    { label: 'Stratified, other test size or seed…', id: 'custom' },
    { label: 'Reference / query files…', id: 'refquery', detail: 'train on this file, test on another (genes matched by name)' },
    { label: 'By donor or batch…', id: 'group', detail: 'no donor/batch in both train and test' },
  ], { title, placeHolder: 'Split' });
  if (!splitChoice) return undefined;
  let split: BaselineGridInput['split'];
  if (splitChoice.id === 'default') split = { kind: 'stratified', testSize: 0.2, seed: 2022 };
  else if (splitChoice.id === 'custom') {
    const testSize = await askNumber(prompts, title, 'Test fraction', '0.2', v => v > 0 && v < 1);
    if (testSize === undefined) return undefined;
    const seed = await askNumber(prompts, title, 'Split seed (random_state)', '2022', v => Number.isInteger(v) && v >= 0);
    if (seed === undefined) return undefined;
    split = { kind: 'stratified', testSize, seed };
  } else if (splitChoice.id === 'refquery') {
    const q = await prompts.open({ title: 'Query (test) dataset', filters: { AnnData: ['h5ad'] }, canSelectMany: false, defaultUri: vscode.Uri.file(path.dirname(dataset)) });
    if (!q) return undefined;
    split = { kind: 'reference-query', queryPath: q[0].fsPath };
  } else {
    const cols = summary.obs.filter(c => c.kind === 'categorical' && c.name !== label.label).map(c => c.name);
    const column = await prompts.pick(cols.map(c => ({ label: c })), { title, placeHolder: 'Donor or batch column' });
    if (!column) return undefined;
    split = { kind: 'group', column: column.label, testSize: 0.2, seed: 2022 };
  }

  const modelChoice = await prompts.pick([
    { label: 'L1, C = 0.1 (one-vs-rest, liblinear)', id: 'l1', detail: 'the published scBERT-paper baseline' },
    { label: 'L2 multinomial, C = 1', id: 'l2' },
    { label: 'L1 with C chosen by 5-fold cross-validation', id: 'cv', detail: 'over 1e-3 … 1e4, as the scGPT-paper baseline' },
    { label: 'Other C…', id: 'custom' },
  ], { title, placeHolder: 'Logistic regression' });
  if (!modelChoice) return undefined;
  let model: BaselineGridInput['model'];
  if (modelChoice.id === 'l1') model = { penalty: 'l1', C: 0.1 };
  else if (modelChoice.id === 'l2') model = { penalty: 'l2', C: 1 };
  else if (modelChoice.id === 'cv') model = { penalty: 'l1', cvGrid: [1e-3, 1e-2, 1e-1, 1, 1e1, 1e2, 1e3, 1e4], folds: 5 };
  else {
    const penalty = (await prompts.pick([{ label: 'l1' }, { label: 'l2' }], { title, placeHolder: 'Penalty' }))?.label;
    if (!penalty) return undefined;
    const C = await askNumber(prompts, title, 'C (inverse regularisation strength)', '0.1', v => v > 0);
    if (C === undefined) return undefined;
    model = { penalty: penalty as 'l1' | 'l2', C };
  }

  const fractions = await askList(prompts, title, 'Few-shot fractions of the training split (comma-separated; 1 = all)', '1', v => v > 0 && v <= 1);
  if (!fractions) return undefined;
  const seeds = await askList(prompts, title, 'Seeds (np.random.seed(k) draws the few-shot subset)', '0', v => Number.isInteger(v) && v >= 0);
  if (!seeds) return undefined;
  let fullFractionOnce = false;
  if (fractions.includes(1) && seeds.length > 1) {
    // np.random.choice(n, n) only reorders the whole training split: every seed fits the same cells.
    const once = await prompts.pick([
      { label: `Run fraction 1 once (seed ${seeds[0]})`, detail: `fraction 1 is the whole training split: its ${seeds.length} seeds would repeat identical fits`, once: true },
      { label: `Run fraction 1 with all ${seeds.length} seeds anyway`, once: false },
    ], { title, placeHolder: `Fraction 1 with ${seeds.length} seeds repeats the same fit` });
    if (!once) return undefined;
    fullFractionOnce = once.once;
  }
  const experiment = await prompts.input({ title, prompt: 'Experiment name (runs are grouped by it)', value: `${path.basename(dataset, '.h5ad')} LR baseline`, validateInput: v => (v.trim() ? undefined : 'a name') });
  if (!experiment) return undefined;
  return {
    datasetPath: dataset, labelColumn: label.label, split, model, fractions, seeds, experiment: experiment.trim(), fullFractionOnce,
    valueTransform: values.valueTransform, valueCheck: values.valueCheck,
  };
}

