/**
 * obs / var / raw.var in the three on-disk encodings:
 *  - anndata <= 0.6: one compound dataset, a member per column; `index` holds the names; categorical columns
 *    store integer codes and their categories live in `uns/<column>_categories`.
 *  - anndata 0.7: a group (encoding-type dataframe 0.1.0); a categorical column is a codes dataset whose
 *    `categories` attribute is an object reference to `__categories/<column>`.
 *  - anndata >= 0.8: a group (dataframe 0.2.0); each column carries its encoding-type (categorical,
 *    nullable-integer, nullable-boolean, string-array, array).
 */
import { H5Context, H5Dataset, H5Group, H5T, dtypeName, isBooleanEnum, isNumericType, toFloat64, toInt32, toStrings } from './read-hdf5';
import type { Column, ColumnSummary, DataFrame } from './types';

const MAX_SUMMARY_CATEGORIES = 50;

export function readDataFrame(ctx: H5Context, path: string): DataFrame {
  const node = ctx.get(path);
  if (ctx.isGroup(node)) return readGroupDataFrame(ctx, node);
  if (ctx.isDataset(node)) return readCompoundDataFrame(ctx, node);
  return ctx.fail(`'${path}' is missing`);
}

function readGroupDataFrame(ctx: H5Context, group: H5Group): DataFrame {
  const encoding = ctx.attrString(group, 'encoding-type');
  if (encoding !== undefined && encoding !== 'dataframe') {
    ctx.fail(`'${group.path}' has encoding-type '${encoding}', expected 'dataframe'`);
  }
  const indexName = ctx.attrString(group, '_index') ?? '_index';
  const indexDs = ctx.dataset(`${group.path}/${indexName}`);
  if (!indexDs) ctx.fail(`the dataframe '${group.path}' has no index dataset '${indexName}'`);
  const index = toStrings(ctx.readAll(indexDs));
  const names = ctx.attrStrings(group, 'column-order');
  const columns = names.map(name => {
    const col = readGroupColumn(ctx, group, name);
    const n = columnLength(col);
    if (n !== index.length) ctx.fail(`column '${name}' of '${group.path}' has ${n} values for ${index.length} rows`);
    return col;
  });
  return { index, indexName, columns };
}

function readGroupColumn(ctx: H5Context, group: H5Group, name: string): Column {
  const path = `${group.path}/${name}`;
  const node = ctx.get(path);
  if (ctx.isDataset(node)) {
    const categoriesRef = ctx.attr(node, 'categories');
    if (categoriesRef !== undefined) return readReferencedCategorical(ctx, node, name, categoriesRef);
    return columnFromDataset(ctx, node, name);
  }
  if (!ctx.isGroup(node)) return ctx.fail(`column '${name}' listed in '${group.path}' is missing`);
  const encoding = ctx.attrString(node, 'encoding-type');
  switch (encoding) {
    case 'categorical': {
      const codes = requireDataset(ctx, `${path}/codes`);
      const categories = requireDataset(ctx, `${path}/categories`);
      return checkedCategorical(ctx, codes.path, {
        kind: 'categorical', name,
        categories: toStrings(ctx.readAll(categories)),
        codes: toInt32(ctx.readAll(codes) as ArrayLike<number>),
        ordered: ctx.attrBool(node, 'ordered'),
      });
    }
    case 'nullable-integer': {
      const values = ctx.readAll(requireDataset(ctx, `${path}/values`)) as ArrayLike<number | bigint>;
      const mask = ctx.readAll(requireDataset(ctx, `${path}/mask`)) as ArrayLike<number>;
      return { kind: 'nullable-integer', name, values: toFloat64(values), mask: toUint8(mask) };
    }
    case 'nullable-boolean': {
      const values = ctx.readAll(requireDataset(ctx, `${path}/values`)) as ArrayLike<number>;
      const mask = ctx.readAll(requireDataset(ctx, `${path}/mask`)) as ArrayLike<number>;
      return { kind: 'nullable-boolean', name, values: toUint8(values), mask: toUint8(mask) };
    }
    case 'nullable-string-array': {
      // Column has no missing-string form: a missing string reads as ''.
      const values = toStrings(ctx.readAll(requireDataset(ctx, `${path}/values`)));
      const mask = ctx.readAll(requireDataset(ctx, `${path}/mask`)) as ArrayLike<number>;
      return { kind: 'string', name, values: values.map((v, i) => (mask[i] ? '' : v)) };
    }
    default:
      return ctx.fail(`column '${name}' of '${group.path}' has encoding-type '${encoding ?? '(none)'}', which this reader does not know`);
  }
}

/** anndata 0.7: codes with an object reference to their categories. */
function readReferencedCategorical(ctx: H5Context, codes: H5Dataset, name: string, ref: unknown): Column {
  const target = ctx.guard(`the categories of ${codes.path}`, () => {
    const r = Array.isArray(ref) ? ref[0] : ref;
    return ctx.file.dereference(r as Parameters<typeof ctx.file.dereference>[0]);
  });
  if (!ctx.isDataset(target)) return ctx.fail(`the categories reference of '${codes.path}' does not point to a dataset`);
  return checkedCategorical(ctx, codes.path, {
    kind: 'categorical', name,
    categories: toStrings(ctx.readAll(target)),
    codes: toInt32(ctx.readAll(codes) as ArrayLike<number>),
    ordered: ctx.attrBool(target, 'ordered'),
  });
}

/**
 * A categorical column whose codes all lie in -1..n-1 (-1 = missing). A code outside is refused here, naming the
 * input file, the codes dataset and the cell, so no later step (a writer) reports it against another file.
 */
