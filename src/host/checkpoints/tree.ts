/** The Checkpoints view: model files in the workspace (scBERT .pth, scGPT folders, other PyTorch files, ONNX). */
import * as path from 'path';
import * as vscode from 'vscode';
import { classifyCheckpoint, type CheckpointInfo } from '../../core/checkpoints';
import { formatBytes } from '../../core/format';
import { Disposable } from '../disposable';

const PATTERN = '**/*.{pth,pt,ckpt,onnx}';
/** files whose presence decides what a model file is (an scGPT folder needs vocab.json beside best_model.pt) */
const COMPANIONS = '**/{vocab.json,args.json}';
const EXCLUDE = '**/{node_modules,.git,.tools,.demo}/**';
const ICONS: Record<CheckpointInfo['kind'], string> = { 'scgpt-folder': 'folder-library', 'scbert-pth': 'circuit-board', torch: 'file-binary', onnx: 'symbol-structure' };
const DEBOUNCE_MS = 200;

export class CheckpointsTree extends Disposable implements vscode.TreeDataProvider<CheckpointInfo> {
  private readonly changed = this.track(new vscode.EventEmitter<undefined>());
  readonly onDidChangeTreeData = this.changed.event;
  private debounce: NodeJS.Timeout | undefined;

  constructor() {
    super();
    const files = this.track(vscode.workspace.createFileSystemWatcher(PATTERN));
    const companions = this.track(vscode.workspace.createFileSystemWatcher(COMPANIONS));
    for (const w of [files, companions]) {
      for (const ev of [w.onDidCreate, w.onDidDelete, w.onDidChange]) this.track(ev(() => this.scheduleRefresh()));
    }
    // Deleting or renaming a folder reports the folder only, never the model files inside it, so no glob on file
    // names sees it: any deletion in the workspace re-lists (debounced; deletions are rare).
    const anything = this.track(vscode.workspace.createFileSystemWatcher('**/*', true, true, false));
    this.track(anything.onDidDelete(() => this.scheduleRefresh()));
    this.track({ dispose: () => { if (this.debounce) clearTimeout(this.debounce); } });
  }

  /** Lists the workspace's model files again (the view's refresh button, scwb.checkpoints.refresh). */
  refresh(): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = undefined;
    this.changed.fire(undefined);
  }

  private scheduleRefresh(): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.refresh(), DEBOUNCE_MS);
  }

  getTreeItem(c: CheckpointInfo): vscode.TreeItem {
    const item = new vscode.TreeItem(c.label, vscode.TreeItemCollapsibleState.None);
    item.description = `${formatBytes(c.size)} · ${path.dirname(vscode.workspace.asRelativePath(c.path))}`;
    item.tooltip = c.path;
    item.iconPath = new vscode.ThemeIcon(ICONS[c.kind]);
    item.resourceUri = vscode.Uri.file(c.path);
    item.contextValue = `scwb.checkpoint.${c.kind}`;
    return item;
  }

  async getChildren(): Promise<CheckpointInfo[]> {
    if (!vscode.workspace.workspaceFolders?.length) return [];
    const files = await vscode.workspace.findFiles(PATTERN, EXCLUDE, 2000);
    const seen = new Set<string>();
    const out: CheckpointInfo[] = [];
    for (const f of files) {
      const c = classifyCheckpoint(f.fsPath);
      if (c && !seen.has(c.path)) { seen.add(c.path); out.push(c); }
    }
    return out.sort((a, b) => a.path.localeCompare(b.path));
  }
}
