/** `scwb inspect FILE.h5ad [--json]`: what an .h5ad holds, without loading X. */
import { CliCommand, CliIO, UsageError, parseFlags } from '../command';
import { formatBytes } from '../../core/format';
import { openH5ad } from '../../core/h5ad/read';
import { ColumnSummary, DatasetSummary, H5adError, MatrixInfo } from '../../core/h5ad/types';

const USAGE = `usage: scwb inspect FILE.h5ad [--json]

Prints the shape, how X is stored (dense/CSR/CSC, dtype, non-zeros, compression), the obs and var columns
with their kinds and categories, layers, raw, obsm and the uns keys.
  --json   print the summary as JSON (the DatasetSummary the extension uses)`;

export const command: CliCommand = {
  name: 'inspect',
  summary: 'show what an .h5ad file holds (shape, X storage, obs/var columns, layers, obsm, uns)',
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    const { flags, positionals } = parseFlags(args, ['json']);
    for (const name of flags.keys()) if (name !== 'json') throw new UsageError(`unknown option --${name}`);
    if (positionals.length !== 1) throw new UsageError('give exactly one .h5ad file');
    const file = positionals[0];
    let summary: DatasetSummary;
    try {
      const reader = await openH5ad(file);
      try {
        summary = reader.summary();
      } finally {
        reader.close();
      }
    } catch (e) {
      if (e instanceof H5adError) {
        io.err(`scwb inspect: ${e.file}: ${e.problem}\n`);
        return 1;
      }
      throw e;
    }
    io.out(flags.get('json') ? JSON.stringify(summary, null, 2) + '\n' : formatSummary(summary));
    return 0;
  },
};

export function formatSummary(s: DatasetSummary): string {
  const lines: string[] = [];
  lines.push(`${s.path}`);
  lines.push(`  ${s.nObs.toLocaleString('en-US')} cells x ${s.nVars.toLocaleString('en-US')} genes, ${formatBytes(s.fileSize)}, written by ${s.encoding}`);
  lines.push(`  X: ${s.X ? formatMatrix(s.X) : 'none (the file holds only annotations)'}`);
  const layers = Object.entries(s.layers);
  lines.push(`  layers:${layers.length ? '' : ' none'}`);
  for (const [name, m] of layers) lines.push(`    ${name}: ${formatMatrix(m)}`);
  if (s.raw) {
    lines.push(`  raw: ${s.raw.nVars.toLocaleString('en-US')} genes, X ${s.raw.X ? formatMatrix(s.raw.X) : 'none'}`);
    if (s.raw.var.length) lines.push(...formatColumns('raw.var', s.raw.var));
  } else {
    lines.push('  raw: none');
  }
  lines.push(...formatColumns('obs', s.obs));
  lines.push(...formatColumns('var', s.var));
  lines.push(`  obsm:${s.obsm.length ? '' : ' none'}`);
  for (const o of s.obsm) lines.push(`    ${o.name}: ${o.shape.join(' x ')} ${o.dtype}${o.encoding === 'csr' || o.encoding === 'csc' ? ` (${o.encoding})` : ''}`);
  lines.push(`  uns: ${s.uns.length ? s.uns.join(', ') : 'none'}`);
  return lines.join('\n') + '\n';
}

function formatMatrix(m: MatrixInfo): string {
  const storage = m.encoding === 'dense' ? 'dense' : m.encoding.toUpperCase();
  const density = m.encoding === 'dense' ? '' : `, ${m.nnz.toLocaleString('en-US')} stored values (${((100 * m.nnz) / Math.max(1, m.shape[0] * m.shape[1])).toFixed(1)}%)`;
  return `${storage} ${m.dtype} ${m.shape[0].toLocaleString('en-US')} x ${m.shape[1].toLocaleString('en-US')}${density}${m.compression.length ? `, ${m.compression.join('+')}` : ''}`;
}

function formatColumns(title: string, cols: ColumnSummary[]): string[] {
  const lines = [`  ${title}: ${cols.length ? `${cols.length} columns` : 'no columns'}`];
  const width = Math.min(32, Math.max(0, ...cols.map(c => c.name.length)));
  for (const c of cols) {
    let detail = c.kind + (c.dtype && c.kind === 'numeric' ? ` ${c.dtype}` : '');
    if (c.kind === 'categorical' && c.categories) {
      const n = c.nCategories ?? c.categories.length;
      detail += ` (${n} ${n === 1 ? 'category' : 'categories'}${n ? `: ${listWithin(c.categories, n, 80)}` : ''})`;
    }
    if (c.nMissing) detail += `, ${c.nMissing} missing`;
    lines.push(`    ${c.name.padEnd(width)}  ${detail}`);
  }
  return lines;
}

/** As many names as fit in about `budget` characters, then '...'. */
function listWithin(names: string[], total: number, budget: number): string {
  const shown: string[] = [];
  let used = 0;
  for (const name of names) {
    const text = name.length > 40 ? `${name.slice(0, 37)}...` : name;
    if (shown.length > 0 && used + text.length + 2 > budget) break;
    shown.push(text);
    used += text.length + 2;
  }
  return shown.join(', ') + (shown.length < total ? ', ...' : '');
}

