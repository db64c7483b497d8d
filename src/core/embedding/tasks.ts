/**
 * Worker-thread tasks of the embedding plot, run with `runTask('embedding/tasks', name, input)`: the UMAP layout
 * (minutes on large inputs, so never on the extension host's thread) and the colours of an obs column.
 */
import * as path from 'path';
import { CancelledError, type TaskContext } from '../workers/task';
import { obsColumns, pointColors, readObsFor, type ObsColumnInfo, type PointColors } from './colors';
import { EMBEDDINGS_FILE, runUmap, type UmapLayout, type UmapParams } from './umap';

export interface EmbeddingPlotInput {
  runDir: string;
  /** the run's dataset (run.json dataset.path); null when unknown */
  datasetPath: string | null;
  /** obs column to colour by; null/undefined picks the label column, else the first label candidate */
  column?: string | null;
  /** the run's label column, preferred when `column` is not given */
  labelColumn?: string | null;
  params?: Partial<UmapParams>;
  writeCache: boolean;
  /** use a matching umap.json; default true */
  readCache?: boolean;
}

export interface EmbeddingPlotData {
  layout: UmapLayout;
  fromCache: boolean;
  columns: ObsColumnInfo[];
  colors: PointColors | null;
  /** obs names of the laid-out points (null when the dataset could not be read) */
  obsNames: string[] | null;
  /** why the points are not coloured (the dataset could not be read, does not match, ...), or null */
  datasetProblem: string | null;
}

export async function embeddingPlot(input: EmbeddingPlotInput, ctx?: TaskContext): Promise<EmbeddingPlotData> {
  const { layout, fromCache } = await runUmap(input.runDir, {
    params: input.params, writeCache: input.writeCache, readCache: input.readCache,
    progress: (f, m) => ctx?.progress(f, m), isCancelled: () => ctx?.cancelled ?? false,
  });
  if (ctx?.cancelled) throw new CancelledError();
  let columns: ObsColumnInfo[] = [];
  let colors: PointColors | null = null;
  let obsNames: string[] | null = null;
  let datasetProblem: string | null = null;
  if (!input.datasetPath) datasetProblem = 'the run names no dataset, so the points are not coloured';
  else {
    try {
      const df = await readObsFor(input.datasetPath, layout.rows, path.join(input.runDir, EMBEDDINGS_FILE));
      columns = obsColumns(df);
      obsNames = layout.indices.map(i => df.index[i]);
      const names = new Set(columns.map(c => c.name));
      const pick = input.column && names.has(input.column) ? input.column
        : input.labelColumn && names.has(input.labelColumn) ? input.labelColumn : columns[0]?.name;
      if (input.column && !names.has(input.column)) datasetProblem = `obs has no column '${input.column}'`;
      if (pick) colors = pointColors(df, pick, layout.indices, input.datasetPath);
    } catch (e) {
      datasetProblem = e instanceof Error ? e.message : String(e);
    }
  }
  return { layout, fromCache, columns, colors, obsNames, datasetProblem };
}

export interface EmbeddingColorsInput {
  runDir: string;
  datasetPath: string;
  column: string;
  rows: number;
  indices: number[];
}

export async function embeddingColors(input: EmbeddingColorsInput): Promise<PointColors> {
  const df = await readObsFor(input.datasetPath, input.rows, path.join(input.runDir, EMBEDDINGS_FILE));
  return pointColors(df, input.column, input.indices, input.datasetPath);
}
