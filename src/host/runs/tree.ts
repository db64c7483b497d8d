/**
 * The Runs view: runs of the workspace's run store (.scwb/runs) grouped by experiment, with status icons and live
 * progress (the store's files are watched; a running run shows its last progress event). Rename, note, delete,
 * reveal and open-results act on these nodes.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { hasEmbeddings } from '../../core/embedding/umap';
import { EventsTail, configuredEpochs, emptyLive, foldLive, liveLabel, liveText, liveTooltip, type LiveSummary } from '../../core/runs/live';
import { runDisplayName } from '../../core/runs/display-name';
import { FINAL_STATUSES, type RunRecord } from '../../core/runs/schema';
import { EVENTS_FILE, RunStore, datasetName, defaultStoreRoot, groupExperiments, type ExperimentGroup } from '../../core/runs/store';
import { Disposable } from '../disposable';

export type RunsTreeNode = { kind: 'experiment'; group: ExperimentGroup } | { kind: 'run'; run: RunRecord };

/**
 * What the rows show apart from live progress: the run records themselves (run.json changes with status, name,
 * note, summary, Slurm state; progress goes to events.jsonl).
 */
function structureOf(runs: RunRecord[]): string {
  return JSON.stringify([...runs].sort((a, b) => a.id.localeCompare(b.id)));
}

const STATUS_ICONS: Record<RunRecord['status'], [string, string?]> = {
  queued: ['clock'],
  running: ['sync~spin'],
  completed: ['pass', 'testing.iconPassed'],
  failed: ['error', 'testing.iconFailed'],
  cancelled: ['circle-slash'],
  interrupted: ['debug-disconnect', 'problemsWarningIcon.foreground'],
};

export class RunsTree extends Disposable implements vscode.TreeDataProvider<RunsTreeNode> {
  private readonly changed = this.track(new vscode.EventEmitter<RunsTreeNode | RunsTreeNode[] | undefined>());
  readonly onDidChangeTreeData = this.changed.event;
  private readonly changedRuns = this.track(new vscode.EventEmitter<void>());
  /** fires (debounced) whenever something in the run store changed */
  readonly onDidChangeRuns = this.changedRuns.event;
  private cached: Promise<RunRecord[]> | undefined;
  /** live state of running runs, read incrementally from their events.jsonl */
  private readonly live = new Map<string, { tail: EventsTail; summary: LiveSummary; epochs: number | null }>();
  private debounce: NodeJS.Timeout | undefined;
  private readonly ticker: NodeJS.Timeout;
  /** whether the last listing had queued or running runs */
  private hasLive = false;
  /** the run folders' names at the last tick */
  private lastNames: string | undefined;
  private cachedAt = 0;
  /**
   * The nodes handed to the view, one object per experiment and run, kept across listings: a change event can then
   * name the rows that changed. VS Code re-creates the tree item of every row a change event covers, and with it
   * the id under which the row's click command (one with arguments) is registered; a click that lands between the
   * two fails with "command not found: <command> /<n>". Live progress therefore refreshes only the running runs'
   * rows, never the whole tree, and the experiment rows keep their command.
   */
  private readonly nodes = new Map<string, RunsTreeNode>();
  /** the structure (structureOf) of the last full listing */
  private shownStructure: string | undefined;
  /** the live text of each running run at the last refresh */
  private readonly shownLive = new Map<string, string>();

  constructor(readonly store: RunStore | undefined) {
    super();
    if (store) {
      const watcher = this.track(vscode.workspace.createFileSystemWatcher(storePattern(store.root)));
      for (const ev of [watcher.onDidCreate, watcher.onDidChange, watcher.onDidDelete]) this.track(ev(() => this.scheduleRefresh()));
    }
    // File watchers can miss events (new run folders, appends by another process), and a view that waits for the
    // next event would then stop following a live run for good. Every two seconds the view looks whether the set of
    // run folders changed or runs are live, and refreshes then: one readdir, nothing while all is quiet.
    this.ticker = setInterval(() => { void this.tick(); }, 2000);
    this.track({ dispose: () => { if (this.debounce) clearTimeout(this.debounce); clearInterval(this.ticker); } });
  }

  static forWorkspace(): RunsTree {
    const ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    // An untrusted workspace's run store is only read: listing it writes nothing (not even 'interrupted').
    return new RunsTree(ws ? new RunStore(defaultStoreRoot(ws), { readOnly: () => !vscode.workspace.isTrusted }) : undefined);
  }

  refresh(): void {
    this.cached = undefined;
    this.changed.fire(undefined);
    this.changedRuns.fire();
  }

  private async tick(): Promise<void> {
    if (!this.store) return;
    const names = await fs.promises.readdir(this.store.root).then(n => n.sort().join('\n'), () => '');
    const changed = this.lastNames !== undefined && names !== this.lastNames;
    this.lastNames = names;
    if (changed || this.hasLive) await this.refreshChanged();
  }

