/**
 * Run Fine-tune…: dataset → label column → split → model → checkpoint (from the Checkpoints view, none, or browse)
 * → ablation → fractions → seeds → device/GPUs → batch size. The environment check (`python -m scwb_worker env`)
 * runs first and says what to do when Python, torch or CUDA is missing; the runs are prepared in a worker thread
 * (hashing the dataset), then the training worker runs them as a VS Code Task in a terminal that stays open.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import { pickLabel, type ListedCheckpoint } from '../../core/checkpoints/by-run';
import { checkWorkerEnvironment, estimateRunMemory, judgeEnvironment, type MemoryEstimate, type WorkerEnvCheck } from '../../core/finetune/env';
import { ensureLrBaselines, lrBaselineSummary, type LrBaselineOutcome } from '../../core/finetune/lr-baseline';
import { FINETUNE_DEFAULTS, prepareFinetuneInWorker, type FinetuneGridInput, type FinetuneGridPlan } from '../../core/finetune/prepare';
import { orderColumnsForLabels } from '../../core/h5ad/labels';
import type { DatasetSummary } from '../../core/h5ad/types';
import type { FinetuneAblation, FinetuneModel, ProtocolChoices, RunRecord, ValidationSplit } from '../../core/runs/schema';
import { settle } from '../../core/runs/baseline';
import type { RunStore } from '../../core/runs/store';
import { describeProblems, type FinetuneCheckInput, type PreflightProblem } from '../../core/preflight/finetune';
import { runTask } from '../../core/workers/run-task';
import { CancelledError } from '../../core/workers/task';
import { withCancellableProgress } from '../progress';
import { askList, askNumber, windowPrompts, type Prompts } from '../prompts';
import { chooseInterpreter } from '../python';
import { requireTrust } from '../trust';
import type { RunsTree } from '../runs/tree';
import { FINETUNE_TASK_TYPE, type FinetuneTasks } from '../tasks';
import { chooseRunTarget, slurmSettings, submitRunsToSlurm, type RunTarget } from '../slurm/slurm';
import { submitRunToSlurm } from '../../core/slurm/runs';

/** Skips the quick picks (tests, automation): what the flow would collect. */
export interface FinetuneCommandOptions {
  datasetPath: string;
  labelColumn: string;
  model: FinetuneModel;
  /** scBERT .pth, scGPT model folder, or null for random initialisation */
  checkpoint: string | null;
  queryPath?: string;
  ablation?: FinetuneAblation;
  fractions?: number[];
  seeds?: number[];
  epochs?: number;
  batchSize?: number;
  lr?: number;
  device?: 'auto' | 'cpu' | 'cuda';
  nproc?: number;
  experiment?: string;
  /** model hyper-parameters for the worker (e.g. a tiny random model) */
  config?: Record<string, unknown>;
  /** where to train; default this machine (the palette flow asks when Slurm is configured) */
  runOn?: RunTarget;
  /** protocol elements that differ from the published ones (docs/protocols.md); default: the published protocol */
  protocol?: ProtocolChoices;
  /** scBERT: runs of the published few-shot script (fraction 1.0 drawn from its stream too) */
  fewShotRun?: boolean;
  /** run the missing LR baselines of the grid beside it (default true; see core/finetune/lr-baseline.ts) */
  baseline?: boolean;
  /** scGPT's validation hold-out: stratified (default) or random, the published non-stratified split */
  validationSplit?: ValidationSplit;
}

export interface FinetuneLaunch {
  experiment: string;
  taskName: string;
  runIds: string[];
  runDirs: string[];
  storeRoot: string;
  /** Slurm job ids, one per run, when the runs went to Slurm */
  slurmJobs?: string[];
  /** the LR baselines running beside the fine-tune (absent with `baseline: false`); null when they failed */
  baseline?: Promise<LrBaselineOutcome | null>;
}

