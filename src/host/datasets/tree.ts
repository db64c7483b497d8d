/**
 * The Datasets view: every *.h5ad in the workspace and in the folders of `scwb.datasetFolders`, kept current by
 * file watchers. A dataset shows cells x genes; its children show X, obs (label candidates first), var, layers,
 * raw and obsm. A file that cannot be read shows the problem instead of crashing the view.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { formatBytes } from '../../core/format';
import { orderColumnsForLabels } from '../../core/h5ad/labels';
import type { ColumnSummary, DatasetSummary, MatrixInfo } from '../../core/h5ad/types';
import { Disposable } from '../disposable';
import { SummaryCache } from './summaries';

export type DatasetTreeNode = DatasetNode | DetailNode;

export class DatasetNode {
  readonly kind = 'dataset';
  constructor(readonly uri: vscode.Uri) {}
}

class DetailNode {
  readonly kind = 'detail';
  constructor(readonly item: vscode.TreeItem, readonly children: DetailNode[] = []) {}
}

const EXCLUDE = '**/{node_modules,.git,.scwb,.tools,.demo}/**';
const SKIP_DIRS = new Set(['node_modules', '.git', '.scwb']);

export class DatasetsTree extends Disposable implements vscode.TreeDataProvider<DatasetTreeNode> {
  private readonly changed = this.track(new vscode.EventEmitter<DatasetTreeNode | undefined>());
  readonly onDidChangeTreeData = this.changed.event;
  private datasets: DatasetNode[] | undefined;
  private readonly summaries = new Map<string, DatasetSummary | Error>();
  private folderWatchers: vscode.Disposable[] = [];

  constructor(readonly cache: SummaryCache) {
    super();
    const watcher = this.track(vscode.workspace.createFileSystemWatcher('**/*.h5ad'));
    this.watch(watcher);
    this.track(vscode.workspace.onDidChangeConfiguration(e => {
      if (e.affectsConfiguration('scwb.datasetFolders')) this.refresh();
    }));
    this.track(vscode.workspace.onDidChangeWorkspaceFolders(() => this.refresh()));
    this.track({ dispose: () => this.folderWatchers.forEach(d => d.dispose()) });
  }

  refresh(file?: vscode.Uri): void {
    if (file) {
      this.cache.forget(file.fsPath);
      this.summaries.delete(file.fsPath);
    }
    this.datasets = undefined;
    this.changed.fire(undefined);
  }

  /** The datasets found so far (scans when needed). */
  async list(): Promise<DatasetNode[]> {
    if (!this.datasets) this.datasets = (await this.scan()).map(u => new DatasetNode(u));
    return this.datasets;
  }

  getTreeItem(node: DatasetTreeNode): vscode.TreeItem {
    if (node.kind === 'detail') return node.item;
    const file = node.uri.fsPath;
    const item = new vscode.TreeItem(path.basename(file), vscode.TreeItemCollapsibleState.Collapsed);
    item.id = `dataset:${file}`;
    item.resourceUri = node.uri;
    item.contextValue = 'scwb.dataset';
    item.command = { command: 'vscode.openWith', title: 'Open Dataset View', arguments: [node.uri, 'scwb.datasetView'] };
    const rel = vscode.workspace.asRelativePath(node.uri, true);
    const summary = this.summaries.get(file);
    if (summary instanceof Error) {
      item.description = 'cannot be read';
      item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'));
      item.tooltip = `${rel}\n\n${summary.message}`;
    } else if (summary) {
      item.description = `${fmt(summary.nObs)} cells × ${fmt(summary.nVars)} genes`;
      item.iconPath = new vscode.ThemeIcon('database');
      item.tooltip = `${rel}\n${item.description}\n${summary.encoding}, ${formatBytes(summary.fileSize)}`;
    } else {
      item.description = 'reading…';
      item.iconPath = new vscode.ThemeIcon('loading~spin');
      item.tooltip = rel;
      this.load(node);
    }
    return item;
  }

  async getChildren(node?: DatasetTreeNode): Promise<DatasetTreeNode[]> {
    if (!node) return this.list();
    if (node.kind === 'detail') return node.children;
    const summary = this.summaries.get(node.uri.fsPath) ?? await this.cache.get(node.uri.fsPath).catch((e: Error) => e);
    if (summary instanceof Error) return [detail(summary.message, '', 'error')];
    return summaryChildren(summary, this.extraFolders());
  }

  /** The summary (reading it if needed) — also used by commands that act on a dataset. */
  summaryOf(file: string): Promise<DatasetSummary> {
    return this.cache.get(file);
  }

  private load(node: DatasetNode): void {
    const file = node.uri.fsPath;
    this.cache.get(file).then(
      s => { this.summaries.set(file, s); this.changed.fire(node); },
      (e: Error) => { this.summaries.set(file, e); this.changed.fire(node); },
    );
  }

  private watch(watcher: vscode.FileSystemWatcher): void {
    this.track(watcher.onDidCreate(() => this.refresh()));
    this.track(watcher.onDidDelete(u => this.refresh(u)));
    this.track(watcher.onDidChange(u => this.refresh(u)));
  }

  private extraFolders(): string[] {
    // A restricted setting (package.json): an untrusted workspace's own value is ignored, only the user's counts.
    const setting = vscode.workspace.getConfiguration('scwb').inspect<string[]>('datasetFolders');
    const configured = (vscode.workspace.isTrusted
      ? vscode.workspace.getConfiguration('scwb').get<string[]>('datasetFolders', [])
      : setting?.globalValue ?? setting?.defaultValue ?? []);
    const base = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    return configured.map(f => (path.isAbsolute(f) || !base ? f : path.join(base, f)));
  }

  private async scan(): Promise<vscode.Uri[]> {
    const found = new Map<string, vscode.Uri>();
    if (vscode.workspace.workspaceFolders?.length) {
      // Dot-files are skipped: the writer's temp files (.<name>.tmp-....h5ad) are not datasets yet.
      for (const u of await vscode.workspace.findFiles('**/*.h5ad', EXCLUDE)) if (!path.basename(u.fsPath).startsWith('.')) found.set(u.fsPath, u);
    }
    this.folderWatchers.forEach(d => d.dispose());
    this.folderWatchers = [];
    for (const folder of this.extraFolders()) {
      for (const f of await listH5ad(folder)) found.set(f, vscode.Uri.file(f));
      const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(folder), '**/*.h5ad'));
      this.folderWatchers.push(w, w.onDidCreate(() => this.refresh()), w.onDidDelete(u => this.refresh(u)), w.onDidChange(u => this.refresh(u)));
    }
    return [...found.values()].sort((a, b) => a.fsPath.localeCompare(b.fsPath));
  }
}

