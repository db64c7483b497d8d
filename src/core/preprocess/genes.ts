/** Gene lists and vocabularies the recipes align to, and the column maps that do the aligning. */
import { geneMatchKey } from '../h5ad/gene-ids';
import { H5adError } from '../h5ad/types';
import { geneForMessage, jsonProblem } from '../safe-text';
import { readProblem, readTextFile } from '../safe-read';

/**
 * Parses a reference gene list: one gene per line, or a table whose first field (tab, comma or space separated)
 * is the gene, as in gene2vec's text files. A word2vec header line ("<count> <dims>") and lines starting with '#'
 * are skipped; so is a header whose first field is "gene", "genes", "gene_name" or "symbol". Duplicates are an
 * error: the recipe could not tell which position a duplicated gene takes.
 */
export function parseGeneList(text: string, file: string): string[] {
  const genes: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/[\t, ]+/);
    if (genes.length === 0 && fields.length === 2 && /^\d+$/.test(fields[0]) && /^\d+$/.test(fields[1])) continue;
    if (genes.length === 0 && /^(genes?|gene_name|gene_symbol|symbol)$/i.test(fields[0])) continue;
    genes.push(fields[0].replace(/^"(.*)"$/, '$1'));
  }
  if (genes.length === 0) throw new H5adError(file, 'the reference gene list is empty');
  const seen = new Map<string, number>();
  for (let i = 0; i < genes.length; i++) {
    const first = seen.get(genes[i]);
    if (first !== undefined) throw new H5adError(file, `gene ${geneForMessage(genes[i], i + 1)} appears twice in the reference list (entries ${first + 1} and ${i + 1})`);
    seen.set(genes[i], i);
  }
  return genes;
}

/**
 * Loads a reference gene list from a text file or, for .h5ad, from its var_names through `readVarNames`
 * (the caller passes the AnnData reader so this module stays free of HDF5).
 */
export async function loadGeneList(file: string, readVarNames?: (file: string) => Promise<string[]>): Promise<string[]> {
  if (/\.h5ad$/i.test(file)) {
    if (!readVarNames) throw new H5adError(file, 'reading a reference gene list from .h5ad needs the AnnData reader');
    const names = await readVarNames(file);
    return parseGeneList(names.join('\n'), file);
  }
  let text: string;
  try {
    text = await readTextFile(file);
  } catch (e) {
    throw new H5adError(file, `cannot read the reference gene list: ${readProblem(e)}`);
  }
  return parseGeneList(text, file);
}

/** scGPT's vocab.json: an object mapping each gene (and special tokens such as <pad>) to its integer id. */
export function parseVocab(text: string, file: string): Map<string, number> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new H5adError(file, `the vocabulary is ${jsonProblem(e)}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new H5adError(file, 'the vocabulary must be a JSON object {"GENE": id, ...}');
  }
  const vocab = new Map<string, number>();
  let entry = 0;
  for (const [gene, id] of Object.entries(value as Record<string, unknown>)) {
    entry++;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new H5adError(file, `the vocabulary id of ${geneForMessage(gene, entry)} is not a non-negative integer`);
    }
    vocab.set(gene, id);
  }
  if (vocab.size === 0) throw new H5adError(file, 'the vocabulary is empty');
  return vocab;
}

export async function loadVocab(file: string): Promise<Map<string, number>> {
  let text: string;
  try {
    text = await readTextFile(file);
  } catch (e) {
    throw new H5adError(file, `cannot read the vocabulary: ${readProblem(e)}`);
  }
  return parseVocab(text, file);
}

/**
 * What to do with a data gene name that appears in more than one column:
 *   first  the first column with the name is used, later ones are ignored (scBERT's preprocessing script, which
 *          looks each reference gene up with Python's `list.index`)
 *   sum    the counts of all columns with the name are added into the one reference column
 */
export type DuplicateGenesRule = 'first' | 'sum';

export interface ReferenceAlignment {
  /** data column -> reference position, -1 when the column is not used */
  colMap: Int32Array;
  /** per reference gene: 1 when at least one data column maps to it */
  present: Uint8Array;
  /** reference genes found in the data */
  found: number;
  /** data columns whose gene name (a reference gene) repeats an earlier column's */
  duplicateColumns: number;
  /** reference genes named by more than one data column */
  duplicatedGenes: number;
  rule: DuplicateGenesRule;
}

/**
 * Aligns data genes to a reference order (scBERT); Ensembl ids match with or without their version. With rule "first" (the published script's) a reference gene
 * takes the first data column with its name and later columns are dropped; with "sum" every column with the name
 * maps to the reference position, and remapColumns adds their values.
 */
export function alignToReference(
  dataGenes: readonly string[], reference: readonly string[], rule: DuplicateGenesRule = 'first',
): ReferenceAlignment {
  // Matched on geneMatchKey: a versioned Ensembl id finds the unversioned one and the other way round.
  const position = new Map<string, number>();
  reference.forEach((g, i) => { const k = geneMatchKey(g); if (!position.has(k)) position.set(k, i); });
  const colMap = new Int32Array(dataGenes.length).fill(-1);
  const present = new Uint8Array(reference.length);
  const repeats = new Set<number>();
  let found = 0;
  let duplicateColumns = 0;
  dataGenes.forEach((g, c) => {
    const p = position.get(geneMatchKey(g));
    if (p === undefined) return;
    if (present[p]) {
      duplicateColumns++;
      repeats.add(p);
      if (rule === 'sum') colMap[c] = p;
      return;
    }
    present[p] = 1;
    found++;
    colMap[c] = p;
  });
  return { colMap, present, found, duplicateColumns, duplicatedGenes: repeats.size, rule };
}

/** Columns whose name repeats an earlier kept column's, among the kept columns `kept` (source indices). */
export function countDuplicateColumns(genes: readonly string[], kept: ArrayLike<number>): { duplicateColumns: number; duplicatedGenes: number } {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  let duplicateColumns = 0;
  for (let i = 0; i < kept.length; i++) {
    const g = genes[kept[i]];
    if (seen.has(g)) {
      duplicateColumns++;
      repeated.add(g);
    } else seen.add(g);
  }
  return { duplicateColumns, duplicatedGenes: repeated.size };
}

export interface Selection {
  /** source column -> output column, -1 when dropped */
  colMap: Int32Array;
  /** source column of each output column */
  kept: Int32Array;
}

/** Keeps the columns whose flag is set, in their order. */
export function selectionFromFlags(flags: ArrayLike<number | boolean>): Selection {
  const colMap = new Int32Array(flags.length).fill(-1);
  const kept: number[] = [];
  for (let c = 0; c < flags.length; c++) {
    if (flags[c]) {
      colMap[c] = kept.length;
      kept.push(c);
    }
  }
  return { colMap, kept: Int32Array.from(kept) };
}

/** outer then inner: source -> (outer) -> intermediate -> (inner) -> output. */
export function composeSelections(outer: Selection, inner: Selection): Selection {
  const colMap = outer.colMap.map(c => (c < 0 ? -1 : inner.colMap[c]));
  const kept = inner.kept.map(i => outer.kept[i]);
  return { colMap, kept };
}
