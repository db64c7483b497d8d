/**
 * The Checkpoints view: model files in the workspace (scBERT .pth, scGPT folders, other PyTorch files, safetensors,
 * ONNX). Expanding one inspects it in a worker thread (the pickle is read, never run) and shows its architecture,
 * parameter count and layout problems, with the tensors listed on demand. The user's own files come first; what
 * runs wrote (last.pt, best.pt, model.onnx in the run store) is grouped under each run's name in a node of its own.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { classifyCheckpoint, type CheckpointInfo } from '../../core/checkpoints';
import { groupByRun, type ListedCheckpoint, type RunCheckpoints } from '../../core/checkpoints/by-run';
import { runDisplayName } from '../../core/runs/display-name';
import type { CheckpointSummary } from '../../core/checkpoints/inspect';
import { formatBytes } from '../../core/format';
import type { RunStore } from '../../core/runs/store';
import { runTask } from '../../core/workers/run-task';
import { Disposable } from '../disposable';

/** A line under an expanded checkpoint (path: the checkpoint it belongs to). */
export interface CheckpointDetail {
  path: string;
  detail: 'architecture' | 'parameters' | 'problem' | 'ok' | 'info' | 'tensors' | 'tensor' | 'error';
  label: string;
  description?: string;
  tooltip?: string;
  children?: CheckpointDetail[];
}
/** The node that holds the model files runs wrote, and one run's files under it. */
export interface RunsCheckpointsNode { group: 'runs'; runs: RunCheckpoints[] }
export interface RunCheckpointsNode { group: 'run'; run: RunCheckpoints }
export type CheckpointNode = ListedCheckpoint | CheckpointDetail | RunsCheckpointsNode | RunCheckpointsNode;

export interface Inspection { summary?: CheckpointSummary; error?: string }

const PATTERN = '**/*.{pth,pt,ckpt,onnx,safetensors}';
/** files whose presence decides what a model file is (an scGPT folder needs vocab.json beside best_model.pt) */
const COMPANIONS = '**/{vocab.json,args.json}';
const EXCLUDE = '**/{node_modules,.git,.tools,.demo}/**';
const ICONS: Record<CheckpointInfo['kind'], string> = { 'scgpt-folder': 'folder-library', 'scbert-pth': 'circuit-board', torch: 'file-binary', onnx: 'symbol-structure', safetensors: 'file-binary' };
const DETAIL_ICONS: Record<CheckpointDetail['detail'], string> = { architecture: 'symbol-class', parameters: 'symbol-number', problem: 'warning', ok: 'pass', info: 'info', tensors: 'list-tree', tensor: 'symbol-array', error: 'error' };
const DEBOUNCE_MS = 200;

export class CheckpointsTree extends Disposable implements vscode.TreeDataProvider<CheckpointNode> {
  private readonly changed = this.track(new vscode.EventEmitter<undefined>());
  readonly onDidChangeTreeData = this.changed.event;
  private debounce: NodeJS.Timeout | undefined;
  /** inspections by path, valid while the model file's size and mtime stay the same */
  private readonly inspections = new Map<string, { stamp: string; result: Promise<Inspection> }>();

