/**
 * `scwb split`: the train/test (and few-shot) row indices that scikit-learn/numpy would give for the same seed,
 * from an .h5ad obs column or a plain label file, as JSON.
 */
import * as fs from 'fs';
import { CliCommand, CliIO, UsageError, numberFlag, parseFlags, stringFlag } from '../command';
import { writeFileAtomicSync } from '../../core/fs-atomic';
import {
  checkNoGroupLeak, fewShotSubset, groupShuffleSplit, Label, SplitError, SplitIndices, stratifiedFewShotSubset,
  stratifiedShuffleSplit,
} from '../../core/splits';
import { H5adError } from '../../core/h5ad/types';
import { readProblem, readTextFileSync } from '../../core/safe-read';

const USAGE = `usage: scwb split --labels FILE [--column NAME] [--test-size 0.2] [--seed 2022]
                  [--group-column NAME] [--fraction F --fraction-seed K [--stratified]] [--out FILE.json]

Prints {"n", "train", "test", "fewshot"?} (0-based row indices, in scikit-learn's order) as JSON.
  --labels FILE        .h5ad (labels from obs[--column]), or a text file: .txt = one label per line;
                       .csv/.tsv = one label per line, or with --column a header row naming the column.
                       Text labels that all look like numbers are read as numbers (as pandas would).
  --column NAME        the label column (required for .h5ad)
  --test-size X        fraction (0..1) or count of test rows (default 0.2)
  --seed S             random_state of the split (default 2022, the scBERT protocol)
                       = StratifiedShuffleSplit(n_splits=1, test_size, random_state=S) on the labels
  --group-column NAME  split whole groups (donor, batch) instead: GroupShuffleSplit on that column;
                       the result is checked for groups on both sides
  --fraction F         also draw a few-shot subset of the training rows, F in (0, 1]:
                       np.random.seed(K); np.random.choice(n_train, int(n_train * F), replace=False)
  --fraction-seed K    seed of the few-shot draw (default 0)
  --stratified         stratified few-shot subset instead: train_test_split(train, train_size=F,
                       stratify=labels[train], random_state=K)
  --out FILE.json      write the JSON to a file (atomically) instead of stdout`;

const KNOWN = new Set(['labels', 'column', 'test-size', 'seed', 'group-column', 'fraction', 'fraction-seed', 'stratified', 'out']);

export interface SplitResult extends SplitIndices {
  n: number;
  fewshot?: number[];
}

export const command: CliCommand = {
  name: 'split',
  summary: 'train/test and few-shot row indices exactly as scikit-learn/numpy give them for a seed',
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    const { flags, positionals } = parseFlags(args, ['stratified']);
    for (const name of flags.keys()) if (!KNOWN.has(name)) throw new UsageError(`unknown option --${name}`);
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const file = stringFlag(flags, 'labels');
    if (!file) throw new UsageError('--labels FILE is required');
    const column = stringFlag(flags, 'column');
    const groupColumn = stringFlag(flags, 'group-column');
    const testSize = numberFlag(flags, 'test-size', 0.2);
    const seed = integerFlag(flags, 'seed', 2022);
    const fraction = flags.has('fraction') ? numberFlag(flags, 'fraction', 1) : undefined;
    const fractionSeed = integerFlag(flags, 'fraction-seed', 0);
    if (fraction === undefined && (flags.has('fraction-seed') || flags.has('stratified'))) {
      throw new UsageError('--fraction-seed and --stratified need --fraction');
    }
    if (fraction !== undefined && !(fraction > 0 && fraction <= 1)) throw new UsageError(`--fraction must be in (0, 1], got ${fraction}`);

    let labels: Label[];
    let groups: Label[] | undefined;
    try {
      ({ labels, groups } = await readLabels(file, column, groupColumn));
    } catch (e) {
      if (e instanceof H5adError) {
        io.err(`scwb split: ${e.file}: ${e.problem}\n`);
        return 1;
      }
      throw e;
    }

    let result: SplitResult;
    try {
      const split = groups
        ? groupShuffleSplit(groups, { testSize, seed })
        : stratifiedShuffleSplit(labels, { testSize, seed });
      if (groups) checkNoGroupLeak(groups, split.train, split.test);
      result = { n: labels.length, train: split.train, test: split.test };
      if (fraction !== undefined) {
        result.fewshot = flags.has('stratified')
          ? stratifiedFewShotSubset(split.train, labels, fraction, fractionSeed)
          : fewShotSubset(split.train, fraction, fractionSeed);
      }
    } catch (e) {
      if (e instanceof SplitError) {
        io.err(`scwb split: ${file}: ${e.message}\n`);
        return 1;
      }
      throw e;
    }

    const json = JSON.stringify(result) + '\n';
    const out = stringFlag(flags, 'out');
    if (out) writeFileAtomicSync(out, json);
    else io.out(json);
    return 0;
  },
};

