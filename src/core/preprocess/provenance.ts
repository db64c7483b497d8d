/** What a preprocessed file records about how it was made, in its `uns`. */
import * as fs from 'fs';
import * as path from 'path';
import { PROVENANCE_KEY } from '../h5ad/types';
import { sha256File } from '../hash';
import { PACKAGE_ROOT } from '../paths';
import type { Recipe } from './recipe';

/** Worker task (run.ts runs it in a thread of its own): the input's sha256, streamed (see ../hash.ts). */
export function sha256Task(file: string): Promise<string> {
  return sha256File(file);
}

let cachedVersion: string | undefined;

/** The workbench's version from its package.json ("unknown" if that cannot be read). */
export function toolVersion(): string {
  if (cachedVersion === undefined) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: unknown };
      cachedVersion = typeof pkg.version === 'string' ? pkg.version : 'unknown';
    } catch {
      cachedVersion = 'unknown';
    }
  }
  return cachedVersion;
}

/** The key under `uns` that holds the provenance dict (shared with the reader, which shows it). */
export { PROVENANCE_KEY };

/**
 * The `uns` entries of a preprocessed file. Parameters and the report are JSON strings: they contain nulls and
 * nesting that HDF5 attributes cannot hold, and a string round-trips through every anndata version.
 */
export function provenanceUns(
  recipe: Recipe,
  input: { file: string; sha256: string },
  report: object,
): Record<string, Record<string, string>> {
  return {
    [PROVENANCE_KEY]: {
      recipe: recipe.recipe,
      params: JSON.stringify(recipe.params),
      input_file: path.basename(input.file),
      input_sha256: input.sha256,
      tool: 'scWorkbench',
      tool_version: toolVersion(),
      report: JSON.stringify(report),
    },
  };
}
