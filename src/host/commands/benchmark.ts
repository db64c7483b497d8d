/**
 * Pre-train Encoder… and Probe Encoder… (the AAAI 2025 benchmark, docs/worker-benchmark.md), on a dataset (Datasets view,
 * Explorer or palette). Both check the worker's environment first, prepare the runs in a worker thread and run the
 * worker as a VS Code Task (`scwb-finetune` with `command: pretrain|probe`) in a terminal that stays open, as Run
 * Fine-tune does; the task provider finalizes the runs when the worker exits. Untrusted workspaces run nothing.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import { pickLabel, type ListedCheckpoint } from '../../core/checkpoints/by-run';
import {
  PRETRAIN_DEFAULTS, PROBE_DEFAULTS, SCBERT_SCRATCH_DEFAULTS, encoderFromPath, preparePretrainInWorker, prepareProbeInWorker,
  type PretrainInput, type ProbeEncoder, type ProbeInput, type ProbeProtocol,
} from '../../core/benchmark/prepare';
import { ENCODER_FILE } from '../../core/finetune/finalize';
import { checkWorkerEnvironment, judgeEnvironment } from '../../core/finetune/env';
import { orderColumnsForLabels } from '../../core/h5ad/labels';
import type { DatasetSummary } from '../../core/h5ad/types';
import type { Pooling, PretrainModel, PretrainStructure, ProbeMethod } from '../../core/runs/schema';
import { CancelledError } from '../../core/workers/task';
import { withCancellableProgress } from '../progress';
import { askNumber, windowPrompts, type Prompts } from '../prompts';
import { chooseInterpreter } from '../python';
import type { RunsTree } from '../runs/tree';
import { FINETUNE_TASK_TYPE, type FinetuneTasks } from '../tasks';
import { requireTrust } from '../trust';

export interface BenchmarkDeps {
  summaryOf: (file: string) => Promise<DatasetSummary>;
  pickDataset: () => Promise<string | undefined>;
  checkpoints: () => Promise<ListedCheckpoint[]>;
  runs: RunsTree;
  tasks: FinetuneTasks;
}

export interface BenchmarkLaunch {
  experiment: string;
  taskName: string;
  runIds: string[];
  runDirs: string[];
  storeRoot: string;
  /** probes: the raw-expression LR runs */
  baselineRunIds?: string[];
}

/** Skips the quick picks (tests, automation). */
export type PretrainCommandOptions = Omit<PretrainInput, 'storeRoot'>;
export type ProbeCommandOptions = Omit<ProbeInput, 'storeRoot'>;

type Target<O> = vscode.Uri | { uri: vscode.Uri } | O | undefined;

