/**
 * The results panel beside the editor: per experiment, a table of mean ± CI over seeds with significance against
 * the reference model and the published numbers beside, a confusion matrix and per-class F1 of a chosen row,
 * few-shot curves with CI bands, ablation bars, learning curves of fine-tune runs; tables export as CSV / Markdown /
 * LaTeX (the same code as `scwb results`), figures as PNG and SVG (the webview renders them with core/results/svg).
 * It follows the run store: when runs change, the model is rebuilt and sent again.
 */
import * as vscode from 'vscode';
import { exportTable } from '../../core/results/export';
import { lossCurve, type LossCurve } from '../../core/results/figures';
import { statisticsChooser } from '../../core/protocols/statistics';
import { HARD_CELLS, addClassPairMetrics } from '../../core/results/class-pair';
import { buildResultsModel, confusionView, type ConfusionView, type ResultsModel } from '../../core/results/model';
import { perturbationRows } from '../../core/results/perturbation';
import { loadPublishedNumbers, type PublishedNumber } from '../../core/results/published';
import type { RunMetrics } from '../../core/runs/schema';
import type { WebviewMessage } from '../../shared/protocol';
import type { RunsTree } from '../runs/tree';
import { saveExport } from './export';
import { WebviewApp } from './webview-app';

let published: PublishedNumber[] | undefined;

export class ResultsPanel extends WebviewApp {
  static readonly viewType = 'scwb.results';
  private static current: ResultsPanel | undefined;
  private model: ResultsModel | undefined;
  private experiment: string | undefined;
  private rowKey: string | null = null;
  /** send() calls so far: an older call that ends after a newer one posts nothing */
  private sends = 0;

