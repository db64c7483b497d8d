/** `scwb results DIR`: an experiment's results table from the run store. */
import * as fs from 'fs';
import * as path from 'path';
import { CliCommand, CliIO, UsageError, parseFlags } from '../command';
import { exportTable, tableToCsv, type TableFormat } from '../../core/results/export';
import { statisticsChooser } from '../../core/protocols/statistics';
import { HARD_CELLS, addClassPairMetrics } from '../../core/results/class-pair';
import { buildResultsModel } from '../../core/results/model';
import { loadPublishedNumbers } from '../../core/results/published';
import { finalizeFinetuneRuns } from '../../core/finetune/finalize';
import { RUN_FILE, RunStore } from '../../core/runs/store';

const USAGE = `usage: scwb results DIR [--experiment NAME] [--format md|csv|tex|json] [--reference MODEL] [--published FILE]
                    [--statistics auto|published|welch] [--hard-cells | --class-pair 'A|B']

Prints the results table of the runs in a run store: per dataset, model and few-shot fraction the number of
seeds, accuracy and macro-F1 as mean ± 95% CI (Student t), Welch's t-test p-values against the reference model
at the same fraction, and the published numbers where dataset and model match.

DIR is a run store folder (e.g. .scwb/runs: every experiment in it, or the one named by --experiment), or one
run's folder (its experiment).
  --format      md (default), csv (full precision; one CSV for all experiments), tex (booktabs), json (the model)
  --reference   model label to test against (default: the experiment's first LR model)
  --published   CSV of published numbers (default: the bundled resources/published_numbers.csv)
  --statistics  auto (default: the paper's Student t-test and np.std x 2.262 CI for the experiments of the scBERT
                paper presets, Welch elsewhere), published or welch for every experiment (docs/protocols.md)
  --hard-cells  add the deep-dive paper's hard-cell metrics (CD8+ Cytotoxic T vs CD8+/CD45RA+ Naive Cytotoxic)
  --class-pair 'A|B'  the same for another pair of classes: accuracy over their cells, macro-F1 over the two labels`;

export const command: CliCommand = {
  name: 'results',
  summary: 'print an experiment\'s results table (mean ± CI, p-values, published numbers) as md, csv or tex',
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    const { flags, positionals } = parseFlags(args, ['hard-cells']);
    for (const name of flags.keys()) {
      if (!['experiment', 'format', 'reference', 'published', 'statistics', 'hard-cells', 'class-pair'].includes(name)) throw new UsageError(`unknown option --${name}`);
    }
    const statistics = String(flags.get('statistics') ?? 'auto');
    if (statistics !== 'auto' && statistics !== 'published' && statistics !== 'welch') throw new UsageError(`--statistics must be auto, published or welch, got '${statistics}'`);
    if (positionals.length !== 1) throw new UsageError('give exactly one DIR (a run store or a run folder)');
    const format = String(flags.get('format') ?? 'md');
    if (!['md', 'csv', 'tex', 'json'].includes(format)) throw new UsageError(`--format must be md, csv, tex or json, got '${format}'`);
    const dir = path.resolve(positionals[0]);
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`${dir} is not a folder`);
    let storeRoot = dir;
    let experiment = flags.get('experiment') as string | undefined;
    if (fs.existsSync(path.join(dir, RUN_FILE))) {
      storeRoot = path.dirname(dir);
      const run = await new RunStore(storeRoot).get(path.basename(dir));
      experiment ??= run.experiment;
    }
    // Fine-tune runs that finished with nobody to score them (VS Code closed, a cluster job) get their metrics now.
    await finalizeFinetuneRuns(new RunStore(storeRoot));
    const { runs, problems } = await new RunStore(storeRoot).scan();
    for (const p of problems) io.err(`scwb results: skipped ${p.message}\n`);
    const publishedFile = flags.get('published');
    const published = loadPublishedNumbers(typeof publishedFile === 'string' ? path.resolve(publishedFile) : undefined);
    const model = buildResultsModel(runs, published, {
      experiment, referenceModel: flags.get('reference') as string | undefined, statistics: statisticsChooser(statistics),
    });
    const pair = classPairFlag(flags);
    if (pair) {
      const store = new RunStore(storeRoot);
      const ids = model.experiments.flatMap(e => e.rows.flatMap(r => r.runIds));
      const metrics = new Map(await Promise.all(ids.map(async id => [id, await store.readMetrics(id).catch(() => null)] as const)));
      addClassPairMetrics(model, pair, id => metrics.get(id));
    }
    if (model.experiments.length === 0) {
      io.err(`scwb results: no runs${experiment !== undefined ? ` of experiment '${experiment}'` : ''} in ${storeRoot}\n`);
      return 1;
    }
    if (format === 'json') {
      io.out(JSON.stringify(model, null, 2) + '\n');
    } else if (format === 'csv') {
      // One header for all experiments: the CSV has an experiment column.
      const parts = model.experiments.map(t => tableToCsv(t));
      io.out(parts[0] + parts.slice(1).map(p => p.slice(p.indexOf('\n') + 1)).join(''));
    } else {
      io.out(model.experiments.map(t => exportTable(t, format as TableFormat)).join('\n'));
    }
    return 0;
  },
};

function classPairFlag(flags: Map<string, string | true>): [string, string] | null {
  const v = flags.get('class-pair');
  if (flags.has('hard-cells') && v !== undefined) throw new UsageError('give --hard-cells or --class-pair, not both');
  if (flags.has('hard-cells')) return HARD_CELLS;
  if (v === undefined) return null;
  const parts = typeof v === 'string' ? v.split('|').map(x => x.trim()) : [];
  if (parts.length !== 2 || !parts[0] || !parts[1] || parts[0] === parts[1]) throw new UsageError(`--class-pair must name two different classes as 'A|B', got '${String(v)}'`);
  return [parts[0], parts[1]];
}
