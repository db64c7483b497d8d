/**
 * The run queue in the window: the executor (src/core/queue/executor.ts) with this machine's slots, the "Queue"
 * tree view under the scWorkbench container and its commands (pause/resume, move up/down, cancel, retry, clear
 * finished). Slots: the setting `scwb.queue.gpus` (CUDA indices), else the GPUs the training worker's environment
 * check finds, else one 'cpu' slot; `scwb.queue.runsPerGpu` runs per GPU; `scwb.queue.parallelBaselines` LR
 * baselines at once on the CPU. An untrusted workspace shows the queue and runs nothing.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import { checkWorkerEnvironment } from '../../core/finetune/env';
import { QueueExecutor } from '../../core/queue/executor';
import { baselineRunner } from '../../core/queue/runners';
import { addItems, clearFinished, countItems, makeSlots, moveItem, retryItem, type Slot } from '../../core/queue/scheduler';
import { QUEUE_FINAL, type QueueFile, type QueueItem, type QueueSpec } from '../../core/queue/schema';
import { QueueStore } from '../../core/queue/store';
import type { RunStore } from '../../core/runs/store';
import { Disposable } from '../disposable';
import { chooseInterpreter } from '../python';
import type { RunsTree } from '../runs/tree';
import type { FinetuneTasks } from '../tasks';
import type { PendingLr } from '../../core/finetune/lr-baseline';
import { finetuneRunner, probeRunner } from './runners';

const ICONS: Record<QueueItem['status'], [string, string | undefined]> = {
  pending: ['circle-outline', undefined],
  running: ['sync~spin', 'charts.blue'],
  completed: ['pass', 'testing.iconPassed'],
  failed: ['error', 'testing.iconFailed'],
  cancelled: ['circle-slash', undefined],
  interrupted: ['debug-disconnect', 'testing.iconQueued'],
};

export function slotConfigFromSettings(): { gpus: string[] | null; perGpu: number; baselines: number } {
  const c = vscode.workspace.getConfiguration('scwb.queue');
  const gpus = c.get<string[]>('gpus', []).map(String).filter(Boolean);
  return { gpus: gpus.length ? gpus : null, perGpu: c.get<number>('runsPerGpu', 1), baselines: c.get<number>('parallelBaselines', 2) };
}

export class QueueService extends Disposable implements vscode.TreeDataProvider<QueueItem> {
  private readonly changed = this.track(new vscode.EventEmitter<QueueItem | undefined>());
  readonly onDidChangeTreeData = this.changed.event;
  readonly store: QueueStore;
  readonly executor: QueueExecutor;
  private snapshot: QueueFile | undefined;
  private slotsNow: Slot[];
  private readonly view: vscode.TreeView<QueueItem>;

  constructor(runStore: RunStore, private readonly runs: RunsTree, tasks: FinetuneTasks) {
    super();
    const scwbDir = path.dirname(runStore.root);
    this.store = new QueueStore(scwbDir, { readOnly: () => !vscode.workspace.isTrusted });
    const cfg = slotConfigFromSettings();
    this.slotsNow = makeSlots({ gpus: cfg.gpus ?? [], perGpu: cfg.perGpu, baselines: cfg.baselines });
    this.executor = new QueueExecutor(this.store, runStore, this.slotsNow, {
      finetune: finetuneRunner(runStore, tasks, { pendingLr: () => this.pendingLr() }),
      probe: probeRunner(runStore, tasks),
      baseline: baselineRunner(runStore),
    }, {
      onChange: () => { this.refresh(); this.runs.refresh(); },
      onError: m => void vscode.window.showErrorMessage(`Run queue: ${m}`),
    });
    this.view = this.track(vscode.window.createTreeView('scwb.queue', { treeDataProvider: this }));
    const watcher = this.track(vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(scwbDir), '{queue.json,queue.journal}')));
    for (const ev of [watcher.onDidCreate, watcher.onDidChange, watcher.onDidDelete]) this.track(ev(() => this.refresh()));
    this.track(vscode.workspace.onDidChangeConfiguration(e => { if (e.affectsConfiguration('scwb.queue')) void this.detectSlots(); }));
    this.track({ dispose: () => { void this.executor.dispose(); } });
    this.track(vscode.workspace.onDidGrantWorkspaceTrust(() => { void this.begin(); }));
    this.track(this.registerCommands());
    if (vscode.workspace.isTrusted) void this.begin();
  }

  private async begin(): Promise<void> {
    await this.detectSlots();
    await this.executor.start().catch(e => void vscode.window.showErrorMessage(`Run queue: ${(e as Error).message}`));
    this.refresh();
  }

  /** The slots: from the settings, else from the worker's environment check (GPUs it sees), else one cpu slot. */
  /** LR baseline items not finished yet (a fine-tune's own LR baseline leaves them to the queue). */
  private async pendingLr(): Promise<PendingLr[]> {
    const q = await this.store.read();
    const out: PendingLr[] = [];
    for (const it of q.items) {
      const spec = it.spec;
      if (spec.kind !== 'baseline' || (it.status !== 'pending' && it.status !== 'running') || spec.split.kind === 'random') continue;
      out.push({ datasetPath: spec.datasetPath, split: spec.split, fraction: spec.fraction, seed: spec.seed });
    }
    return out;
  }

  async detectSlots(): Promise<Slot[]> {
    const cfg = slotConfigFromSettings();
    let gpus = cfg.gpus;
    if (!gpus && vscode.workspace.isTrusted) {
      const { interpreter } = await chooseInterpreter(vscode.workspace.workspaceFolders?.[0]?.uri);
      const env = await checkWorkerEnvironment(interpreter || 'python3').catch(() => null);
      gpus = env?.report?.cuda.available ? env.report.cuda.devices.map((_, i) => String(i)) : [];
    }
    this.slotsNow = makeSlots({ gpus: gpus ?? [], perGpu: cfg.perGpu, baselines: cfg.baselines });
    this.executor.setSlots(this.slotsNow);
    this.refresh();
    return this.slotsNow;
  }

  get slots(): readonly Slot[] {
    return this.slotsNow;
  }

  refresh(): void {
    this.snapshot = undefined;
    this.changed.fire(undefined);
    void this.updateTitle();
  }

  private async updateTitle(): Promise<void> {
    const q = await this.read().catch(() => null);
    if (!q) return;
    const c = countItems(q);
    this.view.description = `${q.paused ? 'paused · ' : ''}${c.running} running, ${c.pending} waiting`;
    void vscode.commands.executeCommand('setContext', 'scwb.queue.paused', q.paused);
  }

  async read(): Promise<QueueFile> {
    this.snapshot ??= await this.store.read();
    return this.snapshot;
  }

  /** Adds items at the end of the queue and starts what can start (`front`: before the waiting items: Run now). */
  async add(items: { label: string; spec: QueueSpec; estimateHours?: number; preset?: string }[], opts: { front?: boolean } = {}): Promise<QueueItem[]> {
    if (!vscode.workspace.isTrusted) throw new Error('this workspace is not trusted: the queue runs nothing');
    const added = await this.store.update(q => {
      const a = addItems(q, items);
      if (opts.front) {
        const ids = new Set(a.map(x => x.id));
        const rest = q.items.filter(x => !ids.has(x.id));
        const firstPending = rest.findIndex(x => x.status === 'pending');
        const at = firstPending < 0 ? rest.length : firstPending;
        q.items = [...rest.slice(0, at), ...a, ...rest.slice(at)];
        q.paused = false;
      }
      return a;
    });
    this.refresh();
    await this.executor.pump();
    return added;
  }

  async move(id: string, direction: -1 | 1): Promise<void> {
    await this.store.update(q => { moveItem(q, id, direction); });
    this.refresh();
  }

  async getChildren(element?: QueueItem): Promise<QueueItem[]> {
    if (element) return [];
    try {
      return (await this.read()).items;
    } catch (e) {
      void vscode.window.showErrorMessage((e as Error).message);
      return [];
    }
  }

  getTreeItem(it: QueueItem): vscode.TreeItem {
    const t = new vscode.TreeItem(it.label, vscode.TreeItemCollapsibleState.None);
    const [icon, color] = ICONS[it.status];
    t.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    const where = it.slot ? ` on ${it.slot}` : '';
    t.description = `${it.status}${it.cancelRequested && it.status === 'running' ? ' (cancelling)' : ''}${where}`;
    t.tooltip = new vscode.MarkdownString([
      `**${it.label}**`, `${it.spec.kind} · ${it.status}${where}`, `experiment: ${it.spec.experiment}`,
      it.estimateHours ? `estimate: ${it.estimateHours.toFixed(2)} h` : '', it.error ? `error: ${it.error}` : '',
      it.runIds.length ? `runs: ${it.runIds.join(', ')}` : '',
    ].filter(Boolean).join('\n\n'));
    t.contextValue = `scwb.queueItem.${it.status}`;
    t.id = it.id;
    if (it.runIds.length) t.command = { command: 'scwb.runs.openPanel', title: 'Open Run Panel', arguments: [{ runId: it.runIds[0] }] };
    return t;
  }

  private registerCommands(): vscode.Disposable {
    const idOf = (arg?: QueueItem | string) => (typeof arg === 'string' ? arg : arg?.id);
    const guard = <T>(fn: (id: string) => Promise<T>) => async (arg?: QueueItem | string) => {
      const id = idOf(arg ?? this.view.selection[0]);
      if (!id) return undefined;
      try {
        return await fn(id);
      } catch (e) {
        void vscode.window.showErrorMessage(`Run queue: ${(e as Error).message}`);
        return undefined;
      }
    };
    return vscode.Disposable.from(
      vscode.commands.registerCommand('scwb.queue.pause', () => this.executor.setPaused(true).then(() => this.refresh())),
      vscode.commands.registerCommand('scwb.queue.resume', () => this.executor.setPaused(false).then(() => this.refresh())),
      vscode.commands.registerCommand('scwb.queue.moveUp', guard(id => this.move(id, -1))),
      vscode.commands.registerCommand('scwb.queue.moveDown', guard(id => this.move(id, 1))),
      vscode.commands.registerCommand('scwb.queue.cancel', guard(id => this.executor.cancel(id).then(() => this.refresh()))),
      vscode.commands.registerCommand('scwb.queue.retry', guard(async id => {
        await this.store.update(q => retryItem(q, id));
        this.refresh();
        await this.executor.pump();
      })),
      vscode.commands.registerCommand('scwb.queue.clearFinished', async () => {
        const n = await this.store.update(q => clearFinished(q));
        this.refresh();
        return n;
      }),
      vscode.commands.registerCommand('scwb.queue.refresh', () => this.refresh()),
    );
  }
}

export function isFinal(it: QueueItem): boolean {
  return QUEUE_FINAL.includes(it.status);
}
