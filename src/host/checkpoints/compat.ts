/**
 * "Check Dataset Against Model…" (scwb.checkpoints.checkDataset): from a checkpoint in the Checkpoints view (asks
 * for the dataset), from a dataset (asks for the model), or from the command palette (asks for both). The check
 * runs in a worker thread (src/core/checkpoints/compat.ts); the report opens in a webview panel whose buttons run the
 * offered fix (Preprocess with the recipe preselected) or check again with another gene column, gene list or label
 * column. Only actions of the report the host holds are run: the webview sends an index, never a recipe.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import type { CheckpointInfo } from '../../core/checkpoints';
import { pickLabel } from '../../core/checkpoints/by-run';
import type { CheckDatasetInput, CompatAction, CompatReport } from '../../core/checkpoints/compat';
import { proposedOutput } from '../../core/preprocess/output-name';
import { runTask } from '../../core/workers/run-task';
import type { CheckId, WebviewMessage } from '../../shared/protocol';
import { WebviewApp } from '../panels/webview-app';
import type { CheckpointsTree } from './tree';

export type CheckTarget = CheckpointInfo | vscode.Uri | { uri: vscode.Uri } | undefined;
/** Passed by callers (and tests) that know the other side already. */
export interface CheckOptions { model?: string; dataset?: string; labelColumn?: string; geneColumn?: string; genesFile?: string }

async function pickModel(tree: CheckpointsTree): Promise<string | undefined> {
  const models = await tree.all();
  const items = models.map(m => ({ label: pickLabel(m), description: vscode.workspace.asRelativePath(m.path), file: m.path as string | undefined }));
  items.push({ label: 'Browse…', description: 'a .pth/.pt, model.onnx or an scGPT model folder', file: undefined });
  const pick = await vscode.window.showQuickPick(items, { title: 'Check dataset against model: the model', placeHolder: 'A checkpoint of the Checkpoints view' });
  if (!pick) return undefined;
  if (pick.file) return pick.file;
  const chosen = await vscode.window.showOpenDialog({ title: 'Model file or scGPT folder', canSelectFiles: true, canSelectFolders: true, canSelectMany: false });
  return chosen?.[0]?.fsPath;
}

export interface CheckDeps {
  checkpoints: CheckpointsTree;
  /** the datasets of the Datasets view (the palette's dataset question) */
  pickDataset: () => Promise<string | undefined>;
}

export async function checkDatasetCommand(extension: vscode.ExtensionContext, deps: CheckDeps, target: CheckTarget, options?: CheckOptions): Promise<CompatPanel | undefined> {
  // A tree's context menu passes the selected nodes as the second argument: only an options object counts.
  const opts: CheckOptions = options && !Array.isArray(options) && typeof options === 'object' ? options : {};
  let model = opts.model;
  let dataset = opts.dataset;
  if (target && 'kind' in target && 'path' in target) model = target.path;
  else {
    // a dataset (Datasets view node or explorer .h5ad), or a model file from the explorer
    const uri = target instanceof vscode.Uri ? target : target && 'uri' in target && target.uri instanceof vscode.Uri ? target.uri : undefined;
    if (uri && /\.h5ad$/i.test(uri.fsPath)) dataset = uri.fsPath;
    else if (uri) model = uri.fsPath;
  }
  model ??= await pickModel(deps.checkpoints);
  if (!model) return undefined;
  dataset ??= await deps.pickDataset();
  if (!dataset) return undefined;
  const panel = CompatPanel.show(extension);
  void panel.check({ model, dataset, labelColumn: opts.labelColumn, geneColumn: opts.geneColumn, genesFile: opts.genesFile });
  return panel;
}

/** A free output name beside the dataset for the offered preprocessing: <name>.<recipe>.h5ad, else .2, .3… */
export class CompatPanel extends WebviewApp {
  static readonly viewType = 'scwb.compat';
  private static current: CompatPanel | undefined;
  private input: CheckDatasetInput | undefined;
  private latest: CompatReport | undefined;
  private error: string | undefined;
  private running: AbortController | undefined;
  private progress = { fraction: 0, message: '' };
  private closed = false;

