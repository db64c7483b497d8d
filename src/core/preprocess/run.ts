/**
 * Runs a recipe from one .h5ad file to another: the AnnData reader as the row source, the streaming writer as
 * the sink. The output holds the processed X (float32), the recipe's layer (bins), var with the recipe's
 * columns, obs and the numeric obsm entries of the kept cells (plus n_genes / n_counts), and provenance in uns.
 * Written atomically: a failed or cancelled run leaves no output.
 */
import * as path from 'path';
import { openH5ad } from '../h5ad/read';
import { H5adError, type AnnDataReader, type Column, type DataFrame } from '../h5ad/types';
import { H5adWriter, type DenseMatrix, type UnsDict } from '../h5ad/write';
import { loadGeneList, loadVocab } from './genes';
import { runPipeline, type PipelineProgress, type PreprocessReport, type RowSink, type RowSource } from './pipeline';
import { runTask } from '../workers/run-task';
import type { Recipe } from './recipe';

export interface RunRecipeOptions {
  blockRows?: number;
  /** replace an existing output file (never the input) */
  overwrite?: boolean;
  compression?: 'gzip' | number;
}

export async function runRecipe(
  recipe: Recipe, inPath: string, outPath: string, ctx?: PipelineProgress, opts: RunRecipeOptions = {},
): Promise<PreprocessReport> {
  const input = path.resolve(inPath);
  const output = path.resolve(outPath);
  if (input === output) throw new H5adError(output, 'the output must not be the input file');
  const resources = recipe.recipe === 'scbert' ? recipe.params.referenceGenes : recipe.params.vocab;
  // Hash in a worker thread of its own, so it streams the file while the recipe works (the recipe's passes do
  // not yield to the event loop, so a hash on this thread would only run after them).
  const sha = runTask<string>('preprocess/provenance', 'sha256Task', input);
  sha.catch(() => undefined);
  const reader = await openH5ad(input);
  try {
    const source = readerSource(reader, recipe.params.inputMatrix);
    const referenceGenes = recipe.recipe === 'scbert'
      ? await loadGeneList(recipe.params.referenceGenes, readVarNames)
      : undefined;
    const vocabFile = recipe.recipe === 'scbert' ? null : recipe.params.vocab;
    const vocab = vocabFile ? await loadVocab(vocabFile) : undefined;
    const sink = writerSink(reader, output, {
      overwrite: opts.overwrite, compression: opts.compression,
      protect: [input, ...(resources ? [path.resolve(resources)] : [])],
    });
    return await runPipeline(recipe, source, sink, {
      referenceGenes, vocab, inputSha256: sha, blockRows: opts.blockRows, ctx,
      ...(recipe.recipe === 'scbert' ? { referenceFile: recipe.params.referenceGenes } : {}),
      ...(vocabFile ? { vocabFile } : {}),
    });
  } finally {
    reader.close();
  }
}

async function readVarNames(file: string): Promise<string[]> {
  const r = await openH5ad(file);
  try {
    return r.var().index;
  } finally {
    r.close();
  }
}

/** The reader as a row source over X, raw/X (with raw/var's genes) or a layer. */
export function readerSource(reader: AnnDataReader, matrix: string): RowSource {
  const summary = reader.summary();
  let varFrame: () => DataFrame;
  if (matrix === 'raw/X') {
    if (!summary.raw || !summary.raw.X) throw new H5adError(reader.path, 'the recipe reads raw/X, but the file has no raw');
    varFrame = () => reader.rawVar()!;
  } else if (matrix === 'X') {
    if (!summary.X) throw new H5adError(reader.path, 'the file has no X (no expression matrix)');
    varFrame = () => reader.var();
  } else {
    const layer = matrix.slice('layers/'.length);
    if (!summary.layers[layer]) {
      throw new H5adError(reader.path, `the file has no layer "${layer}" (layers: ${Object.keys(summary.layers).join(', ') || 'none'})`);
    }
    varFrame = () => reader.var();
  }
  return {
    path: reader.path,
    nObs: summary.nObs,
    var: varFrame,
    obs: () => reader.obs(),
    readRows: (start, end) => reader.readRows(start, end, matrix === 'X' ? undefined : matrix),
  };
}

/** The streaming writer as a sink; obs comes from the input, subset to the kept cells. */
function writerSink(
  reader: AnnDataReader, output: string, options: { overwrite?: boolean; compression?: 'gzip' | number; protect: string[] },
): RowSink {
  let writer: H5adWriter | null = null;
  let varFrame: DataFrame | null = null;
  return {
    async begin(layout) {
      writer = await H5adWriter.create(output, { nVars: layout.varNames.length, ...options });
      varFrame = { index: layout.varNames, indexName: '_index', columns: layout.varColumns };
    },
    append(rows) {
      writer!.appendRows(rows.X);
      for (const [name, m] of Object.entries(rows.layers)) writer!.addLayerRows(name, m);
    },
    async finish(result) {
      const inObs = reader.obs();
      const added = new Set(result.obsColumns.map(c => c.name));
      const obs: DataFrame = {
        index: Array.from(result.keptCells, i => inObs.index[i]),
        indexName: '_index',
        columns: [...inObs.columns.filter(c => !added.has(c.name)).map(c => subsetColumn(c, result.keptCells)), ...result.obsColumns],
      };
      await writer!.finish({ obs, var: varFrame!, obsm: obsmOfKeptCells(reader, result.keptCells), uns: result.uns as UnsDict });
    },
    abort() {
      writer?.abort();
    },
  };
}

/**
 * The input's numeric embeddings (obsm entries such as X_pca, X_umap) for the kept cells, in their order. Entries
 * that are not numeric matrices (a dataframe, strings) are left out: they cannot be written as an embedding.
 */
export function obsmOfKeptCells(reader: AnnDataReader, kept: Int32Array): Record<string, DenseMatrix> {
  const out: Record<string, DenseMatrix> = {};
  for (const info of reader.summary().obsm) {
    if (info.encoding === 'dataframe' || info.shape.length !== 2) continue;
    let m: ReturnType<AnnDataReader['readObsm']>;
    try {
      m = reader.readObsm(info.name);
    } catch (e) {
      if (e instanceof H5adError) continue;
      throw e;
    }
    const k = m.shape[1];
    const data = m.data instanceof Float64Array ? new Float64Array(kept.length * k) : new Float32Array(kept.length * k);
    for (let r = 0; r < kept.length; r++) data.set(m.data.subarray(kept[r] * k, (kept[r] + 1) * k), r * k);
    out[info.name] = { nRows: kept.length, nCols: k, data };
  }
  return out;
}

/** The rows `rows` of a column, in that order. */
export function subsetColumn(c: Column, rows: Int32Array): Column {
  const pick = <T extends { [i: number]: number }>(a: T, make: (n: number) => T): T => {
    const out = make(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = a[rows[i]];
    return out;
  };
  switch (c.kind) {
    case 'categorical':
      return { ...c, codes: pick(c.codes, n => new Int32Array(n)) };
    case 'string':
      return { ...c, values: Array.from(rows, i => c.values[i]) };
    case 'numeric':
      return { ...c, values: pick(c.values, n => new Float64Array(n)) };
    case 'boolean':
      return { ...c, values: pick(c.values, n => new Uint8Array(n)) };
    case 'nullable-integer':
      return { ...c, values: pick(c.values, n => new Float64Array(n)), mask: pick(c.mask, n => new Uint8Array(n)) };
    case 'nullable-boolean':
      return { ...c, values: pick(c.values, n => new Uint8Array(n)), mask: pick(c.mask, n => new Uint8Array(n)) };
  }
}
