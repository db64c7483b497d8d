/** `scwb simulate`: writes a simulated PBMC-like raw count .h5ad (demo data, see src/core/simulate.ts). */
import * as path from 'path';
import { CliCommand, numberFlag, parseFlags, UsageError } from '../command';
import { simulateToH5ad, CELL_TYPES } from '../../core/simulate';

const USAGE = `usage: scwb simulate --cells N --genes G [--types K] [--seed S] [--median-counts C] [--out FILE] [--overwrite] [--gzip]

Simulates a PBMC-like raw count matrix (negative-binomial counts, cell types of Zheng68K-like unequal sizes,
marker genes, 4 donors in 2 batches) and writes it as an .h5ad, streamed in row blocks.
  --cells N      number of cells (e.g. 68450 for a Zheng68K-sized set)
  --genes G      number of genes, at least 100 (e.g. 16906)
  --types K      number of cell types, 2-${CELL_TYPES.length} (default 11)
  --seed S       integer seed (default 0); the same seed and shape give the same file contents
  --median-counts C  median counts per cell (default: Zheng68K's 1,500 per 16,906 genes, scaled to G, at least 300)
  --out FILE     output path (default simulated-pbmc-<N>x<G>-seed<S>.h5ad in the current folder)
  --overwrite    replace an existing output file
  --gzip         gzip-compress X`;

export const command: CliCommand = {
  name: 'simulate',
  summary: 'write a simulated PBMC-like raw count .h5ad (demo data)',
  usage: USAGE,
  async run(args, io) {
    const { flags, positionals } = parseFlags(args, ['overwrite', 'gzip']);
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    for (const name of flags.keys()) {
      if (!['cells', 'genes', 'types', 'seed', 'median-counts', 'out', 'overwrite', 'gzip'].includes(name)) throw new UsageError(`unknown option --${name}`);
    }
    if (!flags.has('cells') || !flags.has('genes')) throw new UsageError('--cells and --genes are required');
    const nCells = numberFlag(flags, 'cells', 0);
    const nGenes = numberFlag(flags, 'genes', 0);
    const nTypes = numberFlag(flags, 'types', 11);
    const seed = numberFlag(flags, 'seed', 0);
    if (!Number.isInteger(nCells) || nCells < 1) throw new UsageError(`--cells must be a positive integer, got ${nCells}`);
    if (!Number.isInteger(nGenes) || nGenes < 100) throw new UsageError(`--genes must be an integer of at least 100, got ${nGenes}`);
    if (!Number.isInteger(nTypes) || nTypes < 2 || nTypes > CELL_TYPES.length) {
      throw new UsageError(`--types must be an integer from 2 to ${CELL_TYPES.length}, got ${nTypes}`);
    }
    if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got ${seed}`);
    const medianCounts = flags.has('median-counts') ? numberFlag(flags, 'median-counts', 0) : undefined;
    if (medianCounts !== undefined && !(Number.isInteger(medianCounts) && medianCounts >= 1)) throw new UsageError(`--median-counts must be a positive integer, got ${medianCounts}`);
    const outFlag = flags.get('out');
    if (outFlag === true) throw new UsageError('--out needs a file name');
    const out = path.resolve(outFlag ?? `simulated-pbmc-${nCells}x${nGenes}-seed${seed}.h5ad`);
    const started = Date.now();
    let lastReport = 0;
    const summary = await simulateToH5ad(out, {
      nCells, nGenes, nTypes, seed, medianCounts, overwrite: flags.get('overwrite') === true,
      compression: flags.get('gzip') === true ? 'gzip' : undefined,
    }, (done, total) => {
      if (Date.now() - lastReport > 2000 && done < total) {
        lastReport = Date.now();
        io.err(`  ${done} / ${total} cells\n`);
      }
    });
    const sparsity = 1 - summary.nnz / (summary.nCells * summary.nGenes);
    const lines = [
      `wrote ${out}`,
      `  ${summary.nCells} cells x ${summary.nGenes} genes, ${summary.nnz} non-zero counts (${(100 * sparsity).toFixed(1)}% zeros), ${((Date.now() - started) / 1000).toFixed(1)} s`,
      '  cell types:',
      ...Object.entries(summary.typeCounts).map(([name, n]) => `    ${name.padEnd(32)}${String(n).padStart(8)}`),
    ];
    io.out(lines.join('\n') + '\n');
    return 0;
  },
};