async function launch<O extends { datasetPath: string; device?: 'auto' | 'cpu' | 'cuda'; nproc?: number }, P>(
  what: 'pretrain' | 'probe', target: Target<O>, deps: BenchmarkDeps,
  ask: (dataset: string, summary: DatasetSummary) => Promise<O | undefined>,
  prepare: (options: O, storeRoot: string, progress: Parameters<Parameters<typeof withCancellableProgress>[1]>[0]) => Promise<P>,
  describe: (plan: P, options: O) => Omit<BenchmarkLaunch, 'taskName' | 'storeRoot'> & { storeRoot: string; title: string },
): Promise<BenchmarkLaunch | undefined> {
  const verb = what === 'pretrain' ? 'pre-train encoders' : 'probe encoders';
  if (!requireTrust(verb)) return undefined;
  const store = deps.runs.store;
  if (!store) {
    void vscode.window.showWarningMessage('Open a folder first: runs are stored in its .scwb/runs folder.');
    return undefined;
  }
  const programmatic = !!target && 'datasetPath' in target;
  const folder = vscode.workspace.workspaceFolders?.[0];
  const { interpreter } = await chooseInterpreter(folder?.uri);
  const envCheck = checkWorkerEnvironment(interpreter || 'python3');
  let options: O | undefined;
  if (target && 'datasetPath' in target) options = target;
  else {
    const dataset = target instanceof vscode.Uri ? target.fsPath : target?.uri.fsPath ?? await deps.pickDataset();
    if (!dataset) return undefined;
    options = await ask(dataset, await deps.summaryOf(dataset));
  }
  if (!options) return undefined;
  const title = what === 'pretrain' ? 'Pre-training' : 'Probe';
  const env = await envCheck;
  const wanted = env.report ? judgeEnvironment(env.report, { device: options.device, nproc: options.nproc }) : env;
  if (!wanted.ok) {
    const problem = wanted.problem ?? 'the training worker cannot run';
    void vscode.window.showErrorMessage(`${title} cannot start: ${problem}`, 'Open Environment')
      .then(choice => { if (choice) void vscode.commands.executeCommand('scwb.showAbout'); });
    if (programmatic) throw new Error(problem);
    return undefined;
  }
  let plan: P;
  try {
    deps.runs.refresh();
    plan = await withCancellableProgress(`Preparing ${what === 'pretrain' ? 'pre-training' : 'probe runs'} on ${path.basename(options.datasetPath)}`,
      progress => prepare(options, store.root, progress));
  } catch (e) {
    deps.runs.refresh();
    if (e instanceof CancelledError) return undefined;
    void vscode.window.showErrorMessage(`${title} failed: ${(e as Error).message}`);
    if (programmatic) throw e;
    return undefined;
  }
  deps.runs.refresh();
  const d = describe(plan, options);
  await deps.tasks.execute({
    type: FINETUNE_TASK_TYPE, command: what, runDirs: d.runDirs,
    ...(options.nproc !== undefined && what === 'pretrain' ? { nproc: options.nproc } : {}), ...(options.device ? { device: options.device } : {}),
  }, folder, d.title);
  return {
    experiment: d.experiment, taskName: d.title, runIds: d.runIds, runDirs: d.runDirs, storeRoot: d.storeRoot,
    ...(d.baselineRunIds ? { baselineRunIds: d.baselineRunIds } : {}),
  };
}

/** Pre-train Encoder…: model (benchmark structure, or continued scBERT/scGPT) → checkpoint → values → epochs → device. */
export function pretrainEncoderCommand(target: Target<PretrainCommandOptions>, deps: BenchmarkDeps, ui: Prompts = windowPrompts): Promise<BenchmarkLaunch | undefined> {
  return launch<PretrainCommandOptions, Awaited<ReturnType<typeof preparePretrainInWorker>>>('pretrain', target, deps,
    (dataset) => askForPretrain(dataset, deps, ui),
    (o, storeRoot, progress) => preparePretrainInWorker({ ...o, storeRoot }, progress),
    plan => ({
      experiment: plan.experiment, runIds: [plan.run.id], runDirs: [plan.run.runDir], storeRoot: plan.storeRoot,
      title: `Pre-train ${plan.model.label} on ${path.basename(plan.run.runDir)}`,
    }));
}

/** Probe Encoder…: encoder → label column → methods → protocol → trials. */
export function probeEncoderCommand(target: Target<ProbeCommandOptions>, deps: BenchmarkDeps, ui: Prompts = windowPrompts): Promise<BenchmarkLaunch | undefined> {
  return launch<ProbeCommandOptions, Awaited<ReturnType<typeof prepareProbeInWorker>>>('probe', target, deps,
    (dataset, summary) => askForProbe(dataset, summary, deps, ui),
    (o, storeRoot, progress) => prepareProbeInWorker({ ...o, storeRoot }, progress),
    (plan, o) => ({
      experiment: plan.experiment, runIds: plan.runs.map(r => r.id), runDirs: plan.runs.map(r => r.runDir), storeRoot: plan.storeRoot,
      baselineRunIds: plan.baselineRunIds,
      title: `Probe ${plan.encoderName} on ${path.basename(o.datasetPath)} (${plan.runs.length} run${plan.runs.length === 1 ? '' : 's'})`,
    }));
}

async function askDevice(ui: Prompts, title: string): Promise<'auto' | 'cpu' | 'cuda' | undefined> {
  const picked = await ui.pick([
    { label: 'Auto', id: 'auto' as const, detail: 'a GPU when there is one, else the CPU' },
    { label: 'CPU', id: 'cpu' as const },
    { label: 'GPU (CUDA)', id: 'cuda' as const },
  ], { title, placeHolder: 'Where to run' });
  return picked?.id;
}

