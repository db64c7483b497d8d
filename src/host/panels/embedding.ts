/**
 * The embedding plot beside the editor: a UMAP of a run's cell embeddings (`embeddings.npy`, written by a probe
 * run with writeEmbeddings) coloured by an obs column of the run's dataset the user picks.
 *
 * The layout is computed in a worker thread (src/core/embedding/tasks) with progress in the panel, and cached in the
 * run folder as umap.json (only in a trusted workspace: an untrusted one gets the plot, nothing is written).
 * Closing the panel cancels a computation in progress. Also: the command `scwb.runs.showEmbedding`.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import type { EmbeddingColorsInput, EmbeddingPlotData, EmbeddingPlotInput } from '../../core/embedding/tasks';
import { EMBEDDINGS_FILE, hasEmbeddings } from '../../core/embedding/umap';
import type { PointColors } from '../../core/embedding/colors';
import type { RunRecord } from '../../core/runs/schema';
import { datasetName } from '../../core/runs/store';
import { runTask } from '../../core/workers/run-task';
import { CancelledError } from '../../core/workers/task';
import type { EmbeddingPlotView, WebviewMessage } from '../../shared/protocol';
import type { RunTarget } from '../runs/commands';
import type { RunsTree, RunsTreeNode } from '../runs/tree';
import { WebviewApp } from './webview-app';

/** What the panel holds; tests read it through `EmbeddingPanel.state`. */
export interface EmbeddingPanelState {
  status: 'computing' | 'ready' | 'error';
  progress: { fraction: number; message: string } | null;
  plot: EmbeddingPlotView | null;
  error: string | null;
}

export class EmbeddingPanel extends WebviewApp {
  static readonly viewType = 'scwb.embedding';
  private static readonly open = new Map<string, EmbeddingPanel>();

  private held: EmbeddingPanelState = { status: 'computing', progress: null, plot: null, error: null };
  private title = '';
  private record: RunRecord | undefined;
  private readonly abort = new AbortController();
  private computing: Promise<void> | undefined;
  private readonly updatedEmitter = this.track(new vscode.EventEmitter<EmbeddingPanelState>());
  /** fires when the layout is ready, failed, or the colours changed */
  readonly onDidUpdate = this.updatedEmitter.event;

