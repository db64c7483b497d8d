/** Recipes refuse input they would process wrongly, with messages naming the file; recipe files are validated. */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { H5adError } from '../../../src/core/h5ad/types';
import { parseGeneList, parseVocab } from '../../../src/core/preprocess/genes';
import { runPipeline, type PipelineOptions } from '../../../src/core/preprocess/pipeline';
import { RECIPE_DEFAULTS, parseRecipe, readRecipeFile, type Recipe } from '../../../src/core/preprocess/recipe';
import type { CsrMatrix } from '../../../src/core/sparse';
import { h5adPath, tempDir } from '../../helpers/shared';
import { dumpSource, makeDumps, memorySink, memorySource, type Dump } from './fixtures';

const VOCAB = new Map([['GENE_A', 10], ['GENE_B', 11], ['GENE_C', 12]]);

async function refusal(recipe: Recipe, source: ReturnType<typeof memorySource>, opts: Partial<PipelineOptions> = {}): Promise<{ error: H5adError; aborted: boolean }> {
  const sink = memorySink();
  try {
    await runPipeline(recipe, source, sink, { inputSha256: '0'.repeat(64), vocab: VOCAB, ...opts });
  } catch (e) {
    assert.ok(e instanceof H5adError, `an H5adError, got ${String(e)}`);
    assert.ok(!sink.result, 'nothing was finished');
    return { error: e, aborted: sink.aborted };
  }
  assert.fail('the recipe did not refuse');
}

function tinyCounts(values: number[][]): CsrMatrix {
  const indptr = [0];
  const indices: number[] = [];
  const data: number[] = [];
  for (const row of values) {
    row.forEach((v, c) => { if (v !== 0) { indices.push(c); data.push(v); } });
    indptr.push(indices.length);
  }
  return { nRows: values.length, nCols: values[0].length, indptr: Int32Array.from(indptr), indices: Int32Array.from(indices), data: Float64Array.from(data) };
}