export interface FinetuneDeps {
  summaryOf: (file: string) => Promise<DatasetSummary>;
  pickDataset: () => Promise<string | undefined>;
  checkpoints: () => Promise<ListedCheckpoint[]>;
  runs: RunsTree;
  tasks: FinetuneTasks;
}

type Target = vscode.Uri | { uri: vscode.Uri } | FinetuneCommandOptions | undefined;

/** The prompts the flow uses (a test scripts the answers and reads what was asked). */
export type FinetunePrompts = Prompts;

export async function runFinetuneCommand(target: Target, deps: FinetuneDeps): Promise<FinetuneLaunch | undefined> {
  if (!requireTrust('fine-tune models')) return undefined;
  const store = deps.runs.store;
  if (!store) {
    void vscode.window.showWarningMessage('Open a folder first: runs are stored in its .scwb/runs folder.');
    return undefined;
  }
  const programmatic = !!target && 'datasetPath' in target;
  const folder = vscode.workspace.workspaceFolders?.[0];
  const { interpreter } = await chooseInterpreter(folder?.uri);
  const python = interpreter || 'python3';
  // The check runs while the user picks; the device step and the launch wait for it.
  const envCheck = checkWorkerEnvironment(python);
  let options: FinetuneCommandOptions | undefined;
  if (target && 'datasetPath' in target) options = target;
  else {
    const dataset = target instanceof vscode.Uri ? target.fsPath : target?.uri.fsPath ?? await deps.pickDataset();
    if (!dataset) return undefined;
    options = await askForFinetune(dataset, await deps.summaryOf(dataset), deps, envCheck);
  }
  if (!options) return undefined;
  const runOn = programmatic ? options.runOn ?? 'local' : await chooseRunTarget();
  if (!runOn) return undefined;

  const env = await envCheck;
  const wanted = env.report ? judgeEnvironment(env.report, { device: options.device, nproc: options.nproc }) : env;
  // On Slurm the worker runs on the cluster's nodes: this machine's Python and GPUs do not matter.
  if (!wanted.ok && runOn === 'local') {
    const problem = wanted.problem ?? 'the training worker cannot run';
    void vscode.window.showErrorMessage(`Fine-tune cannot start: ${problem}`, 'Open Environment')
      .then(choice => { if (choice) void vscode.commands.executeCommand('scwb.showAbout'); });
    if (programmatic) throw new Error(problem);
    return undefined;
  }

  if (!await passesPreflight(options, programmatic)) return undefined;

  const input: FinetuneGridInput = {
    datasetPath: options.datasetPath, queryPath: options.queryPath, labelColumn: options.labelColumn, model: options.model,
    checkpoint: options.checkpoint, ablation: options.ablation, fractions: options.fractions, seeds: options.seeds,
    epochs: options.epochs, batchSize: options.batchSize, lr: options.lr, device: options.device, nproc: options.nproc,
    experiment: options.experiment, config: options.config ?? null, storeRoot: store.root,
    protocol: options.protocol, fewShotRun: options.fewShotRun, ...(options.validationSplit ? { validationSplit: options.validationSplit } : {}),
  };
  let plan: FinetuneGridPlan;
  try {
    deps.runs.refresh();
    plan = await withCancellableProgress(`Preparing fine-tune runs on ${path.basename(input.datasetPath)}`, progress => prepareFinetuneInWorker(input, progress));
  } catch (e) {
    deps.runs.refresh();
    if (e instanceof CancelledError) return undefined;
    void vscode.window.showErrorMessage(`Fine-tune failed: ${(e as Error).message}`);
    if (programmatic) throw e;
    return undefined;
  }
  deps.runs.refresh();
  void announceDeviations(store, plan);
  // The LR baseline beside the fine-tune starts once the fine-tune is launched (a launch that is declined or fails
  // leaves no LR runs in the cancelled experiment).
  const startBaseline = () => (options.baseline === false ? undefined : runLrBaselines(plan, input.datasetPath, deps));
  if (runOn === 'slurm') {
    const runIds = plan.runs.map(r => r.id);
    try {
      const slurmJobs = await submitRunsToSlurm(store, runIds, python, options.device);
      const baseline = startBaseline();
      deps.runs.refresh();
      void vscode.window.showInformationMessage(`Submitted ${slurmJobs.length} run${slurmJobs.length === 1 ? '' : 's'} to Slurm (job${slurmJobs.length === 1 ? '' : 's'} ${slurmJobs.join(', ')}).`);
      return { experiment: plan.experiment, taskName: `Slurm jobs ${slurmJobs.join(', ')}`, runIds, runDirs: plan.runs.map(r => r.runDir), storeRoot: plan.storeRoot, slurmJobs, ...(baseline ? { baseline } : {}) };
    } catch (e) {
      for (const r of plan.runs) await settle(store, r.id, 'cancelled', null);
      deps.runs.refresh();
      void vscode.window.showErrorMessage(`Submitting to Slurm failed: ${(e as Error).message}`);
      if (programmatic) throw e;
      return undefined;
    }
  }
  const onGpu = options.device === 'cuda' || (options.device !== 'cpu' && !!env.report?.cuda.available);
  if (onGpu && !programmatic && !await fitsGpuMemory(python, plan, store)) {
    for (const r of plan.runs) await settle(store, r.id, 'cancelled', null);
    deps.runs.refresh();
    return undefined;
  }
  const runDirs = plan.runs.map(r => r.runDir);
  const taskName = `Fine-tune ${plan.model.label} on ${path.basename(input.datasetPath)} (${plan.runs.length} run${plan.runs.length === 1 ? '' : 's'})`;
  await deps.tasks.execute({
    type: FINETUNE_TASK_TYPE, runDirs,
    ...(options.nproc !== undefined ? { nproc: options.nproc } : {}), ...(options.device ? { device: options.device } : {}),
  }, folder, taskName);
  const baseline = startBaseline();
  return { experiment: plan.experiment, taskName, runIds: plan.runs.map(r => r.id), runDirs, storeRoot: plan.storeRoot, ...(baseline ? { baseline } : {}) };
}