  /** Opens (or reveals) the embedding plot of run `runId` beside the editor. */
  static show(extension: vscode.ExtensionContext, runs: RunsTree, runId: string): EmbeddingPanel {
    const existing = EmbeddingPanel.open.get(runId);
    if (existing) {
      existing.panel.reveal(existing.panel.viewColumn, true);
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(EmbeddingPanel.viewType, 'scWorkbench: Embedding', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {});
    return EmbeddingPanel.adopt(extension, runs, panel, runId);
  }

  /** Wraps a panel (a new one, or one VS Code restores after a reload). */
  static adopt(extension: vscode.ExtensionContext, runs: RunsTree, panel: vscode.WebviewPanel, runId: string): EmbeddingPanel {
    const p = new EmbeddingPanel(extension, runs, panel, runId);
    EmbeddingPanel.open.set(runId, p);
    p.computing = p.compute();
    return p;
  }

  static of(runId: string): EmbeddingPanel | undefined {
    return EmbeddingPanel.open.get(runId);
  }

  private constructor(extension: vscode.ExtensionContext, private readonly runs: RunsTree, panel: vscode.WebviewPanel, readonly runId: string) {
    super(extension.extensionUri, panel, 'embedding');
    if (!runs.store) throw new Error('no run store: open a folder first');
    this.track({ dispose: () => this.abort.abort() });
  }

  override dispose(): void {
    if (EmbeddingPanel.open.get(this.runId) === this) EmbeddingPanel.open.delete(this.runId);
    super.dispose();
  }

  get state(): EmbeddingPanelState {
    return { ...this.held };
  }

  /** Resolves when the first computation ended (ready or failed). */
  whenComputed(): Promise<void> {
    return this.computing ?? Promise.resolve();
  }

  protected override onReady(): void {
    // A (re)loaded webview holds nothing: send what there is.
    if (this.held.plot) this.post({ type: 'embedding/plot', plot: this.held.plot });
    else if (this.held.error) this.post({ type: 'embedding/error', message: this.held.error });
    else this.post({ type: 'embedding/progress', title: this.title, fraction: this.held.progress?.fraction ?? 0, message: this.held.progress?.message ?? 'starting' });
  }

  protected override async onMessage(m: WebviewMessage): Promise<void> {
    if (m.type === 'embedding/selectColumn' && typeof m.column === 'string') await this.selectColumn(m.column);
  }

  /** Colours the points by obs column `column` (also what the webview's picker asks for). */
  async selectColumn(column: string): Promise<PointColors | null> {
    const plot = this.held.plot;
    const datasetPath = this.record?.dataset.path;
    if (!plot || !datasetPath) return null;
    if (!plot.columns.some(c => c.name === column)) {
      this.post({ type: 'embedding/colors', colors: plot.colors, problem: `obs has no column '${column}'` });
      return null;
    }
    let colors: PointColors | null = null;
    let problem: string | null = null;
    try {
      const input: EmbeddingColorsInput = { runDir: this.runs.store!.runDir(this.runId), datasetPath, column, rows: plot.rows, indices: plot.indices };
      colors = await runTask<PointColors>('embedding/tasks', 'embeddingColors', input, { signal: this.abort.signal });
    } catch (e) {
      if (e instanceof CancelledError) return null;
      problem = (e as Error).message;
    }
    if (colors) this.held = { ...this.held, plot: { ...plot, colors, datasetProblem: null } };
    this.post({ type: 'embedding/colors', colors: colors ?? plot.colors, problem });
    this.updatedEmitter.fire(this.state);
    return colors;
  }

  private async compute(): Promise<void> {
    const store = this.runs.store!;
    try {
      const record = await store.get(this.runId);
      this.record = record;
      this.title = record.name || `${record.model.label} · ${datasetName(record)} · seed ${record.seed}`;
      this.panel.title = `Embedding: ${this.title}`;
      this.held.progress = { fraction: 0, message: 'starting' };
      this.post({ type: 'embedding/progress', title: this.title, fraction: 0, message: 'starting' });
      const input: EmbeddingPlotInput = {
        runDir: store.runDir(this.runId), datasetPath: record.dataset.path || null, labelColumn: record.labelColumn || null,
        writeCache: vscode.workspace.isTrusted,
      };
      const data = await runTask<EmbeddingPlotData>('embedding/tasks', 'embeddingPlot', input, {
        signal: this.abort.signal,
        onProgress: (fraction, message) => {
          this.held.progress = { fraction, message: message ?? '' };
          this.post({ type: 'embedding/progress', title: this.title, fraction, message: message ?? '' });
        },
      });
      const plot = plotView(record, data);
      this.held = { status: 'ready', progress: null, plot, error: null };
      this.post({ type: 'embedding/plot', plot });
    } catch (e) {
      if (e instanceof CancelledError) return;
      const message = (e as NodeJS.ErrnoException).code === 'ENOENT' ? `Run ${this.runId} no longer exists.` : (e as Error).message;
      this.held = { status: 'error', progress: null, plot: null, error: message };
      this.post({ type: 'embedding/error', message });
    }
    this.updatedEmitter.fire(this.state);
  }
}

function plotView(record: RunRecord, data: EmbeddingPlotData): EmbeddingPlotView {
  const l = data.layout;
  return {
    runId: record.id, title: record.name || `${record.model.label} · ${datasetName(record)} · seed ${record.seed}`,
    dataset: path.basename(record.dataset.path), rows: l.rows, dim: l.dim, indices: l.indices, x: l.x, y: l.y,
    subsampled: l.indices.length < l.rows, params: l.params, nNeighborsUsed: l.nNeighborsUsed, fromCache: data.fromCache,
    columns: data.columns, colors: data.colors, datasetProblem: data.datasetProblem,
  };
}

/** `scwb.runs.showEmbedding`: from a run node, `{runId}`, or the palette (a pick over runs with embeddings). */
export function registerEmbeddingCommands(extension: vscode.ExtensionContext, runs: RunsTree): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('scwb.runs.showEmbedding', async (target?: RunTarget) => {
      const store = runs.store;
      if (!store) {
        void vscode.window.showWarningMessage('Open a folder first: runs are stored in its .scwb/runs folder.');
        return undefined;
      }
      let id = target && 'runId' in target ? target.runId
        : (target as RunsTreeNode | undefined)?.kind === 'run' ? (target as Extract<RunsTreeNode, { kind: 'run' }>).run.id : undefined;
      if (!id) {
        const withEmbeddings = (await runs.runs()).filter(r => hasEmbeddings(store.runDir(r.id))).reverse();
        if (!withEmbeddings.length) {
          void vscode.window.showInformationMessage('No run has cell embeddings (embeddings.npy) yet: a probe run with "write embeddings" makes them.');
          return undefined;
        }
        const picked = await vscode.window.showQuickPick(withEmbeddings.map(r => ({
          label: r.name || `${r.model.label} · fraction ${r.fraction} · seed ${r.seed}`,
          description: `${r.kind} · ${r.experiment}`, detail: `${datasetName(r)} · ${r.id}`, id: r.id,
        })), { title: 'Show Embedding Plot', placeHolder: 'Run with cell embeddings', matchOnDescription: true, matchOnDetail: true });
        id = picked?.id;
      }
      if (!id) return undefined;
      if (!hasEmbeddings(store.runDir(id))) {
        void vscode.window.showWarningMessage(`Run ${id} has no ${EMBEDDINGS_FILE}: a probe run with "write embeddings" writes one.`);
        return undefined;
      }
      return EmbeddingPanel.show(extension, runs, id);
    }),
    vscode.window.registerWebviewPanelSerializer(EmbeddingPanel.viewType, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        const runId = (state as { runId?: unknown } | undefined)?.runId;
        if (typeof runId === 'string' && runs.store) EmbeddingPanel.adopt(extension, runs, panel, runId);
        else panel.dispose();
      },
    }),
  ];
}
