/** Extension entry: the composition root. Everything created here is owned by the context's subscriptions. */
const moduleLoadStart = performance.now();
import * as vscode from 'vscode';
import { DatasetView } from './host/datasets/dataset-view';
import { SummaryCache } from './host/datasets/summaries';
import { DatasetsTree, type DatasetTreeNode } from './host/datasets/tree';
import { CheckpointsTree } from './host/checkpoints/tree';
import { checkDatasetCommand, CompatPanel, type CheckOptions, type CheckTarget } from './host/checkpoints/compat';
import { annotateCommand } from './host/commands/annotate';
import { runBaselineCommand } from './host/commands/baseline';
import { resumeFinetuneCommand, runFinetuneCommand } from './host/commands/finetune';
import { pretrainEncoderCommand, probeEncoderCommand } from './host/commands/benchmark';
import { registerSlurm } from './host/slurm/slurm';
import { preprocessCommand } from './host/commands/preprocess';
import { AboutPanel } from './host/panels/about';
import { EmbeddingPanel, registerEmbeddingCommands } from './host/panels/embedding';
import { ResultsPanel } from './host/panels/results';
import { RunPanel } from './host/panels/run';
import { registerRunCommands } from './host/runs/commands';
import { RunsTree } from './host/runs/tree';
import { FinetuneTasks } from './host/tasks';
import { finalizeFinetuneRuns } from './core/finetune/finalize';
// --- presets, grid and queue (issue 13) ---
import { GridPanel } from './host/panels/grid';
import { QueueService } from './host/queue/service';
import { registerWalkthrough } from './host/walkthrough';

/** What the extension returns from activate(): used by the integration tests. */
export interface ScwbApi {
  /** time from loading this module to the end of activate(), ms */
  readonly activationMs: number;
  readonly datasets: DatasetsTree;
  readonly checkpoints: CheckpointsTree;
  readonly runs: RunsTree;
  /** the `scwb-finetune` task type: launches and finalization of fine-tune runs */
  readonly finetune: FinetuneTasks;
  readonly panels: {
    about(): AboutPanel | undefined; datasetViews(): DatasetView[]; results(): ResultsPanel | undefined; run(runId: string): RunPanel | undefined;
    compat(): CompatPanel | undefined;
    /** the embedding plot of a run (issue 12) */
    embedding(runId: string): EmbeddingPanel | undefined;
  };
  /** the run queue (undefined without a workspace folder) and the grid editor (issue 13) */
  readonly queue: QueueService | undefined;
  grid(): GridPanel | undefined;
}

