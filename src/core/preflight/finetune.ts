/**
 * The fine-tune's pre-flight, shared by Run Fine-tune…, the experiment grid / queue and `scwb finetune`: everything
 * the training worker would get wrong, found before a run folder exists.
 *
 * - labels and split: the label column exists (in the query file too) and the split can be drawn;
 * - few-shot: every (fraction, seed) leaves cells to train on and, for scGPT, a stratified 10% validation hold-out
 *   (each class needs 2 cells in the subset); the message names the classes too small and the fractions that work;
 * - model vs data ("Check Dataset Against Model", src/core/checkpoints/compat.ts): a failing value scale, gene
 *   overlap or gene namespace; plus what only the worker used to find: scBERT's gene count vs the weights' positions
 *   and scGPT token ids outside the embedding. Without a checkpoint (random initialisation) the value scale is checked
 *   against what the model family reads.
 */
import * as path from 'path';
import { checkDatasetTask, type CompatReport } from '../checkpoints/compat';
import { describeModel, type ModelFacts } from '../checkpoints/compat-model';
import { readJson } from '../checkpoints/inspect';
import { drawTrainRows, fewShotDrawOf, finetuneSplit, readSplitLabels, resolveCheckpoint, scgptValidationSplit, type FinetuneGridInput, type SplitLabels } from '../finetune/prepare';
import { openH5ad } from '../h5ad/read';
import type { ValueScale } from '../h5ad/stats';
import type { FinetuneModel, ValidationSplit } from '../runs/schema';
import { fewShotTrainRows, splitClasses } from '../runs/split-rows';
import { SplitError, type Label } from '../splits';
import { CancelledError, type TaskContext } from '../workers/task';
import { scanValueScale } from './values';

/** One reason a run cannot start, and what to do. */
export interface PreflightProblem {
  /** which check: 'labels', 'split', 'few-shot', 'values', 'genes', 'namespace', 'vocabulary' */
  check: string;
  message: string;
  fix: string;
  /** the few-shot fraction it concerns (few-shot problems) */
  fraction?: number;
  /** the seed it concerns, when only one */
  seed?: number;
}

/** What the pre-flight checks: the fine-tune's own input (valueLayer: as prepare decides, scGPT X_binned when present). */
export type FinetuneCheckInput = Pick<FinetuneGridInput, 'datasetPath' | 'queryPath' | 'labelColumn' | 'split' | 'model' | 'checkpoint'
  | 'valueLayer' | 'fractions' | 'seeds' | 'stratifiedFewShot' | 'validationSplit' | 'ignoreKeys'>;

/** Fractions tried when saying which ones work (the published few-shot fractions). */
export const CANDIDATE_FRACTIONS = [0.1, 0.25, 0.5, 0.75, 1];

const quietCtx: TaskContext = { progress: () => undefined, get cancelled() { return false; } };

/** The train/test labels of the split, or the problem that stops it. */
export async function splitLabelsOrProblem(input: Pick<FinetuneCheckInput, 'datasetPath' | 'labelColumn' | 'queryPath' | 'split'>): Promise<SplitLabels | PreflightProblem> {
  try {
    return await readSplitLabels(input.datasetPath, input.labelColumn, finetuneSplit(input));
  } catch (e) {
    const message = (e as Error).message;
    if (/has no column/.test(message)) {
      return { check: 'labels', message, fix: 'choose a label column the file has (the dataset view lists its obs columns)' };
    }
    if (e instanceof SplitError) {
      return { check: 'split', message, fix: 'a stratified split needs at least 2 cells of every class: choose another label column, or leave out the classes with a single cell first' };
    }
    return { check: 'file', message, fix: 'check that the file exists and is a readable .h5ad (choose it again)' };
  }
}

function classCounts(rows: readonly number[], labels: readonly Label[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of rows) { const k = String(labels[r]); m.set(k, (m.get(k) ?? 0) + 1); }
  return m;
}