/** *.h5ad files under `folder` (depth-limited, skipping dependency and VCS folders). */
async function listH5ad(folder: string, depth = 4): Promise<string[]> {
  let entries: fs.Dirent[];
  try {
    entries = await fs.promises.readdir(folder, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    const p = path.join(folder, e.name);
    if (e.isFile() && e.name.endsWith('.h5ad') && !e.name.startsWith('.')) out.push(p);
    else if (e.isDirectory() && depth > 0 && !SKIP_DIRS.has(e.name)) out.push(...await listH5ad(p, depth - 1));
  }
  return out;
}

function summaryChildren(s: DatasetSummary, extra: readonly string[]): DetailNode[] {
  const nodes: DetailNode[] = [];
  nodes.push(s.X ? detail('X', matrixText(s.X), 'symbol-array') : detail('X', 'none: this file holds only annotations', 'warning'));
  const obs = orderColumnsForLabels(s.obs);
  const candidates = new Set(obs.candidates);
  nodes.push(group(`obs`, `${s.obs.length} columns`, 'list-tree', obs.ordered.map(c => columnNode(c, candidates.has(c.name)))));
  nodes.push(group('var', `${s.var.length} columns`, 'list-tree', s.var.map(c => columnNode(c, false))));
  const layers = Object.entries(s.layers);
  if (layers.length) nodes.push(group('layers', `${layers.length}`, 'layers', layers.map(([n, m]) => detail(n, matrixText(m), 'symbol-array'))));
  if (s.raw) nodes.push(detail('raw', `${fmt(s.raw.nVars)} genes${s.raw.X ? ` · ${matrixText(s.raw.X)}` : ''}`, 'archive'));
  if (s.obsm.length) nodes.push(group('obsm', `${s.obsm.length}`, 'graph-scatter', s.obsm.map(o => detail(o.name, `${o.shape.join(' × ')} ${o.dtype}`, 'graph-scatter'))));
  if (s.uns.length) nodes.push(detail('uns', s.uns.join(', '), 'json'));
  if (s.provenance) {
    // A Preprocess output links back to its source (looked for beside it, where Preprocess writes).
    const source = path.join(path.dirname(s.path), s.provenance.inputFile);
    const node = detail('derived from', `${s.provenance.inputFile} (${s.provenance.recipe} recipe)`, 'references');
    node.item.tooltip = `Made by scWorkbench ${s.provenance.toolVersion} from ${s.provenance.inputFile}\nsha256 ${s.provenance.inputSha256}`;
    // The name comes from the file's uns: only a source inside the workspace or the dataset folders is linked.
    if (fs.existsSync(source) && isInside(source, [...(vscode.workspace.workspaceFolders ?? []).map(f => f.uri.fsPath), ...extra])) node.item.command = { command: 'vscode.openWith', title: 'Open Source Dataset', arguments: [vscode.Uri.file(source), 'scwb.datasetView'] };
    nodes.unshift(node);
  }
  return nodes;
}

function columnNode(c: ColumnSummary, candidate: boolean): DetailNode {
  const parts = [c.kind === 'numeric' ? c.dtype ?? 'numeric' : c.kind];
  if (c.nCategories !== undefined) parts.push(`${c.nCategories} categories`);
  if (c.nMissing) parts.push(`${fmt(c.nMissing)} missing`);
  const node = detail(c.name, parts.join(' · '), candidate ? 'tag' : 'symbol-field');
  if (candidate) node.item.tooltip = `label candidate${c.categories?.length ? `: ${c.categories.slice(0, 12).join(', ')}${(c.nCategories ?? 0) > 12 ? ', …' : ''}` : ''}`;
  return node;
}

function matrixText(m: MatrixInfo): string {
  const cells = m.shape[0] * m.shape[1];
  const zeros = cells > 0 ? 1 - m.nnz / cells : 0;
  const comp = m.compression.length ? ` · ${m.compression.join('+')}` : '';
  return `${m.encoding} ${m.dtype} · ${(100 * zeros).toFixed(1)}% zeros${comp}`;
}

function detail(label: string, description: string, icon: string): DetailNode {
  const item = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.None);
  item.description = description;
  item.iconPath = new vscode.ThemeIcon(icon);
  return new DetailNode(item);
}

function group(label: string, description: string, icon: string, children: DetailNode[]): DetailNode {
  const node = detail(label, description, icon);
  node.item.collapsibleState = children.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None;
  return new DetailNode(node.item, children);
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

/** Whether `file` (links resolved) lies inside one of `folders`. */
export function isInside(file: string, folders: readonly string[]): boolean {
  const real = (p: string) => { try { return fs.realpathSync(p); } catch { return path.resolve(p); } };
  const target = real(file);
  return folders.some(f => {
    const rel = path.relative(real(f), target);
    return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
  });
}
