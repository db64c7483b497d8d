/**
 * Run Baseline…: label column, split (stratified 80/20 seed 2022 by default, reference/query, or by donor/batch),
 * C or a cross-validation grid, few-shot fractions and seeds → one run per combination in the run store, executed in
 * a worker thread behind a cancellable progress notification; the results panel opens beside the editor.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import { orderColumnsForLabels } from '../../core/h5ad/labels';
import type { DatasetSummary } from '../../core/h5ad/types';
import { runBaselinesInWorker, type BaselineGridInput, type BaselineGridResult } from '../../core/runs/baseline';
import { CancelledError } from '../../core/workers/task';
import { withCancellableProgress } from '../progress';
import { requireTrust } from '../trust';
import type { RunsTree } from '../runs/tree';

/** What the flow collects; tests and scripts can pass it directly (storeRoot is filled in). */
export type BaselineRequest = Omit<BaselineGridInput, 'storeRoot'> & { storeRoot?: string };

export async function runBaselineCommand(
  target: vscode.Uri | { uri: vscode.Uri } | BaselineRequest | undefined,
  deps: { summaryOf: (file: string) => Promise<DatasetSummary>; pickDataset: () => Promise<string | undefined>; runs: RunsTree; showResults: (experiment: string) => void },
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
    request = await askForBaseline(dataset, await deps.summaryOf(dataset));
  }
  if (!request) return undefined;
  const input: BaselineGridInput = { ...request, storeRoot: request.storeRoot ?? store.root };
  try {
    deps.runs.refresh();
    const result = await withCancellableProgress(`Baseline on ${path.basename(input.datasetPath)}`, progress => runBaselinesInWorker(input, progress));
    deps.runs.refresh();
    const done = result.runs.filter(r => r.status === 'completed');
    const failed = result.runs.filter(r => r.status === 'failed');
    const mean = done.length ? done.reduce((a, r) => a + (r.metrics?.accuracy ?? 0), 0) / done.length : NaN;
    const text = `${result.experiment}: ${done.length} of ${result.runs.length} runs completed${done.length ? `, mean accuracy ${mean.toFixed(3)}` : ''}.`;
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

async function askForBaseline(dataset: string, summary: DatasetSummary): Promise<BaselineRequest | undefined> {
  const title = `Run Baseline on ${path.basename(dataset)}`;
  const { candidates } = orderColumnsForLabels(summary.obs);
  if (!candidates.length) {
    void vscode.window.showWarningMessage(`${path.basename(dataset)} has no categorical obs column to use as labels.`);
    return undefined;
  }
  const label = await vscode.window.showQuickPick(candidates.map(c => {
    const col = summary.obs.find(o => o.name === c);
    return { label: c, description: col?.nCategories !== undefined ? `${col.nCategories} classes` : col?.kind };
  }), { title, placeHolder: 'Label column (cell types)' });
  if (!label) return undefined;

  const splitChoice = await vscode.window.showQuickPick([
    { label: 'Stratified 80/20, seed 2022', id: 'default', detail: 'StratifiedShuffleSplit(test_size=0.2, random_state=2022), as published' },
    { label: 'Stratified, other test size or seed…', id: 'custom' },
    { label: 'Reference / query files…', id: 'refquery', detail: 'train on this file, test on another (genes matched by name)' },
    { label: 'By donor or batch…', id: 'group', detail: 'no donor/batch in both train and test' },
  ], { title, placeHolder: 'Split' });
  if (!splitChoice) return undefined;
  let split: BaselineGridInput['split'];
  if (splitChoice.id === 'default') split = { kind: 'stratified', testSize: 0.2, seed: 2022 };
  else if (splitChoice.id === 'custom') {
    const testSize = await askNumber(title, 'Test fraction', '0.2', v => v > 0 && v < 1);
    if (testSize === undefined) return undefined;
    const seed = await askNumber(title, 'Split seed (random_state)', '2022', v => Number.isInteger(v) && v >= 0);
    if (seed === undefined) return undefined;
    split = { kind: 'stratified', testSize, seed };
  } else if (splitChoice.id === 'refquery') {
    const q = await vscode.window.showOpenDialog({ title: 'Query (test) dataset', filters: { AnnData: ['h5ad'] }, canSelectMany: false, defaultUri: vscode.Uri.file(path.dirname(dataset)) });
    if (!q) return undefined;
    split = { kind: 'reference-query', queryPath: q[0].fsPath };
  } else {
    const cols = summary.obs.filter(c => c.kind === 'categorical' && c.name !== label.label).map(c => c.name);
    const column = await vscode.window.showQuickPick(cols, { title, placeHolder: 'Donor or batch column' });
    if (!column) return undefined;
    split = { kind: 'group', column, testSize: 0.2, seed: 2022 };
  }

  const modelChoice = await vscode.window.showQuickPick([
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
    const penalty = await vscode.window.showQuickPick(['l1', 'l2'], { title, placeHolder: 'Penalty' });
    if (!penalty) return undefined;
    const C = await askNumber(title, 'C (inverse regularisation strength)', '0.1', v => v > 0);
    if (C === undefined) return undefined;
    model = { penalty: penalty as 'l1' | 'l2', C };
  }

  const fractions = await askList(title, 'Few-shot fractions of the training split (comma-separated; 1 = all)', '1', v => v > 0 && v <= 1);
  if (!fractions) return undefined;
  const seeds = await askList(title, 'Seeds (np.random.seed(k) draws the few-shot subset)', '0', v => Number.isInteger(v) && v >= 0);
  if (!seeds) return undefined;
  const experiment = await vscode.window.showInputBox({ title, prompt: 'Experiment name (runs are grouped by it)', value: `${path.basename(dataset, '.h5ad')} LR baseline`, validateInput: v => (v.trim() ? undefined : 'a name') });
  if (!experiment) return undefined;
  return { datasetPath: dataset, labelColumn: label.label, split, model, fractions, seeds, experiment: experiment.trim() };
}

async function askNumber(title: string, prompt: string, value: string, ok: (v: number) => boolean): Promise<number | undefined> {
  const text = await vscode.window.showInputBox({ title, prompt, value, validateInput: v => (v.trim() !== '' && ok(Number(v)) ? undefined : 'not a valid value') });
  return text === undefined ? undefined : Number(text);
}

async function askList(title: string, prompt: string, value: string, ok: (v: number) => boolean): Promise<number[] | undefined> {
  const parse = (v: string) => v.split(',').map(s => s.trim()).filter(Boolean).map(Number);
  const text = await vscode.window.showInputBox({
    title, prompt, value,
    validateInput: v => { const xs = parse(v); return xs.length && xs.every(x => Number.isFinite(x) && ok(x)) ? undefined : 'comma-separated valid numbers'; },
  });
  return text === undefined ? undefined : Array.from(new Set(parse(text)));
}