describe('preprocessing refusals and recipe files', () => {
  let dir: string;
  let data: Record<'pbmcRaw' | 'pbmcX' | 'tenx', Dump>;

  before(() => {
    dir = tempDir('scwb-preprocess-val-');
    data = makeDumps(dir, {
      pbmcRaw: ['dump', h5adPath('scanpy_pbmc68k_reduced_2025.h5ad'), '$OUT', 'raw/X'],
      pbmcX: ['dump', h5adPath('scanpy_pbmc68k_reduced_2025.h5ad'), '$OUT', 'X'],
      tenx: ['dump', h5adPath('10x_v3_filtered_feature_bc_matrix.h5'), '$OUT'],
    });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('refuses log-normalised input (PBMC raw/X) where counts are expected, naming the file and the way out', async () => {
    const firstValue = data.pbmcRaw.X.data[0];
    assert.ok(!Number.isInteger(firstValue), 'the reference file really holds non-integers');
    const vocab = new Map(data.pbmcRaw.meta.varNames.map((g, i) => [g, i]));
    const { error, aborted } = await refusal(parseRecipe({ recipe: 'scgpt', params: { vocab: 'v.json' } }), dumpSource(data.pbmcRaw, '/data/pbmc.h5ad'), { vocab });
    assert.strictEqual(error.file, '/data/pbmc.h5ad');
    assert.match(error.problem, /expects raw counts.*non-integer.*"log-normalized" for log-transformed values/);
    assert.ok(aborted);
  });

  it('refuses integer counts (10x) declared log-normalised', async () => {
    assert.ok(data.tenx.X.data.every(Number.isInteger));
    const vocab = new Map(data.tenx.meta.varNames.map((g, i) => [g, i]));
    const recipe = parseRecipe({ recipe: 'scgpt', params: { vocab: 'v.json', inputIsLogNormalized: true } });
    const { error } = await refusal(recipe, dumpSource(data.tenx, '/data/tenx.h5ad'), { vocab });
    assert.match(error.problem, /expects log-normalised values, but every value is an integer \(max 36\)/);
  });

  it('refuses scaled data with negative values (PBMC X)', async () => {
    assert.ok(data.pbmcX.X.data.some(v => v < 0));
    const { error } = await refusal(parseRecipe({ recipe: 'benchmark' }), dumpSource(data.pbmcX, '/data/x.h5ad'));
    assert.match(error.problem, /negative value .* at cell \d+, gene \S+/);
  });

  it('refuses NaN and infinite values', async () => {
    for (const bad of [NaN, Infinity]) {
      const src = memorySource('/data/nan.h5ad', tinyCounts([[1, 2, 0], [0, bad, 3]]), ['GENE_A', 'GENE_B', 'GENE_C']);
      const { error } = await refusal(parseRecipe({ recipe: 'benchmark' }), src);
      assert.match(error.problem, new RegExp(`holds ${bad} at cell 1, gene GENE_B`));
    }
  });

  it('refuses data without a single reference or vocabulary gene, naming both files', async () => {
    const src = memorySource('/data/mouse.h5ad', tinyCounts([[1, 2]]), ['Actb', 'Gapdh']);
    const a = await refusal(parseRecipe({ recipe: 'scbert', params: { referenceGenes: 'ref.txt' } }), src,
      { referenceGenes: ['ACTB', 'GAPDH'], referenceFile: '/refs/panglao.txt' });
    assert.match(a.error.problem, /no gene matches the reference list \/refs\/panglao.txt/);
    const b = await refusal(parseRecipe({ recipe: 'scgpt', params: { vocab: 'v.json' } }), src, { vocabFile: '/refs/vocab.json' });
    assert.match(b.error.problem, /no gene is in the vocabulary \/refs\/vocab.json \(first genes: Actb, Gapdh\)/);
  });

  it('refuses an empty result after filtering and leaves no output', async () => {
    const recipe = parseRecipe({ recipe: 'scbert', params: { referenceGenes: 'ref.txt' } });
    const { error, aborted } = await refusal(recipe, dumpSource(data.tenx, '/data/tenx.h5ad'), { referenceGenes: data.tenx.meta.varNames });
    // 10x cells have at most a few dozen of these genes: none reaches the default 200.
    assert.match(error.problem, /no cell is left after filtering/);
    assert.ok(aborted);
    const genes = parseRecipe({ recipe: 'scgpt', params: { vocab: 'v.json', minCountsPerGene: 1000 } });
    const g = await refusal(genes, memorySource('/d.h5ad', tinyCounts([[1, 2, 3]]), ['GENE_A', 'GENE_B', 'GENE_C']));
    assert.match(g.error.problem, /no gene passes the gene filters/);
  });

  it('refuses Seurat v3 genes on log-normalised input before reading any row, and unknown batch columns', async () => {
    const src = memorySource('/d.h5ad', tinyCounts([[1, 2, 3]]), ['GENE_A', 'GENE_B', 'GENE_C'], { batch: ['x'] });
    const a = await refusal(parseRecipe({ recipe: 'scgpt', params: { vocab: 'v.json', inputIsLogNormalized: true, nTopGenes: 2 } }), src);
    assert.match(a.error.problem, /need raw counts.*"nTopGenes": null/);
    assert.strictEqual(src.reads, 0);
    const b = await refusal(parseRecipe({ recipe: 'scgpt', params: { vocab: 'v.json', nTopGenes: 2, hvgBatchKey: 'donor' } }), src);
    assert.match(b.error.problem, /obs has no column "donor" for the batch key \(columns: batch\)/);
  });

  it('stops between blocks when cancelled and discards the output', async () => {
    const sink = memorySink();
    const src = dumpSource(data.tenx);
    let cancelled = false;
    const fractions: number[] = [];
    const ctx = { get cancelled() { return cancelled; }, progress(f: number) { fractions.push(f); cancelled = f > 0.3; } };
    const recipe = parseRecipe({ recipe: 'benchmark' });
    await assert.rejects(runPipeline(recipe, src, sink, { inputSha256: '', blockRows: 100, ctx }), { name: 'CancelledError' });
    assert.ok(sink.aborted && !sink.result);
    // 1,107 cells in blocks of 100: stopped after the block that passed 30 %, long before the end.
    assert.strictEqual(src.reads, fractions.length);
    assert.ok(src.reads >= 4 && src.reads < 11, `read ${src.reads} blocks`);
  });

  it('fills every default and resolves reference paths against the recipe file', () => {
    const r = parseRecipe({ recipe: 'scgpt', params: { vocab: 'vocab.json' } });
    assert.deepStrictEqual(r.params, { vocab: 'vocab.json', ...RECIPE_DEFAULTS.scgpt });
    assert.deepStrictEqual(parseRecipe({ recipe: 'benchmark' }).params, RECIPE_DEFAULTS.benchmark);
    assert.deepStrictEqual(parseRecipe({ recipe: 'scbert', params: { referenceGenes: 'g.txt' } }).params, { referenceGenes: 'g.txt', ...RECIPE_DEFAULTS.scbert });
    const file = path.join(dir, 'recipe.json');
    fs.writeFileSync(file, JSON.stringify({ recipe: 'scbert', params: { referenceGenes: 'genes/panglao.txt', minGenes: 100 } }));
    const read = readRecipeFile(file);
    assert.strictEqual(read.recipe === 'scbert' && read.params.referenceGenes, path.join(dir, 'genes', 'panglao.txt'));
  });

  it('rejects unknown recipes and parameters with the file and the field', () => {
    const file = path.join(dir, 'bad.json');
    fs.writeFileSync(file, JSON.stringify({ recipe: 'scgpt', params: { vocab: 'v.json', nbins: 51, nBins: 2 } }));
    assert.throws(() => readRecipeFile(file), (e: unknown) => {
      assert.ok(e instanceof H5adError);
      assert.strictEqual(e.file, file);
      assert.match(e.problem, /params\.nBins: .*>=3/);
      assert.match(e.problem, /nbins/);
      return true;
    });
    assert.throws(() => parseRecipe({ recipe: 'scvi' }), /invalid recipe: recipe: /);
    // scBERT's rule for duplicated gene names is one of two words
    assert.throws(() => parseRecipe({ recipe: 'scbert', params: { referenceGenes: 'r.txt', duplicateGenes: 'mean' } }, file),
      /invalid recipe: params\.duplicateGenes: .*"first".*"sum"/);
    fs.writeFileSync(file, '{"recipe": ');
    assert.throws(() => readRecipeFile(file), /not valid JSON/);
  });

  it('reads gene lists: plain, gene2vec with a header, tables with a header line; duplicates are an error', () => {
    assert.deepStrictEqual(parseGeneList('A\nB\r\n\n# note\nC\n', 'g.txt'), ['A', 'B', 'C']);
    assert.deepStrictEqual(parseGeneList('3 2\nA 0.1 0.2\nB 0.3 0.4\nC 0.5 0.6\n', 'g2v.txt'), ['A', 'B', 'C']);
    assert.deepStrictEqual(parseGeneList('gene,score\n"A",1\nB,2\n', 'g.csv'), ['A', 'B']);
    assert.throws(() => parseGeneList('A\nB\nA\n', 'dup.txt'), /dup.txt: gene "A" appears twice in the reference list \(entries 1 and 3\)/);
    assert.throws(() => parseVocab('["A"]', 'v.json'), /v.json: the vocabulary must be a JSON object/);
    assert.strictEqual(parseVocab('{"A": 3, "<pad>": 4}', 'v.json').get('A'), 3);
  });
});