/**
 * The fine-tune's LR baseline, beside it in its experiment: the published LR on the same file, split, fractions
 * and seeds for each (fraction, seed) without an LR run yet (existing ones are reused), in a worker thread with a
 * cancellable notification; says what ran when it ends.
 */
async function runLrBaselines(plan: FinetuneGridPlan, datasetPath: string, deps: Pick<FinetuneDeps, 'runs'>): Promise<LrBaselineOutcome | null> {
  try {
    const outcome = await withCancellableProgress(`LR baseline for ${plan.experiment}`, progress => ensureLrBaselines(plan, progress));
    deps.runs.refresh();
    if (outcome.ran || outcome.skipped) void vscode.window.showInformationMessage(`Fine-tune ${plan.experiment}: ${lrBaselineSummary(outcome, datasetPath)}.`);
    return outcome;
  } catch (e) {
    deps.runs.refresh();
    if (!(e instanceof CancelledError)) void vscode.window.showWarningMessage(`The LR baseline beside the fine-tune failed: ${(e as Error).message}`);
    return null;
  }
}

/**
 * The pre-flight (src/core/preflight/finetune.ts) before anything is prepared: labels, split, few-shot draws and the
 * model against the data. A problem stops the launch with the reason and the fix (programmatic callers get it thrown).
 */
