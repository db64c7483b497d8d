/**
 * How many cells the scBERT fix would keep, said before it runs: the recipe keeps the cells with at least
 * `minGenes` positive values among the model's genes (the first column of a duplicated name counts, as the recipe
 * aligns with duplicateGenes 'first'). Counted on the first `rows` cells; the whole file when it is smaller.
 */
import type { AnnDataReader } from '../h5ad/types';
import { CancelledError, type TaskContext } from '../workers/task';

export interface CellsKept {
  /** cells of the scanned rows that pass */
  kept: number;
  scanned: number;
  total: number;
  minGenes: number;
}

export async function cellsKeptByScbert(
  reader: AnnDataReader, matrix: string, names: readonly string[], reference: readonly string[], minGenes: number, rows: number, ctx: TaskContext,
): Promise<CellsKept> {
  const ref = new Set(reference);
  const counted = new Uint8Array(names.length);
  const seen = new Set<string>();
  names.forEach((n, j) => { if (ref.has(n) && !seen.has(n)) { seen.add(n); counted[j] = 1; } });
  const total = reader.summary().nObs;
  const n = Math.min(rows, total);
  const info = matrix === 'X' ? reader.summary().X : reader.summary().raw?.X;
  const block = info?.encoding === 'csc' ? Math.max(n, 1) : 1024;
  let kept = 0;
  for (let r0 = 0; r0 < n; r0 += block) {
    if (ctx.cancelled) throw new CancelledError();
    const m = reader.readRows(r0, Math.min(n, r0 + block), matrix === 'X' ? undefined : matrix);
    for (let r = 0; r < m.nRows; r++) {
      let genes = 0;
      for (let k = m.indptr[r]; k < m.indptr[r + 1]; k++) if (m.data[k] > 0 && counted[m.indices[k]]) genes++;
      if (genes >= minGenes) kept++;
    }
    await new Promise(resolve => setImmediate(resolve));
  }
  return { kept, scanned: n, total, minGenes };
}

/** "keeps 2,967 of 3,000 cells", estimated from the scanned share when not every cell was read. */
export function cellsKeptText(c: CellsKept): string {
  const fmt = (x: number) => x.toLocaleString('en-US');
  const all = c.scanned >= c.total;
  const kept = all ? c.kept : Math.round((c.kept / Math.max(1, c.scanned)) * c.total);
  const head = `keeps ${all ? '' : 'about '}${fmt(kept)} of ${fmt(c.total)} cells (at least ${fmt(c.minGenes)} of the model's genes expressed${all ? '' : `; counted on the first ${fmt(c.scanned)}`})`;
  return c.kept < 0.5 * c.scanned ? `${head}: the published filter drops most cells here; a recipe file with a lower minGenes keeps more` : head;
}
