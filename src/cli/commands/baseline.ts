/** `scwb baseline`: the logistic-regression baseline grid into the run store; prints the metrics as JSON. */
import * as os from 'os';
import * as path from 'path';
import { CliCommand, CliIO, UsageError, numberFlag, splitFromFlags, onTerminationSignals, parseFlags, stringFlag } from '../command';
import { baselineValueFixesCli, baselineValuePreflight, preprocessedVersions, type BaselineValueChoice } from '../../core/preflight/baseline';
import { maxThreads, runBaselinesInWorker, type BaselineGridInput, type BaselineModelSpec } from '../../core/runs/baseline';
import { defaultStoreRoot } from '../../core/runs/store';
import { CancelledError } from '../../core/workers/task';

const USAGE = `usage: scwb baseline DATASET.h5ad --label COL [split] [model] [grid] [--experiment NAME] [--store DIR]

Fits logistic regression on X and evaluates it on a fixed test set, once per (fraction, seed); every run is saved
in the run store and the metrics are printed as JSON.

X is checked first (the dataset view's classifier, first 2,000 cells): the published baseline is fitted on
log-normalised values. On raw counts, TPM/FPKM/CPM (normalised, not log) or scaled values the command stops with
exit status 2 and says so on stderr, unless one of these choices is given (each is recorded in run.json):
  --use-preprocessed            fit on the version of DATASET that Preprocess made beside it
  --transform normalize-log1p   fit on log1p(normalize_total to 1e4 per cell), computed on the fly (for counts)
  --transform log1p             fit on log1p of the stored values (for TPM/FPKM/CPM, already depth-normalised)
  --force                       fit on X as stored (not comparable with the published baseline)

split (one of):
  --test-size 0.2 --seed 2022   StratifiedShuffleSplit on the label (default: 0.2 and 2022, the scBERT protocol)
  --query QUERY.h5ad            train on all of DATASET (reference), test on all of QUERY; query genes are
                                matched to the reference by var name, missing ones are zero
  --group COL [--test-size 0.2 --seed 2022]   GroupShuffleSplit: whole groups (donors) on one side
model (one of):
  --penalty l1 --C 0.1          fixed C (default: L1, C=0.1, liblinear one-vs-rest; l2 = multinomial lbfgs)
  --cv-grid 1e-3,1e-2,...       choose C per run by stratified k-fold CV (--cv-folds, default 5; at most the
                                smallest class's number of training cells)
grid:
  --fractions 0.1,0.5,1         few-shot fractions of the training split (default 1)
  --seeds 0,1,2                 few-shot seeds: np.random.seed(k) + choice (default 0)
  --stratified-few-shot         stratified subsets (train_test_split) instead of np.random.choice
other:
  --experiment NAME             experiment the runs belong to (default: '<dataset stem> baseline')
  --store DIR                   run store folder (default: ./.scwb/runs)
  --published-dataset NAME      dataset name to match published numbers (e.g. Zheng68K)
  --threads N                   solver threads (1 to 4 x the number of cores)
  --progress                    print progress to stderr
  --                            ends the options (a file name starting with -- follows)

SIGINT (Ctrl-C) and SIGTERM (timeout, kill, cluster schedulers) cancel alike: finished runs are kept, the current
one is marked cancelled. Errors of failed runs are printed to stderr as well as in the JSON.`;

const KNOWN = new Set(['label', 'test-size', 'seed', 'query', 'group', 'penalty', 'C', 'cv-grid', 'cv-folds', 'fractions',
  'seeds', 'stratified-few-shot', 'experiment', 'store', 'published-dataset', 'threads', 'progress', 'transform', 'force', 'use-preprocessed']);

function numberList(flags: Map<string, string | true>, name: string): number[] | undefined {
  const v = flags.get(name);
  if (v === undefined) return undefined;
  if (v === true) throw new UsageError(`--${name} needs a comma-separated list of numbers`);
  const values = v.split(',').map(s => s.trim()).filter(Boolean).map(Number);
  if (!values.length || values.some(x => !Number.isFinite(x))) throw new UsageError(`--${name} must be a comma-separated list of numbers, got '${v}'`);
  return values;
}

/** Turns the command line into the runner's input (exported for tests and the extension's "copy as CLI"). */
export function baselineInputFromArgs(args: string[], cwd = process.cwd()): { input: BaselineGridInput; progress: boolean; values: BaselineValueFlags } {
  const { flags, positionals } = parseFlags(args, ['stratified-few-shot', 'progress', 'force', 'use-preprocessed']);
  for (const name of flags.keys()) if (!KNOWN.has(name)) throw new UsageError(`unknown option --${name}`);
  if (positionals.length !== 1) throw new UsageError('give exactly one DATASET.h5ad');
  const label = stringFlag(flags, 'label');
  if (!label) throw new UsageError('--label COL is required (the obs column with the cell types)');
  const split = splitFromFlags(flags, cwd);
  const penalty = stringFlag(flags, 'penalty') ?? 'l1';
  if (penalty !== 'l1' && penalty !== 'l2') throw new UsageError(`--penalty must be l1 or l2, got '${penalty}'`);
  const grid = numberList(flags, 'cv-grid');
  if (grid && flags.has('C')) throw new UsageError('give --C or --cv-grid, not both');
  if (!grid && flags.has('cv-folds')) throw new UsageError('--cv-folds applies only with --cv-grid');
  const folds = numberFlag(flags, 'cv-folds', 5);
  if (!Number.isInteger(folds) || folds < 2) throw new UsageError(`--cv-folds must be an integer of at least 2, got ${folds}`);
  const C = numberFlag(flags, 'C', 0.1);
  if (!(C > 0)) throw new UsageError(`--C must be a positive number, got ${C}`);
  const model: BaselineModelSpec = grid ? { penalty, cvGrid: grid, folds } : { penalty, C };
  const threads = flags.has('threads') ? numberFlag(flags, 'threads', 1) : undefined;
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1 || threads > maxThreads())) {
    throw new UsageError(`--threads must be an integer from 1 to ${maxThreads()} (4 x the ${os.availableParallelism()} cores here), got ${threads}`);
  }
  const store = stringFlag(flags, 'store');
  const values = valueFlags(flags);
  return {
    input: {
      datasetPath: path.resolve(cwd, positionals[0]), labelColumn: label, split, model,
      fractions: numberList(flags, 'fractions'), seeds: numberList(flags, 'seeds'),
      stratifiedFewShot: flags.get('stratified-few-shot') === true,
      experiment: stringFlag(flags, 'experiment'),
      storeRoot: store ? path.resolve(cwd, store) : defaultStoreRoot(cwd),
      publishedDataset: stringFlag(flags, 'published-dataset'), threads,
    },
    progress: flags.get('progress') === true,
    values,
  };
}

