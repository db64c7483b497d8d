/**
 * "New Experiment from Preset…": the grid editor. Pick a preset (or start empty), edit each axis (datasets,
 * models, ablations, fractions, seeds), bind files, see the run count and the GPU-hour estimate live with the
 * published targets beside; "Add to queue" appends the runs to the run queue, "Run now" puts them before the
 * waiting items and resumes the queue. The webview sends the whole document; the host validates it (zod).
 */
import * as vscode from 'vscode';
import { ESTIMATE_ASSUMPTIONS, bindingProblems, expandPreset, publishedTargets, summarizePreset } from '../../core/presets/grid';
import { deviceFromEnv, measuredThroughput, type EstimateContext, type MeasuredThroughput } from '../../core/presets/estimate';
import { checkWorkerEnvironment } from '../../core/finetune/env';
import type { DatasetSummary } from '../../core/h5ad/types';
import type { RunStore } from '../../core/runs/store';
import { PRESETS, emptyPreset, presetById } from '../../core/presets/presets';
import { gridProtocolView } from '../../core/protocols/view';
import { PresetSchema, type Preset } from '../../core/presets/schema';
import { describeQueueProblems, type QueueItemProblems } from '../../core/preflight/queue';
import { loadPublishedNumbers, type PublishedNumber } from '../../core/results/published';
import { runTask } from '../../core/workers/run-task';
import type { GridPickTarget, GridSummaryView, WebviewMessage } from '../../shared/protocol';
import type { QueueService } from '../queue/service';
import { chooseInterpreter } from '../python';
import { WebviewApp } from './webview-app';

/** Where the grid's estimate reads the bound files' cells and the measured throughput from. */
export interface GridEstimateSources {
  summaryOf?: (file: string) => Promise<DatasetSummary>;
  store?: RunStore;
}

export class GridPanel extends WebviewApp {
  static readonly viewType = 'scwb.grid';
  private static current: GridPanel | undefined;
  private presetId: string | null;
  private preset: Preset;
  private published: PublishedNumber[] | null = null;
  /** the estimate's device, files' cells and measured throughput (refreshEstimate) */
  private estimate: EstimateContext = { device: { kind: 'cpu' }, cells: {}, measured: [] };
  private deviceKnown: Promise<void> | null = null;
  /** completed runs' measured throughput by run id (a completed run never changes) */
  private readonly measuredByRun = new Map<string, MeasuredThroughput | null>();