async function passesPreflight(options: FinetuneCommandOptions, programmatic: boolean): Promise<boolean> {
  let problems: PreflightProblem[];
  try {
    problems = await withCancellableProgress(`Checking ${path.basename(options.datasetPath)} against the model`, progress => runTask<PreflightProblem[]>('preflight/tasks', 'finetuneChecks', {
      datasetPath: options.datasetPath, queryPath: options.queryPath, labelColumn: options.labelColumn, model: options.model,
      checkpoint: options.checkpoint, fractions: options.fractions, seeds: options.seeds, validationSplit: options.validationSplit,
    } satisfies FinetuneCheckInput, { onProgress: progress.onProgress, signal: progress.signal }));
  } catch (e) {
    if (e instanceof CancelledError) return false;
    // the check itself failed (not the data): preparing the runs reports a file it cannot read
    void vscode.window.showWarningMessage(`The pre-flight check could not run (${(e as Error).message}); preparing the runs anyway.`);
    return true;
  }
  if (!problems.length) return true;
  const text = `Fine-tune cannot start: ${describeProblems(problems)}`;
  const check = options.checkpoint ? 'Check Dataset Against Model' : undefined;
  void vscode.window.showErrorMessage(text, ...(check ? [check] : [])).then(choice => {
    if (choice) void vscode.commands.executeCommand('scwb.checkpoints.checkDataset', undefined, { model: options.checkpoint, dataset: options.datasetPath });
  });
  if (programmatic) throw new Error(text);
  return false;
}

/**
 * Before a GPU launch: the worker's peak-memory estimate for the chosen model, batch and length against the free
 * memory. When it does not fit, the user can take the batch that fits, probe the largest batch on the GPU, start
 * anyway or stop (false: the prepared runs are cancelled).
 */
async function fitsGpuMemory(python: string, plan: FinetuneGridPlan, store: RunStore): Promise<boolean> {
  let est: MemoryEstimate;
  try {
    est = await estimateRunMemory(python, plan.runs[0].runDir);
  } catch (e) {
    void vscode.window.showWarningMessage(`The GPU memory estimate failed (${(e as Error).message}); starting anyway.`);
    return true;
  }
  if (est.fits !== false) return true;
  const described = `Estimated peak GPU memory ${Math.round(est.peakMiB)} MiB at batch ${est.batchPerProcess} per GPU; ${est.freeMiB} MiB are free.`;
  let suggested = est.suggestedBatch;
  for (;;) {
    const useIt = suggested ? `Use batch ${suggested} per GPU` : undefined;
    const choice = await vscode.window.showWarningMessage(`${described}${suggested ? ` Batch ${suggested} fits by the estimate.` : ''}`,
      { modal: true }, ...(useIt ? [useIt] : []), 'Probe largest batch', 'Start anyway');
    if (!choice) return false;
    if (choice === 'Start anyway') return true;
    if (choice === useIt && suggested) {
      const global = suggested * est.processes;
      for (const r of plan.runs) {
        await store.update(r.id, rec => ({ parameters: { ...rec.parameters, finetune: { ...(rec.parameters.finetune as object), batchSize: global } } }));
      }
      return true;
    }
    let probed: MemoryEstimate | undefined;
    try {
      probed = await withCancellableProgress('Probing the largest batch that fits on the GPU', () => estimateRunMemory(python, plan.runs[0].runDir, { probe: true }));
    } catch (e) {
      void vscode.window.showWarningMessage(`The probe failed: ${(e as Error).message}`);
    }
    suggested = probed?.probe?.largestBatch ?? suggested;
  }
}

/** The quick-pick flow, from the label column to the batch size. */
/** Says, before the runs train, which protocol elements they change from the published ones (run.json protocol). */
async function announceDeviations(store: RunStore, plan: FinetuneGridPlan): Promise<void> {
  const runs = await Promise.all(plan.runs.map(r => store.get(r.id).catch(() => null)));
  const deviations = Array.from(new Set(runs.flatMap(r => r?.protocol?.deviations ?? [])));
  if (deviations.length) {
    void vscode.window.showInformationMessage(`These runs deviate from the published protocol in: ${deviations.join(', ')} (scwb protocol RUN lists every element; docs/protocols.md).`);
  }
}

