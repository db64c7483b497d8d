/**
 * The one message contract between the extension host and its webviews. Both sides import this file
 * (the webview bundles it with esbuild), so a renamed field fails to compile on both.
 *
 * Every webview app starts by posting `ready`; the host answers with the app's data. Apps post `rendered`
 * once what they show is on screen: tests and the host wait for it instead of sleeping.
 */

import type { DatasetStats, GeneOverlapResult } from '../core/h5ad/tasks';
import type { DatasetSummary } from '../core/h5ad/types';
import type { ConfusionView, ExperimentResults, ResultsModel } from '../core/results/model';
import type { TableFormat } from '../core/results/export';
import type { LossCurve } from '../core/results/figures';

export type { ConfusionView, DatasetStats, DatasetSummary, ExperimentResults, GeneOverlapResult, ResultsModel, TableFormat };

export type AppName = 'about' | 'dataset' | 'results' | 'run';

/** What the About / Environment panel reports. */
export interface EnvReport {
  vscodeVersion: string;
  appHost: string;
  extensionVersion: string;
  nodeVersion: string;
  platform: string;
  workspaceTrusted: boolean;
  python: PythonReport;
}

export interface PythonReport {
  /** where the interpreter came from */
  source: 'python-extension' | 'setting' | 'default' | 'untrusted';
  /** the command or path used */
  interpreter: string;
  /** null when the interpreter could not be started */
  version: string | null;
  executable: string | null;
  torch: { version: string; cudaAvailable: boolean; cudaVersion: string | null; devices: string[] } | null;
  /** user-facing: what went wrong and what to do; null when all is fine */
  problem: string | null;
  /** what the user can do about `problem` */
  advice: string | null;
}

/** One point of the training curves (a `train` event of events.jsonl). */
export interface RunTrainPoint {
  epoch: number;
  step: number;
  loss: number;
  lr: number;
  cellsPerSec: number;
  gpuMemoryMiB: number | null;
  time: string;
}

/** One validation (after an epoch). */
export interface RunValidationPoint {
  epoch: number;
  step: number;
  loss: number;
  accuracy: number;
  best: boolean;
  time: string;
}

/** The run as the run panel shows it: its record (status, parameters) and the latest progress. */
export interface RunPanelRun {
  id: string;
  name: string;
  kind: 'baseline' | 'finetune';
  experiment: string;
  status: 'queued' | 'running' | 'completed' | 'failed' | 'cancelled' | 'interrupted';
  error: string | null;
  model: string;
  dataset: string;
  labelColumn: string;
  fraction: number;
  seed: number;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  /** epochs the run was configured with (fine-tune), null when unknown */
  epochs: number | null;
  /** parameters as label/value text, in a stable order */
  parameters: [string, string][];
  /** the latest progress event (0..1) and its message */
  progress: { fraction: number; message: string } | null;
  summary: { accuracy: number; macroF1: number } | null;
}

/** Messages from a webview to the host. */
export type WebviewMessage =
  | { type: 'ready'; app: AppName }
  | { type: 'rendered'; app: AppName; detail: Record<string, number | string | boolean> }
  | { type: 'action'; action: 'refresh' | 'openSettings' }
  | { type: 'export'; format: ExportFormat; suggestedName: string; content: string }
  | { type: 'error'; message: string }
  | { type: 'dataset/selectColumn'; column: string }
  | { type: 'dataset/pickGeneList' }
  /** show the confusion matrix / per-class F1 of a table row (a dataset x model x fraction group) */
  | { type: 'results/selectRow'; experiment: string; rowKey: string }
  | { type: 'results/selectExperiment'; experiment: string }
  /** export the experiment's table; the host formats it (the same code as `scwb results`) and saves it */
  | { type: 'results/exportTable'; experiment: string; format: TableFormat };

export type ExportFormat = 'csv' | 'md' | 'tex' | 'png' | 'svg';

/** Messages from the host to a webview. */
export type HostMessage =
  /** answers every `ready` at once, before the app's data (which may take a while) */
  | { type: 'ready/ack' }
  | { type: 'about/report'; report: EnvReport }
  | { type: 'about/checking' }
  | { type: 'error'; message: string }
  /** the summary comes first (fast); statistics stream in after it */
  | { type: 'dataset/summary'; summary: DatasetSummary; labelCandidates: string[] }
  | { type: 'dataset/progress'; fraction: number; message: string }
  | { type: 'dataset/stats'; stats: DatasetStats }
  | { type: 'dataset/overlap'; file: string; overlap: GeneOverlapResult }
  | { type: 'dataset/error'; message: string; stage: 'summary' | 'stats' | 'overlap' }
  /**
   * Everything the results panel shows. `experiment` is the one to display (the webview may switch among
   * `model.experiments`); `confusion` belongs to `confusionRowKey` of that experiment (null when no run has metrics).
   */
  | { type: 'results/model'; model: ResultsModel; experiment: string; confusionRowKey: string | null; confusion: ConfusionView | null;
    /** loss curves (events.jsonl) of the row's runs that trained by epochs (fine-tunes); absent or empty for baselines */
    learning?: LossCurve[] }
  | { type: 'results/confusion'; experiment: string; rowKey: string; confusion: ConfusionView | null; learning?: LossCurve[] }
  /**
   * Run panel: `reset` replaces everything shown (the first message, and after events.jsonl was replaced);
   * otherwise `train` and `validation` are appended to what the panel holds. `run` and `log` (the last lines of
   * run.log) always replace.
   */
  | { type: 'run/update'; reset: boolean; run: RunPanelRun; train: RunTrainPoint[]; validation: RunValidationPoint[]; log: string[]; problem: string | null };

const WEBVIEW_TYPES: ReadonlySet<string> = new Set(['ready', 'rendered', 'action', 'export', 'error', 'dataset/selectColumn', 'dataset/pickGeneList',
  'results/selectRow', 'results/selectExperiment', 'results/exportTable']);

/** Messages from a webview are untrusted input: check the shape before use. */
export function isWebviewMessage(m: unknown): m is WebviewMessage {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string'
    && WEBVIEW_TYPES.has((m as { type: string }).type);
}