  static show(extension: vscode.ExtensionContext, runs: RunsTree, experiment?: string): ResultsPanel {
    const existing = ResultsPanel.current;
    if (existing) {
      if (experiment && experiment !== existing.experiment) {
        existing.experiment = experiment;
        existing.rowKey = null;
      }
      // Reveal it where it is: ViewColumn.Beside would move it into yet another editor group (and moving a
      // webview reloads it).
      existing.panel.reveal(existing.panel.viewColumn, true);
      void existing.send();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(ResultsPanel.viewType, 'scWorkbench: Results', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {});
    return ResultsPanel.adopt(extension, runs, panel, experiment);
  }

  static adopt(extension: vscode.ExtensionContext, runs: RunsTree, panel: vscode.WebviewPanel, experiment?: string): ResultsPanel {
    const p = new ResultsPanel(extension, runs, panel);
    p.experiment = experiment;
    ResultsPanel.current = p;
    // Build the model now (it is posted once the webview is ready), so it does not wait on the webview.
    void p.send();
    return p;
  }

  static get instance(): ResultsPanel | undefined {
    return ResultsPanel.current;
  }

  private constructor(extension: vscode.ExtensionContext, private readonly runs: RunsTree, panel: vscode.WebviewPanel) {
    super(extension.extensionUri, panel, 'results');
    this.track(runs.onDidChangeRuns(() => void this.send()));
    this.track(vscode.workspace.onDidChangeConfiguration(e => {
      if (e.affectsConfiguration('scwb.results')) void this.send();
    }));
  }

  override dispose(): void {
    if (ResultsPanel.current === this) ResultsPanel.current = undefined;
    super.dispose();
  }

  get currentModel(): ResultsModel | undefined {
    return this.model;
  }

  protected override onReady(): Promise<void> {
    return this.send();
  }

  /**
   * Rebuilds the model from the run store and sends it with the confusion matrix of the selected row. The experiment
   * asked for stays asked for while the store does not list it yet (its runs are being written): the first
   * experiment is shown meanwhile, and the asked one as soon as it appears. Only the newest of overlapping calls posts.
   */
  async send(): Promise<void> {
    const call = ++this.sends;
    try {
      published ??= loadPublishedNumbers();
      const choice = vscode.workspace.getConfiguration('scwb').get<string>('results.statistics', 'auto');
      const statistics = statisticsChooser(choice === 'published' || choice === 'welch' ? choice : 'auto');
      const runs = await this.runs.runs();
      const model = buildResultsModel(runs, published, { statistics });
      await this.addClassPair(model);
      const perturbation = perturbationRows(runs);
      if (call !== this.sends) return;
      this.model = model;
      const names = model.experiments.map(e => e.experiment);
      const shown = this.experiment && names.includes(this.experiment) ? this.experiment : names[0];
      const table = model.experiments.find(e => e.experiment === shown);
      if (!table || !table.rows.some(r => r.key === this.rowKey)) this.rowKey = table?.rows[0]?.key ?? null;
      const confusion = table && this.rowKey ? await this.confusionOf(table.experiment, this.rowKey) : null;
      const learning = table && this.rowKey ? await this.learningOf(table.experiment, this.rowKey) : [];
      if (call !== this.sends) return;
      this.post({ type: 'results/model', model, experiment: shown ?? '', confusionRowKey: this.rowKey, confusion, learning, perturbation });
    } catch (e) {
      if (call === this.sends) this.post({ type: 'error', message: `Cannot build the results: ${(e as Error).message}` });
    }
  }

  protected override async onMessage(m: WebviewMessage): Promise<void> {
    if (m.type === 'results/selectRow') {
      this.experiment = m.experiment;
      this.rowKey = m.rowKey;
      const [confusion, learning] = await Promise.all([this.confusionOf(m.experiment, m.rowKey), this.learningOf(m.experiment, m.rowKey)]);
      this.post({ type: 'results/confusion', experiment: m.experiment, rowKey: m.rowKey, confusion, learning });
    } else if (m.type === 'results/selectExperiment') {
      this.experiment = m.experiment;
      await this.send();
    } else if (m.type === 'results/exportTable') {
      const table = this.model?.experiments.find(e => e.experiment === m.experiment);
      if (!table) return;
      await saveExport(m.format, `${m.experiment}.${m.format}`, exportTable(table, m.format));
    }
  }

  /** The table in a format, as `scwb results` prints it (for tests and the export buttons). */
  tableText(experiment: string, format: 'csv' | 'md' | 'tex'): string | undefined {
    const table = this.model?.experiments.find(e => e.experiment === experiment);
    return table ? exportTable(table, format) : undefined;
  }

  /** Loss curves of the row's runs (one per seed) from their events.jsonl; runs without epochs give none. */
  async learningOf(experiment: string, rowKey: string): Promise<LossCurve[]> {
    const row = this.model?.experiments.find(e => e.experiment === experiment)?.rows.find(r => r.key === rowKey);
    const store = this.runs.store;
    if (!row || !store) return [];
    const curves = await Promise.all(row.runIds.map(async (id, i) => {
      const events = await store.readEvents(id).catch(() => null);
      return events ? lossCurve(id, row.seeds[i], events) : null;
    }));
    return curves.filter((c): c is LossCurve => c !== null);
  }

  /** The `scwb.results.classPair` setting ('hard-cells' or 'A|B'): per-class-pair columns from each run's metrics.json. */
  private async addClassPair(model: ResultsModel): Promise<void> {
    const setting = vscode.workspace.getConfiguration('scwb').get<string>('results.classPair', '').trim();
    const store = this.runs.store;
    if (!setting || !store) return;
    const parts = setting.split('|').map(x => x.trim());
    const pair: [string, string] | null = setting === 'hard-cells' ? HARD_CELLS : parts.length === 2 && parts[0] && parts[1] ? [parts[0], parts[1]] : null;
    if (!pair) return;
    const ids = model.experiments.flatMap(e => e.rows.flatMap(r => r.runIds));
    const metrics = new Map(await Promise.all(ids.map(async id => [id, await store.readMetrics(id).catch(() => null)] as const)));
    addClassPairMetrics(model, pair, id => metrics.get(id));
  }

  private async confusionOf(experiment: string, rowKey: string): Promise<ConfusionView | null> {
    const row = this.model?.experiments.find(e => e.experiment === experiment)?.rows.find(r => r.key === rowKey);
    const store = this.runs.store;
    if (!row || !store) return null;
    const metrics = (await Promise.all(row.runIds.map(id => store.readMetrics(id).catch(() => null)))).filter((x): x is RunMetrics => x !== null);
    return metrics.length ? confusionView(metrics) : null;
  }
}