  /** At most one refresh per 250 ms: a training run appends events many times a second, which must not starve it. */
  private scheduleRefresh(): void {
    if (this.debounce) return;
    this.debounce = setTimeout(() => { this.debounce = undefined; void this.refreshChanged(); }, 250);
  }

  /**
   * After a change in the store: reads the runs again and refreshes the whole view when runs were added, removed
   * or changed, else only the rows of running runs whose live progress changed (see `nodes`).
   */
  private async refreshChanged(): Promise<void> {
    this.cached = undefined;
    this.changedRuns.fire();
    let runs: RunRecord[];
    try {
      runs = await this.runs();
    } catch {
      this.changed.fire(undefined);
      return;
    }
    if (this.shownStructure === undefined || structureOf(runs) !== this.shownStructure) {
      this.changed.fire(undefined);
      return;
    }
    const rows: RunsTreeNode[] = [];
    for (const r of runs) {
      if (r.status !== 'running') continue;
      const node = this.nodes.get(`run:${r.id}`);
      const text = this.liveKey(r.id);
      if (node?.kind !== 'run' || this.shownLive.get(r.id) === text) continue;
      node.run = r;
      rows.push(node);
    }
    if (rows.length) this.changed.fire(rows);
  }

  /** Everything a running run's row shows of its live progress (description and tooltip). */
  private liveKey(runId: string): string {
    const entry = this.live.get(runId);
    return entry ? JSON.stringify([liveText(entry.summary, entry.epochs), liveTooltip(entry.summary, entry.epochs)]) : '';
  }

  /** The node object of an experiment or run: the same object as in earlier listings, with the new data. */
  private node(next: RunsTreeNode): RunsTreeNode {
    const key = next.kind === 'experiment' ? `experiment:${next.group.name}` : `run:${next.run.id}`;
    const node = this.nodes.get(key);
    if (node?.kind === 'experiment' && next.kind === 'experiment') node.group = next.group;
    else if (node?.kind === 'run' && next.kind === 'run') node.run = next.run;
    else this.nodes.set(key, next);
    return this.nodes.get(key)!;
  }

  runs(): Promise<RunRecord[]> {
    if (!this.store) return Promise.resolve([]);
    // The list is read again when it is older than two seconds: file watchers can miss changes in freshly
    // created run folders, and a view must not show a finished run as running forever.
    if (!this.cached || Date.now() - this.cachedAt > 2000) {
      this.cached = this.load(this.store);
      this.cachedAt = Date.now();
    }
    return this.cached;
  }

  /** Lists the runs and, for those running, what their events.jsonl says so far, shown as live progress. */
  private async load(store: RunStore): Promise<RunRecord[]> {
    const runs = await store.list();
    // While runs are live, the view also refreshes every two seconds (see tick()).
    this.hasLive = runs.some(r => r.status === 'running' || r.status === 'queued');
    const running = runs.filter(r => r.status === 'running');
    const ids = new Set(running.map(r => r.id));
    for (const id of this.live.keys()) if (!ids.has(id)) this.live.delete(id);
    await Promise.all(running.map(async r => {
      let entry = this.live.get(r.id);
      if (!entry) {
        entry = { tail: new EventsTail(store.file(r.id, EVENTS_FILE)), summary: emptyLive(), epochs: null };
        this.live.set(r.id, entry);
      }
      entry.epochs = r.kind !== 'baseline' ? configuredEpochs(r.parameters) : null;
      try {
        const { events, reset } = await entry.tail.read();
        entry.summary = foldLive(reset ? emptyLive() : entry.summary, events);
      } catch {
        // A bad line is reported where the events are read in full (results, run panel); here the run just shows no live text.
      }
    }));
    return runs;
  }

  async getChildren(node?: RunsTreeNode): Promise<RunsTreeNode[]> {
    if (!node) {
      const all = await this.runs();
      this.shownStructure = structureOf(all);
      const keep = new Set([...groupExperiments(all).map(g => `experiment:${g.name}`), ...all.map(r => `run:${r.id}`)]);
      for (const key of this.nodes.keys()) if (!keep.has(key)) this.nodes.delete(key);
      return groupExperiments(all).map(group => this.node({ kind: 'experiment', group }));
    }
    if (node.kind === 'run') return [];
    const runs = [...node.group.runs].sort((a, b) => datasetName(a).localeCompare(datasetName(b)) || a.model.label.localeCompare(b.model.label) || a.fraction - b.fraction || a.seed - b.seed);
    return runs.map(run => this.node({ kind: 'run', run }));
  }