function checkedCategorical(ctx: H5Context, codesPath: string, col: Extract<Column, { kind: 'categorical' }>): Column {
  const n = col.categories.length;
  for (let i = 0; i < col.codes.length; i++) {
    const code = col.codes[i];
    if (code < -1 || code >= n) {
      ctx.fail(`the categorical column '${col.name}' (${codesPath}) has code ${code} at cell ${i}, outside -1..${n - 1} (${n} categories): the file is corrupt`);
    }
  }
  return col;
}

function columnFromDataset(ctx: H5Context, ds: H5Dataset, name: string): Column {
  const meta = ctx.metadata(ds);
  if ((meta.shape ?? []).length !== 1) ctx.fail(`column '${name}' (${ds.path}) is not one-dimensional`);
  if (meta.type === H5T.STRING) return { kind: 'string', name, values: toStrings(ctx.readAll(ds)) };
  if (isBooleanEnum(meta)) return { kind: 'boolean', name, values: toUint8(ctx.readAll(ds) as ArrayLike<number>) };
  if (isNumericType(meta)) {
    return { kind: 'numeric', name, dtype: dtypeName(meta), values: toFloat64(ctx.readAll(ds) as ArrayLike<number>) };
  }
  return ctx.fail(`column '${name}' (${ds.path}) has HDF5 type '${dtypeName(meta)}', which is not a dataframe column type`);
}

/** anndata <= 0.6: a compound dataset; categories of column c are `uns/c_categories`. */
function readCompoundDataFrame(ctx: H5Context, ds: H5Dataset): DataFrame {
  const meta = ctx.metadata(ds);
  const members = meta.compound_type?.members;
  if (meta.type !== H5T.COMPOUND || !members) return ctx.fail(`'${ds.path}' is neither a dataframe group nor a compound dataset`);
  const decoded = ctx.readCompoundMembers(ds);
  const n = (meta.shape ?? [])[0] ?? 0;
  const indexValues = decoded.get('index')?.values;
  const index = indexValues ? toStrings(indexValues) : Array.from({ length: n }, (_, i) => String(i));
  const columns: Column[] = [];
  for (const m of members) {
    if (m.name === 'index') continue;
    const values = decoded.get(m.name)?.values;
    if (!values || (m.type !== H5T.STRING && !isNumericType(m) && m.type !== H5T.ENUM)) {
      ctx.fail(`column '${m.name}' of '${ds.path}' has HDF5 type '${dtypeName(m)}', which is not a dataframe column type`);
    }
    const cats = ctx.dataset(`uns/${m.name}_categories`);
    if (Array.isArray(values)) {
      columns.push({ kind: 'string', name: m.name, values });
    } else if (cats && m.type === H5T.INTEGER) {
      columns.push(checkedCategorical(ctx, `${ds.path}/${m.name}`, { kind: 'categorical', name: m.name, categories: toStrings(ctx.readAll(cats)), codes: toInt32(values), ordered: false }));
    } else if (isBooleanEnum(m)) {
      columns.push({ kind: 'boolean', name: m.name, values: toUint8(values) });
    } else if (isNumericType(m)) {
      columns.push({ kind: 'numeric', name: m.name, dtype: dtypeName(m), values });
    } else {
      ctx.fail(`column '${m.name}' of '${ds.path}' has HDF5 type '${dtypeName(m)}', which is not a dataframe column type`);
    }
  }
  return { index, indexName: indexValues ? 'index' : '', columns };
}

/** `uns` keys that anndata <= 0.6 used for categories of these columns (anndata folds them back into obs/var). */
export function legacyCategoryKeys(frames: DataFrame[]): Set<string> {
  const keys = new Set<string>();
  for (const f of frames) for (const c of f.columns) if (c.kind === 'categorical') keys.add(`${c.name}_categories`);
  return keys;
}

function requireDataset(ctx: H5Context, path: string): H5Dataset {
  return ctx.dataset(path) ?? ctx.fail(`'${path}' is missing`);
}

function toUint8(a: ArrayLike<number | bigint | boolean>): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ? 1 : 0;
  return out;
}

export function columnLength(c: Column): number {
  return c.kind === 'categorical' ? c.codes.length : c.values.length;
}

export function summarizeColumn(c: Column): ColumnSummary {
  switch (c.kind) {
    case 'categorical': {
      let nMissing = 0;
      for (const code of c.codes) if (code < 0) nMissing++;
      return { name: c.name, kind: c.kind, nCategories: c.categories.length, categories: c.categories.slice(0, MAX_SUMMARY_CATEGORIES), nMissing };
    }
    case 'numeric': {
      let nMissing = 0;
      for (const v of c.values) if (Number.isNaN(v)) nMissing++;
      return { name: c.name, kind: c.kind, dtype: c.dtype, nMissing };
    }
    case 'nullable-integer':
    case 'nullable-boolean': {
      let nMissing = 0;
      for (const m of c.mask) nMissing += m;
      return { name: c.name, kind: c.kind, nMissing };
    }
    case 'string': {
      // Up to 50 distinct values make a string column usable like a categorical one (a label candidate).
      const distinct = new Set<string>();
      for (const v of c.values) {
        distinct.add(v);
        if (distinct.size > MAX_SUMMARY_CATEGORIES) break;
      }
      return distinct.size <= MAX_SUMMARY_CATEGORIES
        ? { name: c.name, kind: c.kind, nCategories: distinct.size, categories: [...distinct].sort() }
        : { name: c.name, kind: c.kind };
    }
    case 'boolean':
      return { name: c.name, kind: c.kind, dtype: 'bool' };
  }
}