  static show(extension: vscode.ExtensionContext): CompatPanel {
    if (CompatPanel.current) {
      CompatPanel.current.panel.reveal(vscode.ViewColumn.Beside, true);
      return CompatPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(CompatPanel.viewType, 'scWorkbench: Check Dataset', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {});
    return CompatPanel.adopt(extension, panel);
  }

  /** Also used by the serializer after a window reload (which then checks the saved pair again). */
  static adopt(extension: vscode.ExtensionContext, panel: vscode.WebviewPanel): CompatPanel {
    CompatPanel.current?.dispose();
    const p = new CompatPanel(extension, panel);
    CompatPanel.current = p;
    return p;
  }

  static get instance(): CompatPanel | undefined {
    return CompatPanel.current;
  }

  private constructor(extension: vscode.ExtensionContext, panel: vscode.WebviewPanel) {
    super(extension.extensionUri, panel, 'compat');
  }

  /** the last report (undefined while checking or after an error) */
  get report(): CompatReport | undefined {
    return this.latest;
  }

  get lastError(): string | undefined {
    return this.error;
  }

  override dispose(): void {
    this.closed = true;
    this.running?.abort();
    if (CompatPanel.current === this) CompatPanel.current = undefined;
    super.dispose();
  }

  /** Runs the check in a worker thread and shows its report (a newer check cancels an older one). */
  async check(input: CheckDatasetInput): Promise<CompatReport | undefined> {
    this.running?.abort();
    const abort = new AbortController();
    this.running = abort;
    this.input = input;
    this.latest = undefined;
    this.error = undefined;
    this.panel.title = `Check: ${path.basename(input.dataset)} × ${path.basename(input.model)}`;
    this.progress = { fraction: 0, message: 'starting' };
    this.postState();
    try {
      const report = await runTask<CompatReport>('checkpoints/compat', 'checkDatasetTask', input, {
        signal: abort.signal, maxOldGenerationSizeMb: 2048,
        onProgress: (fraction, message) => {
          if (this.running !== abort) return;
          this.progress = { fraction, message: message ?? '' };
          this.postState();
        },
      });
      if (this.running !== abort) return undefined;
      this.latest = report;
    } catch (e) {
      if (this.running !== abort) return undefined;
      this.error = e instanceof Error ? e.message : String(e);
    }
    this.running = undefined;
    this.postState();
    return this.latest;
  }

  private postState(): void {
    const input = this.input;
    if (!input) return;
    if (this.latest) this.post({ type: 'compat/report', report: this.latest, trusted: vscode.workspace.isTrusted });
    else if (this.error !== undefined) this.post({ type: 'compat/error', model: input.model, dataset: input.dataset, message: this.error });
    else this.post({ type: 'compat/checking', model: input.model, dataset: input.dataset, ...this.progress });
  }

  protected override onReady(): void {
    this.postState();
  }

  protected override async onMessage(message: WebviewMessage): Promise<void> {
    if (message.type === 'action' && message.action === 'refresh' && this.input) await this.check(this.input);
    else if (message.type === 'compat/action') await this.runAction(message.check, message.index);
  }

  /** Runs action `index` of check `checkId` of the current report (the panel's buttons). */
  async runAction(checkId: CheckId, index: number): Promise<unknown> {
    const report = this.latest;
    const input = this.input;
    const action: CompatAction | undefined = report?.checks.find(c => c.id === checkId)?.actions[index];
    if (!report || !input || !action) return undefined;
    switch (action.kind) {
      case 'preprocess':
        if (!action.recipe) return vscode.commands.executeCommand('scwb.preprocess', vscode.Uri.file(input.dataset));
      {
        let outcome: { outPath: string } | undefined;
        try {
          outcome = await vscode.commands.executeCommand<{ outPath: string } | undefined>('scwb.preprocess', { dataset: input.dataset, recipe: action.recipe, outPath: proposedOutput(input.dataset, action.recipe.recipe) });
        } catch {
          return undefined; // Preprocess has shown its error, naming the file
        }
        // check the preprocessed file against the same model, so the panel shows whether the fix worked
        if (outcome?.outPath && !this.closed) await this.check({ model: input.model, dataset: outcome.outPath, labelColumn: input.labelColumn, genesFile: input.genesFile });
        return outcome;
      }
      case 'geneColumn':
        return this.check({ ...input, geneColumn: action.column === 'var_names' ? undefined : action.column });
      case 'labelColumn':
        return this.check({ ...input, labelColumn: action.column });
      case 'chooseGenes': {
        const picked = await vscode.window.showOpenDialog({
          title: 'The model\'s gene list (one gene a line) or vocab.json', canSelectMany: false,
          filters: { 'Gene lists': ['txt', 'tsv', 'csv', 'json', 'h5ad'], 'All files': ['*'] }, defaultUri: vscode.Uri.file(path.dirname(input.model)),
        });
        if (!picked?.[0]) return undefined;
        return this.check({ ...input, genesFile: picked[0].fsPath });
      }
    }
  }
}