  static show(extension: vscode.ExtensionContext, queue: QueueService | undefined, presetId?: string | null, sources: GridEstimateSources = {}): GridPanel {
    if (GridPanel.current) {
      GridPanel.current.panel.reveal();
      if (presetId !== undefined) GridPanel.current.select(presetId);
      return GridPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(GridPanel.viewType, 'scWorkbench: New Experiment', vscode.ViewColumn.Active, { retainContextWhenHidden: true });
    const p = new GridPanel(extension, panel, queue, presetId === undefined ? PRESETS[0].id : presetId, sources);
    GridPanel.current = p;
    return p;
  }

  static get instance(): GridPanel | undefined {
    return GridPanel.current;
  }

  private constructor(extension: vscode.ExtensionContext, panel: vscode.WebviewPanel, private readonly queueService: QueueService | undefined, presetId: string | null,
    private readonly sources: GridEstimateSources) {
    super(extension.extensionUri, panel, 'grid');
    this.presetId = presetId;
    this.preset = presetId ? presetById(presetId) : emptyPreset();
    void this.refreshEstimate().then(changed => { if (changed) this.postSummary(); });
  }

  /**
   * Updates what the estimate is based on: the device (the worker's environment check, once), the cells of the
   * document's bound files not read yet, and the throughput of completed fine-tunes in the run store. Resolves to
   * whether anything changed.
   */
  async refreshEstimate(): Promise<boolean> {
    const before = JSON.stringify(this.estimate);
    this.deviceKnown ??= (async () => {
      const { interpreter } = await chooseInterpreter(vscode.workspace.workspaceFolders?.[0]?.uri);
      const env = await checkWorkerEnvironment(interpreter || 'python3').catch(() => null);
      this.estimate = { ...this.estimate, device: deviceFromEnv(env?.report) };
    })();
    const files = new Set<string>();
    for (const g of this.preset.grids) for (const d of g.datasets) for (const f of [d.path, d.queryPath]) if (f && this.estimate.cells[f] === undefined) files.add(f);
    const cells: Record<string, number> = {};
    await Promise.all([...files].map(async f => {
      const s = await this.sources.summaryOf?.(f).catch(() => null);
      if (s) cells[f] = s.nObs;
    }));
    const measured: MeasuredThroughput[] = [];
    const store = this.sources.store;
    if (store) {
      const runs = await store.list().catch(() => []);
      for (const r of runs) {
        if (r.kind !== 'finetune' || r.status !== 'completed' || !r.worker) continue;
        if (!this.measuredByRun.has(r.id)) this.measuredByRun.set(r.id, measuredThroughput(r, await store.readEvents(r.id).catch(() => [])));
        const m = this.measuredByRun.get(r.id);
        if (m) measured.push(m);
      }
    }
    await this.deviceKnown;
    this.estimate = { device: this.estimate.device, cells: { ...this.estimate.cells, ...cells }, measured };
    return JSON.stringify(this.estimate) !== before;
  }

  private postSummary(): void {
    this.post({ type: 'grid/summary', summary: this.summarize(this.preset, null) });
  }

  override dispose(): void {
    if (GridPanel.current === this) GridPanel.current = undefined;
    super.dispose();
  }

  /** The experiment as edited now. */
  get document(): Preset {
    return structuredClone(this.preset);
  }

  select(presetId: string | null): void {
    this.presetId = presetId;
    this.preset = presetId ? presetById(presetId) : emptyPreset();
    this.sendState();
    void this.refreshEstimate().then(changed => { if (changed) this.postSummary(); });
  }

  protected override onReady(): void {
    this.sendState();
  }

  private sendState(): void {
    this.post({
      type: 'grid/state', presets: PRESETS.map(p => ({ id: p.id, title: p.title, source: p.source })),
      presetId: this.presetId, preset: this.preset, summary: this.summarize(this.preset, null),
    });
  }

  /** Run count, estimate, targets and problems of a document (the `error` of one that does not validate). */
  summarize(preset: Preset | null, error: string | null): GridSummaryView {
    const slots = this.queueService ? this.queueService.slots.map(s => `${s.id}×${s.capacity}`).join(', ') : 'no workspace folder';
    if (!preset) {
      return {
        runs: 0, gpuRuns: 0, cpuRuns: 0, gpuHours: 0, device: '', basis: [], perGrid: [], skipped: [], assumptions: ESTIMATE_ASSUMPTIONS, targets: [], problems: [], error, slots, protocol: null,
      };
    }
    this.published ??= (() => { try { return loadPublishedNumbers(); } catch { return []; } })();
    const s = summarizePreset(preset, this.estimate);
    const targets = publishedTargets(preset, this.published).map(t => ({
      grid: t.grid, dataset: t.dataset, model: t.model, fraction: t.fraction, accuracy: t.accuracy?.value ?? null, macroF1: t.macroF1?.value ?? null,
      source: t.accuracy ? `${t.accuracy.experiment} (${t.accuracy.model}${t.accuracy.note ? `, ${t.accuracy.note}` : ''})` : '',
    }));
    return { ...s, targets, problems: bindingProblems(preset), error, slots, protocol: gridProtocolView(preset) };
  }

  /** Validates an edited document; keeps it when valid. */
  update(doc: unknown): GridSummaryView {
    const r = PresetSchema.safeParse(doc);
    if (!r.success) {
      const first = r.error.issues[0];
      return this.summarize(null, `${first.path.join('.') || '(root)'}: ${first.message}`);
    }
    this.preset = r.data;
    return this.summarize(this.preset, null);
  }

  /**
   * "Add to queue" / "Run now": every item is checked against its files first (src/core/preflight/queue.ts); when
   * any fails nothing is queued and the result names each problem with its fix.
   */
  async submitChecked(mode: 'queue' | 'now'): Promise<{ added: number } | { failed: QueueItemProblems[]; text: string }> {
    if (!this.queueService) throw new Error('open a folder first: the queue lives in its .scwb folder');
    const items = expandPreset(this.preset, this.estimate);
    const failed = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Checking ${items.length} run${items.length === 1 ? '' : 's'} against their files` },
      () => runTask<QueueItemProblems[]>('preflight/tasks', 'queueChecks', { items: items.map(i => ({ label: i.label, spec: i.spec })) }));
    if (failed.length) return { failed, text: describeQueueProblems(failed, items.length) };
    return { added: await this.submit(mode) };
  }

  /** Queues the experiment's runs without the pre-flight (callers that checked); `now` puts them first and resumes the queue. Returns how many. */
  async submit(mode: 'queue' | 'now'): Promise<number> {
    if (!this.queueService) throw new Error('open a folder first: the queue lives in its .scwb folder');
    const items = expandPreset(this.preset, this.estimate).map(x => ({ ...x, preset: this.presetId ?? 'custom' }));
    await this.queueService.add(items, { front: mode === 'now' });
    return items.length;
  }

  protected override async onMessage(message: WebviewMessage): Promise<void> {
    switch (message.type) {
      case 'grid/select':
        this.select(message.presetId);
        return;
      case 'grid/changed': {
        const summary = this.update(message.preset);
        this.post({ type: 'grid/summary', summary });
        // newly bound files: their cells replace the published counts once read
        if (!summary.error) void this.refreshEstimate().then(changed => { if (changed) this.postSummary(); });
        return;
      }
      case 'grid/pick': {
        const path = await pickPath(message.target);
        if (path) this.post({ type: 'grid/picked', grid: message.grid, index: message.index, target: message.target, path });
        return;
      }
      case 'grid/submit': {
        const summary = this.update(message.preset);
        if (summary.error) {
          void vscode.window.showErrorMessage(`The experiment is not valid: ${summary.error}`);
          return;
        }
        try {
          const r = await this.submitChecked(message.mode);
          if ('failed' in r) {
            void vscode.window.showErrorMessage(r.text, { modal: false });
            return;
          }
          const n = r.added;
          const text = `${n} run${n === 1 ? '' : 's'} ${message.mode === 'now' ? 'queued first; the queue runs' : 'added to the queue'}.`;
          this.post({ type: 'grid/submitted', count: n, message: text });
          void vscode.window.showInformationMessage(text, 'Show Queue').then(c => { if (c) void vscode.commands.executeCommand('scwb.queue.focus'); });
        } catch (e) {
          void vscode.window.showErrorMessage(`Could not queue the experiment: ${(e as Error).message}`);
        }
        return;
      }
      default:
    }
  }
}

async function pickPath(target: GridPickTarget): Promise<string | undefined> {
  const folder = target === 'checkpoint';
  const uris = await vscode.window.showOpenDialog({
    title: { dataset: 'Dataset (.h5ad)', query: 'Query dataset (.h5ad)', checkpoint: 'Checkpoint: scBERT .pth file or scGPT model folder', encoder: 'Encoder (encoder.pt, .pth or scGPT folder)' }[target],
    canSelectFiles: true, canSelectFolders: folder || target === 'encoder', canSelectMany: false,
    filters: target === 'dataset' || target === 'query' ? { AnnData: ['h5ad'] } : undefined,
  });
  return uris?.[0]?.fsPath;
}
