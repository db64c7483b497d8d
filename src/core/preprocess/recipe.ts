/**
 * The recipe file (JSON): which published preprocessing to apply and its parameters.
 *   {"recipe": "scbert" | "scgpt" | "benchmark", "params": {...}}
 * Every parameter has a default except the reference files a recipe cannot guess (scBERT's gene list, scGPT's
 * vocabulary). docs/recipes.md documents each one; keep the two in step.
 */
import { jsonProblem } from '../safe-text';
import * as path from 'path';
import { z } from 'zod';
import { H5adError } from '../h5ad/types';
import { readProblem, readTextFileSync } from '../safe-read';

/** Which matrix holds the input values: `X`, `raw/X` (with raw/var's names) or `layers/<name>`. */
const InputMatrix = z
  .string()
  .regex(/^(X|raw\/X|layers\/[^/]+)$/, 'expected "X", "raw/X" or "layers/<name>"')
  .default('X');
/** A var column holding gene symbols, when var_names are something else (e.g. Ensembl ids); null = var_names. */
const GeneColumn = z.string().min(1).nullable().default(null);
/**
 * What the input matrix holds: raw integer counts; values normalised for depth but not log-transformed (TPM, FPKM,
 * CPM); or log-normalised values. "counts" and "normalized" both go through the recipe's normalise + log steps
 * ("normalized" skips the integer check); "log-normalized" skips those steps.
 */
export const InputKindSchema = z.enum(['counts', 'normalized', 'log-normalized']);
export type InputKind = z.output<typeof InputKindSchema>;
const NonNegativeInt = z.number().int().min(0);
const Seed = z.number().int().min(0).max(0xffffffff);
const LayerName = z.string().regex(/^[^/]+$/, 'a layer name without "/"');

export const ScbertParamsSchema = z.strictObject({
  /** text list (one gene a line), a gene2vec-style table (gene first on each line) or an .h5ad (its var_names) */
  referenceGenes: z.string().min(1),
  inputMatrix: InputMatrix,
  input: InputKindSchema.default('counts'),
  geneColumn: GeneColumn,
  /** cells with fewer expressed reference genes are dropped (scanpy filter_cells(min_genes)) */
  minGenes: NonNegativeInt.default(200),
  targetSum: z.number().positive().default(1e4),
  logBase: z.number().gt(1).default(2),
  /**
   * a gene named by several data columns: "first" uses the first column (the published script's list.index),
   * "sum" adds the columns' counts
   */
  duplicateGenes: z.enum(['first', 'sum']).default('first'),
});

export const ScgptParamsSchema = z.strictObject({
  /** scGPT's vocab.json: {"GENE": id, ...} */
  vocab: z.string().min(1),
  inputMatrix: InputMatrix,
  geneColumn: GeneColumn,
  /** the published scGPT fine-tuning sets are already log-normalised ("log-normalized"): then normalisation and log1p are skipped */
  input: InputKindSchema.optional(),
  /** the older name of `"input": "log-normalized"` (true) or `"input": "counts"` (false) */
  inputIsLogNormalized: z.boolean().optional(),
  minCountsPerGene: NonNegativeInt.default(0),
  minCellsPerGene: NonNegativeInt.default(0),
  minCountsPerCell: NonNegativeInt.default(0),
  targetSum: z.number().positive().default(1e4),
  /** highly variable genes (Seurat v3 flavour on counts); null keeps every vocabulary gene */
  nTopGenes: z.number().int().positive().nullable().default(null),
  hvgBatchKey: z.string().min(1).nullable().default(null),
  hvgSpan: z.number().gt(0).max(1).default(0.3),
  nBins: z.number().int().min(3).max(100000).default(51),
  seed: Seed.default(0),
  binnedLayer: LayerName.default('X_binned'),
}).transform(({ input, inputIsLogNormalized, ...rest }, ctx) => {
  const alias: InputKind | undefined = inputIsLogNormalized === undefined ? undefined : inputIsLogNormalized ? 'log-normalized' : 'counts';
  if (input !== undefined && alias !== undefined && input !== alias) {
    ctx.addIssue({
      code: 'custom', path: ['inputIsLogNormalized'],
      message: `${inputIsLogNormalized} contradicts "input": "${input}" (it is the older name of "input": "${alias}"); keep only "input"`,
    });
    return z.NEVER;
  }
  return { ...rest, input: input ?? alias ?? 'counts' };
});

