/**
 * .h5ad in, .h5ad out: the recipes through the real reader and writer (and the worker task), the output read back
 * with anndata 0.8 and compared with the numpy reference of the same input.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { H5adError } from '../../../src/core/h5ad/types';
import type { PreprocessReport } from '../../../src/core/preprocess/pipeline';
import { PROVENANCE_KEY } from '../../../src/core/preprocess/provenance';
import { parseRecipe } from '../../../src/core/preprocess/recipe';
import { runRecipe } from '../../../src/core/preprocess/run';
import { runTask } from '../../../src/core/workers/run-task';
import { h5adPath, REFERENCE_DIR, runPythonJson, tempDir } from '../../helpers/shared';
import { makeDumps, pythonReferences, type Dump, type ReferenceOutput } from './fixtures';

interface OutputSeenByAnndata {
  shape: [number, number];
  X: { indptr: number[]; indices: number[]; data: number[]; dtype: string };
  layers: Record<string, { indptr: number[]; indices: number[]; data: number[] }>;
  varNames: string[];
  var: Record<string, (number | string | boolean | null)[]>;
  obsNames: string[];
  obsColumns: Record<string, string>;
  obsNGenes: number[] | null;
  uns: Record<string, Record<string, string>>;
  inputSha256: string;
  obsm: Record<string, { shape: number[]; dtype: string; equalToInput: boolean }>;
  inputObsm: Record<string, number[]>;
}

const VOCAB_FILE = path.join(REFERENCE_DIR, 'scgpt_vocab.json');

function assertSameAsReference(seen: OutputSeenByAnndata, ref: ReferenceOutput, obsNames: string[]): void {
  assert.deepStrictEqual(seen.varNames, ref.varNames);
  assert.deepStrictEqual(seen.obsNames, ref.keptCells.map(i => obsNames[i]));
  assert.deepStrictEqual(seen.X.indptr, ref.X.indptr);
  assert.deepStrictEqual(seen.X.indices, ref.X.indices);
  assert.strictEqual(seen.X.dtype, 'float32');
  seen.X.data.forEach((v, k) => assert.ok(Math.abs(v - ref.X.data[k]) <= 1e-6 * Math.abs(ref.X.data[k]), `value ${k}`));
}

describe('preprocessing .h5ad files end to end', () => {
  let dir: string;
  let data: Record<'pbmcRaw' | 'small', Dump>;
  let ref: Record<'scgpt' | 'scbert', ReferenceOutput>;
  const scgptParams = { vocab: VOCAB_FILE, inputIsLogNormalized: true, seed: 5 };
  let scbertParams: { referenceGenes: string; minGenes: number };

  before(() => {
    dir = tempDir('scwb-preprocess-run-');
    data = makeDumps(dir, {
      pbmcRaw: ['dump', h5adPath('scanpy_pbmc68k_reduced_2025.h5ad'), '$OUT', 'raw/X'],
      small: ['dump', h5adPath('anndata_v0.7.8_adata.h5ad'), '$OUT'],
    });
    // The numpy reference reads text lists; the recipe reads the same genes from an .h5ad's var_names.
    const refList = path.join(dir, 'ref.txt');
    fs.writeFileSync(refList, [...data.small.meta.varNames].reverse().join('\n'));
    scbertParams = { referenceGenes: refList, minGenes: 5 };
    ref = pythonReferences(dir, {
      scgpt: { recipe: 'scgpt', dump: data.pbmcRaw, params: scgptParams },
      scbert: { recipe: 'scbert', dump: data.small, params: scbertParams },
    });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('scGPT on PBMC 68k raw/X in a worker: anndata reads X, bins, var ids, obs and provenance as the reference has them', async () => {
    const recipeFile = path.join(dir, 'scgpt.json');
    fs.writeFileSync(recipeFile, JSON.stringify({ recipe: 'scgpt', params: { ...scgptParams, inputMatrix: 'raw/X' } }));
    const input = h5adPath('scanpy_pbmc68k_reduced_2025.h5ad');
    const out = path.join(dir, 'pbmc_scgpt.h5ad');
    const fractions: number[] = [];
    const report = await runTask<PreprocessReport>('preprocess/tasks', 'preprocess',
      { inPath: input, outPath: out, recipePath: recipeFile, blockRows: 256 }, { onProgress: f => fractions.push(f) });
    assert.ok(fractions.length > 0 && fractions[fractions.length - 1] === 1);
    const seen = runPythonJson<OutputSeenByAnndata>('preprocess_read_output.py', [out, input]);
    assertSameAsReference(seen, ref.scgpt, data.pbmcRaw.meta.obsNames);
    assert.deepStrictEqual(seen.layers.X_binned.data, ref.scgpt.bins);
    assert.deepStrictEqual(seen.var.id_in_vocab, ref.scgpt.idInVocab);
    assert.strictEqual(seen.obsColumns.bulk_labels, 'category');
    const prov = seen.uns[PROVENANCE_KEY];
    assert.strictEqual(prov.input_sha256, seen.inputSha256);
    assert.strictEqual(prov.recipe, 'scgpt');
    assert.strictEqual(JSON.parse(prov.params).seed, 5);
    assert.deepStrictEqual(JSON.parse(prov.report), report);
    assert.strictEqual(report.cellsOut, 700);
    // the embeddings travel with their cells
    assert.deepStrictEqual(Object.keys(seen.obsm).sort(), ['X_pca', 'X_umap']);
    assert.deepStrictEqual(seen.obsm.X_pca, { shape: [700, 50], dtype: 'float32', equalToInput: true });
    assert.deepStrictEqual(seen.obsm.X_umap, { shape: [700, 2], dtype: 'float64', equalToInput: true });
  });

  it('scBERT from a text reference list like the reference, and from an .h5ad\'s var_names', async () => {
    const input = h5adPath('anndata_v0.7.8_adata.h5ad');
    const out = path.join(dir, 'small_scbert.h5ad');
    // First a text list (the file's genes reversed), compared with the numpy reference; then an .h5ad as the list.
    const recipe = parseRecipe({ recipe: 'scbert', params: { ...scbertParams, referenceGenes: path.join(dir, 'ref.txt') } });
    await runRecipe(recipe, input, out);
    const fromH5ad = parseRecipe({ recipe: 'scbert', params: { referenceGenes: input, minGenes: 5 } });
    const out2 = path.join(dir, 'small_scbert_h5ref.h5ad');
    const report = await runRecipe(fromH5ad, input, out2);
    const [seen, seen2] = runPythonJson<OutputSeenByAnndata[]>('preprocess_read_output.py', [out, input, out2, input]);
    assertSameAsReference(seen, ref.scbert, data.small.meta.obsNames);
    assert.deepStrictEqual(seen.var.present_in_input, ref.scbert.present);
    assert.deepStrictEqual(seen.obsNGenes, ref.scbert.nGenes);
    assert.strictEqual(report.referenceGenesFound, 20);
    // numeric embeddings (dense and sparse) of the kept cells are copied; a dataframe in obsm is not
    assert.deepStrictEqual(Object.keys(seen.inputObsm).sort(), ['array', 'df', 'sparse']);
    assert.deepStrictEqual(Object.keys(seen.obsm).sort(), ['array', 'sparse']);
    assert.ok(seen.obsm.array.equalToInput && seen.obsm.sparse.equalToInput);
    assert.strictEqual(seen.obsm.array.shape[0], seen.obsNames.length);
    assert.deepStrictEqual(seen2.varNames, data.small.meta.varNames);
  });

  it('leaves no output when a recipe refuses, and never writes over the input', async () => {
    const input = h5adPath('scanpy_pbmc68k_reduced_2025.h5ad');
    const out = path.join(dir, 'refused.h5ad');
    const recipe = parseRecipe({ recipe: 'scgpt', params: { vocab: VOCAB_FILE, inputMatrix: 'raw/X' } });
    await assert.rejects(runRecipe(recipe, input, out), (e: unknown) => e instanceof H5adError && e.file === input && /non-integer/.test(e.problem));
    assert.deepStrictEqual(fs.readdirSync(dir).filter(f => f.includes('refused')), []);
    await assert.rejects(runRecipe(recipe, input, input), /must not be the input/);
  });
});