export function activate(context: vscode.ExtensionContext): ScwbApi {
  const summaries = new SummaryCache();
  const datasets = new DatasetsTree(summaries);
  const datasetsView = vscode.window.createTreeView<DatasetTreeNode>('scwb.datasets', { treeDataProvider: datasets, showCollapseAll: true });
  const runs = RunsTree.forWorkspace();
  const checkpoints = new CheckpointsTree(runs.store);
  context.subscriptions.push(checkpoints, vscode.window.registerTreeDataProvider('scwb.checkpoints', checkpoints));
  const showResults = (experiment?: string) => ResultsPanel.show(context, runs, experiment);
  context.subscriptions.push(runs, vscode.window.createTreeView('scwb.runs', { treeDataProvider: runs, showCollapseAll: true }), ...registerRunCommands(runs, runId => RunPanel.show(context, runs, runId)));
  const finetune = new FinetuneTasks(runs, showResults);
  context.subscriptions.push(finetune);
  // Slurm run target (issue 13): follows submitted jobs, Cancel Slurm Job
  context.subscriptions.push(...registerSlurm(runs));
  // Fine-tune runs that finished while VS Code was closed get their metrics now (a trusted workspace only: it writes).
  if (vscode.workspace.isTrusted && runs.store) {
    const store = runs.store;
    void finalizeFinetuneRuns(store).then(() => runs.refresh(), () => undefined);
  }
  context.subscriptions.push(
    datasets,
    datasetsView,
    DatasetView.register(context, summaries),
    vscode.commands.registerCommand('scwb.showAbout', () => AboutPanel.show(context)),
    vscode.commands.registerCommand('scwb.datasets.refresh', () => datasets.refresh()),
    vscode.commands.registerCommand('scwb.checkpoints.refresh', () => checkpoints.refresh()),
    vscode.commands.registerCommand('scwb.dataset.open', (target?: vscode.Uri | { uri: vscode.Uri }) => {
      const uri = target instanceof vscode.Uri ? target : target?.uri ?? activeDataset();
      if (uri) return vscode.commands.executeCommand('vscode.openWith', uri, DatasetView.viewType);
      // from the palette or the walkthrough: a pick over the workspace's datasets
      return pickDataset(datasets).then(file => file ? vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(file), DatasetView.viewType) : undefined);
    }),
    vscode.commands.registerCommand('scwb.preprocess', async (target?: Parameters<typeof preprocessCommand>[0]) => {
      const outcome = await preprocessCommand(target, f => datasets.summaryOf(f), () => pickDataset(datasets));
      if (outcome) datasets.refresh();
      return outcome;
    }),
    vscode.commands.registerCommand('scwb.runBaseline', (target?: Parameters<typeof runBaselineCommand>[0]) =>
      runBaselineCommand(target, { summaryOf: f => datasets.summaryOf(f), pickDataset: () => pickDataset(datasets), runs, showResults })),
    vscode.commands.registerCommand('scwb.runFinetune', (target?: Parameters<typeof runFinetuneCommand>[0]) =>
      runFinetuneCommand(target, {
        summaryOf: f => datasets.summaryOf(f), pickDataset: () => pickDataset(datasets), checkpoints: () => checkpoints.all(),
        runs, tasks: finetune,
      })),
    vscode.commands.registerCommand('scwb.annotate', (target?: Parameters<typeof annotateCommand>[0]) =>
      annotateCommand(target, {
        summaryOf: f => datasets.summaryOf(f), pickDataset: () => pickDataset(datasets), checkpoints: () => checkpoints.all(), runs,
      })),
    // the AAAI 2025 benchmark (issue 12): pre-training and probing encoders
    vscode.commands.registerCommand('scwb.pretrainEncoder', (target?: Parameters<typeof pretrainEncoderCommand>[0]) =>
      pretrainEncoderCommand(target, {
        summaryOf: f => datasets.summaryOf(f), pickDataset: () => pickDataset(datasets), checkpoints: () => checkpoints.all(),
        runs, tasks: finetune,
      })),
    vscode.commands.registerCommand('scwb.probeEncoder', (target?: Parameters<typeof probeEncoderCommand>[0]) =>
      probeEncoderCommand(target, {
        summaryOf: f => datasets.summaryOf(f), pickDataset: () => pickDataset(datasets), checkpoints: () => checkpoints.all(),
        runs, tasks: finetune,
      })),
    vscode.commands.registerCommand('scwb.runs.resumeFinetune', (target?: Parameters<typeof resumeFinetuneCommand>[0]) =>
      resumeFinetuneCommand(target, { runs, tasks: finetune })),
    vscode.commands.registerCommand('scwb.results.open', (arg?: { experiment?: string } | { kind: 'experiment'; group: { name: string } }) =>
      showResults(arg && 'group' in arg ? arg.group.name : arg && 'experiment' in arg ? arg.experiment : undefined)),
    // Check Dataset Against Model… (issue 11)
    vscode.commands.registerCommand('scwb.checkpoints.checkDataset', (target?: CheckTarget, options?: CheckOptions) =>
      checkDatasetCommand(context, { checkpoints, pickDataset: () => pickDataset(datasets) }, target, options)),
    vscode.window.registerWebviewPanelSerializer(ResultsPanel.viewType, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        const experiment = (state as { experiment?: unknown } | undefined)?.experiment;
        ResultsPanel.adopt(context, runs, panel, typeof experiment === 'string' ? experiment : undefined);
      },
    }),
    vscode.window.registerWebviewPanelSerializer(RunPanel.viewType, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        const runId = (state as { runId?: unknown } | undefined)?.runId;
        if (typeof runId === 'string' && runs.store) RunPanel.adopt(context, runs, panel, runId);
        else panel.dispose();
      },
    }),
    vscode.window.registerWebviewPanelSerializer(CompatPanel.viewType, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        const s = state as { model?: unknown; dataset?: unknown; labelColumn?: unknown; geneColumn?: unknown } | undefined;
        const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
        const restored = CompatPanel.adopt(context, panel);
        if (typeof s?.model === 'string' && typeof s.dataset === 'string') void restored.check({ model: s.model, dataset: s.dataset, labelColumn: text(s.labelColumn), geneColumn: text(s.geneColumn) });
        else panel.dispose();
      },
    }),
    vscode.window.registerWebviewPanelSerializer(AboutPanel.viewType, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel) {
        AboutPanel.adopt(context, panel);
      },
    }),
  );
  // Embedding plot (issue 12): scwb.runs.showEmbedding and its panel serializer.
  context.subscriptions.push(...registerEmbeddingCommands(context, runs));
  // --- presets, grid and queue (issue 13) ---
  const queue = runs.store ? new QueueService(runs.store, runs, finetune) : undefined;
  if (queue) context.subscriptions.push(queue);
  context.subscriptions.push(vscode.commands.registerCommand('scwb.experiments.new', (presetId?: string | null) => {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage('This workspace is not trusted: scWorkbench runs nothing here.');
      return undefined;
    }
    return GridPanel.show(context, queue, presetId, { summaryOf: f => datasets.summaryOf(f), store: runs.store });
  }));
  context.subscriptions.push(...registerWalkthrough(context));
  const activationMs = performance.now() - moduleLoadStart;
  return {
    activationMs,
    datasets,
    checkpoints,
    runs,
    finetune,
    panels: { about: () => AboutPanel.instance, datasetViews: () => DatasetView.views(), results: () => ResultsPanel.instance, run: runId => RunPanel.of(runId),
      compat: () => CompatPanel.instance, embedding: runId => EmbeddingPanel.of(runId) },
    queue,
    grid: () => GridPanel.instance,
  };
}

/** The .h5ad file of the active text editor, if it shows one. */
function activeDataset(): vscode.Uri | undefined {
  const uri = vscode.window.activeTextEditor?.document.uri;
  return uri && uri.path.endsWith('.h5ad') ? uri : undefined;
}

/** Quick pick over the datasets of the Datasets view, for commands run from the palette. */
async function pickDataset(datasets: DatasetsTree): Promise<string | undefined> {
  const items = (await datasets.list()).map(d => ({ label: vscode.workspace.asRelativePath(d.uri), file: d.uri.fsPath }));
  if (!items.length) {
    void vscode.window.showInformationMessage('No .h5ad datasets in this workspace.');
    return undefined;
  }
  // stays open when the focus moves (a walkthrough step that started this flow takes it)
  return (await vscode.window.showQuickPick(items, { title: 'Dataset', ignoreFocusOut: true }))?.file;
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
