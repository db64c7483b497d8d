/**
 * Model files that runs wrote (last.pt, best.pt, model.onnx in .scwb/runs/<id>/) apart from the user's own: each
 * run's files under the run's name, so that the Checkpoints view and the model pickers do not list "best.pt" once
 * per run by its run-id path.
 */
import * as path from 'path';
import type { CheckpointInfo } from './index';

/** A model file of the Checkpoints view; `run` when a run wrote it (the run's id and name). */
export type ListedCheckpoint = CheckpointInfo & { run?: { id: string; name: string } };

export interface RunCheckpoints {
  id: string;
  name: string;
  files: ListedCheckpoint[];
}

/** The id of the run whose folder under the run store `storeRoot` holds `file`, if any. */
export function runIdOf(storeRoot: string, file: string): string | undefined {
  const rel = path.relative(storeRoot, file);
  if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  const id = rel.split(path.sep)[0];
  return id && id !== rel ? id : undefined;
}

/**
 * Splits the listed model files into the user's own and those of runs, grouped by run (runs in the order of their
 * names, files by name). `names` maps run ids to display names; a run folder without a readable run.json keeps its id.
 */
export function groupByRun(files: CheckpointInfo[], storeRoot: string | undefined, names: ReadonlyMap<string, string>): { own: ListedCheckpoint[]; runs: RunCheckpoints[] } {
  const own: ListedCheckpoint[] = [];
  const byRun = new Map<string, RunCheckpoints>();
  for (const f of files) {
    const id = storeRoot ? runIdOf(storeRoot, f.path) : undefined;
    if (!id) { own.push(f); continue; }
    const name = names.get(id) ?? id;
    let group = byRun.get(id);
    if (!group) byRun.set(id, group = { id, name, files: [] });
    group.files.push({ ...f, run: { id, name } });
  }
  const runs = [...byRun.values()].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  for (const r of runs) r.files.sort((a, b) => path.basename(a.path).localeCompare(path.basename(b.path)));
  return { own, runs };
}

/** The label of a model file in a picker: a run's file by the run's name ("scBERT f=0.1 seed=0 · best.pt"). */
export function pickLabel(c: ListedCheckpoint): string {
  return c.run ? `${c.run.name} · ${path.basename(c.path)}` : c.label;
}
