/**
 * `scwb embedding RUN_DIR`: the 2-D UMAP layout of a run's cell embeddings (embeddings.npy) as CSV, optionally with
 * an obs column of the run's dataset beside each cell — the same layout (same code, seed and cache) as the
 * extension's Show Embedding Plot.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CliCommand, CliIO, UsageError, numberFlag, onTerminationSignals, parseFlags, stringFlag } from '../command';
import type { EmbeddingPlotData, EmbeddingPlotInput } from '../../core/embedding/tasks';
import { DEFAULT_UMAP_PARAMS, EMBEDDINGS_FILE, UMAP_FILE } from '../../core/embedding/umap';
import { writeFileAtomic } from '../../core/fs-atomic';
import { csvRow } from '../../core/results/csv';
import { runTask } from '../../core/workers/run-task';
import { CancelledError } from '../../core/workers/task';
import { readTextFileSync } from '../../core/safe-read';

const USAGE = `usage: scwb embedding RUN_DIR [--color COLUMN] [--dataset FILE.h5ad] [--n-neighbors 15] [--min-dist 0.1]
                      [--seed 0] [--max-cells 20000] [--no-cache] [--out umap.csv]

Lays out RUN_DIR/embeddings.npy (float32/float64 [n_obs, d], written by a probe run) in 2-D with UMAP and writes
CSV rows "row,obs_name,umap1,umap2[,COLUMN]" (row = the cell's row in the dataset).
  --color COLUMN     add the obs column COLUMN of the dataset
  --dataset FILE     the dataset the embeddings belong to (default: run.json's dataset.path, else
                     embeddings.json's dataset)
  --n-neighbors K    UMAP neighbours (default 15); --min-dist D (default 0.1); --seed S (default 0)
  --max-cells M      lay out at most M cells, a seeded subsample above that (default 20000)
  --no-cache         neither read nor write RUN_DIR/${UMAP_FILE} (the layout cache)
  --out FILE.csv     write the CSV there (atomically) instead of stdout`;

const KNOWN = new Set(['color', 'dataset', 'n-neighbors', 'min-dist', 'seed', 'max-cells', 'no-cache', 'out']);

/** The dataset of the run: run.json's dataset.path, else embeddings.json's dataset; null when neither names one. */
export function runDataset(runDir: string): string | null {
  for (const [file, pick] of [
    ['run.json', (v: Record<string, unknown>) => (v.dataset as { path?: unknown } | undefined)?.path],
    ['embeddings.json', (v: Record<string, unknown>) => v.dataset],
  ] as const) {
    try {
      const value = pick(JSON.parse(readTextFileSync(path.join(runDir, file))) as Record<string, unknown>);
      if (typeof value === 'string' && value) return path.resolve(runDir, value);
    } catch {
      // missing or unreadable: try the next
    }
  }
  return null;
}

export const command: CliCommand = {
  name: 'embedding',
  summary: 'UMAP layout of a run\'s cell embeddings (embeddings.npy) as CSV, with an obs column',
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    const { flags, positionals } = parseFlags(args, ['no-cache']);
    for (const name of flags.keys()) if (!KNOWN.has(name)) throw new UsageError(`unknown option --${name}`);
    if (positionals.length !== 1) throw new UsageError(positionals.length ? `unexpected argument '${positionals[1]}'` : 'RUN_DIR is required');
    const runDir = path.resolve(positionals[0]);
    if (!fs.existsSync(path.join(runDir, EMBEDDINGS_FILE))) {
      io.err(`scwb embedding: ${path.join(runDir, EMBEDDINGS_FILE)}: file not found (a probe run with writeEmbeddings writes it)\n`);
      return 1;
    }
    const column = stringFlag(flags, 'color');
    const datasetPath = stringFlag(flags, 'dataset') ?? runDataset(runDir);
    if (column && !datasetPath) throw new UsageError('--color needs the dataset: give --dataset FILE.h5ad (the run names none)');
    const integer = (name: string, fallback: number) => {
      const v = numberFlag(flags, name, fallback);
      if (!Number.isInteger(v)) throw new UsageError(`--${name} must be an integer, got ${v}`);
      return v;
    };
    const noCache = flags.get('no-cache') === true;
    const input: EmbeddingPlotInput = {
      runDir, datasetPath, column: column ?? null, writeCache: !noCache,
      params: {
        nNeighbors: integer('n-neighbors', DEFAULT_UMAP_PARAMS.nNeighbors), minDist: numberFlag(flags, 'min-dist', DEFAULT_UMAP_PARAMS.minDist),
        seed: integer('seed', DEFAULT_UMAP_PARAMS.seed), maxCells: integer('max-cells', DEFAULT_UMAP_PARAMS.maxCells),
      },
      readCache: !noCache,
    };
    const abort = new AbortController();
    const removeSignals = onTerminationSignals(() => abort.abort());
    let data: EmbeddingPlotData;
    try {
      data = await runTask<EmbeddingPlotData>('embedding/tasks', 'embeddingPlot', input, { signal: abort.signal });
    } catch (e) {
      if (e instanceof CancelledError) {
        io.err('scwb embedding: cancelled\n');
        return 130;
      }
      throw e;
    } finally {
      removeSignals();
    }
    if (column && (data.datasetProblem || data.colors?.column !== column)) {
      io.err(`scwb embedding: ${data.datasetProblem ?? `cannot colour by '${column}'`}\n`);
      return 1;
    }
    const l = data.layout;
    const header = ['row', 'obs_name', 'umap1', 'umap2', ...(column ? [column] : [])];
    const parts = [csvRow(header)];
    const colors = data.colors;
    for (let i = 0; i < l.indices.length; i++) {
      let value: string | number = '';
      if (colors?.scale === 'categorical') value = colors.codes[i] >= 0 ? colors.categories[colors.codes[i]] : '';
      else if (colors?.scale === 'numeric') value = colors.values[i] ?? '';
      const row: (string | number)[] = [l.indices[i], data.obsNames?.[i] ?? '', l.x[i], l.y[i]];
      if (column) row.push(value);
      parts.push(csvRow(row));
    }
    const text = parts.join('');
    const out = stringFlag(flags, 'out');
    if (out) await writeFileAtomic(path.resolve(out), text);
    else io.out(text);
    const note = l.indices.length < l.rows ? ` (a seeded subsample of ${l.rows})` : '';
    io.err(`scwb embedding: ${l.indices.length} cells${note}, ${l.dim}-dimensional, UMAP n_neighbors ${l.nNeighborsUsed}, min_dist ${l.params.minDist}, seed ${l.params.seed}${data.fromCache ? `, from ${UMAP_FILE}` : ''}${out ? ` -> ${out}` : ''}\n`);
    return 0;
  },
};
