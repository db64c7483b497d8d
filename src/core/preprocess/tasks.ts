/** Worker-thread task: `runTask('preprocess/tasks', 'preprocess', input)`. */
import * as path from 'path';
import type { TaskContext } from '../workers/task';
import type { PreprocessReport } from './pipeline';
import { parseRecipe, readRecipeFile, resolveRecipePaths, type Recipe } from './recipe';
import { runRecipe } from './run';

export interface PreprocessInput {
  inPath: string;
  outPath: string;
  /** a recipe file, or the recipe itself (relative reference paths then resolve against `baseDir`) */
  recipePath?: string;
  recipe?: unknown;
  baseDir?: string;
  overwrite?: boolean;
  blockRows?: number;
  compression?: 'gzip' | number;
}

export async function preprocess(input: PreprocessInput, ctx: TaskContext): Promise<PreprocessReport> {
  let recipe: Recipe;
  if (input.recipePath !== undefined) recipe = readRecipeFile(input.recipePath);
  else if (input.recipe !== undefined) recipe = resolveRecipePaths(parseRecipe(input.recipe), path.resolve(input.baseDir ?? process.cwd()));
  else throw new Error('preprocess needs recipePath or recipe');
  return runRecipe(recipe, input.inPath, input.outPath, ctx, {
    overwrite: input.overwrite, blockRows: input.blockRows, compression: input.compression,
  });
}