export async function askForFinetune(
  dataset: string, summary: DatasetSummary, deps: Pick<FinetuneDeps, 'checkpoints'>, envCheck: Promise<WorkerEnvCheck>,
  ui: FinetunePrompts = windowPrompts,
): Promise<FinetuneCommandOptions | undefined> {
  const title = `Run Fine-tune on ${path.basename(dataset)}`;
  const { candidates } = orderColumnsForLabels(summary.obs);
  if (!candidates.length) {
    void vscode.window.showWarningMessage(`${path.basename(dataset)} has no categorical obs column to use as labels.`);
    return undefined;
  }
  const label = await ui.pick(candidates.map(c => {
    const col = summary.obs.find(o => o.name === c);
    return { label: c, description: col?.nCategories !== undefined ? `${col.nCategories} classes` : col?.kind };
  }), { title, placeHolder: 'Label column (cell types)' });
  if (!label) return undefined;

  const splitChoice = await ui.pick([
    { label: 'Stratified 80/20, seed 2022', id: 'default', detail: 'the LR baseline\'s split: StratifiedShuffleSplit(test_size=0.2, random_state=2022)' },
    { label: 'Reference / query files…', id: 'refquery', detail: 'train on this file, test on another (the scGPT datasets)' },
  ], { title, placeHolder: 'Split' });
  if (!splitChoice) return undefined;
  let queryPath: string | undefined;
  if (splitChoice.id === 'refquery') {
    const q = await ui.open({ title: 'Query (test) dataset', filters: { AnnData: ['h5ad'] }, canSelectMany: false, defaultUri: vscode.Uri.file(path.dirname(dataset)) });
    if (!q) return undefined;
    queryPath = q[0].fsPath;
  }

  const modelChoice = await ui.pick([
    { label: 'scBERT', id: 'scbert' as const, detail: 'Performer, gene2vec; 10 epochs, best validation accuracy (published protocol)' },
    { label: 'scGPT', id: 'scgpt' as const, detail: 'transformer with <cls>; 20 epochs, best validation loss (published protocol)' },
  ], { title, placeHolder: 'Model' });
  if (!modelChoice) return undefined;
  const model = modelChoice.id;

  const all = await deps.checkpoints();
  const matching = all.filter(c => (model === 'scgpt' ? c.kind === 'scgpt-folder' : c.kind === 'scbert-pth' || (c.kind === 'torch' && c.path.endsWith('.pth'))));
  const ckptChoice = await ui.pick<vscode.QuickPickItem & { value: string | null | 'browse' }>([
    ...matching.map(c => ({ label: pickLabel(c), description: vscode.workspace.asRelativePath(c.path), value: c.path })),
    { label: 'No pre-training (random initialisation)', value: null },
    { label: 'Browse…', value: 'browse' },
  ], { title, placeHolder: `${modelChoice.label} checkpoint` });
  if (!ckptChoice) return undefined;
  let checkpoint = ckptChoice.value;
  if (checkpoint === 'browse') {
    const picked = await ui.open(model === 'scgpt'
      ? { title: 'scGPT model folder (best_model.pt, vocab.json, args.json)', canSelectFiles: false, canSelectFolders: true }
      : { title: 'scBERT checkpoint', canSelectFiles: true, filters: { 'PyTorch checkpoint': ['pth', 'pt'] } });
    if (!picked) return undefined;
    checkpoint = picked[0].fsPath;
  }

  const ablations: { label: string; id: FinetuneAblation; detail?: string }[] = checkpoint === null
    ? [{ label: 'No pre-training', id: 'no-pretraining', detail: 'random initialisation, same freezing as published' },
      ...(model === 'scgpt' ? [{ label: 'No pre-training, frozen embeddings', id: 'frozen-embeddings' as const }] : [])]
    : [{ label: 'None (the published fine-tuning)', id: 'none' },
      ...(model === 'scbert' ? [{ label: 'No gene2vec', id: 'no-gene2vec' as const, detail: 'without the gene2vec position embedding' }] : []),
      { label: 'Frozen embeddings', id: 'frozen-embeddings' },
      { label: 'No pre-training', id: 'no-pretraining', detail: 'random initialisation with this checkpoint\'s shapes' }];
  const ablation = ablations.length === 1 ? ablations[0] : await ui.pick(ablations, { title, placeHolder: 'Ablation' });
  if (!ablation) return undefined;

  const drawn = await askFractions(ui, title, { datasetPath: dataset, queryPath, labelColumn: label.label, model, seeds: [...FINETUNE_DEFAULTS[model].seeds] });
  if (!drawn) return undefined;
  const { fractions, validationSplit } = drawn;
  const seeds = await askList(ui, title, `Seeds (as published for ${modelChoice.label})`, FINETUNE_DEFAULTS[model].seeds.join(','), v => Number.isInteger(v) && v >= 0);
  if (!seeds) return undefined;

  const env = await envCheck;
  const gpus = env.report?.cuda.available ? env.report.cuda.devices : [];
  const deviceItems: (vscode.QuickPickItem & { device: 'auto' | 'cpu' | 'cuda'; nproc: number })[] = [
    ...gpus.map((_, k) => ({
      label: k === 0 ? '1 GPU' : `${k + 1} GPUs (data-parallel)`, device: 'cuda' as const, nproc: k + 1,
      description: gpus.slice(0, k + 1).map(g => `${g.name}${g.freeMiB !== null ? `, ${g.freeMiB} MiB free` : ''}`).join('; '),
    })),
    { label: 'CPU', device: 'cpu', nproc: 1, description: gpus.length ? undefined : 'no CUDA device found: CPU only (slow for full-size models)' },
  ];
  const device = deviceItems.length === 1 ? deviceItems[0] : await ui.pick(deviceItems, { title, placeHolder: 'Where to train' });
  if (!device) return undefined;
  const batch = await ui.input({
    title, prompt: device.nproc > 1 ? 'Batch size per GPU' : 'Batch size', value: String(FINETUNE_DEFAULTS.batchSize),
    validateInput: v => (/^\d+$/.test(v.trim()) && Number(v) > 0 ? undefined : 'a positive integer'),
  });
  if (batch === undefined) return undefined;
  // The published number of epochs by default; fewer make a quick trial on CPU (the demo workspace suggests 2).
  const published = model === 'scgpt' && ablation.id !== 'none' ? FINETUNE_DEFAULTS.scgpt.ablationEpochs : FINETUNE_DEFAULTS[model].epochs;
  const epochs = await askNumber(ui, title, `Epochs (published: ${published})`, String(published), v => Number.isInteger(v) && v > 0);
  if (epochs === undefined) return undefined;
  return {
    datasetPath: dataset, queryPath, labelColumn: label.label, model, checkpoint, ablation: ablation.id, fractions, seeds,
    device: device.device, nproc: device.nproc, batchSize: Number(batch), epochs, ...(validationSplit ? { validationSplit } : {}),
  };
}

