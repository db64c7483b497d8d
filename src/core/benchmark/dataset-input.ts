/**
 * The dataset read that every benchmark preparation (pre-training, probes, perturbation prediction) starts with.
 */
import { labelValues } from '../h5ad/labels';
import { openH5ad } from '../h5ad/read';
import { H5adError } from '../h5ad/types';
import type { Label } from '../splits';

export interface DatasetInput {
  nObs: number;
  nVars: number;
  /** The label of each cell (empty without a label column). */
  labels: Label[];
}

/**
 * Reads a dataset's size and, given `labelColumn`, the label of each cell. Errors name the file: no X matrix
 * (`noX` says what the matrix is for), a bad label column, a `valueLayer` the file does not have.
 */
export async function readDatasetInput(datasetPath: string, opts: { noX: string; labelColumn?: string; valueLayer?: string | null }): Promise<DatasetInput> {
  const reader = await openH5ad(datasetPath);
  try {
    const summary = reader.summary();
    if (!summary.X) throw new H5adError(datasetPath, opts.noX);
    const labels = opts.labelColumn !== undefined ? labelValues(reader.obs(), opts.labelColumn, datasetPath) : [];
    if (opts.valueLayer && !Object.keys(summary.layers).includes(opts.valueLayer)) throw new H5adError(datasetPath, `the file has no layer '${opts.valueLayer}'`);
    return { nObs: summary.nObs, nVars: summary.nVars, labels };
  } finally {
    reader.close();
  }
}
