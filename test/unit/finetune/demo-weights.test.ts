/**
 * Runs on the demo's random-weight checkpoints (written by the real worker: python -m scwb_worker demo-checkpoints)
 * are marked "demo weights (random)" in their model label and parameters, and get no published numbers beside them.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { DEMO_WEIGHTS_LABEL, isDemoCheckpoint } from '../../../src/core/checkpoints/demo-weights';
import { prepareFinetuneGrid } from '../../../src/core/finetune/prepare';
import { tableToCsv } from '../../../src/core/results/export';
import { buildResultsModel } from '../../../src/core/results/model';
import { paperTable } from '../../../src/core/results/paper';
import { loadPublishedNumbers } from '../../../src/core/results/published';
import { RunStore } from '../../../src/core/runs/store';
import { PROJECT_ROOT, PYTHON, h5adPath, tempDir } from '../../helpers/shared';

const PBMC = h5adPath('scanpy_pbmc68k_reduced_2025.h5ad');

describe('demo weights (random)', () => {
  let dir: string;
  before(() => {
    dir = tempDir('scwb-demo-weights-');
    execFileSync(PYTHON, ['-m', 'scwb_worker', 'demo-checkpoints', path.join(dir, 'ckpt'), '--genes-from', PBMC], {
      env: { ...process.env, PYTHONPATH: path.join(PROJECT_ROOT, 'resources', 'worker') },
    });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('tells the demo checkpoints (scBERT file, scGPT folder; marker or older args.json note) from others', () => {
    assert.strictEqual(isDemoCheckpoint(path.join(dir, 'ckpt', 'scbert_tiny', 'scbert_tiny_pretrain.pth')), true);
    assert.strictEqual(isDemoCheckpoint(path.join(dir, 'ckpt', 'scGPT_tiny')), true);
    const older = path.join(dir, 'older_scgpt');
    fs.mkdirSync(older);
    fs.copyFileSync(path.join(dir, 'ckpt', 'scGPT_tiny', 'args.json'), path.join(older, 'args.json'));
    assert.strictEqual(isDemoCheckpoint(older), true, 'a demo folder written before the marker');
    const other = path.join(dir, 'panglao_pretrain.pth');
    fs.writeFileSync(other, 'x');
    assert.strictEqual(isDemoCheckpoint(other), false);
    assert.strictEqual(isDemoCheckpoint(path.join(dir, 'missing.pth')), false);
  });

  it('does not read a FIFO or a device planted as the marker or args.json (no hang): not a demo checkpoint', () => {
    const planted = path.join(dir, 'planted');
    fs.mkdirSync(planted);
    execFileSync('mkfifo', [path.join(planted, 'scwb_demo.json')]);
    fs.symlinkSync('/dev/zero', path.join(planted, 'args.json'));
    assert.strictEqual(isDemoCheckpoint(planted), false);
  });

  it('a fine-tune on them is labelled in run.json; its results row shows no published value and says why', async () => {
    const root = path.join(dir, 'runs');
    const plan = await prepareFinetuneGrid({
      datasetPath: PBMC, labelColumn: 'bulk_labels', model: 'scbert', checkpoint: path.join(dir, 'ckpt', 'scbert_tiny', 'scbert_tiny_pretrain.pth'),
      storeRoot: root, fractions: [1], seeds: [0], publishedDataset: 'Zheng68K',
    }, { progress: () => undefined, cancelled: false });
    assert.strictEqual(plan.model.label, `scBERT · ${DEMO_WEIGHTS_LABEL}`);
    const store = new RunStore(root);
    const record = await store.get(plan.runs[0].id);
    assert.strictEqual(record.parameters.demoWeights, true);
    assert.strictEqual(record.model.family, 'scBERT');
    // as if it had run: the row would match the published Zheng68K scBERT numbers by family, fraction and dataset alias
    const done = { ...record, status: 'completed' as const, dataset: { ...record.dataset, nObs: 68450 }, summary: { accuracy: 0.2, macroF1: 0.1, weightedF1: 0.2, nTrain: 1, nTest: 1 } };
    const exp = buildResultsModel([done], loadPublishedNumbers()).experiments[0];
    assert.deepStrictEqual(exp.rows[0].published, { accuracy: [], macroF1: [] });
    assert.match(exp.rows[0].publishedNote ?? '', /^published values are for the published weights; scBERT · demo weights \(random\) ran on the demo's random weights/);
    assert.match(paperTable(exp).footnote, /demo's random weights/);
    assert.ok(tableToCsv(exp).includes('scBERT · demo weights (random)'));
    // without the mark the same record would get them (with Zheng68K's 11 classes: the identity check counts them)
    const finetune = { ...(done.parameters.finetune as Record<string, unknown>), classes: Array.from({ length: 11 }, (_, i) => `type ${i}`) };
    const plain = { ...done, parameters: { ...done.parameters, finetune, demoWeights: false }, model: { ...done.model, label: 'scBERT' } };
    assert.ok(buildResultsModel([plain], loadPublishedNumbers()).experiments[0].rows[0].published.accuracy.length > 0);
  });
});