function integerFlag(flags: Map<string, string | true>, name: string, fallback: number): number {
  const v = numberFlag(flags, name, fallback);
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new UsageError(`--${name} must be an integer in [0, 2**32 - 1], got ${v}`);
  return v;
}


/** Labels (and groups) from an .h5ad obs column or a text/CSV file. */
export async function readLabels(file: string, column?: string, groupColumn?: string): Promise<{ labels: Label[]; groups?: Label[] }> {
  if (/\.h5ad$/i.test(file)) {
    if (!column) throw new UsageError('--column NAME is required with an .h5ad file');
    // Loaded on demand so text-file use never starts h5wasm.
    const { openH5ad } = await import('../../core/h5ad/read.js');
    const { labelValues } = await import('../../core/h5ad/labels.js');
    const reader = await openH5ad(file);
    try {
      const obs = reader.obs();
      const pick = (name: string) => labelValues(obs, name, file);
      return { labels: pick(column), groups: groupColumn ? pick(groupColumn) : undefined };
    } finally {
      reader.close();
    }
  }
  if (!fs.existsSync(file)) throw new H5adError(file, 'no such file');
  let text: string;
  try {
    text = readTextFileSync(file);
  } catch (e) {
    throw new H5adError(file, `cannot read the label list: ${readProblem(e)}`);
  }
  const delimiter = /\.tsv$/i.test(file) ? '\t' : /\.csv$/i.test(file) ? ',' : undefined;
  if (groupColumn && !(delimiter && column)) {
    throw new H5adError(file, '--group-column needs an .h5ad file or a .csv/.tsv file with a header and --column');
  }
  if (column && !delimiter) throw new H5adError(file, '--column applies to .h5ad, .csv and .tsv files; a .txt file holds one label per line');
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (!delimiter || !column) return { labels: asNumbersIfAllNumeric(lines) };
  const rows = lines.map(l => splitDelimited(l, delimiter));
  const header = rows.shift() ?? [];
  const pickText = (name: string) => {
    const k = header.indexOf(name);
    if (k < 0) throw new H5adError(file, `the header has no column '${name}' (columns: ${header.join(', ')})`);
    return asNumbersIfAllNumeric(rows.map((r, i) => {
      if (k >= r.length) throw new H5adError(file, `line ${i + 2} has ${r.length} fields, fewer than the header's ${header.length}`);
      return r[k];
    }));
  };
  return { labels: pickText(column), groups: groupColumn ? pickText(groupColumn) : undefined };
}

/** One line of a CSV/TSV file, with double-quoted fields ("" inside quotes is a quote). */
function splitDelimited(line: string, delimiter: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') { field += '"'; i++; }
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === delimiter) { out.push(field); field = ''; }
    else field += ch;
  }
  out.push(field);
  return out;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function asNumbersIfAllNumeric(values: string[]): Label[] {
  return values.length > 0 && values.every(v => NUMBER.test(v.trim())) ? values.map(Number) : values;
}