/** The quick-pick flow of Pre-train Encoder…. */
export async function askForPretrain(dataset: string, deps: Pick<BenchmarkDeps, 'checkpoints'> & Partial<BenchmarkDeps>, ui: Prompts = windowPrompts): Promise<PretrainCommandOptions | undefined> {
  const title = `Pre-train Encoder on ${path.basename(dataset)}`;
  const modelChoice = await ui.pick<vscode.QuickPickItem & { model: PretrainModel; structure: PretrainStructure }>([
    { label: 'transformer', description: 'AAAI 2025 benchmark', model: 'benchmark', structure: 'transformer', detail: 'post-norm transformer, 6 x 256, 8 heads; <cls> + 512 genes' },
    { label: 'cnn_base', description: 'AAAI 2025 benchmark', model: 'benchmark', structure: 'cnn_base', detail: 'strided kernel-9 Conv1d + BatchNorm, average pooled; <cls> + 511 genes' },
    { label: 'cnn_ours', description: 'AAAI 2025 benchmark', model: 'benchmark', structure: 'cnn_ours', detail: 'cnn_base over the genes ordered by token id; <cls> + 511 genes' },
    { label: 'linear_ours', description: 'AAAI 2025 benchmark', model: 'benchmark', structure: 'linear_ours', detail: 'Linear layers halving the sequence to one place; <cls> + 511 genes' },
    { label: 'linear_base', description: 'AAAI 2025 benchmark', model: 'benchmark', structure: 'linear_base', detail: 'per-token feed-forward blocks; <cls> + 511 genes' },
    { label: 'scwb transformer', model: 'benchmark', structure: 'scwb-transformer', detail: 'scWorkbench\'s own transformer encoder (pre-norm embeddings, final norm)' },
    { label: 'scBERT: pre-train from scratch or continue', model: 'scbert', structure: 'transformer', detail: 'masked expression bins on this (unlabelled) dataset' },
    { label: 'scGPT: continue pre-training', model: 'scgpt', structure: 'transformer', detail: 'masked value prediction (GEP) on this dataset' },
  ], { title, placeHolder: 'Encoder' });
  if (!modelChoice) return undefined;
  let checkpoint: string | null = null;
  const all = await deps.checkpoints();
  const matching = all.filter(c => (modelChoice.model === 'scgpt' ? c.kind === 'scgpt-folder'
    : modelChoice.model === 'scbert' ? c.kind === 'scbert-pth' || (c.kind === 'torch' && c.path.endsWith('.pth'))
      : path.basename(c.path) === ENCODER_FILE));
  const items: (vscode.QuickPickItem & { value: string | null | 'browse' })[] = [
    ...(modelChoice.model === 'benchmark' ? [{ label: 'Random initialisation', value: null }] : []),
    ...(modelChoice.model === 'scbert' ? [{ label: 'From scratch, no gene2vec', detail: 'as published (for the no-gene2vec ablation)', value: null }] : []),
    ...matching.map(c => ({ label: pickLabel(c), description: vscode.workspace.asRelativePath(c.path), value: c.path })),
    { label: 'Browse…', value: 'browse' },
  ];
  const ck = await ui.pick(items, { title, placeHolder: modelChoice.model === 'benchmark' ? 'Start from (an earlier encoder.pt continues its pre-training)' : 'Published checkpoint' });
  if (!ck) return undefined;
  checkpoint = ck.value;
  if (checkpoint === 'browse') {
    const picked = await ui.open(modelChoice.model === 'scgpt'
      ? { title: 'scGPT model folder', canSelectFiles: false, canSelectFolders: true }
      : { title: 'Checkpoint', canSelectFiles: true, filters: { 'PyTorch checkpoint': ['pt', 'pth'] } });
    if (!picked) return undefined;
    checkpoint = picked[0].fsPath;
  }
  const valueMode = modelChoice.model === 'benchmark'
    ? (await ui.pick([
      { label: 'log1p', id: 'log1p' as const, detail: 'log1p of X (no size normalisation)' },
      {
        label: '51 bins', id: 'bins' as const,
        detail: modelChoice.structure === 'scwb-transformer' ? 'scGPT-style per-cell binning' : 'quantile bins of each sampled row (the published bin mode)',
      },
    ], { title, placeHolder: 'Expression values' }))?.id
    : 'log1p';
  if (!valueMode) return undefined;
  let weightedSampling = false;
  if (modelChoice.model === 'benchmark') {
    const sampling = await ui.pick([
      { label: 'Weighted', id: true, detail: 'cells with too many genes: half of the time drawn by expression (the paper\'s command)' },
      { label: 'Uniform', id: false, detail: 'a random subset of the genes' },
    ], { title, placeHolder: 'Gene sampling' });
    if (!sampling) return undefined;
    weightedSampling = sampling.id;
  }
  const defaults = modelChoice.model === 'scbert' && checkpoint === null ? SCBERT_SCRATCH_DEFAULTS : PRETRAIN_DEFAULTS;
  const epochs = await askNumber(ui, title, 'Epochs', String(defaults.epochs), v => Number.isInteger(v) && v > 0);
  if (epochs === undefined) return undefined;
  const batchSize = await askNumber(ui, title, 'Global batch size', String(defaults.batchSize), v => Number.isInteger(v) && v > 0);
  if (batchSize === undefined) return undefined;
  const device = await askDevice(ui, title);
  if (!device) return undefined;
  return {
    datasetPath: dataset, model: modelChoice.model, structure: modelChoice.structure, checkpoint: checkpoint as string | null,
    valueMode, ...(modelChoice.model === 'benchmark' ? { weightedSampling } : {}), epochs, batchSize, device,
  };
}

