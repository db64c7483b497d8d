/**
 * The experiment grid's pre-flight: every queue item is checked against its files before anything is queued (the
 * label column, the split and few-shot class sizes, the checkpoint against the data, a baseline's value scale),
 * so a grid that would fail within a second is refused with the reason and the fix instead of "N runs added".
 * Items that share a dataset, split and model are checked together.
 */
import * as path from 'path';
import type { SplitLabels } from '../finetune/prepare';
import type { QueueSpec } from '../queue/schema';
import { fewShotTrainRows } from '../runs/split-rows';
import type { RunSplit } from '../runs/schema';
import type { TaskContext } from '../workers/task';
import { baselineValuePreflight } from './baseline';
import { checkFinetuneInput, fewShotProblems, sentence, splitLabelsOrProblem, type PreflightProblem } from './finetune';

export interface QueueCheckItem { label: string; spec: QueueSpec }
export interface QueueItemProblems { label: string; problems: PreflightProblem[] }

const quietCtx: TaskContext = { progress: () => undefined, get cancelled() { return false; } };

/** The run split of an item (the probes' random split is seeded by the item's seed). */
function splitOf(spec: QueueSpec): RunSplit {
  return spec.split.kind === 'random' ? { ...spec.split, seed: spec.seed } : spec.split;
}

function groupKey(spec: QueueSpec): string {
  const model = spec.kind === 'finetune' ? `${spec.model}\u0000${spec.checkpoint ?? ''}` : spec.kind === 'baseline' ? JSON.stringify(spec.model) : spec.kind;
  return [spec.kind, path.resolve(spec.datasetPath), spec.labelColumn, JSON.stringify(spec.split), spec.stratifiedFewShot, model].join('\u0000');
}

/** The items that cannot run, each with its problems; empty when all can be queued. */
export async function checkQueueItems(items: readonly QueueCheckItem[], ctx: TaskContext = quietCtx): Promise<QueueItemProblems[]> {
  const groups = new Map<string, QueueCheckItem[]>();
  for (const it of items) {
    const k = groupKey(it.spec);
    groups.set(k, [...groups.get(k) ?? [], it]);
  }
  const byItem = new Map<QueueCheckItem, PreflightProblem[]>();
  let done = 0;
  for (const group of groups.values()) {
    if (ctx.cancelled) break;
    ctx.progress(done / groups.size, `checking ${path.basename(group[0].spec.datasetPath)}`);
    const spec = group[0].spec;
    const fractions = Array.from(new Set(group.map(g => g.spec.fraction)));
    const seeds = Array.from(new Set(group.map(g => g.spec.seed)));
    let problems: PreflightProblem[];
    if (spec.kind === 'finetune') {
      problems = await checkFinetuneInput({
        datasetPath: spec.datasetPath, labelColumn: spec.labelColumn, split: splitOf(spec),
        ...(spec.split.kind === 'reference-query' ? { queryPath: spec.split.queryPath } : {}),
        model: spec.model, checkpoint: spec.checkpoint, fractions, seeds, stratifiedFewShot: spec.stratifiedFewShot,
      });
    } else {
      problems = [];
      const data = await splitLabelsOrProblem({ datasetPath: spec.datasetPath, labelColumn: spec.labelColumn, split: splitOf(spec) });
      if ('check' in data) problems.push(data);
      else if (spec.kind === 'baseline') {
        problems.push(...fewShotProblems(data, 'baseline', fractions, seeds, spec.stratifiedFewShot));
        if ('cvGrid' in spec.model) problems.push(...foldProblems(data, spec.model.folds ?? 5, group.map(g => g.spec)));
      }
      if (spec.kind === 'baseline') {
        const values = await baselineValuePreflight(spec.datasetPath, undefined).catch(() => null);
        if (values && !values.ok) {
          problems.push({
            check: 'values', message: values.problem,
            fix: `bind a log-normalised version of the file (Preprocess first), or run this baseline with Run Baseline… or scwb baseline${values.advice.transform ? ` --transform ${values.advice.transform}` : ' --force'}`,
          });
        }
      }
    }
    for (const it of group) {
      const mine = problems.filter(p => (p.fraction === undefined || p.fraction === it.spec.fraction) && (p.seed === undefined || p.seed === it.spec.seed));
      if (mine.length) byItem.set(it, mine);
    }
    done++;
  }
  ctx.progress(1, 'done');
  return items.filter(it => byItem.has(it)).map(it => ({ label: it.label, problems: byItem.get(it)! }));
}

/** k-fold cross-validation of C needs k training cells of every class in each item's few-shot subset. */
function foldProblems(data: SplitLabels, folds: number, specs: readonly QueueSpec[]): PreflightProblem[] {
  const out: PreflightProblem[] = [];
  for (const spec of specs) {
    let rows: number[];
    try {
      rows = fewShotTrainRows(data.split.train, data.trainLabels, spec.fraction, spec.seed, spec.stratifiedFewShot);
    } catch {
      continue; // reported by the few-shot check
    }
    const counts = new Map<string, number>();
    for (const r of rows) { const k = String(data.trainLabels[r]); counts.set(k, (counts.get(k) ?? 0) + 1); }
    const small = [...counts].filter(([, n]) => n < folds).sort((a, b) => a[1] - b[1]);
    if (small.length) {
      out.push({
        check: 'cv-folds', fraction: spec.fraction, seed: spec.seed,
        message: `fraction ${spec.fraction}, seed ${spec.seed}: ${folds}-fold cross-validation needs ${folds} training cells of every class, but ${small.slice(0, 5).map(([c, n]) => `${c} has ${n}`).join(', ')}`,
        fix: `use at most ${small[0][1]} folds, a fixed C, or a larger fraction`,
      });
    }
  }
  return out;
}

/** One notification text: how many items fail, and each distinct problem with its fix (items named). */
export function describeQueueProblems(failed: readonly QueueItemProblems[], total: number): string {
  const distinct = new Map<string, { p: PreflightProblem; labels: string[] }>();
  for (const f of failed) {
    for (const p of f.problems) {
      const k = `${p.message}\u0000${p.fix}`;
      const d = distinct.get(k) ?? { p, labels: [] };
      d.labels.push(f.label);
      distinct.set(k, d);
    }
  }
  const parts = [...distinct.values()].map(d => `${d.p.message.replace(/[.\s]+$/, '')} (${d.labels.length === 1 ? d.labels[0] : `${d.labels.length} items, e.g. ${d.labels[0]}`}). Fix: ${sentence(d.p.fix)}`);
  return `The experiment was not queued: ${failed.length} of ${total} run${total === 1 ? '' : 's'} cannot start. ${parts.join(' ')}`;
}
