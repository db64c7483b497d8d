/**
 * The one message contract between the extension host and its webviews. Both sides import this file
 * (the webview bundles it with esbuild), so a renamed field fails to compile on both.
 *
 * Every webview app starts by posting `ready`; the host answers with the app's data. Apps post `rendered`
 * once what they show is on screen: tests and the host wait for it instead of sleeping.
 */

import type { CheckId, CompatReport } from '../core/checkpoints/compat';
import type { DatasetStats, GeneOverlapResult } from '../core/h5ad/tasks';
import type { DatasetSummary } from '../core/h5ad/types';
import type { ConfusionView, ExperimentResults, ResultsModel } from '../core/results/model';
import type { PerturbationRow } from '../core/results/perturbation';
import type { TableFormat } from '../core/results/export';
import type { ObsColumnInfo, PointColors } from '../core/embedding/colors';
import type { UmapParams } from '../core/embedding/umap';
import type { LossCurve } from '../core/results/figures';

export type { CheckId, CompatReport, ConfusionView, DatasetStats, DatasetSummary, ExperimentResults, GeneOverlapResult, ResultsModel, TableFormat };
export type { ObsColumnInfo, PointColors, UmapParams };

export type AppName = 'about' | 'dataset' | 'results' | 'run' | 'compat' | 'embedding' | 'grid';

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
  torch: {
    version: string; cudaAvailable: boolean; cudaVersion: string | null; devices: string[];
    /** whether the worker is tested on this torch (src/core/torch-support.ts) */
    support: { status: 'tested' | 'between' | 'older' | 'newer' | 'unknown'; message: string };
  } | null;
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
  /** null for pre-training objectives without an accuracy (MSE) */
  accuracy: number | null;
  best: boolean;
  time: string;
}