/** Perturbation prediction in Probe Encoder…: perturbation column → control label → split → trials → device. */
async function askForPerturbation(dataset: string, summary: DatasetSummary, encoder: ProbeEncoder, candidates: string[], ui: Prompts, title: string): Promise<ProbeCommandOptions | undefined> {
  const column = await ui.pick(candidates.map(c => ({ label: c })), { title, placeHolder: 'Perturbation column (the perturbed gene of each cell)' });
  if (!column) return undefined;
  const values = summary.obs.find(c => c.name === column.label)?.categories ?? [];
  const guess = values.find(v => /^(ctrl|control|non-?targeting|unperturbed)$/i.test(v));
  const control = await ui.pick([...(guess ? [guess] : []), ...values.filter(v => v !== guess)].map(v => ({ label: v })), { title, placeHolder: 'Label of the control (unperturbed) cells' });
  if (!control) return undefined;
  const zeroShot = await ui.pick([
    { label: 'Random 70/30 of the perturbed cells', id: false },
    { label: 'Zero-shot: 30% of the perturbations held out', id: true, detail: 'the test perturbations are never trained on' },
  ], { title, placeHolder: 'Split' });
  if (!zeroShot) return undefined;
  const trials = await askNumber(ui, title, 'Trials', String(PROBE_DEFAULTS.trials), v => Number.isInteger(v) && v > 0);
  if (trials === undefined) return undefined;
  const device = await askDevice(ui, title);
  if (!device) return undefined;
  return {
    datasetPath: dataset, labelColumn: column.label, encoder, task: 'perturbation-prediction', control: control.label, zeroShot: zeroShot.id,
    trials, device,
  };
}

