/**
 * Colouring an embedding plot by an obs column of the run's dataset: categorical columns (categories, strings,
 * booleans) become a code per point and a legend; numeric columns a value per point on a colour scale.
 */
import { openH5ad } from '../h5ad/read';
import { H5adError, type Column, type DataFrame } from '../h5ad/types';
import { orderColumnsForLabels } from '../h5ad/labels';
import { summarizeColumn } from '../h5ad/read-dataframe';

/** An obs column offered for colouring. */
export interface ObsColumnInfo {
  name: string;
  scale: 'categorical' | 'numeric';
  /** distinct values of a categorical column */
  nCategories: number | null;
}

export type PointColors =
  | { scale: 'categorical'; column: string; categories: string[]; /** per laid-out point; -1 = missing */ codes: number[] }
  | { scale: 'numeric'; column: string; /** per laid-out point; null = missing */ values: (number | null)[]; min: number; max: number };

function scaleOf(c: Column): 'categorical' | 'numeric' {
  return c.kind === 'numeric' || c.kind === 'nullable-integer' ? 'numeric' : 'categorical';
}

/** The obs columns, label candidates first (as the other views order them). */
export function obsColumns(df: DataFrame): ObsColumnInfo[] {
  const { ordered } = orderColumnsForLabels(df.columns.map(summarizeColumn));
  return ordered.map(s => {
    const col = df.columns.find(c => c.name === s.name)!;
    const scale = scaleOf(col);
    const nCategories = scale === 'numeric' ? null : col.kind === 'categorical' ? col.categories.length
      : col.kind === 'string' ? new Set(col.values).size : 2;
    return { name: s.name, scale, nCategories };
  });
}

/** The colours of the points `indices` (rows of the dataset) by obs column `column`. */
export function pointColors(df: DataFrame, column: string, indices: readonly number[], file: string): PointColors {
  const col = df.columns.find(c => c.name === column);
  if (!col) throw new H5adError(file, `obs has no column '${column}' (columns: ${df.columns.map(c => c.name).join(', ') || 'none'})`);
  switch (col.kind) {
    case 'categorical': {
      // Only the categories some laid-out point has, in the column's order.
      const used = new Set<number>();
      for (const i of indices) if (col.codes[i] >= 0) used.add(col.codes[i]);
      const kept = [...used].sort((a, b) => a - b);
      const remap = new Map(kept.map((c, k) => [c, k]));
      return { scale: 'categorical', column, categories: kept.map(c => col.categories[c]), codes: indices.map(i => remap.get(col.codes[i]) ?? -1) };
    }
    case 'string': {
      const categories = [...new Set(indices.map(i => col.values[i]))].sort();
      const code = new Map(categories.map((c, k) => [c, k]));
      return { scale: 'categorical', column, categories, codes: indices.map(i => code.get(col.values[i])!) };
    }
    case 'boolean':
    case 'nullable-boolean': {
      const mask = col.kind === 'nullable-boolean' ? col.mask : null;
      return { scale: 'categorical', column, categories: ['False', 'True'], codes: indices.map(i => (mask?.[i] ? -1 : col.values[i] ? 1 : 0)) };
    }
    case 'numeric':
    case 'nullable-integer': {
      const mask = col.kind === 'nullable-integer' ? col.mask : null;
      const values = indices.map(i => {
        const v = col.values[i];
        return mask?.[i] || !Number.isFinite(v) ? null : v;
      });
      let min = Infinity;
      let max = -Infinity;
      for (const v of values) if (v !== null) { if (v < min) min = v; if (v > max) max = v; }
      if (min > max) { min = 0; max = 0; }
      return { scale: 'numeric', column, values, min, max };
    }
  }
}

/** Reads the dataset's obs and checks that it has one row per embedding row. */
export async function readObsFor(datasetPath: string, rows: number, embeddingFile: string): Promise<DataFrame> {
  const reader = await openH5ad(datasetPath);
  try {
    const df = reader.obs();
    if (df.index.length !== rows) {
      throw new H5adError(datasetPath, `has ${df.index.length} cells but ${embeddingFile} has ${rows} rows: the embeddings were not computed on this dataset (or it changed since)`);
    }
    return df;
  } finally {
    reader.close();
  }
}