  /** `store`: the workspace's run store, whose runs' model files are grouped by run */
  constructor(private readonly store?: RunStore) {
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

  /** Inspects a model file (or scGPT folder) in a worker thread; cached until the file changes. */
  inspectionOf(target: string): Promise<Inspection> {
    const modelFile = fs.existsSync(path.join(target, 'best_model.pt')) ? path.join(target, 'best_model.pt') : target;
    let stamp = '';
    try {
      const st = fs.statSync(modelFile);
      stamp = `${st.size}:${st.mtimeMs}`;
    } catch {
      return Promise.resolve({ error: `${target}: no such file or folder` });
    }
    const cached = this.inspections.get(target);
    if (cached && cached.stamp === stamp) return cached.result;
    const result = runTask<Inspection>('checkpoints/inspect', 'inspectTask', { path: target }, { maxOldGenerationSizeMb: 1024 })
      .catch((e: unknown) => ({ error: `${target}: ${e instanceof Error ? e.message : String(e)}` }));
    this.inspections.set(target, { stamp, result });
    return result;
  }

  getTreeItem(node: CheckpointNode): vscode.TreeItem {
    if ('group' in node) {
      if (node.group === 'runs') {
        const item = new vscode.TreeItem('From runs', vscode.TreeItemCollapsibleState.Collapsed);
        item.description = `${node.runs.length} run${node.runs.length === 1 ? '' : 's'}`;
        item.tooltip = 'Model files that fine-tune and pre-training runs wrote (last.pt, best.pt, model.onnx), by run';
        item.iconPath = new vscode.ThemeIcon('history');
        item.contextValue = 'scwb.checkpointRuns';
        return item;
      }
      const item = new vscode.TreeItem(node.run.name, vscode.TreeItemCollapsibleState.Collapsed);
      item.description = node.run.files.map(f => path.basename(f.path)).join(', ');
      item.tooltip = `run ${node.run.id}\n${node.run.files.map(f => vscode.workspace.asRelativePath(f.path)).join('\n')}`;
      item.iconPath = new vscode.ThemeIcon('beaker');
      item.contextValue = 'scwb.checkpointRun';
      return item;
    }
    if ('detail' in node) {
      const open = node.children?.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None;
      const item = new vscode.TreeItem(node.label, open);
      item.description = node.description;
      item.tooltip = node.tooltip ?? (node.description ? `${node.label} ${node.description}` : node.label);
      item.iconPath = new vscode.ThemeIcon(DETAIL_ICONS[node.detail]);
      item.contextValue = `scwb.checkpointDetail.${node.detail}`;
      return item;
    }
    const c = node;
    // a run's file under its run: the file name is enough (the run node says whose it is)
    const item = new vscode.TreeItem(c.run ? path.basename(c.path) : c.label, vscode.TreeItemCollapsibleState.Collapsed);
    item.description = c.run ? formatBytes(c.size) : `${formatBytes(c.size)} · ${path.dirname(vscode.workspace.asRelativePath(c.path))}`;
    item.tooltip = c.path;
    item.iconPath = new vscode.ThemeIcon(ICONS[c.kind]);
    item.resourceUri = vscode.Uri.file(c.path);
    item.contextValue = `scwb.checkpoint.${c.kind}`;
    return item;
  }

  async getChildren(element?: CheckpointNode): Promise<CheckpointNode[]> {
    if (element) {
      if ('group' in element) return element.group === 'runs' ? element.runs.map(run => ({ group: 'run', run })) : element.run.files;
      return 'detail' in element ? element.children ?? [] : this.detailsOf(element.path);
    }
    const { own, runs } = await this.grouped();
    return runs.length ? [...own, { group: 'runs', runs }] : own;
  }

  /** Every model file of the view, the user's and the runs' (these with their run), for the model pickers. */
  async all(): Promise<ListedCheckpoint[]> {
    const { own, runs } = await this.grouped();
    return [...own, ...runs.flatMap(r => r.files)];
  }

  private async grouped(): Promise<{ own: ListedCheckpoint[]; runs: RunCheckpoints[] }> {
    const files = await this.list();
    const names = new Map<string, string>();
    if (this.store) for (const r of await this.store.list().catch(() => [])) names.set(r.id, runDisplayName(r));
    return groupByRun(files, this.store?.root, names);
  }

  /** The summary lines shown when a checkpoint is expanded. */
  async detailsOf(target: string): Promise<CheckpointDetail[]> {
    const r = await this.inspectionOf(target);
    if (!r.summary) return [{ path: target, detail: 'error', label: 'Cannot inspect', description: r.error, tooltip: r.error }];
    return summaryDetails(r.summary);
  }

  private async list(): Promise<CheckpointInfo[]> {
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

export function summaryDetails(s: CheckpointSummary): CheckpointDetail[] {
  const p = s.path;
  const out: CheckpointDetail[] = [{ path: p, detail: 'architecture', label: s.recognition.label, description: s.format }];
  out.push({ path: p, detail: 'parameters', label: `${s.parameterCount.toLocaleString('en-US')} parameters`, description: `${s.tensors.length} tensors${s.stateDictKey ? ` under '${s.stateDictKey}'` : ''}` });
  if (s.recognition.strippedPrefix) out.push({ path: p, detail: 'info', label: `keys carry a '${s.recognition.strippedPrefix}' prefix (DataParallel); compared without it` });
  if (s.scgpt) out.push({ path: p, detail: 'info', label: `vocab.json: ${s.scgpt.vocabSize ?? 'absent'} tokens`, description: s.scgpt.specialTokens.join(' ') });
  if (s.onnx) {
    const opset = s.onnx.opsets.find(o => o.domain === '' || o.domain === 'ai.onnx')?.version;
    for (const i of s.onnx.inputs) out.push({ path: p, detail: 'info', label: `input ${i.name}`, description: `${i.elemType} [${i.shape.join(', ')}]` });
    for (const o of s.onnx.outputs) out.push({ path: p, detail: 'info', label: `output ${o.name}`, description: `${o.elemType} [${o.shape.join(', ')}]${opset ? ` · opset ${opset}` : ''}` });
  }
  const cmp = s.recognition.comparison;
  if (cmp?.differsFromPublished.length) out.push({ path: p, detail: 'info', label: 'differs from the published model', description: cmp.differsFromPublished.join(', ') });
  if (cmp && !s.problems.length) out.push({ path: p, detail: 'ok', label: 'matches the published layout', description: cmp.reference });
  for (const problem of s.problems) out.push({ path: p, detail: 'problem', label: problem, tooltip: problem });
  for (const t of s.topLevel) if (t.key !== s.stateDictKey) out.push({ path: p, detail: 'info', label: t.key, description: t.description });
  out.push({
    path: p, detail: 'tensors', label: `Tensors (${s.tensors.length})`,
    children: s.tensors.map(t => ({ path: p, detail: 'tensor' as const, label: t.name, description: `[${t.shape.join(', ')}] ${t.dtype}` })),
  });
  return out;
}
