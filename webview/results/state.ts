/**
 * The results panel's view state: what the host sent last, which experiment and row are shown, and the choices a
 * reload restores. One object, so the panel's parts (table, row details, curves) read and change the same state.
 */
import type { Chart } from '../shared/charts';
import type { LossCurve } from '../../src/core/results/figures';
import type { ConfusionView, ExperimentResults, ResultsModel } from '../../src/shared/protocol';
import { getState, setState } from '../shared/host';

export type Metric = 'accuracy' | 'macroF1';

export const METRIC_LABEL: Record<Metric, string> = { accuracy: 'Accuracy', macroF1: 'Macro-F1' };

/** What a reload restores (the host re-sends the model after `ready`). */
export interface SavedView {
  experiment?: string;
  rowKey?: string | null;
  metric?: Metric;
  /** the row last chosen in each experiment, so switching back shows it again */
  rowByExperiment?: Record<string, string>;
  /** the confusion matrix shows row-normalised proportions (default) or counts */
  confusionNormalized?: boolean;
}

export interface ResultsView {
  charts: Chart[];
  model: ResultsModel | undefined;
  current: ExperimentResults | undefined;
  selectedKey: string | null;
  confusion: ConfusionView | null;
  /** a selectRow was posted and its answer has not come yet */
  confusionPending: boolean;
  metric: Metric;
  confusionNormalized: boolean;
  /** loss curves of the selected row's runs (fine-tunes), from the host with its confusion matrix */
  learning: LossCurve[];
  /** the saved view applies to the first model after a (re)load only; later models are the host's choice */
  savedViewApplied: boolean;
  rowByExperiment: Record<string, string>;
}

export const view: ResultsView = {
  charts: [],
  model: undefined,
  current: undefined,
  selectedKey: null,
  confusion: null,
  confusionPending: false,
  metric: getState<SavedView>()?.metric ?? 'accuracy',
  confusionNormalized: getState<SavedView>()?.confusionNormalized ?? true,
  learning: [],
  savedViewApplied: false,
  rowByExperiment: { ...getState<SavedView>()?.rowByExperiment },
};

export function experimentNamed(name: string | null | undefined): ExperimentResults | undefined {
  return name ? view.model?.experiments.find(e => e.experiment === name) : undefined;
}

export function saveView(): void {
  if (view.current && view.selectedKey !== null) view.rowByExperiment[view.current.experiment] = view.selectedKey;
  setState<SavedView>({
    experiment: view.current?.experiment, rowKey: view.selectedKey, metric: view.metric,
    rowByExperiment: view.rowByExperiment, confusionNormalized: view.confusionNormalized,
  });
}

export function destroyChart(canvasId: string): void {
  const i = view.charts.findIndex(c => c.canvas.id === canvasId);
  if (i >= 0) view.charts.splice(i, 1)[0].destroy();
}

export function destroyCharts(): void {
  for (const c of view.charts.splice(0)) c.destroy();
}
