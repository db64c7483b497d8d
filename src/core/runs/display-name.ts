import type { RunRecord } from './schema';

/** What the views call a run: its name, else its model, fraction and seed. */
export function runDisplayName(r: Pick<RunRecord, 'name' | 'model' | 'fraction' | 'seed'>): string {
  return r.name || `${r.model.label} · fraction ${r.fraction} · seed ${r.seed}`;
}