/**
 * The few-shot fractions, checked right away against the dataset's classes with the published seeds: a fraction
 * that leaves a class too small for the split (scGPT: the stratified 10% validation hold-out) is named with the
 * classes and the fractions that work, and the user takes those, types others or (scGPT) keeps them with the
 * published non-stratified validation split, which needs no class size.
 */
async function askFractions(ui: FinetunePrompts, title: string, check: Omit<FinetuneCheckInput, 'checkpoint' | 'fractions'>): Promise<{ fractions: number[]; validationSplit?: ValidationSplit } | undefined> {
  let value = '1';
  for (;;) {
    const fractions = await askList(ui, title, 'Few-shot fractions of the training split (comma-separated; 1 = all)', value, v => v > 0 && v <= 1);
    if (!fractions) return undefined;
    let problems: PreflightProblem[];
    try {
      problems = await runTask<PreflightProblem[]>('preflight/tasks', 'fewShotChecks', { ...check, fractions });
    } catch {
      return { fractions }; // the launch's own check reports a file it cannot read
    }
    if (!problems.length) return { fractions };
    const bad = new Set(problems.map(p => p.fraction));
    const working = fractions.filter(f => !bad.has(f));
    // the published scGPT script's validation split is not stratified: offered when it lets every fraction be drawn
    const random = check.model === 'scgpt' && (await runTask<PreflightProblem[]>('preflight/tasks', 'fewShotChecks', { ...check, fractions, validationSplit: 'random' }).catch(() => [null])).length === 0;
    const items: (vscode.QuickPickItem & { use?: number[]; validationSplit?: ValidationSplit })[] = [
      ...(working.length ? [{ label: `Continue with fraction${working.length === 1 ? '' : 's'} ${working.join(', ')}`, detail: 'leave out the fractions that cannot be drawn', use: working }] : []),
      ...(random ? [{ label: `Keep fractions ${fractions.join(', ')} with the published validation split`, detail: 'hold out 10% without stratifying, as the published scGPT script does (recorded in run.json)', use: fractions, validationSplit: 'random' as const }] : []),
      { label: 'Enter other fractions…', detail: problems.map(p => p.fix).join('; ') },
    ];
    const choice = await ui.pick(items, { title, placeHolder: problems.map(p => p.message).join(' · '), ignoreFocusOut: true });
    if (!choice) return undefined;
    if (choice.use) return { fractions: choice.use, ...(choice.validationSplit ? { validationSplit: choice.validationSplit } : {}) };
    value = fractions.filter(f => !bad.has(f)).join(',') || '1';
  }
}

