/** Commands on Runs view nodes: rename, note, delete (with confirmation), reveal the folder, open the log or the run panel. */
import * as vscode from 'vscode';
import type { RunRecord } from '../../core/runs/schema';
import { datasetName } from '../../core/runs/store';
import type { RunsTree, RunsTreeNode } from './tree';

type RunNode = Extract<RunsTreeNode, { kind: 'run' }>;

/** A run node of the view, or `{runId}` from scripts and tests. */
export type RunTarget = RunsTreeNode | { runId: string };

export function registerRunCommands(runs: RunsTree, openPanel: (runId: string) => unknown): vscode.Disposable[] {
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
    vscode.commands.registerCommand('scwb.runs.openPanel', async (target?: RunTarget) => {
      if (!store()) {
        void vscode.window.showWarningMessage('Open a folder first: runs are stored in its .scwb/runs folder.');
        return undefined;
      }
      const id = target && 'runId' in target ? target.runId : asRun(target as RunsTreeNode | undefined)?.run.id ?? await pickRun(await runs.runs());
      return id ? openPanel(id) : undefined;
    }),
  ];
}

/** Quick pick over the runs, newest first, fine-tune runs before baselines (palette use). */
async function pickRun(all: readonly RunRecord[]): Promise<string | undefined> {
  if (!all.length) {
    void vscode.window.showInformationMessage('No runs yet: run a baseline or a fine-tune first.');
    return undefined;
  }
  const ordered = [...all].reverse().sort((a, b) => Number(b.kind === 'finetune') - Number(a.kind === 'finetune'));
  const picked = await vscode.window.showQuickPick(ordered.map(r => ({
    label: r.name || `${r.model.label} · fraction ${r.fraction} · seed ${r.seed}`,
    description: `${r.status} · ${r.experiment}`, detail: `${datasetName(r)} · ${r.id}`, id: r.id,
  })), { title: 'Open Run Panel', placeHolder: 'Run', matchOnDescription: true, matchOnDetail: true });
  return picked?.id;
}
