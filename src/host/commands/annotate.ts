/**
 * "Annotate Dataset with Model…": a worker-exported classifier (model.onnx + model.onnx.json, from the Checkpoints
 * view or a run folder) applied to a dataset with onnxruntime-node in a worker thread; the predictions and class
 * probabilities go into a new .h5ad next to the dataset, and a labelled dataset's metrics into the run store.
 * Reached from a dataset's context menu (Datasets view, Explorer), an .onnx model's context menu (Checkpoints view,
 * Explorer) and the palette. Trusted workspaces only.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { readSidecar, type AnnotateInput, type AnnotateResult } from '../../core/annotate/annotate';
import { recordAnnotation } from '../../core/annotate/record';
import { trainedCells, trainedCellsText } from '../../core/annotate/trained-cells';
import type { CheckpointInfo } from '../../core/checkpoints';
import type { ListedCheckpoint } from '../../core/checkpoints/by-run';
import type { DatasetSummary } from '../../core/h5ad/types';
import type { RunRecord } from '../../core/runs/schema';
import { runTask } from '../../core/workers/run-task';
import { CancelledError } from '../../core/workers/task';
import { withCancellableProgress } from '../progress';
import { windowPrompts, type Prompts } from '../prompts';
import { requireTrust } from '../trust';
import type { RunsTree } from '../runs/tree';

export interface AnnotateDeps {
  summaryOf: (file: string) => Promise<DatasetSummary>;
  pickDataset: () => Promise<string | undefined>;
  checkpoints: () => Promise<ListedCheckpoint[]>;
  runs: RunsTree;
  prompts?: Prompts;
}

export interface AnnotateOutcome {
  result: AnnotateResult;
  run: RunRecord | null;
}

type Target = vscode.Uri | { uri: vscode.Uri } | CheckpointInfo | undefined;

const NO_LABELS = '(no labels: predictions only)';

/** The next free `<stem>_annotated[_k].h5ad` beside the dataset. */
export function defaultOutput(dataset: string): string {
  const dir = path.dirname(dataset);
  const stem = path.basename(dataset, path.extname(dataset));
  for (let k = 1; ; k++) {
    const p = path.join(dir, `${stem}_annotated${k === 1 ? '' : `_${k}`}.h5ad`);
    if (!fs.existsSync(p)) return p;
  }
}

export async function annotateCommand(target: Target, deps: AnnotateDeps): Promise<AnnotateOutcome | undefined> {
  if (!requireTrust('annotate datasets')) return undefined;
  const prompts = deps.prompts ?? windowPrompts;
  let model: string | undefined;
  let dataset: string | undefined;
  const file = target instanceof vscode.Uri ? target.fsPath : target && 'uri' in target ? target.uri.fsPath : target?.path;
  if (file && file.toLowerCase().endsWith('.onnx')) model = file;
  else dataset = file;
  dataset ??= await deps.pickDataset();
  if (!dataset) return undefined;
  model ??= await pickModel(prompts, deps);
  if (!model) return undefined;
  let sidecar;
  try {
    sidecar = readSidecar(model);
  } catch (e) {
    void vscode.window.showErrorMessage(`Annotate: ${(e as Error).message}`);
    return undefined;
  }
  const summary = await deps.summaryOf(dataset);
  const columns = summary.obs.map(c => c.name);
  const labelItems = [NO_LABELS, ...columns].map(label => ({ label, picked: label === sidecar.labelColumn }));
  const preferred = sidecar.labelColumn && columns.includes(sidecar.labelColumn) ? sidecar.labelColumn : undefined;
  if (preferred) labelItems.sort((a, b) => Number(b.label === preferred) - Number(a.label === preferred));
  const label = await prompts.pick(labelItems, {
    title: 'Labels to score the predictions against', placeHolder: preferred ? `the model was trained on '${preferred}'` : 'an obs column, or none',
  });
  if (!label) return undefined;
  const out = await prompts.input({
    title: 'Annotated dataset (a new file; the dataset itself is not changed)', value: defaultOutput(dataset),
    validateInput: v => (!v.trim().endsWith('.h5ad') ? 'an .h5ad path' : fs.existsSync(v.trim()) ? 'this file exists: choose another name' : undefined),
  });
  if (!out) return undefined;
  const labelColumn = label.label === NO_LABELS ? undefined : label.label;
  // Scores only the cells the model was not trained on, when it was trained on this file.
  const trained = labelColumn === undefined ? null : await trainedCells(deps.runs.store, sidecar.runId, dataset);
  const input: AnnotateInput = {
    model, dataset, out: path.resolve(path.dirname(dataset), out.trim()), labelColumn, batchSize: 32,
    ...(trained?.kind === 'excluded' ? { excludeRows: trained.rows } : {}),
  };
  try {
    const result = await withCancellableProgress(`Annotating ${path.basename(dataset)} with ${path.basename(path.dirname(model))}/${path.basename(model)}`,
      progress => runTask<AnnotateResult>('annotate/annotate', 'annotateTask', input, progress));
    let run: RunRecord | null = null;
    if (result.metrics && deps.runs.store) {
      run = await recordAnnotation(deps.runs.store, {
        model, dataset, out: input.out, sidecar, result, batchSize: input.batchSize!, ...(trained ? { scored: trainedCellsText(trained, result.metrics.excludedTrained) } : {}),
      });
      deps.runs.refresh();
    }
    const m = result.metrics;
    const missing = result.genesMissing ? ` ${result.genesMissing} of the model's genes are missing from the dataset (read as 0).` : '';
    void vscode.window.showInformationMessage(
      `Annotated ${result.nCells} cells into ${path.basename(result.out)}${m ? `: accuracy ${m.accuracy.toFixed(3)}, macro F1 ${m.macroF1.toFixed(3)} on '${m.labelColumn}'${trained ? `, ${trainedCellsText(trained, m.excludedTrained)}` : ''}` : ''}.${missing}`,
      'Open Dataset View',
    ).then(choice => { if (choice) void vscode.commands.executeCommand('scwb.dataset.open', vscode.Uri.file(result.out)); });
    return { result, run };
  } catch (e) {
    if (e instanceof CancelledError) return undefined;
    void vscode.window.showErrorMessage(`Annotate failed: ${(e as Error).message}`);
    return undefined;
  }
}

async function pickModel(prompts: Prompts, deps: AnnotateDeps): Promise<string | undefined> {
  const models = (await deps.checkpoints()).filter(c => c.kind === 'onnx' && fs.existsSync(`${c.path}.json`));
  const browse = { label: '$(folder-opened) Choose an .onnx file…', detail: undefined as string | undefined, file: '' };
  const items = [
    ...models.map(c => ({ label: c.run ? c.run.name : path.basename(path.dirname(c.path)), description: vscode.workspace.asRelativePath(c.path), detail: describeModel(c.path), file: c.path })),
    browse,
  ];
  const picked = await prompts.pick(items, { title: 'Model (exported by a fine-tune run: model.onnx)', matchOnDescription: true });
  if (!picked) return undefined;
  if (picked.file) return picked.file;
  const chosen = await prompts.open({ canSelectMany: false, filters: { 'ONNX model': ['onnx'] }, title: 'ONNX model exported by a fine-tune run' });
  return chosen?.[0]?.fsPath;
}

function describeModel(file: string): string | undefined {
  try {
    const s = readSidecar(file);
    return `${s.model}: ${s.classes.length} classes (${s.classes.slice(0, 4).join(', ')}${s.classes.length > 4 ? ', …' : ''}), ${s.genes.length} genes`;
  } catch {
    return undefined;
  }
}