/**
 * Resume Fine-tune (Runs view, on a cancelled, failed or interrupted fine-tune or pre-training run): the worker continues the run
 * from its last checkpoint (checkpoints/last.pt; from the start when there is none) in a new task terminal.
 */
export async function resumeFinetuneCommand(
  target: { kind: 'run'; run: RunRecord } | { runId: string } | undefined,
  deps: Pick<FinetuneDeps, 'runs' | 'tasks'>,
): Promise<FinetuneLaunch | undefined> {
  if (!requireTrust('resume fine-tune runs')) return undefined;
  const store = deps.runs.store;
  if (!store || !target) return undefined;
  const id = 'runId' in target ? target.runId : target.run.id;
  const run = await store.get(id);
  if (run.kind !== 'finetune' && run.kind !== 'pretrain') {
    void vscode.window.showWarningMessage(`'${run.name || run.id}' is a ${run.kind} run; only fine-tune and pre-training runs resume from a checkpoint.`);
    return undefined;
  }
  if (!['cancelled', 'failed', 'interrupted'].includes(run.status)) {
    void vscode.window.showWarningMessage(`'${run.name || run.id}' is ${run.status}; only cancelled, failed or interrupted runs can be resumed.`);
    return undefined;
  }
  const runDir = store.runDir(id);
  if (run.slurm) {
    // a Slurm run resumes as a new job with the current scwb.slurm.* settings
    const python = (await chooseInterpreter(vscode.workspace.workspaceFolders?.[0]?.uri)).interpreter || 'python3';
    const s = slurmSettings();
    try {
      const rec = await submitRunToSlurm(store, id, { python: s.python ?? python, options: s.options, client: s.client, resume: true });
      deps.runs.refresh();
      void vscode.window.showInformationMessage(`Resuming ${run.name || run.id} as Slurm job ${rec.slurm?.jobId}.`);
      return { experiment: run.experiment, taskName: `Slurm job ${rec.slurm?.jobId}`, runIds: [id], runDirs: [runDir], storeRoot: store.root, slurmJobs: [rec.slurm!.jobId] };
    } catch (e) {
      void vscode.window.showErrorMessage(`Resume on Slurm failed: ${(e as Error).message}`);
      return undefined;
    }
  }
  const taskName = `Resume ${run.name || run.id}`;
  await deps.tasks.execute({
    type: FINETUNE_TASK_TYPE, runDirs: [runDir], resume: true, ...(run.kind === 'pretrain' ? { command: 'pretrain' as const } : {}),
  }, vscode.workspace.workspaceFolders?.[0], taskName);
  return { experiment: run.experiment, taskName, runIds: [id], runDirs: [runDir], storeRoot: store.root };
}
