/** Commands on Runs view nodes: rename, note, delete (with confirmation), reveal the folder, open the log. */
import * as vscode from 'vscode';
import type { RunsTree, RunsTreeNode } from './tree';

type RunNode = Extract<RunsTreeNode, { kind: 'run' }>;

export function registerRunCommands(runs: RunsTree): vscode.Disposable[] {
  const store = () => runs.store;
  const asRun = (n: RunsTreeNode | undefined): RunNode | undefined => (n?.kind === 'run' ? n : undefined);
  return [
    vscode.commands.registerCommand('scwb.runs.refresh', () => runs.refresh()),
    vscode.commands.registerCommand('scwb.runs.rename', async (node?: RunsTreeNode, newName?: string) => {
      const run = asRun(node)?.run;
      if (!run || !store()) return;
      const name = newName ?? await vscode.window.showInputBox({ title: 'Rename run', value: run.name, prompt: 'Empty shows the model, fraction and seed' });
      if (name === undefined) return;
      await store()!.rename(run.id, name.trim());
      runs.refresh();
    }),
    vscode.commands.registerCommand('scwb.runs.note', async (node?: RunsTreeNode, newNote?: string) => {
      const run = asRun(node)?.run;
      if (!run || !store()) return;
      const note = newNote ?? await vscode.window.showInputBox({ title: 'Note on this run', value: run.note });
      if (note === undefined) return;
      await store()!.setNote(run.id, note);
      runs.refresh();
    }),
    vscode.commands.registerCommand('scwb.runs.delete', async (node?: RunsTreeNode, confirmed?: boolean) => {
      const run = asRun(node)?.run;
      if (!run || !store()) return;
      if (run.status === 'running' || run.status === 'queued') {
        void vscode.window.showWarningMessage('This run is still going: cancel it first.');
        return;
      }
      const ok = confirmed === true || (await vscode.window.showWarningMessage(
        `Delete run ${run.name || run.id}? Its folder (log, events, predictions, metrics) is removed.`, { modal: true }, 'Delete')) === 'Delete';
      if (!ok) return;
      await store()!.delete(run.id);
      runs.refresh();
    }),
    vscode.commands.registerCommand('scwb.runs.reveal', async (node?: RunsTreeNode) => {
      const run = asRun(node)?.run;
      if (!run || !store()) return;
      await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(store()!.file(run.id, 'run.json')));
    }),
    vscode.commands.registerCommand('scwb.runs.openLog', async (node?: RunsTreeNode) => {
      const run = asRun(node)?.run;
      if (!run || !store()) return;
      await vscode.window.showTextDocument(vscode.Uri.file(store()!.file(run.id, 'run.log')), { preview: true, preserveFocus: true });
    }),
  ];
}
