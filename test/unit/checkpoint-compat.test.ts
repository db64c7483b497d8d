import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { CheckDatasetInput, CompatAction, CompatCheck, CompatReport } from '../../src/core/checkpoints/compat';
import { cellsKeptByScbert, cellsKeptText } from '../../src/core/checkpoints/compat-cells';
import { openH5ad } from '../../src/core/h5ad/read';
import type { PreprocessReport } from '../../src/core/preprocess/pipeline';
import { runTask } from '../../src/core/workers/run-task';
import { main } from '../../src/cli/main';
import { h5adPath, runPythonJson, simulateH5ad, tempDir } from '../helpers/shared';

interface Made { cellTypes: string[]; classes: string[]; genes: number; typeCounts: Record<string, number> }

const check = (input: CheckDatasetInput) => runTask<CompatReport>('checkpoints/compat', 'checkDatasetTask', input);
const byId = (r: CompatReport, id: CompatCheck['id']) => r.checks.find(c => c.id === id)!;
const preprocessActions = (c: CompatCheck) => c.actions.filter((a): a is Extract<CompatAction, { kind: 'preprocess' }> => a.kind === 'preprocess');

describe('Check dataset against model (model files by Debian torch, datasets by anndata and scwb simulate)', function () {
  let dir: string;
  let sim: string;
  let made: Made;
  let simGenes: string[];
  before(function () {
    dir = tempDir('scwb-compat-');
    sim = simulateH5ad(path.join(dir, 'sim.h5ad'), 300, 200, 4);
    made = runPythonJson<Made>('compat_make.py', [dir, sim]);
    simGenes = fs.readFileSync(path.join(dir, 'ckpt', 'scbert_tiny', 'genes.txt'), 'utf8').trim().split('\n');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('scBERT demo checkpoint vs raw counts: genes match (from genes.txt), values fail, the fix is Preprocess scBERT with that list', async () => {
    const model = path.join(dir, 'ckpt', 'scbert_tiny', 'scbert_tiny_pretrain.pth');
    const r = await check({ model, dataset: sim });
    assert.strictEqual(r.model.family, 'scbert');
    assert.strictEqual(r.model.genesSource, 'genes.txt beside the checkpoint');
    assert.strictEqual(r.model.weightGenes, 200);
    assert.deepStrictEqual([r.genes!.nOverlap, r.genes!.nDataGenes, r.genes!.nModelGenes, r.genes!.aligned], [200, 200, 200, true]);
    assert.strictEqual(byId(r, 'genes').verdict, 'ok');
    assert.strictEqual(byId(r, 'namespace').verdict, 'ok');
    assert.strictEqual(r.values!.kind, 'raw-counts');
    const values = byId(r, 'values');
    assert.strictEqual(values.verdict, 'fail');
    assert.deepStrictEqual(preprocessActions(values).map(a => a.recipe), [
      { recipe: 'scbert', params: { referenceGenes: path.join(dir, 'ckpt', 'scbert_tiny', 'genes.txt'), inputMatrix: 'X' } }]);
    assert.strictEqual(byId(r, 'labels').verdict, 'skip');
    assert.strictEqual(r.verdict, 'fail');
  });

  it('the scBERT fix says before it runs how many cells the published filter (200 genes) keeps, as anndata counts them', async () => {
    const genesFile = path.join(dir, 'ckpt', 'scbert_tiny', 'genes.txt');
    const r = await check({ model: path.join(dir, 'ckpt', 'scbert_tiny', 'scbert_tiny_pretrain.pth'), dataset: sim });
    const ref = runPythonJson<{ kept: number; total: number }>('compat_cells_kept.py', [sim, genesFile, '200']);
    const fix = preprocessActions(byId(r, 'values'))[0];
    assert.strictEqual(fix.note, cellsKeptText({ kept: ref.kept, scanned: ref.total, total: ref.total, minGenes: 200 }));
    // 200 genes: hardly a cell has all 200, and the note says so
    assert.match(fix.note!, /^keeps \d+ of 300 cells \(at least 200 of the model's genes expressed\): the published filter drops most cells here/);
    // a demo-like file (2,000 genes at PBMC depth, as npm start makes it) keeps most cells
    const deep = path.join(dir, 'deep.h5ad');
    execFileSync(process.execPath, [path.join(__dirname, '..', '..', '..', 'bin', 'scwb.js'), 'simulate', '--cells', '300', '--genes', '2000', '--seed', '7', '--median-counts', '1500', '--out', deep]);
    const reader = await openH5ad(deep);
    const names = reader.var().index;
    fs.writeFileSync(path.join(dir, 'deep-genes.txt'), names.join('\n') + '\n');
    try {
      const kept = await cellsKeptByScbert(reader, 'X', names, names, 200, 2000, { cancelled: false, progress: () => undefined } as never);
      const deepRef = runPythonJson<{ kept: number; total: number }>('compat_cells_kept.py', [deep, path.join(dir, 'deep-genes.txt'), '200']);
      assert.deepStrictEqual([kept.kept, kept.total], [deepRef.kept, deepRef.total]);
      assert.ok(kept.kept > 0.9 * kept.total, `kept ${kept.kept} of ${kept.total}`);
      // counted on the first rows only: an estimate, said as such
      const part = await cellsKeptByScbert(reader, 'X', names, names, 200, 100, { cancelled: false, progress: () => undefined } as never);
      assert.match(cellsKeptText(part), /^keeps about [\d,]+ of 300 cells \(.*; counted on the first 100\)$/);
    } finally {
      reader.close();
    }
  });

  it('after Preprocess scBERT / scGPT with the offered recipe, the value scale is ok (log2 tokens; X_binned bins)', async () => {
    const scbertOut = path.join(dir, 'sim.scbert.h5ad');
    const scbert = await check({ model: path.join(dir, 'ckpt', 'scbert_tiny', 'scbert_tiny_pretrain.pth'), dataset: sim });
    const offered = preprocessActions(byId(scbert, 'values'))[0].recipe!;
    // the tiny dataset has 200 genes: lower the published 200-gene cell filter
    const lowered = { recipe: 'scbert' as const, params: { ...(offered.params as object), minGenes: 10 } };
    await runTask<PreprocessReport>('preprocess/tasks', 'preprocess', { inPath: sim, outPath: scbertOut, recipe: lowered, baseDir: dir });
    const after = await check({ model: path.join(dir, 'ckpt', 'scbert_tiny', 'scbert_tiny_pretrain.pth'), dataset: scbertOut });
    assert.strictEqual(after.dataset.recipe, 'scbert');
    assert.strictEqual(after.values!.kind, 'log-normalized');
    assert.strictEqual(byId(after, 'values').verdict, 'ok');

    const folder = path.join(dir, 'ckpt', 'scGPT_tiny');
    const gpt = await check({ model: folder, dataset: sim });
    assert.strictEqual(byId(gpt, 'values').verdict, 'warn');
    const recipe = preprocessActions(byId(gpt, 'values'))[0].recipe!;
    assert.deepStrictEqual(recipe, { recipe: 'scgpt', params: { vocab: path.join(folder, 'vocab.json'), inputMatrix: 'X', inputIsLogNormalized: false, nBins: 51 } });
    const gptOut = path.join(dir, 'sim.scgpt.h5ad');
    await runTask<PreprocessReport>('preprocess/tasks', 'preprocess', { inPath: sim, outPath: gptOut, recipe, baseDir: dir });
    const binned = await check({ model: folder, dataset: gptOut });
    assert.strictEqual(binned.dataset.matrix, 'layers/X_binned');
    assert.strictEqual(binned.values!.binned, true);
    assert.ok(binned.values!.max <= 50);
    assert.strictEqual(byId(binned, 'values').verdict, 'ok');
    assert.strictEqual(binned.verdict, 'ok', JSON.stringify(binned.checks));
  });

  it('Ensembl-named dataset vs a symbol vocabulary: overlap 0 explained by the namespace, and the symbol column offered', async () => {
    const folder = path.join(dir, 'ckpt', 'scGPT_tiny');
    const ens = path.join(dir, 'ensembl.h5ad');
    const r = await check({ model: folder, dataset: ens });
    assert.strictEqual(r.genes!.nOverlap, 0);
    assert.strictEqual(byId(r, 'genes').verdict, 'fail');
    const ns = byId(r, 'namespace');
    assert.strictEqual(ns.verdict, 'fail');
    assert.match(ns.summary, /human Ensembl ids \(ENSG…\) but the model uses gene symbols/);
    assert.deepStrictEqual(ns.actions, [{ kind: 'geneColumn', label: "Match on 'gene_symbols'", column: 'gene_symbols' }]);
    assert.deepStrictEqual(r.genes!.byColumn.find(c => c.column === 'gene_symbols'), { column: 'gene_symbols', nOverlap: 200, namespace: 'symbol' });
    // the offered recipe matches on that column
    assert.strictEqual((preprocessActions(byId(r, 'values'))[0].recipe!.params as { geneColumn?: string }).geneColumn, 'gene_symbols');
    const fixed = await check({ model: folder, dataset: ens, geneColumn: 'gene_symbols' });
    assert.strictEqual(fixed.genes!.nOverlap, 200);
    assert.strictEqual(byId(fixed, 'genes').verdict, 'ok');
    assert.strictEqual(byId(fixed, 'namespace').verdict, 'ok');
  });

  it("a fine-tune run's checkpoint: classes from the pickle, label column from run.json, unknown labels and absent classes", async () => {
    const r = await check({ model: path.join(dir, 'run', 'checkpoints', 'best.pt'), dataset: sim });
    assert.strictEqual(r.model.form, 'worker-checkpoint');
    assert.deepStrictEqual(r.model.classes, made.classes);
    assert.strictEqual(r.model.labelColumn, 'cell_type');
    assert.deepStrictEqual(r.model.genes, simGenes);
    const last = made.cellTypes[made.cellTypes.length - 1];
    assert.deepStrictEqual(r.labels, {
      column: 'cell_type', nClasses: made.classes.length, nDataLabels: made.cellTypes.length,
      unknown: [{ label: last, cells: made.typeCounts[last] }], absent: ['Unicorn cell'],
      nCells: 300, cellsWithUnknownLabel: made.typeCounts[last],
    });
    assert.strictEqual(byId(r, 'labels').verdict, 'warn');
    // the fix aligns to the training dataset's genes (the scBERT recipe reads an .h5ad's var_names as its list)
    assert.deepStrictEqual(preprocessActions(byId(r, 'values'))[0].recipe, { recipe: 'scbert', params: { referenceGenes: sim, inputMatrix: 'X' } });
    // labels from a column that matches no class: fail, and other columns are offered
    const wrong = await check({ model: path.join(dir, 'run', 'checkpoints', 'best.pt'), dataset: sim, labelColumn: 'donor' });
    assert.strictEqual(byId(wrong, 'labels').verdict, 'fail');
    assert.ok(byId(wrong, 'labels').actions.some(a => a.kind === 'labelColumn' && a.column === 'cell_type'));
  });

  it('an exported model.onnx reads genes, classes and label column from model.onnx.json', async () => {
    const r = await check({ model: path.join(dir, 'model.onnx'), dataset: sim });
    assert.strictEqual(r.model.form, 'onnx');
    assert.strictEqual(r.model.family, 'scbert');
    assert.strictEqual(r.model.alignsByName, true);
    assert.deepStrictEqual(r.model.genes, simGenes);
    assert.strictEqual(byId(r, 'genes').verdict, 'ok');
    assert.strictEqual(r.labels!.absent[0], 'Unicorn cell');
    // without the side file the genes are unknown, and the check says what to provide
    const bare = path.join(dir, 'bare.onnx');
    fs.copyFileSync(path.join(dir, 'model.onnx'), bare);
    const b = await check({ model: bare, dataset: sim });
    assert.strictEqual(b.genes, null);
    assert.strictEqual(byId(b, 'genes').verdict, 'warn');
    assert.match(byId(b, 'genes').fix!, /bare\.onnx\.json/);
  });

  it('a benchmark encoder.pt: its own genes (half the dataset: warn) and log1p of raw counts expected', async () => {
    const r = await check({ model: path.join(dir, 'encoder.pt'), dataset: sim });
    assert.strictEqual(r.model.form, 'benchmark-encoder');
    assert.strictEqual(r.model.valueMode, 'log1p');
    assert.deepStrictEqual([r.genes!.nOverlap, r.genes!.nModelGenes], [100, 100]);
    assert.strictEqual(byId(r, 'genes').verdict, 'warn');
    assert.deepStrictEqual(preprocessActions(byId(r, 'values'))[0].recipe, { recipe: 'benchmark', params: { mode: 'none', vocab: null, inputMatrix: 'X', nBins: 51 } });
  });

  it('scBERT without a gene list says what to provide; a given list of the wrong length fails', async () => {
    const lone = path.join(dir, 'lone');
    fs.mkdirSync(lone);
    const pth = path.join(lone, 'scbert_tiny_pretrain.pth');
    fs.copyFileSync(path.join(dir, 'ckpt', 'scbert_tiny', 'scbert_tiny_pretrain.pth'), pth);
    const r = await check({ model: pth, dataset: sim });
    assert.strictEqual(r.genes, null);
    assert.match(byId(r, 'genes').fix!, /genes\.txt beside the checkpoint/);
    assert.strictEqual(byId(r, 'namespace').verdict, 'skip');
    const short = path.join(lone, 'short.txt');
    fs.writeFileSync(short, simGenes.slice(0, 150).join('\n') + '\n');
    const s = await check({ model: pth, dataset: sim, genesFile: short });
    assert.strictEqual(byId(s, 'genes').verdict, 'fail');
    assert.ok(byId(s, 'genes').details.some(d => d.includes('150 genes but the weights have 200 gene positions')));
  });

  it("scanpy's pbmc68k_reduced (scaled X, log-normalised raw) vs the scGPT demo vocabulary: overlap as Python counts it, scGPT recipe from raw/X", async () => {
    const pbmc = h5adPath('scanpy_pbmc68k_reduced_2025.h5ad');
    const folder = path.join(dir, 'ckpt', 'scGPT_tiny');
    const r = await check({ model: folder, dataset: pbmc });
    const expected = runPythonJson<{ n: number }>('compat_overlap.py', [pbmc, path.join(folder, 'vocab.json')]);
    assert.strictEqual(r.genes!.nOverlap, expected.n);
    assert.strictEqual(r.values!.kind, 'scaled');
    const values = byId(r, 'values');
    assert.strictEqual(values.verdict, 'fail');
    assert.deepStrictEqual(preprocessActions(values)[0].recipe, { recipe: 'scgpt', params: { vocab: path.join(folder, 'vocab.json'), inputMatrix: 'raw/X', inputIsLogNormalized: true, nBins: 51 } });
  });

  it('an anndata 0.7 file (LZF, raw counts, gene0…) vs the encoder: no gene in common, raw counts where log1p is expected', async () => {
    const r = await check({ model: path.join(dir, 'encoder.pt'), dataset: h5adPath('anndata_v0.7.0_adata.h5ad') });
    assert.strictEqual(r.genes!.nOverlap, 0);
    assert.strictEqual(byId(r, 'genes').verdict, 'fail');
    assert.strictEqual(r.values!.kind, 'raw-counts');
    assert.strictEqual(r.values!.binned, false);
    assert.strictEqual(byId(r, 'values').verdict, 'fail');
    assert.strictEqual(r.verdict, 'fail');
  });

  it('a hostile checkpoint is refused and nothing in it runs', async () => {
    await assert.rejects(check({ model: path.join(dir, 'hostile.pth'), dataset: sim }), /hostile\.pth: refused.*nothing was executed/);
    assert.ok(!fs.existsSync(path.join(dir, 'PWNED')));
  });

  it('scwb checkpoint check prints each verdict and exits 1 on a failure; --json; a non-model file is named', async () => {
    let out = '';
    let err = '';
    const io = { out: (t: string) => { out += t; }, err: (t: string) => { err += t; } };
    assert.strictEqual(await main(['checkpoint', 'check', path.join(dir, 'ckpt', 'scGPT_tiny'), path.join(dir, 'ensembl.h5ad')], io), 1, err);
    assert.match(out, /^\[FAIL\] Gene identifiers: The dataset's var_names are human Ensembl ids/m);
    assert.match(out, /try: --gene-column gene_symbols/);
    out = '';
    assert.strictEqual(await main(['checkpoint', 'check', path.join(dir, 'model.onnx'), sim, '--label', 'cell_type', '--json'], io), 1, err);
    const j = JSON.parse(out) as CompatReport;
    assert.deepStrictEqual(j.checks.map(c => [c.id, c.verdict]), [['genes', 'ok'], ['namespace', 'ok'], ['values', 'fail'], ['labels', 'warn']]);
    assert.strictEqual(j.labels!.column, 'cell_type');
    const notModel = path.join(dir, 'notes.pt');
    fs.writeFileSync(notModel, 'hello');
    err = '';
    assert.strictEqual(await main(['checkpoint', 'check', notModel, sim], io), 1);
    assert.match(err, /notes\.pt: not a PyTorch checkpoint/);
  });
});
