/** Worker-thread tasks of the pre-flight checks, run with `runTask('preflight/tasks', name, input)`. */
import type { TaskContext } from '../workers/task';
import { baselineValuePreflight, type BaselineValueChoice, type BaselineValueDecision } from './baseline';
import { checkFinetuneInput, fewShotProblems, splitLabelsOrProblem, type FinetuneCheckInput, type PreflightProblem } from './finetune';
import { checkQueueItems, type QueueCheckItem, type QueueItemProblems } from './queue';

export function finetuneChecks(input: FinetuneCheckInput, ctx: TaskContext): Promise<PreflightProblem[]> {
  return checkFinetuneInput(input, ctx);
}

/** Only the labels, split and few-shot draws (the palette asks this right after the fractions). */
export async function fewShotChecks(input: Omit<FinetuneCheckInput, 'checkpoint'>): Promise<PreflightProblem[]> {
  const data = await splitLabelsOrProblem(input);
  if ('check' in data) return [data];
  const stratified = input.stratifiedFewShot ?? input.model === 'scgpt';
  return fewShotProblems(data, input.model, input.fractions?.length ? input.fractions : [1], input.seeds?.length ? input.seeds : [0], stratified, input.validationSplit ?? 'stratified');
}

export function queueChecks(input: { items: QueueCheckItem[] }, ctx: TaskContext): Promise<QueueItemProblems[]> {
  return checkQueueItems(input.items, ctx);
}

export function baselineValues(input: { path: string; choice?: BaselineValueChoice }): Promise<BaselineValueDecision> {
  return baselineValuePreflight(input.path, input.choice);
}
