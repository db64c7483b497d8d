import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { CsrMatrix } from '../../../src/core/sparse';
import {
  cvSelectC, fitLogReg, logRegObjective, modelFromJson, predict, stratifiedKFold, type LogRegModel, type LogRegOptions,
} from '../../../src/core/baselines/logreg';
import { selectRows } from '../../../src/core/baselines/matrix';
import { accuracyScore, f1Score } from '../../../src/core/metrics';
import { CancelledError } from '../../../src/core/workers/task';
import { runPythonJson, tempDir } from '../../helpers/shared';

interface RefModel {
  params: { penalty: 'l1' | 'l2'; C: number; class_weight?: string };
  classes: number[];
  accuracy: number;
  macroF1: number;
  objective: number[];
}
interface RefSummary {
  nRows: number;
  nCols: number;
  nClasses: number;
  models: Record<string, RefModel>;
  binary?: Record<string, RefModel>;
}

function readBin<T>(dir: string, name: string, ctor: { new(b: ArrayBuffer): T }): T {
  const b = fs.readFileSync(path.join(dir, name));
  return new ctor(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

interface Case {
  X: CsrMatrix;
  y: Int32Array;
  Xtr: CsrMatrix;
  ytr: Int32Array;
  Xte: CsrMatrix;
  yte: Int32Array;
}

function loadCase(dir: string, nCols: number): Case {
  const indptr = readBin(dir, 'X_indptr.i32', Int32Array);
  const X: CsrMatrix = {
    nRows: indptr.length - 1, nCols, indptr,
    indices: readBin(dir, 'X_indices.i32', Int32Array), data: readBin(dir, 'X_data.f32', Float32Array),
  };
  const y = readBin(dir, 'y.i32', Int32Array);
  const train = readBin(dir, 'train.i32', Int32Array);
  const test = readBin(dir, 'test.i32', Int32Array);
  return {
    X, y, Xtr: selectRows(X, train), ytr: Int32Array.from(train, i => y[i]),
    Xte: selectRows(X, test), yte: Int32Array.from(test, i => y[i]),
  };
}

/** scikit-learn's fitted coefficients as one of our models (same decision semantics). */
function sklearnModel(dir: string, name: string, ref: RefModel, nFeatures: number, nClasses: number): LogRegModel {
  const coef = readBin(dir, `${name}_coef.f64`, Float64Array);
  const intercept = readBin(dir, `${name}_intercept.f64`, Float64Array);
  const rows = intercept.length;
  const ours = ref.params.penalty === 'l1';
  return {
    format: 'scwb-logreg/1', penalty: ref.params.penalty, multiClass: ours ? 'ovr' : 'multinomial', C: ref.params.C,
    nFeatures, nClasses, classes: ref.classes,
    coef: Array.from({ length: rows }, (_, r) => Array.from(coef.subarray(r * nFeatures, (r + 1) * nFeatures))),
    intercept: Array.from(intercept), classWeight: null, nIter: [], converged: [], objective: [],
  };
}

/** The same matrix with every row's entries in ascending column order. */
function sortedRows(X: CsrMatrix): CsrMatrix {
  const indices = new Int32Array(X.indices.length);
  const data = new Float32Array(X.data.length);
  for (let i = 0; i < X.nRows; i++) {
    const a = X.indptr[i];
    const order = Array.from({ length: X.indptr[i + 1] - a }, (_, t) => a + t).sort((p, q) => X.indices[p] - X.indices[q]);
    order.forEach((k, t) => { indices[a + t] = X.indices[k]; data[a + t] = X.data[k]; });
  }
  return { ...X, indices, data };
}

/** Accuracy and macro-F1 by the project's metrics (scikit-learn's semantics, tested against it in metrics.test). */
const accuracy = (yTrue: Int32Array, yPred: Int32Array) => accuracyScore(Array.from(yTrue), Array.from(yPred));
const macroF1 = (yTrue: Int32Array, yPred: Int32Array) => f1Score(Array.from(yTrue), Array.from(yPred), 'macro');

function optionsOf(ref: RefModel, threads: number): LogRegOptions {
  return {
    penalty: ref.params.penalty, C: ref.params.C, threads,
    classWeight: ref.params.class_weight === 'balanced' ? 'balanced' : null,
    maxIter: ref.params.penalty === 'l2' ? 1000 : 100,
  };
}

/**
 * Fits our model like scikit-learn's `name`, then checks: scikit-learn's coefficients run through our predict give
 * its predictions and its objective value (so both sides mean the same problem); our objective is no worse than
 * scikit-learn's; accuracy and macro-F1 on the test rows within 0.5 points of scikit-learn's.
 */
async function compareWithSklearn(
  dir: string, ref: RefSummary['models'], name: string, c: Case, nClasses: number, threads = 2, extra: Partial<LogRegOptions> = {},
): Promise<LogRegModel> {
  const r = ref[name];
  const skPred = readBin(dir, `${name}_pred.i32`, Int32Array);
  const sk = sklearnModel(dir, name, r, c.X.nCols, nClasses);
  if (r.params.class_weight === 'balanced') {
    const counts = new Array<number>(nClasses).fill(0);
    for (const v of c.ytr) counts[v]++;
    const present = counts.filter(n => n > 0).length;
    sk.classWeight = counts.map(n => (n > 0 ? c.ytr.length / (present * n) : 1));
  }
  assert.deepStrictEqual(Array.from(predict(sk, c.Xte)), Array.from(skPred), 'our predict on scikit-learn coefficients');
  const skObjective = logRegObjective(sk, c.Xtr, c.ytr);
  skObjective.forEach((v, k) => assert.ok(Math.abs(v - r.objective[k]) <= 1e-6 * Math.abs(r.objective[k]), `objective formula, problem ${k}: ${v} vs python ${r.objective[k]}`));

  const model = await fitLogReg(c.Xtr, c.ytr, nClasses, { ...optionsOf(r, threads), ...extra });
  assert.deepStrictEqual(model.classes, r.classes);
  const ours = logRegObjective(model, c.Xtr, c.ytr);
  ours.forEach((v, k) => {
    assert.ok(Math.abs(v - model.objective[k]) <= 1e-6 * Math.abs(v), `reported objective ${model.objective[k]} vs recomputed ${v}`);
    assert.ok(v <= r.objective[k] * (1 + 1e-3), `${name} problem ${k}: our objective ${v} vs scikit-learn ${r.objective[k]}`);
  });
  const pred = predict(model, c.Xte);
  const acc = accuracy(c.yte, pred);
  const f1 = macroF1(c.yte, pred);
  assert.ok(Math.abs(macroF1(c.yte, skPred) - r.macroF1) < 1e-12, 'macro-F1 helper matches scikit-learn');
  assert.ok(Math.abs(acc - r.accuracy) <= 0.005, `${name}: accuracy ${acc} vs scikit-learn ${r.accuracy}`);
  assert.ok(Math.abs(f1 - r.macroF1) <= 0.005, `${name}: macro-F1 ${f1} vs scikit-learn ${r.macroF1}`);
  return model;
}

describe('logistic-regression baselines vs scikit-learn 1.2 (PBMC 68k reduced, raw/X, bulk_labels)', () => {
  let dir = '';
  let ref: RefSummary;
  let c: Case;
  before(() => {
    dir = tempDir('scwb-logreg-');
    ref = runPythonJson<RefSummary>('logreg_reference.py', ['pbmc', dir]);
    c = loadCase(dir, ref.nCols);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('L1 one-vs-rest (liblinear, C=0.1) reaches scikit-learn\'s optimum, accuracy and macro-F1', async () => {
    await compareWithSklearn(dir, ref.models, 'l1', c, ref.nClasses);
  });

  it('L2 multinomial (lbfgs, C=0.1) reaches scikit-learn\'s optimum, accuracy and macro-F1', async () => {
    await compareWithSklearn(dir, ref.models, 'l2', c, ref.nClasses);
  });

  it('L1 one-vs-rest reaches the same on the JavaScript solver (one problem at a time, wasm: false)', async () => {
    await compareWithSklearn(dir, ref.models, 'l1', c, ref.nClasses, 2, { wasm: false });
  });

  it('gives the same L1 model on one thread and on two', async () => {
    const opts: LogRegOptions = { penalty: 'l1', C: 0.1 };
    const a = await fitLogReg(c.Xtr, c.ytr, ref.nClasses, { ...opts, threads: 1 });
    const b = await fitLogReg(c.Xtr, c.ytr, ref.nClasses, { ...opts, threads: 2 });
    assert.deepStrictEqual(a.coef, b.coef);
    assert.deepStrictEqual(a.intercept, b.intercept);
  });

  it('gives the same L2 model with the WebAssembly kernels as with the JavaScript ones', async () => {
    // This file stores each row's column indices out of order; the kernels sum a row in ascending column order
    // (the WebAssembly one by construction), so they agree to the bit on the canonical (sorted) form.
    const X = sortedRows(c.Xtr);
    const opts: LogRegOptions = { penalty: 'l2', C: 0.1, threads: 1, maxIter: 50 };
    const js = await fitLogReg(X, c.ytr, ref.nClasses, { ...opts, wasm: false });
    const wasm = await fitLogReg(X, c.ytr, ref.nClasses, opts);
    assert.deepStrictEqual(wasm.nIter, js.nIter);
    assert.deepStrictEqual(wasm.coef, js.coef);
    assert.deepStrictEqual(wasm.intercept, js.intercept);
    // two threads split the rows differently (by blocks), which only regroups the loss sum
    const two = await fitLogReg(X, c.ytr, ref.nClasses, { ...opts, threads: 2 });
    assert.ok(Math.abs(two.objective[0] - js.objective[0]) <= 1e-9 * js.objective[0], `${two.objective[0]} vs ${js.objective[0]}`);
  });

  it('round-trips the model through JSON and rejects a damaged one', async () => {
    const model = await fitLogReg(c.Xtr, c.ytr, ref.nClasses, { penalty: 'l1', C: 0.1, threads: 1 });
    const back = modelFromJson(JSON.parse(JSON.stringify(model)));
    assert.deepStrictEqual(Array.from(predict(back, c.Xte)), Array.from(predict(model, c.Xte)));
    const broken = JSON.parse(JSON.stringify(model));
    broken.coef[0].pop();
    assert.throws(() => modelFromJson(broken, 'm.json'), /m\.json: a coefficient row does not have 765 numbers/);
  });
});

describe('logistic-regression baselines vs scikit-learn 1.2 (generated overlapping, imbalanced sparse data)', () => {
  let dir = '';
  let ref: RefSummary;
  let c: Case;
  before(() => {
    dir = tempDir('scwb-logreg-');
    ref = runPythonJson<RefSummary>('logreg_reference.py', ['synthetic', dir, '7']);
    c = loadCase(dir, ref.nCols);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const name of ['l1', 'l1_balanced', 'l2', 'l2_balanced']) {
    it(`${name}: same optimum, accuracy and macro-F1 as scikit-learn`, async () => {
      const model = await compareWithSklearn(dir, ref.models, name, c, ref.nClasses);
      if (name.startsWith('l1')) await compareWithSklearn(dir, ref.models, name, c, ref.nClasses, 2, { wasm: false });
      // not separable: the data must stay hard for the comparison to mean something
      assert.ok(ref.models[name].accuracy < 0.9);
      if (name.startsWith('l1')) assert.ok(model.coef.every(row => row.some(v => v === 0)), 'L1 zeroes some weights');
    });
  }

  it('two classes: a single binary problem like liblinear', async () => {
    const bdir = path.join(dir, 'binary');
    const bc = loadCase(bdir, ref.nCols);
    const model = await compareWithSklearn(bdir, ref.binary as RefSummary['models'], 'l1', bc, ref.nClasses, 1);
    assert.strictEqual(model.coef.length, 1);
  });

  it('cross-validates C like GridSearchCV on the same folds', async () => {
    const grid = [0.01, 0.1, 1];
    const folds = stratifiedKFold(c.ytr, ref.nClasses, 5, 3);
    // every fold holds each class in proportion (within one row)
    for (let k = 0; k < ref.nClasses; k++) {
      const perFold = [0, 0, 0, 0, 0];
      c.ytr.forEach((v, i) => { if (v === k) perFold[folds[i]]++; });
      assert.ok(Math.max(...perFold) - Math.min(...perFold) <= 1, `class ${k}: ${perFold}`);
    }
    const cvDir = path.join(dir, 'cv');
    fs.mkdirSync(cvDir);
    fs.writeFileSync(path.join(cvDir, 'X_indptr.i32'), c.Xtr.indptr);
    fs.writeFileSync(path.join(cvDir, 'X_indices.i32'), c.Xtr.indices);
    fs.writeFileSync(path.join(cvDir, 'X_data.f32'), c.Xtr.data);
    fs.writeFileSync(path.join(cvDir, 'y.i32'), c.ytr);
    fs.writeFileSync(path.join(cvDir, 'folds.i32'), folds);
    fs.writeFileSync(path.join(cvDir, 'cv.json'), JSON.stringify({ nCols: ref.nCols, grid }));
    const sk = runPythonJson<{ bestC: number; meanAccuracy: number[] }>('logreg_reference.py', ['cv', cvDir]);
    const seen: number[] = [];
    const cv = await cvSelectC(c.Xtr, c.ytr, ref.nClasses, { penalty: 'l1', grid, folds: 5, foldSeed: 3, threads: 2 }, f => seen.push(f));
    cv.scores.forEach((s, i) => assert.ok(Math.abs(s.meanAccuracy - sk.meanAccuracy[i]) <= 0.005, `C=${s.C}: ${s.meanAccuracy} vs ${sk.meanAccuracy[i]}`));
    assert.strictEqual(cv.bestC, sk.bestC);
    assert.strictEqual(cv.model.C, sk.bestC);
    assert.strictEqual(seen[seen.length - 1], 1);
  });

  it('stops with CancelledError when cancelled', async () => {
    // cancel as soon as the first iteration reports progress
    let stop = false;
    await assert.rejects(
      fitLogReg(c.Xtr, c.ytr, ref.nClasses, { penalty: 'l2', C: 10, maxIter: 1000, threads: 2 }, () => { stop = true; }, () => stop),
      CancelledError,
    );
    stop = false;
    await assert.rejects(
      fitLogReg(c.Xtr, c.ytr, ref.nClasses, { penalty: 'l1', C: 10, threads: 2 }, () => { stop = true; }, () => stop),
      CancelledError,
    );
    await assert.rejects(
      fitLogReg(c.Xtr, c.ytr, ref.nClasses, { penalty: 'l1', C: 10, threads: 1 }, undefined, () => true),
      CancelledError,
    );
  });

  it('names the problem in bad input', async () => {
    await assert.rejects(fitLogReg(c.Xtr, c.ytr.subarray(1), ref.nClasses, { penalty: 'l1', C: 1 }), /labels: \d+ labels for \d+ rows/);
    const bad = Int32Array.from(c.ytr);
    bad[5] = ref.nClasses;
    await assert.rejects(fitLogReg(c.Xtr, bad, ref.nClasses, { penalty: 'l1', C: 1 }), /class code 6 at row 5 outside 0\.\.5/);
    await assert.rejects(fitLogReg(c.Xtr, new Int32Array(c.ytr.length), ref.nClasses, { penalty: 'l1', C: 1 }), /at least two classes/);
    await assert.rejects(fitLogReg(c.Xtr, c.ytr, ref.nClasses, { penalty: 'l1', C: 0 }), /C must be a positive number/);
    await assert.rejects(fitLogReg(c.Xtr, c.ytr, ref.nClasses, { penalty: 'l1', C: 1, multiClass: 'multinomial' }), /not supported/);
  });
});
