/**
 * Perturbation prediction of the AAAI 2025 benchmark (docs/benchmark.md, docs/worker-benchmark.md): one probe run
 * per trial with `method: "perturbation"`. split.json: `validation` = the control cells (stage 1), `train` / `test` =
 * the perturbed cells, split 70/30 at random (`randomSplit`, seed t) or, zero-shot, by perturbation
 * (`groupShuffleSplit` over the perturbation labels, seed t: the test perturbations are never trained on).
 * The worker writes perturbation.json; finalize copies its scores into run.json (`perturbation`).
 */
import * as crypto from 'crypto';
import { H5adError } from '../h5ad/types';
import { codeVersion, datasetStem, settle } from '../runs/baseline';
import { ProbeParametersSchema, type ModelRef, type ProbeParameters, type RunSplit } from '../runs/schema';
import { RunStore } from '../runs/store';
import { groupShuffleSplit, randomSplit, SplitError, type SplitIndices } from '../splits';
import { CancelledError, type TaskContext } from '../workers/task';
import { readDatasetInput } from './dataset-input';
import { datasetRef, defaultEncoderName, PROBE_DEFAULTS, resolveEncoder, type ProbeInput, type ProbePlan } from './prepare';

/** The published perturbation-prediction settings: Adam 0.005, batch 128, 50 epochs per stage. */
export const PERTURBATION_DEFAULTS = { epochs: 50, lr: 0.005, batchSize: 128, testSize: 0.3, trials: 5, control: 'ctrl' };

function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

/** The results-table identity of a perturbation-prediction probe. */
export function perturbationModelRef(encoderName: string, zeroShot: boolean): ModelRef {
  const variant = zeroShot ? 'perturbation prediction (zero-shot)' : 'perturbation prediction';
  return { family: 'Benchmark encoder', label: `${encoderName} ${variant}`, variant };
}