/** Why one (fraction, seed) cannot be drawn, or null when it can. */
function drawProblem(data: SplitLabels, who: DrawOwner, fraction: number, seed: number, stratified: boolean, validation: ValidationSplit): { message: string; small: string[] } | null {
  const holdOut = who === 'scgpt';
  let train: number[];
  try {
    // the draw the run makes: scBERT's few-shot fractions come from the published stream (prepare's drawTrainRows)
    train = who === 'scbert' ? drawTrainRows(fewShotDrawOf('scbert', fraction, stratified, false), data.split.train, data.trainLabels, fraction, seed)
      : fewShotTrainRows(data.split.train, data.trainLabels, fraction, seed, stratified);
  } catch (e) {
    return { message: (e as Error).message, small: [] };
  }
  if (train.length === 0) return { message: `fraction ${fraction} of ${data.split.train.length} training cells leaves no cell to train on`, small: [] };
  if (!holdOut) return null; // scBERT validates on the test set (published protocol); the baseline has no validation set
  try {
    scgptValidationSplit(train, data.trainLabels, seed, validation);
    return null;
  } catch (e) {
    const small = [...classCounts(train, data.trainLabels)].filter(([, n]) => n < 2).sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))
      .map(([c, n]) => `${c} (${n} cell${n === 1 ? '' : 's'})`);
    // a class absent from the subset altogether cannot be held out either
    const present = new Set(train.map(r => String(data.trainLabels[r])));
    const absent = [...classCounts(data.split.train, data.trainLabels).keys()].filter(c => !present.has(c));
    return { message: (e as Error).message, small: [...small, ...absent.map(c => `${c} (0 cells)`)] };
  }
}

/** Whose few-shot draw is checked: a fine-tune model's, or the LR baseline's. */
export type DrawOwner = FinetuneModel | 'baseline';

/**
 * The few-shot fractions that cannot be drawn: for each, the classes too small and the fractions that work with the
 * same seeds. scGPT holds the protocol's 10% validation set out of each subset; scBERT draws from the published
 * few-shot stream; the baseline draws per seed. Empty when every (fraction, seed) can be drawn.
 */
export function fewShotProblems(data: SplitLabels, who: DrawOwner, fractions: readonly number[], seeds: readonly number[], stratified: boolean, validation: ValidationSplit = 'stratified'): PreflightProblem[] {
  const problems: PreflightProblem[] = [];
  const holdOut = who === 'scgpt';
  const works = (f: number) => seeds.every(s => drawProblem(data, who, f, s, stratified, validation) === null);
  // the published scGPT script holds out an unstratified 10% (train_test_split without stratify): it needs no class sizes
  const offerRandom = holdOut && validation === 'stratified';
  const random = offerRandom ? 'the published non-stratified validation split (scwb finetune --validation-split random)' : '';
  let working: number[] | null = null;
  for (const fraction of fractions) {
    const failed = seeds.map(seed => ({ seed, p: drawProblem(data, who, fraction, seed, stratified, validation) })).filter(x => x.p !== null);
    if (!failed.length) continue;
    working ??= Array.from(new Set([...CANDIDATE_FRACTIONS, ...fractions])).sort((a, b) => a - b).filter(works);
    const small = Array.from(new Set(failed.flatMap(x => x.p!.small)));
    const seedsText = failed.length === seeds.length ? (seeds.length === 1 ? `seed ${seeds[0]}` : 'every seed') : `seed${failed.length === 1 ? '' : 's'} ${failed.map(x => x.seed).join(', ')}`;
    const why = holdOut && validation === 'stratified' ? `the scGPT protocol holds out a stratified 10% validation set of the ${stratified ? 'stratified ' : ''}few-shot subset, which needs at least 2 cells of every class` : failed[0].p!.message;
    problems.push({
      check: 'few-shot', fraction,
      message: `fraction ${fraction} (${seedsText}): ${small.length ? `too few cells of ${small.join(', ')}; ` : ''}${why}${small.length || !holdOut ? '' : ` (${failed[0].p!.message})`}`,
      fix: working.length
        ? `use fraction${working.length === 1 ? '' : 's'} ${working.join(', ')} (every seed can be drawn there)${stratified ? '' : ', or stratified few-shot subsets'}${random ? `, or ${random}` : ''}`
        : `no few-shot fraction leaves 2 cells of every class: leave out the smallest classes, or use a label column with fewer, larger classes${random ? `, or ${random}` : ''}`,
    });
  }
  return problems;
}

function modelFamilyOf(m: ModelFacts): string {
  return m.family === 'scbert' ? 'scBERT' : m.family === 'scgpt' ? 'scGPT' : m.label;
}

/** The failing checks of "Check Dataset Against Model" that the worker would get wrong, as problems. */
export function compatProblems(report: CompatReport): PreflightProblem[] {
  const out: PreflightProblem[] = [];
  for (const c of report.checks) {
    if (c.verdict !== 'fail' || c.id === 'labels') continue; // a new head is trained on the dataset's labels
    out.push({ check: c.id === 'values' ? 'values' : c.id, message: `${c.title}: ${c.summary}`, fix: c.fix ?? 'see Check Dataset Against Model for details' });
  }
  return out;
}

