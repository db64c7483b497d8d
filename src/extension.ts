/** Extension entry: the composition root. Everything created here is owned by the context's subscriptions. */
const moduleLoadStart = performance.now();
import * as vscode from 'vscode';
import { AboutPanel } from './host/panels/about';

/** What the extension returns from activate(): used by the integration tests. */
export interface ScwbApi {
  /** time from loading this module to the end of activate(), ms */
  readonly activationMs: number;
  readonly panels: { about(): AboutPanel | undefined };
}

export function activate(context: vscode.ExtensionContext): ScwbApi {
  // Views without content yet show their welcome text (package.json viewsWelcome).
  for (const view of ['scwb.datasets', 'scwb.checkpoints', 'scwb.runs']) {
    context.subscriptions.push(vscode.window.registerTreeDataProvider(view, { getTreeItem: (e: vscode.TreeItem) => e, getChildren: () => [] }));
  }
  context.subscriptions.push(
    vscode.commands.registerCommand('scwb.showAbout', () => AboutPanel.show(context)),
    vscode.window.registerWebviewPanelSerializer(AboutPanel.viewType, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel) {
        AboutPanel.adopt(context, panel);
      },
    }),
  );
  const activationMs = performance.now() - moduleLoadStart;
  return {
    activationMs,
    panels: { about: () => AboutPanel.instance },
  };
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