/** Creates one queued perturbation-prediction run per trial (seeds 0..trials-1, or `seeds`). */
export async function preparePerturbationGrid(input: ProbeInput, ctx: TaskContext): Promise<ProbePlan> {
  check(!!input.labelColumn, 'a label column (the perturbation of each cell) is required');
  const encoder = resolveEncoder(input.encoder);
  check(encoder.model === 'benchmark', `perturbation prediction takes a published benchmark encoder (encoder.pt), not ${encoder.model}`);
  const control = input.control ?? PERTURBATION_DEFAULTS.control;
  const zeroShot = input.zeroShot ?? false;
  const seeds = input.seeds?.length ? Array.from(new Set(input.seeds)) : Array.from({ length: input.trials ?? PERTURBATION_DEFAULTS.trials }, (_, i) => i);
  for (const s of seeds) check(Number.isInteger(s) && s >= 0 && s <= 0xffffffff, `seed ${s} must be an integer in 0..2^32-1`);
  const testSize = input.testSize ?? PERTURBATION_DEFAULTS.testSize;
  check(testSize > 0 && testSize < 1, `the test size must be in (0, 1), got ${testSize}`);
  for (const [name, v] of [['epochs', input.epochs], ['batch size', input.batchSize]] as const) {
    check(v === undefined || (Number.isInteger(v) && v > 0), `${name} must be a positive integer, got ${v}`);
  }

  const read = await readDatasetInput(input.datasetPath, { noX: 'the file has no X matrix', labelColumn: input.labelColumn, valueLayer: input.valueLayer });
  const { nObs, nVars } = read;
  const labels = read.labels.map(String);
  const controlRows: number[] = [];
  const perturbedRows: number[] = [];
  labels.forEach((l, i) => (l === control ? controlRows : perturbedRows).push(i));
  if (!controlRows.length) throw new H5adError(input.datasetPath, `no cell of '${input.labelColumn}' has the control label '${control}'`);
  const perturbations = Array.from(new Set(perturbedRows.map(i => labels[i]))).sort();
  if (perturbations.length < (zeroShot ? 2 : 1)) throw new H5adError(input.datasetPath, `'${input.labelColumn}' has ${perturbations.length} perturbation(s) besides '${control}'${zeroShot ? '; zero-shot needs at least 2' : ''}`);
  const splits: RunSplit[] = seeds.map((seed): RunSplit => (zeroShot ? { kind: 'group', column: input.labelColumn, testSize, seed } : { kind: 'random', testSize, seed }));
  const rows: SplitIndices[] = seeds.map(seed => {
    try {
      const local = zeroShot ? groupShuffleSplit(perturbedRows.map(i => labels[i]), { testSize, seed }) : randomSplit(perturbedRows.length, testSize, seed);
      return { train: local.train.map(i => perturbedRows[i]), test: local.test.map(i => perturbedRows[i]) };
    } catch (e) {
      throw new SplitError(`${input.datasetPath}, split seed ${seed}: ${(e as Error).message}`);
    }
  });

  const dataset = await datasetRef(input.datasetPath, ctx, 0.02, 0.6, { nObs, nVars });
  if (ctx.cancelled) throw new CancelledError();
  const store = new RunStore(input.storeRoot);
  const encoderName = input.encoderName?.trim() || defaultEncoderName(encoder);
  const batch = input.batch ?? crypto.randomBytes(6).toString('hex');
  const experiment = input.experiment?.trim() || `${datasetStem(input.datasetPath)} perturbation prediction`;
  const model = perturbationModelRef(encoderName, zeroShot);
  const version = codeVersion();
  const runs: ProbePlan['runs'] = [];
  for (let t = 0; t < seeds.length; t++) {
    if (ctx.cancelled) {
      for (const r of runs) await settle(store, r.id, 'cancelled', null);
      throw new CancelledError();
    }
    const probe: ProbeParameters = ProbeParametersSchema.parse({
      encoder, method: 'perturbation', classes: [control, ...perturbations], control, zeroShot, pooling: 'cls', k: PROBE_DEFAULTS.k,
      epochs: input.epochs ?? PERTURBATION_DEFAULTS.epochs, lr: input.lr ?? PERTURBATION_DEFAULTS.lr,
      batchSize: input.batchSize ?? PERTURBATION_DEFAULTS.batchSize, evalEvery: PROBE_DEFAULTS.evalEvery, select: 'last',
      geneSampling: input.geneSampling ?? 'weighted', writeEmbeddings: false, valueLayer: input.valueLayer ?? null, device: input.device ?? 'auto',
    });
    const seed = seeds[t];
    const record = await store.create({
      kind: 'probe', name: `${model.label} trial ${t + 1} seed=${seed}`, experiment, dataset, labelColumn: input.labelColumn,
      split: splits[t], seed, fraction: 1, model, parameters: { batch, protocol: zeroShot ? 'perturbation-zero-shot' : 'perturbation', trial: t + 1, probe },
      codeVersion: version,
    });
    await store.writeSplit(record.id, { train: rows[t].train, validation: controlRows, test: rows[t].test });
    await store.appendLog(record.id, `prepared ${model.label} (encoder ${encoder.path}) on ${dataset.path} (sha256 ${dataset.sha256}), perturbations '${input.labelColumn}', control '${control}'`);
    await store.appendLog(record.id, `trial ${t + 1} of ${seeds.length}: ${controlRows.length} control cells, ${rows[t].train.length} perturbed training cells, ${rows[t].test.length} test cells (${zeroShot ? 'held-out perturbations' : 'random split'}, seed ${seed})`);
    runs.push({
      id: record.id, runDir: store.runDir(record.id), seed, nTrain: rows[t].train.length, nValidation: controlRows.length,
      nTest: rows[t].test.length, method: 'perturbation', trial: t + 1, writeEmbeddings: false,
    });
  }
  ctx.progress(1, 'prepared');
  return { experiment, storeRoot: store.root, batch, encoderName, classes: [control, ...perturbations], splits, runs, baselineRunIds: [] };
}