export const BenchmarkParamsSchema = z.strictObject({
  /** "none": log1p(counts); "bin": log1p(counts) plus per-cell quantile bins in a layer */
  mode: z.enum(['none', 'bin']).default('none'),
  /** "counts" and "normalized": log1p of the stored values; "log-normalized": the values as they are */
  input: InputKindSchema.default('counts'),
  /** optional scGPT vocab.json: keep vocabulary genes only and record their ids */
  vocab: z.string().min(1).nullable().default(null),
  inputMatrix: InputMatrix,
  geneColumn: GeneColumn,
  minCountsPerGene: NonNegativeInt.default(0),
  nBins: z.number().int().min(3).max(100000).default(51),
  seed: Seed.default(0),
  binnedLayer: LayerName.default('X_binned'),
});

export const RecipeSchema = z.discriminatedUnion('recipe', [
  z.strictObject({ recipe: z.literal('scbert'), params: ScbertParamsSchema }),
  z.strictObject({ recipe: z.literal('scgpt'), params: ScgptParamsSchema }),
  z.strictObject({ recipe: z.literal('benchmark'), params: BenchmarkParamsSchema.prefault({}) }),
]);

export type ScbertParams = z.output<typeof ScbertParamsSchema>;
export type ScgptParams = z.output<typeof ScgptParamsSchema>;
export type BenchmarkParams = z.output<typeof BenchmarkParamsSchema>;
export type Recipe = z.output<typeof RecipeSchema>;
export type RecipeName = Recipe['recipe'];
export type RecipeInput = z.input<typeof RecipeSchema>;

/** Defaults of every parameter that has one, per recipe (for UIs and docs). */
export const RECIPE_DEFAULTS = {
  scbert: { inputMatrix: 'X', input: 'counts', geneColumn: null, minGenes: 200, targetSum: 1e4, logBase: 2, duplicateGenes: 'first' },
  scgpt: {
    inputMatrix: 'X', geneColumn: null, input: 'counts', minCountsPerGene: 0, minCellsPerGene: 0,
    minCountsPerCell: 0, targetSum: 1e4, nTopGenes: null, hvgBatchKey: null, hvgSpan: 0.3, nBins: 51, seed: 0,
    binnedLayer: 'X_binned',
  },
  benchmark: {
    mode: 'none', input: 'counts', vocab: null, inputMatrix: 'X', geneColumn: null, minCountsPerGene: 0, nBins: 51, seed: 0,
    binnedLayer: 'X_binned',
  },
} as const;

/** Validates a parsed JSON value; `source` names the file (or "recipe") in the error. */
export function parseRecipe(value: unknown, source = 'recipe'): Recipe {
  const r = RecipeSchema.safeParse(value);
  if (r.success) return r.data;
  const problems = r.error.issues.map(i => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
  throw new H5adError(source, `invalid recipe: ${problems.join('; ')}`);
}

/**
 * Reads and validates a recipe file. Relative reference paths (referenceGenes, vocab) are taken relative to the
 * recipe file's folder, so a recipe can travel with its gene list.
 */
export function readRecipeFile(file: string): Recipe {
  let text: string;
  try {
    text = readTextFileSync(file);
  } catch (e) {
    throw new H5adError(file, `cannot read the recipe: ${readProblem(e)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new H5adError(file, jsonProblem(e));
  }
  return resolveRecipePaths(parseRecipe(value, file), path.dirname(path.resolve(file)));
}

export function resolveRecipePaths(recipe: Recipe, baseDir: string): Recipe {
  const abs = (p: string) => path.resolve(baseDir, p);
  switch (recipe.recipe) {
    case 'scbert':
      return { ...recipe, params: { ...recipe.params, referenceGenes: abs(recipe.params.referenceGenes) } };
    case 'scgpt':
      return { ...recipe, params: { ...recipe.params, vocab: abs(recipe.params.vocab) } };
    case 'benchmark':
      return { ...recipe, params: { ...recipe.params, vocab: recipe.params.vocab === null ? null : abs(recipe.params.vocab) } };
  }
}
