/** Extension entry: the composition root. Everything created here is owned by the context's subscriptions. */
const moduleLoadStart = performance.now();
import * as vscode from 'vscode';
import { DatasetView } from './host/datasets/dataset-view';
import { SummaryCache } from './host/datasets/summaries';
import { DatasetsTree, type DatasetTreeNode } from './host/datasets/tree';
import { CheckpointsTree } from './host/checkpoints/tree';
import { preprocessCommand } from './host/commands/preprocess';
import { AboutPanel } from './host/panels/about';

/** What the extension returns from activate(): used by the integration tests. */
export interface ScwbApi {
  /** time from loading this module to the end of activate(), ms */
  readonly activationMs: number;
  readonly datasets: DatasetsTree;
  readonly checkpoints: CheckpointsTree;
  readonly panels: { about(): AboutPanel | undefined; datasetViews(): DatasetView[] };
}

export function activate(context: vscode.ExtensionContext): ScwbApi {
  const summaries = new SummaryCache();
  const datasets = new DatasetsTree(summaries);
  const datasetsView = vscode.window.createTreeView<DatasetTreeNode>('scwb.datasets', { treeDataProvider: datasets, showCollapseAll: true });
  // Views without content yet show their welcome text (package.json viewsWelcome).
  const checkpoints = new CheckpointsTree();
  context.subscriptions.push(checkpoints, vscode.window.registerTreeDataProvider('scwb.checkpoints', checkpoints));
  for (const view of ['scwb.runs']) {
    context.subscriptions.push(vscode.window.registerTreeDataProvider(view, { getTreeItem: (e: vscode.TreeItem) => e, getChildren: () => [] }));
  }
  context.subscriptions.push(
    datasets,
    datasetsView,
    DatasetView.register(context, summaries),
    vscode.commands.registerCommand('scwb.showAbout', () => AboutPanel.show(context)),
    vscode.commands.registerCommand('scwb.datasets.refresh', () => datasets.refresh()),
    vscode.commands.registerCommand('scwb.dataset.open', (target?: vscode.Uri | { uri: vscode.Uri }) => {
      const uri = target instanceof vscode.Uri ? target : target?.uri ?? vscode.window.activeTextEditor?.document.uri;
      if (uri) return vscode.commands.executeCommand('vscode.openWith', uri, DatasetView.viewType);
      return undefined;
    }),
    vscode.commands.registerCommand('scwb.preprocess', async (target?: Parameters<typeof preprocessCommand>[0]) => {
      const outcome = await preprocessCommand(target, f => datasets.summaryOf(f), () => pickDataset(datasets));
      if (outcome) datasets.refresh();
      return outcome;
    }),
    vscode.window.registerWebviewPanelSerializer(AboutPanel.viewType, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel) {
        AboutPanel.adopt(context, panel);
      },
    }),
  );
  const activationMs = performance.now() - moduleLoadStart;
  return {
    activationMs,
    datasets,
    checkpoints,
    panels: { about: () => AboutPanel.instance, datasetViews: () => DatasetView.views() },
  };
}

/** Quick pick over the datasets of the Datasets view, for commands run from the palette. */
async function pickDataset(datasets: DatasetsTree): Promise<string | undefined> {
  const items = (await datasets.list()).map(d => ({ label: vscode.workspace.asRelativePath(d.uri), file: d.uri.fsPath }));
  if (!items.length) {
    void vscode.window.showInformationMessage('No .h5ad datasets in this workspace.');
    return undefined;
  }
  return (await vscode.window.showQuickPick(items, { title: 'Dataset' }))?.file;
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
