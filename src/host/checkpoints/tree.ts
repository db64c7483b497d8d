/** The Checkpoints view: model files in the workspace (scBERT .pth, scGPT folders, other PyTorch files, ONNX). */
import * as path from 'path';
import * as vscode from 'vscode';
import { classifyCheckpoint, type CheckpointInfo } from '../../core/checkpoints';
import { formatBytes } from '../../core/format';
import { Disposable } from '../disposable';

const PATTERN = '**/*.{pth,pt,ckpt,onnx}';
const EXCLUDE = '**/{node_modules,.git,.tools,.demo}/**';
const ICONS: Record<CheckpointInfo['kind'], string> = { 'scgpt-folder': 'folder-library', 'scbert-pth': 'circuit-board', torch: 'file-binary', onnx: 'symbol-structure' };

export class CheckpointsTree extends Disposable implements vscode.TreeDataProvider<CheckpointInfo> {
  private readonly changed = this.track(new vscode.EventEmitter<undefined>());
  readonly onDidChangeTreeData = this.changed.event;

  constructor() {
    super();
    const watcher = this.track(vscode.workspace.createFileSystemWatcher(PATTERN));
    for (const ev of [watcher.onDidCreate, watcher.onDidDelete, watcher.onDidChange]) this.track(ev(() => this.changed.fire(undefined)));
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
