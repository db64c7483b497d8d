/**
 * Opening an .h5ad opens this read-only custom editor: the summary first (fast), then statistics streamed from a
 * worker thread (histograms of counts and genes per cell, value scale, composition of an obs column, gene namespace),
 * and, on request, the overlap of the genes with a reference list or model vocabulary the user points to.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import { orderColumnsForLabels } from '../../core/h5ad/labels';
import type { DatasetStats, GeneOverlapResult } from '../../core/h5ad/tasks';
import type { DatasetSummary } from '../../core/h5ad/types';
import { runTask } from '../../core/workers/run-task';
import { CancelledError } from '../../core/workers/task';
import type { WebviewMessage } from '../../shared/protocol';
import { WebviewApp } from '../panels/webview-app';
import type { SummaryCache } from './summaries';

export class DatasetView extends WebviewApp {
  static readonly viewType = 'scwb.datasetView';
  private static readonly open = new Set<DatasetView>();
  private summary: DatasetSummary | undefined;
  private column: string | undefined;
  private stats: AbortController | undefined;
  private lastStats: DatasetStats | undefined;

  static register(context: vscode.ExtensionContext, cache: SummaryCache): vscode.Disposable {
    const provider: vscode.CustomReadonlyEditorProvider = {
      openCustomDocument: uri => ({ uri, dispose: () => undefined }),
      resolveCustomEditor: (document, panel) => {
        const view = new DatasetView(context.extensionUri, panel, document.uri, cache);
        DatasetView.open.add(view);
      },
    };
    return vscode.window.registerCustomEditorProvider(DatasetView.viewType, provider, {
      webviewOptions: { retainContextWhenHidden: false },
      supportsMultipleEditorsPerDocument: false,
    });
  }

  /** The open dataset views (for tests and commands). */
  static views(): DatasetView[] {
    return [...DatasetView.open];
  }

  private constructor(extensionUri: vscode.Uri, panel: vscode.WebviewPanel, readonly uri: vscode.Uri, private readonly cache: SummaryCache) {
    super(extensionUri, panel, 'dataset');
    this.track({ dispose: () => { this.stats?.abort(); DatasetView.open.delete(this); } });
  }

  protected override async onReady(): Promise<void> {
    const file = this.uri.fsPath;
    try {
      this.summary = await this.cache.get(file);
    } catch (e) {
      this.post({ type: 'dataset/error', stage: 'summary', message: (e as Error).message });
      return;
    }
    const { candidates } = orderColumnsForLabels(this.summary.obs);
    this.column ??= candidates[0];
    this.post({ type: 'dataset/summary', summary: this.summary, labelCandidates: candidates });
    if (this.lastStats && this.lastStats.composition?.column === this.column) this.post({ type: 'dataset/stats', stats: this.lastStats });
    else await this.computeStats();
  }

  protected override async onMessage(message: WebviewMessage): Promise<void> {
    if (message.type === 'dataset/selectColumn') {
      this.column = message.column;
      await this.computeStats();
    } else if (message.type === 'dataset/pickGeneList') {
      await this.pickGeneList();
    }
  }

  /** Streams statistics in a worker; a newer request cancels the older one. */
  private async computeStats(): Promise<void> {
    if (!this.summary?.X) {
      this.post({ type: 'dataset/error', stage: 'stats', message: `${path.basename(this.uri.fsPath)} has no X: there are no expression statistics to show.` });
      return;
    }
    this.stats?.abort();
    const ac = new AbortController();
    this.stats = ac;
    try {
      const stats = await runTask<DatasetStats>('h5ad/tasks', 'datasetStats', { path: this.uri.fsPath, column: this.column }, {
        signal: ac.signal,
        onProgress: (fraction, message) => this.post({ type: 'dataset/progress', fraction, message: message ?? '' }),
      });
      this.lastStats = stats;
      this.post({ type: 'dataset/stats', stats });
    } catch (e) {
      if (e instanceof CancelledError) return;
      this.post({ type: 'dataset/error', stage: 'stats', message: (e as Error).message });
    }
  }

  async pickGeneList(file?: vscode.Uri): Promise<GeneOverlapResult | undefined> {
    const chosen = file ?? (await vscode.window.showOpenDialog({
      title: 'Reference gene list or model vocabulary',
      canSelectMany: false,
      filters: { 'Gene lists': ['json', 'txt', 'tsv', 'csv'], 'All files': ['*'] },
      openLabel: 'Compare genes',
    }))?.[0];
    if (!chosen) return undefined;
    try {
      const overlap = await runTask<GeneOverlapResult>('h5ad/tasks', 'geneOverlap', { path: this.uri.fsPath, genesFile: chosen.fsPath });
      this.post({ type: 'dataset/overlap', file: path.basename(chosen.fsPath), overlap });
      return overlap;
    } catch (e) {
      this.post({ type: 'dataset/error', stage: 'overlap', message: (e as Error).message });
      return undefined;
    }
  }
}