/** The quick-pick flow of Probe Encoder…. */
export async function askForProbe(dataset: string, summary: DatasetSummary, deps: Pick<BenchmarkDeps, 'checkpoints'> & Partial<BenchmarkDeps>, ui: Prompts = windowPrompts): Promise<ProbeCommandOptions | undefined> {
  const title = `Probe Encoder on ${path.basename(dataset)}`;
  // Encoders: completed pre-training runs' encoder.pt, then the Checkpoints view's scBERT/scGPT models.
  const encoders: (vscode.QuickPickItem & { value: ProbeEncoder | 'browse' })[] = [];
  const store = deps.runs?.store;
  for (const r of store ? await store.list().catch(() => []) : []) {
    if (r.kind !== 'pretrain' || r.status !== 'completed') continue;
    const file = store!.file(r.id, ENCODER_FILE);
    try {
      encoders.push({ label: `${r.model.label} (pre-training run)`, description: `${r.name} · ${r.id}`, value: encoderFromPath(file) });
    } catch {
      // no encoder.pt: the run is not offered
    }
  }
  for (const c of await deps.checkpoints()) {
    if (c.kind === 'scgpt-folder') encoders.push({ label: pickLabel(c), description: vscode.workspace.asRelativePath(c.path), value: { model: 'scgpt', path: c.path } });
    else if (c.kind === 'scbert-pth') encoders.push({ label: pickLabel(c), description: vscode.workspace.asRelativePath(c.path), value: { model: 'scbert', path: c.path } });
  }
  encoders.push({ label: 'Browse…', value: 'browse' });
  const enc = await ui.pick(encoders, { title, placeHolder: 'Encoder to probe (frozen)' });
  if (!enc) return undefined;
  let encoder: ProbeEncoder;
  if (enc.value === 'browse') {
    const picked = await ui.open({ title: 'Encoder (encoder.pt, scBERT .pth or scGPT folder)', canSelectFiles: true, canSelectFolders: true });
    if (!picked) return undefined;
    encoder = encoderFromPath(picked[0].fsPath);
  } else encoder = enc.value;

  const { candidates } = orderColumnsForLabels(summary.obs);
  if (!candidates.length) {
    void vscode.window.showWarningMessage(`${path.basename(dataset)} has no categorical obs column to use as labels.`);
    return undefined;
  }
  const task = encoder.model === 'benchmark'
    ? (await ui.pick<vscode.QuickPickItem & { id: 'classification' | 'perturbation-prediction' }>([
      { label: 'Cell-type classification', id: 'classification', detail: 'linear probe and/or kNN on a label column, beside LR on raw expression' },
      { label: 'Perturbation prediction', id: 'perturbation-prediction', detail: 'the expression after a gene perturbation, from the frozen encoder (test MSE, as the benchmark)' },
    ], { title, placeHolder: 'Downstream task' }))?.id
    : 'classification';
  if (!task) return undefined;
  if (task === 'perturbation-prediction') return askForPerturbation(dataset, summary, encoder, candidates, ui, title);
  const label = await ui.pick(candidates.map(c => ({ label: c })), { title, placeHolder: 'Label column (cell types)' });
  if (!label) return undefined;
  const methods = await ui.pick<vscode.QuickPickItem & { methods: ProbeMethod[] }>([
    { label: 'Linear probe and kNN', methods: ['linear', 'knn'] },
    { label: 'Linear probe', methods: ['linear'], detail: `Adam ${PROBE_DEFAULTS.lr}, batch ${PROBE_DEFAULTS.batchSize}, ${PROBE_DEFAULTS.epochs} epochs` },
    { label: 'kNN', methods: ['knn'], detail: `k = ${PROBE_DEFAULTS.k}, Euclidean, majority vote` },
  ], { title, placeHolder: 'Probes' });
  if (!methods) return undefined;
  const protocol = await ui.pick<vscode.QuickPickItem & { id: ProbeProtocol }>([
    { label: 'Seeded, stratified 70/30', id: 'seeded', detail: 'reproducible: StratifiedShuffleSplit(test_size=0.3, random_state=trial)' },
    { label: 'Published (random 70/30, 5 trials)', id: 'published', detail: 'unstratified random splits; the seed drawn for each trial is recorded' },
  ], { title, placeHolder: 'Split protocol' });
  if (!protocol) return undefined;
  const pooling = await ui.pick<vscode.QuickPickItem & { id: Pooling }>([
    { label: '<cls> output', id: 'cls', detail: 'as the published probes (for cnn_base, cnn_ours and linear_ours: their pooled output)' },
    { label: 'Mean over all places', id: 'mean', detail: 'the published average pooling: <cls> and padding included' },
    { label: 'Mean over the genes', id: 'mean-genes', detail: 'padding and <cls> left out' },
  ], { title, placeHolder: 'Cell embedding' });
  if (!pooling) return undefined;
  const trials = await askNumber(ui, title, 'Trials', String(PROBE_DEFAULTS.trials), v => Number.isInteger(v) && v > 0);
  if (trials === undefined) return undefined;
  const device = await askDevice(ui, title);
  if (!device) return undefined;
  return { datasetPath: dataset, labelColumn: label.label, encoder, methods: methods.methods, protocol: protocol.id, pooling: pooling.id, trials, device };
}
