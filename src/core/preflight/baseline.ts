/**
 * The baseline's pre-flight, shared by Run Baseline…, the queue and `scwb baseline`: classify X with the dataset
 * view's classifier and decide which values the fit uses. Log-normalised values pass; anything else needs a choice:
 * a preprocessed version of the file, Preprocess first, a log transform computed on the fly, or the values as
 * stored (`force`), each recorded in run.json (`parameters.values`).
 */
import * as fs from 'fs';
import * as path from 'path';
import { openH5ad } from '../h5ad/read';
import type { ValueScale } from '../h5ad/stats';
import type { DatasetSummary } from '../h5ad/types';
import {
  baselineValueAdvice, scanValueScale, transformProblem, TRANSFORM_WORDS,
  type BaselineTransform, type BaselineValueAdvice, type BaselineValueRecord,
} from './values';

/** What the user chose for values that are not log-normalised. */
export type BaselineValueChoice = { kind: 'transform'; transform: Exclude<BaselineTransform, 'none'> } | { kind: 'force' };

export interface PreprocessedVersion { file: string; recipe: string }

export type BaselineValueDecision =
  | { ok: true; valueTransform: BaselineTransform; valueCheck: BaselineValueRecord }
  | { ok: false; advice: BaselineValueAdvice; problem: string };

async function summaryOfFile(file: string): Promise<DatasetSummary> {
  const r = await openH5ad(file);
  try { return r.summary(); } finally { r.close(); }
}

/** .h5ad files beside `dataset` that Preprocess made from it (their uns records it as the input). */
export async function preprocessedVersions(dataset: string, summaryOf: (file: string) => Promise<DatasetSummary> = summaryOfFile): Promise<PreprocessedVersion[]> {
  const dir = path.dirname(dataset);
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch {
    return [];
  }
  const out: PreprocessedVersion[] = [];
  for (const name of names.sort()) {
    const file = path.join(dir, name);
    if (!name.endsWith('.h5ad') || file === dataset) continue;
    const made = await summaryOf(file).then(s => s.provenance, () => undefined);
    if (made && path.basename(made.inputFile) === path.basename(dataset)) out.push({ file, recipe: made.recipe });
  }
  return out;
}

/** The decision for a scale and a choice (undefined: none made yet). */
export function decideBaselineValues(scale: ValueScale, file: string, choice: BaselineValueChoice | undefined): BaselineValueDecision {
  const advice = baselineValueAdvice(scale, file);
  const record = (transform: BaselineTransform, decision: BaselineValueRecord['decision']): BaselineValueDecision =>
    ({ ok: true, valueTransform: transform, valueCheck: { scale: scale.kind, reason: scale.reason, transform, decision } });
  if (choice?.kind === 'force') return record('none', advice.ok ? 'log-normalized' : 'forced');
  if (choice?.kind === 'transform') {
    if (advice.ok) return { ok: false, advice, problem: `${path.basename(file)} already holds log-normalised values: ${TRANSFORM_WORDS[choice.transform]} would log-transform them twice` };
    const bad = transformProblem(choice.transform, scale);
    if (bad) return { ok: false, advice, problem: `${path.basename(file)}: ${bad}` };
    return record(choice.transform, 'transform');
  }
  if (advice.ok) return record('none', 'log-normalized');
  return { ok: false, advice, problem: advice.message };
}

/** Scans the file (first rows of X) and decides. */
export async function baselineValuePreflight(file: string, choice: BaselineValueChoice | undefined, maxRows = 2000): Promise<BaselineValueDecision> {
  return decideBaselineValues(await scanValueScale(file, maxRows), file, choice);
}

/** The fixes for values that are not log-normalised, in the CLI's words (one line each). */
export function baselineValueFixesCli(advice: BaselineValueAdvice, dataset: string, versions: readonly PreprocessedVersion[]): string[] {
  const name = path.basename(dataset);
  const lines: string[] = [];
  if (versions.length) lines.push(`  --use-preprocessed            fit on ${versions.map(v => `${path.basename(v.file)} (${v.recipe} recipe)`).join(' or ')}, made from ${name} by Preprocess${versions.length > 1 ? ' (several: give that file instead)' : ''}`);
  lines.push(`  scwb preprocess RECIPE.json ${name} OUT.h5ad   Preprocess first (normalise and log-transform), then run the baseline on OUT.h5ad`);
  if (advice.transform) lines.push(`  --transform ${advice.transform.padEnd(17)} fit on ${TRANSFORM_WORDS[advice.transform]}, computed on the fly (recorded in run.json)`);
  lines.push(`  --force                       fit on the values as stored (recorded in run.json; not comparable with the published baseline)`);
  return lines;
}