/** The value choices of the command line (at most one). */
export interface BaselineValueFlags { choice?: BaselineValueChoice; usePreprocessed: boolean }

function valueFlags(flags: Map<string, string | true>): BaselineValueFlags {
  const transform = flags.get('transform');
  const given = ['transform', 'force', 'use-preprocessed'].filter(f => flags.has(f));
  if (given.length > 1) throw new UsageError(`give one of --transform, --force and --use-preprocessed, not ${given.map(g => `--${g}`).join(' and ')}`);
  if (transform !== undefined && transform !== 'log1p' && transform !== 'normalize-log1p') {
    throw new UsageError(`--transform must be log1p or normalize-log1p, got '${transform === true ? '' : transform}'`);
  }
  const choice: BaselineValueChoice | undefined = transform ? { kind: 'transform', transform } : flags.has('force') ? { kind: 'force' } : undefined;
  return { choice, usePreprocessed: flags.get('use-preprocessed') === true };
}

/**
 * The pre-flight value check: fills in the values the fit uses (and the dataset, with --use-preprocessed), or
 * prints why it cannot start and the choices on stderr and returns false.
 */
export async function applyValueChoice(input: BaselineGridInput, values: BaselineValueFlags, io: CliIO): Promise<boolean> {
  const versions = await preprocessedVersions(input.datasetPath);
  if (values.usePreprocessed) {
    if (versions.length !== 1) {
      throw new UsageError(versions.length
        ? `--use-preprocessed: several preprocessed versions of ${path.basename(input.datasetPath)}: ${versions.map(v => v.file).join(', ')}; give the one you mean as DATASET`
        : `--use-preprocessed: no file beside ${input.datasetPath} was made from it by Preprocess`);
    }
    input.datasetPath = versions[0].file;
    io.err(`scwb baseline: using ${versions[0].file} (made by Preprocess, ${versions[0].recipe} recipe)\n`);
  }
  let decision;
  try {
    decision = await baselineValuePreflight(input.datasetPath, values.choice);
  } catch {
    return true; // a file that cannot be read: the baseline itself reports it, naming the problem
  }
  if (decision.ok) {
    input.valueTransform = decision.valueTransform;
    input.valueCheck = decision.valueCheck;
    if (decision.valueCheck.decision === 'forced') io.err(`scwb baseline: warning: ${decision.valueCheck.reason}; fitting on the values as stored (--force)\n`);
    return true;
  }
  io.err(`scwb baseline: ${decision.problem}\n`);
  if (!values.choice) {
    io.err(`Choose one (the choice is recorded in run.json):\n${baselineValueFixesCli(decision.advice, input.datasetPath, values.usePreprocessed ? [] : versions).join('\n')}\n`);
  }
  return false;
}

export const command: CliCommand = {
  name: 'baseline',
  summary: 'run the logistic-regression baseline (few-shot fractions x seeds) into the run store',
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    const { input, progress, values } = baselineInputFromArgs(args);
    if (!await applyValueChoice(input, values, io)) return 2;
    const abort = new AbortController();
    const removeSignals = onTerminationSignals(() => abort.abort());
    let lastShown = -1;
    try {
      const result = await runBaselinesInWorker(input, {
        signal: abort.signal,
        onProgress: progress ? (f, m) => {
          const pct = Math.floor(f * 100);
          if (pct !== lastShown) { lastShown = pct; io.err(`${String(pct).padStart(3)}% ${m ?? ''}\n`); }
        } : undefined,
      });
      io.out(JSON.stringify({
        experiment: result.experiment, store: result.storeRoot, nTest: result.nTest, geneAlignment: result.geneAlignment,
        runs: result.runs.map(r => ({
          id: r.id, fraction: r.fraction, seed: r.seed, status: r.status, nTrain: r.nTrain,
          accuracy: r.metrics?.accuracy ?? null, macroF1: r.metrics?.macroF1 ?? null, weightedF1: r.metrics?.weightedF1 ?? null,
          error: r.error,
        })),
      }, null, 2) + '\n');
      // Errors go to stderr too, not only inside the JSON on stdout.
      for (const r of result.runs) {
        if (r.status !== 'completed') io.err(`scwb baseline: run ${r.id} (fraction ${r.fraction}, seed ${r.seed}) ${r.status}${r.error ? `: ${r.error}` : ''}\n`);
      }
      return result.runs.every(r => r.status === 'completed') ? 0 : 1;
    } catch (e) {
      if (e instanceof CancelledError) {
        io.err('scwb baseline: cancelled (interrupt or terminate signal); finished runs are kept, the current one is marked cancelled\n');
        return 130;
      }
      throw e;
    } finally {
      removeSignals();
    }
  },
};
