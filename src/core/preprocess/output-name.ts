/**
 * The output file a preprocessing step proposes: `<input stem>.<recipe kind>.h5ad` beside the input, the first free
 * one (`.2`, `.3`, …) when that exists. The kind comes from the recipe itself, never from a recipe file's name: a
 * recipe saved beside an earlier output is called `<stem>.<kind>.recipe.json`, and its name would make the next
 * output `<stem>.<stem>.<kind>.recipe.h5ad`.
 */
import * as fs from 'fs';
import * as path from 'path';

export function proposedOutput(dataset: string, recipeKind: string, exists: (file: string) => boolean = fs.existsSync): string {
  const stem = path.join(path.dirname(dataset), `${path.basename(dataset, '.h5ad')}.${recipeKind}`);
  let out = `${stem}.h5ad`;
  for (let i = 2; exists(out) || out === dataset; i++) out = `${stem}.${i}.h5ad`;
  return out;
}
