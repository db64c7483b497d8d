/**
 * An annotation of a labelled dataset recorded in the run store, so it shows in the results table next to the
 * training runs: a run of kind 'finetune' whose `parameters.annotate` says what was applied (no
 * `parameters.finetune`: nothing was trained), predictions.csv over every labelled cell, and metrics.json/summary
 * computed by the same finalizer as fine-tune runs.
 */
import * as path from 'path';
import { finalizeFinetuneRun } from '../finetune/finalize';
import { sha256File } from '../hash';
import { codeVersion } from '../runs/baseline';
import type { RunRecord } from '../runs/schema';
import type { RunStore } from '../runs/store';
import type { AnnotateResult, OnnxSidecar } from './annotate';

export interface AnnotationRun {
  model: string;
  dataset: string;
  out: string;
  sidecar: OnnxSidecar;
  result: AnnotateResult;
  batchSize: number;
  experiment?: string;
  /** what the scores cover (trained-cells.ts): training cells left out, or that they may be included */
  scored?: string;
}

export async function recordAnnotation(store: RunStore, a: AnnotationRun): Promise<RunRecord> {
  const { result, sidecar } = a;
  if (!result.metrics || !result.labelled) throw new Error('recordAnnotation: the annotation has no labelled cells');
  const dataset = path.resolve(a.dataset);
  const family = sidecar.model === 'scbert' ? 'scBERT' : 'scGPT';
  const started = new Date().toISOString();
  const rec = await store.create({
    kind: 'finetune', name: `annotate ${path.basename(dataset)} with ${path.basename(path.dirname(path.resolve(a.model)))}`,
    experiment: a.experiment ?? 'annotate',
    dataset: { path: dataset, sha256: await sha256File(dataset), nObs: result.nCells },
    labelColumn: result.metrics.labelColumn,
    split: { kind: 'reference-query', queryPath: dataset }, seed: 0, fraction: 1,
    model: { family, label: `${family} (ONNX)`, variant: 'annotate' },
    parameters: {
      annotate: {
        model: path.resolve(a.model), modelSha256: await sha256File(path.resolve(a.model)), sourceRun: sidecar.runId ?? null,
        output: path.resolve(a.out), batchSize: a.batchSize, classes: sidecar.classes,
        unknownLabels: result.metrics.unknownLabels, cellsPerSec: result.cellsPerSec,
        excludedTrainedCells: result.metrics.excludedTrained, ...(a.scored ? { scored: a.scored } : {}),
      },
    },
    codeVersion: codeVersion(), status: 'running',
  });
  const l = result.labelled;
  await store.writePredictions(rec.id, l.rows.map((row, i) => ({ index: row, obsName: l.obsNames[i], trueLabel: l.trueLabels[i], predictedLabel: l.predicted[i] })));
  await store.appendLog(rec.id, `annotated ${result.nCells} cells of ${dataset} with ${path.resolve(a.model)} (onnxruntime-node, CPU): ${path.resolve(a.out)}${a.scored ? `; ${a.scored}` : ''}`);
  await store.update(rec.id, { status: 'completed', startedAt: started, endedAt: new Date().toISOString() });
  return finalizeFinetuneRun(store, rec.id);
}