/** The classifier head's keys of a fine-tuned checkpoint, by family (the worker's state-dict names). */
export const HEAD_KEYS: Record<FinetuneModel, string> = { scbert: 'to_out.*', scgpt: 'cls_decoder.*' };

/**
 * A checkpoint that carries a classifier head (a fine-tune run's checkpoint) loads that head into the new model: with
 * other classes it fails on the shapes, or with as many classes of other names it silently maps them wrong. Unless
 * the head's keys are ignored (a new head is trained), the classes must be the dataset's.
 */
export function headProblem(headClasses: readonly string[] | null, dataClasses: readonly string[], model: FinetuneModel, ignoreKeys: readonly string[] = []): PreflightProblem | null {
  if (!headClasses) return null;
  // fnmatch-style patterns, as the worker matches them: one that covers the head's output layer ignores the head
  const sample = `${HEAD_KEYS[model].replace(/\*$/, '')}out.weight`;
  const glob = (p: string) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  if (ignoreKeys.some(k => glob(k).test(sample))) return null;
  const same = headClasses.length === dataClasses.length && headClasses.every((c, i) => c === dataClasses[i]);
  if (same) return null;
  const list = (xs: readonly string[]) => `${xs.slice(0, 6).join(', ')}${xs.length > 6 ? ', …' : ''}`;
  return {
    check: 'labels',
    message: `the checkpoint's classifier head predicts ${headClasses.length} classes (${list(headClasses)}) but the dataset's labels are ${dataClasses.length} classes (${list(dataClasses)}): the worker would ${headClasses.length === dataClasses.length ? 'map the head\'s outputs to the wrong classes' : 'fail to load the head'}`,
    fix: `start from the pre-trained checkpoint, or train a new head on this checkpoint (scwb finetune --ignore-keys '${HEAD_KEYS[model]}')`,
  };
}

/** Gene count and vocabulary facts the worker checks only once it runs. */
async function shapeProblems(model: ModelFacts, datasetPath: string, kind: FinetuneModel): Promise<PreflightProblem[]> {
  const reader = await openH5ad(datasetPath);
  try {
    const s = reader.summary();
    const name = path.basename(datasetPath);
    if (kind === 'scbert' && model.weightGenes !== null && s.nVars !== model.weightGenes) {
      return [{
        check: 'genes', message: `${name} has ${s.nVars.toLocaleString('en-US')} genes but the scBERT checkpoint has ${model.weightGenes.toLocaleString('en-US')} gene positions`,
        fix: `run Preprocess scBERT with the checkpoint's gene list (referenceGenes${model.genesFile ? `: ${model.genesFile}` : ''}) first`,
      }];
    }
    if (kind === 'scgpt' && model.weightGenes !== null) {
      const col = reader.var().columns.find(c => c.name === 'id_in_vocab');
      let maxId = -1;
      if (col) {
        const values: number[] = col.kind === 'categorical' ? Array.from(col.codes, c => (c >= 0 ? Number(col.categories[c]) : -1))
          : col.kind === 'numeric' || col.kind === 'nullable-integer' ? Array.from(col.values, Number) : [];
        for (const v of values) if (Number.isFinite(v) && v > maxId) maxId = v;
      } else if (model.genesFile && /\.json$/i.test(model.genesFile)) {
        // the worker maps var_names through vocab.json
        const vocab = readJson(model.genesFile) as Record<string, unknown>; // guarded: regular file, bounded
        for (const g of reader.var().index) { const id = vocab[g]; if (typeof id === 'number' && id > maxId) maxId = id; }
      }
      if (maxId >= model.weightGenes) {
        return [{
          check: 'vocabulary',
          message: `${name}: gene token id ${maxId} is outside the model's vocabulary of ${model.weightGenes.toLocaleString('en-US')} tokens${col ? ' (its var column id_in_vocab comes from another vocabulary)' : ''}`,
          fix: `run Preprocess scGPT with this model's vocab.json${model.genesFile ? ` (${model.genesFile})` : ''} on the original file`,
        }];
      }
    }
    return [];
  } finally {
    reader.close();
  }
}

