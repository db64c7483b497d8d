/**
 * The Preprocess flow's questions about the input file: which names are the genes (var_names or a var column of
 * symbols), and what the values are (counts, TPM/FPKM/CPM, log-normalised), each with the dataset view's verdict
 * on the file first, so that accepting the first answer is right for a typical file.
 */
import type * as vscode from 'vscode';
import type { ValueScale } from '../../core/h5ad/stats';
import type { DatasetStats, GeneIdReport } from '../../core/h5ad/tasks';
import type { InputKind } from '../../core/preprocess/recipe';
import { runTask } from '../../core/workers/run-task';
import { geneNamespaceText } from '../../shared/view-format';
import type { Prompts } from '../prompts';

/** cells read to classify the values (the dataset view reads them all; a few thousand tell the same) */
const PROFILE_ROWS = 5000;

export interface InputProfile {
  values: ValueScale;
  geneIds: GeneIdReport;
  rowsScanned: number;
  nObs: number;
}

/** The dataset view's classifiers on the first cells of `matrix`: the value scale and the gene identifiers. */
export async function profileInput(dataset: string, matrix: string): Promise<InputProfile> {
  const stats = await runTask<DatasetStats>('h5ad/tasks', 'datasetStats', { path: dataset, matrix, maxRows: PROFILE_ROWS });
  return { values: stats.values, geneIds: stats.geneIds, rowsScanned: stats.rowsScanned, nObs: stats.nObs };
}

/**
 * Which names the recipe matches to its gene list or vocabulary: null for var_names, a var column's name, undefined
 * when dismissed. Asked only when var has a column of gene identifiers; with Ensembl var_names and a column of
 * symbols (the published lists and vocabularies are symbols) that column comes first.
 */
export async function pickGeneColumn(ids: GeneIdReport, prompts: Prompts): Promise<string | null | undefined> {
  if (ids.alternatives.length === 0) return null;
  type Item = vscode.QuickPickItem & { value: string | null };
  const varNames: Item = { label: 'var_names', value: null, detail: `${geneNamespaceText(ids.namespace)}, e.g. ${ids.examples.slice(0, 3).join(', ')}` };
  const columns: Item[] = ids.alternatives.map(a => ({ label: a.column, value: a.column, detail: `var column: ${geneNamespaceText(a.namespace)}` }));
  const symbols = ids.namespace.startsWith('ensembl') ? columns.find((_, i) => ids.alternatives[i].namespace === 'symbol') : undefined;
  let items: Item[];
  if (symbols) {
    symbols.description = 'suggested: the published gene lists and vocabularies are symbols';
    items = [symbols, varNames, ...columns.filter(c => c !== symbols)];
  } else items = [varNames, ...columns];
  const picked = await prompts.pick(items, { title: 'Gene names: which names match the recipe\'s gene list or vocabulary?', placeHolder: 'Gene names' });
  return picked === undefined ? undefined : picked.value;
}

const VERDICT_TO_INPUT: Partial<Record<ValueScale['kind'], InputKind>> = {
  'raw-counts': 'counts', normalized: 'normalized', 'log-normalized': 'log-normalized',
};

/** What the values are, the file's verdict first; undefined when dismissed. */
export async function pickInputKind(values: ValueScale, recipe: string, prompts: Prompts): Promise<InputKind | undefined> {
  const steps = recipe === 'scbert' ? 'normalise to 1e4, log2(1 + x)' : recipe === 'scgpt' ? 'normalise to 1e4, log1p' : 'log1p';
  type Item = vscode.QuickPickItem & { value: InputKind };
  const items: Item[] = [
    { label: 'Raw counts', value: 'counts', detail: `integer UMI or read counts: ${steps}` },
    { label: 'Normalised, not log (TPM, FPKM, CPM)', value: 'normalized', detail: `depth-normalised values: ${steps}, as for counts (no integer check)` },
    { label: 'Already log-normalised', value: 'log-normalized', detail: 'the values are used as they are: no normalisation, no log' },
  ];
  const verdict = VERDICT_TO_INPUT[values.kind];
  const first = items.find(i => i.value === verdict);
  if (first) first.description = `this file: ${values.reason}`;
  const ordered = first ? [first, ...items.filter(i => i !== first)] : items;
  const title = first ? 'What does the input matrix hold?' : `What does the input matrix hold? (this file: ${values.reason})`;
  return (await prompts.pick(ordered, { title, placeHolder: 'Input values' }))?.value;
}