  getTreeItem(node: RunsTreeNode): vscode.TreeItem {
    if (node.kind === 'experiment') {
      const g = node.group;
      const item = new vscode.TreeItem(g.name, vscode.TreeItemCollapsibleState.Expanded);
      item.id = `experiment:${g.name}`;
      const counts = Object.entries(g.statusCounts).map(([s, n]) => `${n} ${s}`).join(', ');
      item.description = `${g.datasets.join(', ')} · ${g.models.join(', ')} · ${counts}`;
      item.tooltip = `${g.name}\ndatasets: ${g.datasets.join(', ')}\nmodels: ${g.models.join(', ')}\nfractions: ${g.fractions.join(', ')}\nseeds: ${g.seeds.join(', ')}\n${counts}`;
      item.iconPath = new vscode.ThemeIcon(g.statusCounts.running ? 'sync~spin' : 'beaker');
      item.contextValue = 'scwb.experiment';
      item.command = { command: 'scwb.results.open', title: 'Open Results', arguments: [{ experiment: g.name }] };
      return item;
    }
    const r = node.run;
    const label = runDisplayName(r);
    const item = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.None);
    item.id = `run:${r.id}`;
    const [icon, color] = STATUS_ICONS[r.status];
    item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    const entry = r.status === 'running' ? this.live.get(r.id) : undefined;
    if (entry) this.shownLive.set(r.id, this.liveKey(r.id));
    // a running run: the epoch first (a narrow side bar cuts the end), the loss, speed and validation in the tooltip
    item.description = r.status === 'completed' && r.summary
      ? `accuracy ${r.summary.accuracy.toFixed(3)} · macro-F1 ${r.summary.macroF1.toFixed(3)}`
      : entry ? liveLabel(entry.summary, entry.epochs) : r.status + (r.error ? `: ${r.error}` : '');
    if (r.slurm && !FINAL_STATUSES.includes(r.status)) item.description = `Slurm ${r.slurm.jobId} ${r.slurm.state ?? ''} · ${item.description}`;
    const lines = [
      `${r.id} (${r.kind})`, `dataset: ${r.dataset.path}`, `label: ${r.labelColumn}`, `split: ${splitText(r)}`,
      `model: ${r.model.label}`, `fraction ${r.fraction}, seed ${r.seed}`, `status: ${r.status}`,
    ];
    if (entry) lines.push(...liveTooltip(entry.summary, entry.epochs));
    if (r.slurm) lines.push(`Slurm job ${r.slurm.jobId}${r.slurm.cluster ? ` on ${r.slurm.cluster}` : ''}: ${r.slurm.state ?? 'state unknown'}${r.slurm.exitCode ? `, exit code ${r.slurm.exitCode}` : ''}`);
    if (r.note) lines.push(`note: ${r.note}`);
    if (r.error) lines.push(`error: ${r.error}`);
    item.tooltip = lines.join('\n');
    // '.slurm' marks a run whose job may still be cancelled (Cancel Slurm Job); `.embedding` a run folder with cell
    // embeddings (embeddings.npy): Show Embedding Plot is offered on it.
    item.contextValue = `scwb.run.${r.status}${r.slurm && !FINAL_STATUSES.includes(r.status) ? '.slurm' : ''}`
      + `${hasEmbeddings(this.store!.runDir(r.id)) ? '.embedding' : ''}`;
    item.resourceUri = vscode.Uri.file(path.join(this.store!.runDir(r.id), 'run.json'));
    // A fine-tune opens its run panel (live curves); a baseline, which has no curves, its log.
    item.command = r.kind !== 'baseline'
      ? { command: 'scwb.runs.openPanel', title: 'Open Run Panel', arguments: [node] }
      : { command: 'scwb.runs.openLog', title: 'Open Log', arguments: [node] };
    return item;
  }
}

/**
 * The watch pattern of the run store. A new workspace has no .scwb/runs until its first run, and whether a watcher
 * based on a folder that does not exist yet sees it appear depends on the file watcher behind VS Code (code-server
 * 1.100 does; not every platform promises it). A pattern based on the workspace folder that holds the store is
 * served by the workspace's own recursive watcher and does not depend on it; the store folder itself is the base
 * only when it lies outside every workspace folder.
 */
function storePattern(root: string): vscode.RelativePattern {
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const rel = path.relative(folder.uri.fsPath, root);
    if (rel === '') return new vscode.RelativePattern(folder, '**/*');
    if (!rel.startsWith('..') && !path.isAbsolute(rel)) return new vscode.RelativePattern(folder, `${rel.split(path.sep).join('/')}/**`);
  }
  return new vscode.RelativePattern(vscode.Uri.file(root), '**/*');
}

function splitText(r: RunRecord): string {
  const s = r.split;
  switch (s.kind) {
    case 'stratified': return `stratified, test ${s.testSize}, seed ${s.seed}`;
    case 'reference-query': return `reference / query (${path.basename(s.queryPath)})`;
    case 'group': return `by ${s.column}, test ${s.testSize}, seed ${s.seed}`;
    case 'random': return `random (unstratified), test ${s.testSize}, seed ${s.seed}`;
    default: return JSON.stringify(s);
  }
}
