/** `scwb results DIR`: an experiment's results table from the run store. */
import * as fs from 'fs';
import * as path from 'path';
import { CliCommand, CliIO, UsageError, parseFlags } from '../command';
import { exportTable, tableToCsv, type TableFormat } from '../../core/results/export';
import { buildResultsModel } from '../../core/results/model';
import { perturbationCsv, perturbationMarkdown, perturbationRows } from '../../core/results/perturbation';
import { loadPublishedNumbers } from '../../core/results/published';
import { finalizeFinetuneRuns } from '../../core/finetune/finalize';
import { RUN_FILE, RunStore } from '../../core/runs/store';

const USAGE = `usage: scwb results DIR [--experiment NAME] [--format md|csv|tex|json] [--reference MODEL] [--published FILE]

Prints the results table of the runs in a run store: per dataset, model and few-shot fraction the number of
seeds, accuracy and macro-F1 as mean ± 95% CI (Student t), Welch's t-test p-values against the reference model
at the same fraction, and the published numbers where dataset and model match. Perturbation-prediction runs get
their own table: test MSE mean ± sd over trials (md; csv: after the classification table; json: "perturbation").

DIR is a run store folder (e.g. .scwb/runs: every experiment in it, or the one named by --experiment), or one
run's folder (its experiment).
  --format      md (default), csv (full precision; one CSV for all experiments), tex (booktabs), json (the model)
  --reference   model label to test against (default: the experiment's first LR model)
  --published   CSV of published numbers (default: the bundled resources/published_numbers.csv)`;

export const command: CliCommand = {
  name: 'results',
  summary: 'print an experiment\'s results table (mean ± CI, p-values, published numbers) as md, csv or tex',
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    const { flags, positionals } = parseFlags(args);
    for (const name of flags.keys()) {
      if (!['experiment', 'format', 'reference', 'published'].includes(name)) throw new UsageError(`unknown option --${name}`);
    }
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
      experiment, referenceModel: flags.get('reference') as string | undefined,
    });
    const perturbation = perturbationRows(runs, experiment);
    if (model.experiments.length === 0 && perturbation.length === 0) {
      io.err(`scwb results: no runs${experiment !== undefined ? ` of experiment '${experiment}'` : ''} in ${storeRoot}\n`);
      return 1;
    }
    if (format === 'json') {
      io.out(JSON.stringify({ ...model, perturbation }, null, 2) + '\n');
    } else if (format === 'csv') {
      // One header for all experiments: the CSV has an experiment column.
      const parts = model.experiments.map(t => tableToCsv(t));
      if (parts.length) io.out(parts[0] + parts.slice(1).map(p => p.slice(p.indexOf('\n') + 1)).join(''));
      if (perturbation.length) io.out((parts.length ? '\n' : '') + perturbationCsv(perturbation));
    } else {
      const tables = model.experiments.map(t => exportTable(t, format as TableFormat));
      if (perturbation.length) tables.push(format === 'md' ? perturbationMarkdown(perturbation) : perturbationCsv(perturbation));
      io.out(tables.join('\n'));
    }
    return 0;
  },
};