/** What the worker reads for a model without a checkpoint (random initialisation), by family. */
function randomInitValueProblem(model: FinetuneModel, scale: ValueScale, matrix: string, file: string): PreflightProblem | null {
  const name = path.basename(file);
  if (model === 'scbert' && scale.kind !== 'log-normalized') {
    return {
      check: 'values', message: `${name} ${matrix}: ${scale.reason}; scBERT reads log2(1 + x) of counts normalised to 1e4 per cell (tokens 0..5)`,
      fix: 'run Preprocess scBERT (normalise, log2) on the file first',
    };
  }
  if (model === 'scgpt' && (scale.kind === 'scaled' || scale.kind === 'empty')) {
    return { check: 'values', message: `${name} ${matrix}: ${scale.reason}; scGPT bins non-negative expression per cell`, fix: 'run Preprocess scGPT on the raw counts first' };
  }
  return null;
}

/** Everything that stops a fine-tune of `input`, before anything is prepared. Empty: it can start. */
export async function checkFinetuneInput(input: FinetuneCheckInput, ctx: TaskContext = quietCtx): Promise<PreflightProblem[]> {
  const problems: PreflightProblem[] = [];
  ctx.progress(0, 'reading labels');
  const data = await splitLabelsOrProblem(input);
  if ('check' in data) {
    problems.push(data);
    if (data.check === 'file') return problems; // nothing more can be read
  } else {
    const fractions = input.fractions?.length ? input.fractions : [1];
    const seeds = input.seeds?.length ? input.seeds : [0];
    problems.push(...fewShotProblems(data, input.model, fractions, seeds, input.stratifiedFewShot ?? input.model === 'scgpt', input.validationSplit ?? 'stratified'));
  }
  ctx.progress(0.2, 'checking the model against the data');
  if (input.checkpoint === null) {
    const layer = input.valueLayer !== undefined ? input.valueLayer : (input.model === 'scgpt' && !('check' in data) && data.layers.includes('X_binned') ? 'X_binned' : null);
    if (layer === null || input.model === 'scbert') {
      const scale = await scanValueScale(input.datasetPath, 2000, 1024, layer ?? undefined);
      const p = randomInitValueProblem(input.model, scale, layer ? `layers/${layer}` : 'X', input.datasetPath);
      if (p) problems.push(p);
    }
    return problems;
  }
  let ckpt: string;
  try {
    ckpt = resolveCheckpoint(input.model, input.checkpoint);
  } catch (e) {
    problems.push({ check: 'checkpoint', message: (e as Error).message, fix: 'choose the checkpoint again (an scBERT .pth file or an scGPT model folder)' });
    return problems;
  }
  let report: CompatReport;
  try {
    report = await checkDatasetTask({ model: ckpt, dataset: input.datasetPath }, { progress: (f, m) => ctx.progress(0.2 + 0.7 * f, m), get cancelled() { return ctx.cancelled; } });
  } catch (e) {
    if (e instanceof CancelledError) throw e;
    // a model this check cannot describe is left to the worker, which loads it (or says why not)
    ctx.progress(1, `not checked against the model: ${(e as Error).message}`);
    return problems;
  }
  problems.push(...compatProblems(report));
  if (!('check' in data)) {
    const head = headProblem(report.model.classes, splitClasses(data.split, data.trainLabels, data.testLabels).map(String), input.model, input.ignoreKeys);
    if (head) problems.push(head);
  }
  const model = report.model.family === 'unknown' ? await describeModel(ckpt) : report.model;
  if (report.model.family !== 'unknown' && report.model.family !== input.model) {
    problems.push({ check: 'checkpoint', message: `${path.basename(ckpt)} is a ${modelFamilyOf(report.model)} checkpoint, not ${input.model === 'scbert' ? 'scBERT' : 'scGPT'}`, fix: `choose a ${input.model === 'scbert' ? 'scBERT .pth file' : 'scGPT model folder'}, or the model that fits the checkpoint` });
  } else if (!problems.some(p => p.check === 'genes' || p.check === 'vocabulary')) {
    problems.push(...await shapeProblems(model, input.datasetPath, input.model));
  }
  ctx.progress(1, 'done');
  return problems;
}

/** The problems as one text for a notification or stderr. */
export function describeProblems(problems: readonly PreflightProblem[], prefix = ''): string {
  return problems.map(p => `${prefix}${sentence(p.message)} Fix: ${sentence(p.fix)}`).join('\n');
}

/** The text with one full stop at its end. */
export function sentence(text: string): string {
  return `${text.replace(/[.\s]+$/, '')}.`;
}