/** The run as the run panel shows it: its record (status, parameters) and the latest progress. */
export interface RunPanelRun {
  id: string;
  name: string;
  kind: 'baseline' | 'finetune' | 'pretrain' | 'probe';
  experiment: string;
  status: 'queued' | 'running' | 'completed' | 'failed' | 'cancelled' | 'interrupted';
  error: string | null;
  model: string;
  /** the run used the demo's random-weight checkpoints (shown as "demo weights (random)") */
  demoWeights: boolean;
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

/** The embedding plot of one run: the 2-D UMAP layout of its embeddings.npy and what colours the points. */
export interface EmbeddingPlotView {
  runId: string;
  /** the run's display name */
  title: string;
  /** the dataset file's name (colours come from its obs) */
  dataset: string;
  /** rows (cells) and dimension of embeddings.npy */
  rows: number;
  dim: number;
  /** rows laid out (fewer than `rows` when subsampled) and which */
  indices: number[];
  x: number[];
  y: number[];
  subsampled: boolean;
  params: UmapParams;
  nNeighborsUsed: number;
  /** read from umap.json rather than computed now */
  fromCache: boolean;
  columns: ObsColumnInfo[];
  colors: PointColors | null;
  /** why the points are not (or not as asked) coloured, or null */
  datasetProblem: string | null;
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
  | { type: 'results/exportTable'; experiment: string; format: TableFormat }
  /** "Check dataset against model": run the `index`-th action of check `check` of the report the host sent */
  | { type: 'compat/action'; check: CheckId; index: number }
  /** embedding plot: colour the points by another obs column */
  | { type: 'embedding/selectColumn'; column: string }
  // --- grid editor (issue 13) ---
  /** start from a preset, or empty (null) */
  | { type: 'grid/select'; presetId: string | null }
  /** the edited experiment (checked by the host with zod); the host answers grid/summary */
  | { type: 'grid/changed'; preset: unknown }
  /** choose a file or folder for a dataset, query, checkpoint or encoder */
  | { type: 'grid/pick'; grid: number; index: number; target: GridPickTarget }
  | { type: 'grid/submit'; preset: unknown; mode: 'queue' | 'now' };

export type GridPickTarget = 'dataset' | 'query' | 'checkpoint' | 'encoder';

/** What the grid editor shows beside the axes: run count, GPU-hour estimate, published targets, problems. */
export interface GridSummaryView {
  runs: number;
  gpuRuns: number;
  cpuRuns: number;
  /** hours of the non-baseline runs on `device` */
  gpuHours: number;
  /** the device the estimate assumes: 'CPU' or the GPU's name ('' without a valid document) */
  device: string;
  /** what each model's estimate is based on (cells, device, throughput) */
  basis: string[];
  perGrid: { title: string; runs: number; gpuHours: number }[];
  skipped: { grid: number; reason: string; count: number }[];
  assumptions: string[];
  targets: { grid: number; dataset: string; model: string; fraction: number; accuracy: number | null; macroF1: number | null; source: string }[];
  /** what must still be chosen before queueing */
  problems: string[];
  /** the document does not validate (field and reason); null when it does */
  error: string | null;
  /** where the queue runs: slots of this machine */
  slots: string;
  /** the fine-tunes' protocol against the published one (src/core/protocols); null when the experiment has no fine-tune */
  protocol: GridProtocolView | null;
}

/** What the grid editor shows of an experiment's protocol before anything runs. */
export interface GridProtocolView {
  deviations: { element: string; scope: string; ours: string; published: string; source: string }[];
  /** elements that differ on purpose (documented, not deviations) */
  documented: { element: string; scope: string; note: string }[];
}

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
    learning?: LossCurve[];
    /** the perturbation-prediction table (test MSE over trials) of every experiment; absent or empty when none ran */
    perturbation?: PerturbationRow[] }
  | { type: 'results/confusion'; experiment: string; rowKey: string; confusion: ConfusionView | null; learning?: LossCurve[] }
  /**
   * Run panel: `reset` replaces everything shown (the first message, and after events.jsonl was replaced);
   * otherwise `train` and `validation` are appended to what the panel holds. `run` and `log` (the last lines of
   * run.log) always replace.
   */
  | { type: 'run/update'; reset: boolean; run: RunPanelRun; train: RunTrainPoint[]; validation: RunValidationPoint[]; log: string[]; problem: string | null }
  /** "Check dataset against model": the check started (with what), its progress, its report or its error */
  | { type: 'compat/checking'; model: string; dataset: string; fraction: number; message: string }
  | { type: 'compat/report'; report: CompatReport; trusted: boolean }
  | { type: 'compat/error'; model: string; dataset: string; message: string }
  /** embedding plot: the layout is being computed (fraction 0..1, NaN when unknown) */
  | { type: 'embedding/progress'; title: string; fraction: number; message: string }
  | { type: 'embedding/plot'; plot: EmbeddingPlotView }
  /** embedding plot: new colours after `embedding/selectColumn` (null with `problem` when the column could not be read) */
  | { type: 'embedding/colors'; colors: PointColors | null; problem: string | null }
  | { type: 'embedding/error'; message: string }
  // --- grid editor (issue 13) ---
  | { type: 'grid/state'; presets: { id: string; title: string; source: string }[]; presetId: string | null; preset: GridPresetDoc; summary: GridSummaryView }
  | { type: 'grid/summary'; summary: GridSummaryView }
  | { type: 'grid/picked'; grid: number; index: number; target: GridPickTarget; path: string }
  | { type: 'grid/submitted'; count: number; message: string };

/** The experiment document the grid editor edits (src/core/presets/schema.ts `Preset`). */
export type GridPresetDoc = import('../core/presets/schema').Preset;

const WEBVIEW_TYPES: ReadonlySet<string> = new Set(['ready', 'rendered', 'action', 'export', 'error', 'dataset/selectColumn', 'dataset/pickGeneList',
  'results/selectRow', 'results/selectExperiment', 'results/exportTable', 'compat/action', 'embedding/selectColumn',
  'grid/select', 'grid/changed', 'grid/pick', 'grid/submit']);

/** Messages from a webview are untrusted input: check the shape before use. */
export function isWebviewMessage(m: unknown): m is WebviewMessage {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string'
    && WEBVIEW_TYPES.has((m as { type: string }).type);
}
