/** `scwb preprocess RECIPE.json IN.h5ad OUT.h5ad`: the same recipes as the Preprocess… command, for scripts and clusters. */
import * as path from 'path';
import { CliCommand, CliIO, UsageError, onTerminationSignals, parseFlags } from '../command';
import { H5adError } from '../../core/h5ad/types';
import type { PreprocessReport } from '../../core/preprocess/pipeline';
import { readRecipeFile } from '../../core/preprocess/recipe';
import { runTask } from '../../core/workers/run-task';
import { CancelledError } from '../../core/workers/task';

const USAGE = `usage: scwb preprocess RECIPE.json IN.h5ad OUT.h5ad [--overwrite] [--gzip] [--progress]

Runs a preprocessing recipe (scbert, scgpt or benchmark; the file format is in README.md and docs/recipes.md)
from IN to OUT. The input is never modified; OUT is written atomically (a cancelled or failed run leaves no file).
Prints the report (cells and genes in and out, reference genes found, ...) as JSON.
  --overwrite  replace OUT if it exists (never IN)
  --gzip       gzip-compress X and layers
  --progress   print progress to stderr`;

export const command: CliCommand = {
  name: 'preprocess',
  summary: 'run a preprocessing recipe (scBERT, scGPT, benchmark) from one .h5ad to a new one',
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    const { flags, positionals } = parseFlags(args, ['overwrite', 'gzip', 'progress']);
    for (const name of flags.keys()) if (!['overwrite', 'gzip', 'progress'].includes(name)) throw new UsageError(`unknown option --${name}`);
    if (positionals.length !== 3) throw new UsageError('give RECIPE.json IN.h5ad OUT.h5ad');
    const [recipeFile, inPath, outPath] = positionals.map(p => path.resolve(p));
    const ac = new AbortController();
    const removeSignals = onTerminationSignals(() => ac.abort());
    try {
      readRecipeFile(recipeFile); // a bad recipe is reported before any work starts
      const report = await runTask<PreprocessReport>('preprocess/tasks', 'preprocess', {
        inPath, outPath, recipePath: recipeFile, overwrite: flags.has('overwrite'), compression: flags.has('gzip') ? 'gzip' : undefined,
      }, {
        signal: ac.signal,
        onProgress: flags.has('progress') ? (f, m) => io.err(`${Number.isFinite(f) ? `${(100 * f).toFixed(0)}% ` : ''}${m ?? ''}\n`) : undefined,
      });
      io.out(JSON.stringify({ output: outPath, ...report }, null, 2) + '\n');
      return 0;
    } catch (e) {
      if (e instanceof CancelledError) {
        io.err('scwb preprocess: cancelled; no output was written\n');
        return 130;
      }
      if (e instanceof H5adError) {
        io.err(`scwb preprocess: ${e.file}: ${e.problem}\n`);
        return 1;
      }
      throw e;
    } finally {
      removeSignals();
    }
  },
};
