/**
 * Exactness of the three recipes against numpy/scipy references of the published steps
 * (test/python/preprocess_reference.py), on real files and on generated counts: same genes in the same order,
 * same cells, values within 1e-6 relative, identical bins (ties drawn from the same MT19937 stream).
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { loadVocab } from '../../../src/core/preprocess/genes';
import { runPipeline, type PipelineOptions } from '../../../src/core/preprocess/pipeline';
import { PROVENANCE_KEY } from '../../../src/core/preprocess/provenance';
import { parseRecipe, type Recipe } from '../../../src/core/preprocess/recipe';
import { h5adPath, REFERENCE_DIR, tempDir } from '../../helpers/shared';
import {
  assertMatchesReference, dumpSource, makeDumps, memorySink, pythonReferences, type Dump, type ReferenceOutput, type SinkResult,
} from './fixtures';

const VOCAB_FILE = path.join(REFERENCE_DIR, 'scgpt_vocab.json');
const FAKE_SHA = 'ab'.repeat(32);

describe('preprocessing recipes vs numpy references', () => {
  let dir: string;
  let data: Record<'tenx' | 'generated' | 'pbmcRaw' | 'small', Dump>;
  let vocab: Map<string, number>;
  let tenxReference: string[];
  let generatedReference: string[];
  // Every case's parameters, so that all references run in one Python process.
  const params = {
    scbertTenx: { referenceGenes: '', minGenes: 12 },
    scbertGenerated: { referenceGenes: '' },
    scbertGeneratedSum: { referenceGenes: '', duplicateGenes: 'sum' },
    scgptGenerated: {
      vocab: VOCAB_FILE, minCountsPerGene: 10, minCellsPerGene: 8, minCountsPerCell: 100, nTopGenes: 120, hvgBatchKey: 'batch', seed: 7,
    },
    scgptTenx: { vocab: VOCAB_FILE, nTopGenes: 100 },
    scgptPbmc: { vocab: VOCAB_FILE, inputIsLogNormalized: true, nBins: 21, seed: 3 },
    benchmarkTenx: { mode: 'bin', vocab: VOCAB_FILE, minCountsPerGene: 3, seed: 11 },
    benchmarkSmall: {},
  };
  let ref: Record<keyof typeof params, ReferenceOutput>;

  before(async () => {
    dir = tempDir('scwb-preprocess-');
    // Real integer counts (10x Genomics, 1,107 cells x 507 genes), real log-normalised values (PBMC 68k reduced,
    // raw/X), a tiny real anndata 0.7 file, and generated negative-binomial counts with 3 batches and duplicate names.
    data = makeDumps(dir, {
      tenx: ['dump', h5adPath('10x_v3_filtered_feature_bc_matrix.h5'), '$OUT'],
      generated: ['generate', '20250101', '$OUT', '400', '600', '3'],
      pbmcRaw: ['dump', h5adPath('scanpy_pbmc68k_reduced_2025.h5ad'), '$OUT', 'raw/X'],
      small: ['dump', h5adPath('anndata_v0.7.8_adata.h5ad'), '$OUT'],
    });
    vocab = await loadVocab(VOCAB_FILE);
    // scBERT references: every other 10x gene in reverse order plus absent genes, as a plain list; and for the
    // generated data a gene2vec-style table (gene, then its vector).
    tenxReference = [...data.tenx.meta.varNames.filter((_, i) => i % 2 === 0).reverse(), 'ABSENT1', 'ABSENT2', 'ABSENT3'];
    params.scbertTenx.referenceGenes = path.join(dir, 'reference.txt');
    fs.writeFileSync(params.scbertTenx.referenceGenes, tenxReference.join('\n') + '\n');
    generatedReference = [...[...new Set(data.generated.meta.varNames)].slice(0, 450).reverse(), 'ABSENT_GENE'];
    params.scbertGenerated.referenceGenes = path.join(dir, 'reference.tsv');
    fs.writeFileSync(params.scbertGenerated.referenceGenes, generatedReference.map((g, i) => `${g}\t${(i * 0.01).toFixed(2)}\t0.5`).join('\n'));
    params.scbertGeneratedSum.referenceGenes = params.scbertGenerated.referenceGenes;
    ref = pythonReferences(dir, {
      scbertTenx: { recipe: 'scbert', dump: data.tenx, params: params.scbertTenx },
      scbertGenerated: { recipe: 'scbert', dump: data.generated, params: params.scbertGenerated },
      scbertGeneratedSum: { recipe: 'scbert', dump: data.generated, params: params.scbertGeneratedSum },
      scgptGenerated: { recipe: 'scgpt', dump: data.generated, params: params.scgptGenerated },
      scgptTenx: { recipe: 'scgpt', dump: data.tenx, params: params.scgptTenx },
      scgptPbmc: { recipe: 'scgpt', dump: data.pbmcRaw, params: params.scgptPbmc },
      benchmarkTenx: { recipe: 'benchmark', dump: data.tenx, params: params.benchmarkTenx },
      benchmarkSmall: { recipe: 'benchmark', dump: data.small, params: params.benchmarkSmall },
    });
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function run(recipe: Recipe, d: Dump, extra: Partial<PipelineOptions> = {}): Promise<{ out: SinkResult; report: Awaited<ReturnType<typeof runPipeline>>; reads: number }> {
    const source = dumpSource(d);
    const sink = memorySink();
    const report = await runPipeline(recipe, source, sink, { inputSha256: FAKE_SHA, vocab, vocabFile: VOCAB_FILE, ...extra });
    assert.ok(sink.result, 'the sink was finished');
    return { out: sink.result, report, reads: source.reads };
  }

  describe('scBERT', () => {
    it('aligns real 10x counts to a text reference list, filters, normalises and takes log2 like the numpy reference', async () => {
      const recipe = parseRecipe({ recipe: 'scbert', params: params.scbertTenx });
      const { out, report } = await run(recipe, data.tenx, { referenceGenes: tenxReference });
      const r = ref.scbertTenx;
      assertMatchesReference(out, r);
      assert.strictEqual(report.referenceGenesFound, r.referenceGenesFound);
      assert.strictEqual(report.referenceGenesFound, tenxReference.length - 3);
      assert.ok(report.cellsFiltered > 0 && report.cellsOut > 100, `cells kept ${report.cellsOut}, dropped ${report.cellsFiltered}`);
      const present = out.layout.varColumns.find(c => c.name === 'present_in_input');
      assert.ok(present && present.kind === 'boolean');
      assert.deepStrictEqual(Array.from(present.values, v => v === 1), r.present);
      const nGenes = out.obsColumns.find(c => c.name === 'n_genes');
      assert.ok(nGenes && nGenes.kind === 'numeric');
      assert.deepStrictEqual(Array.from(nGenes.values), r.nGenes);
    });

    it('uses the first column of a duplicated data gene by default, or sums them, and keeps cells with >= 200 genes', async () => {
      for (const [name, rule] of [['scbertGenerated', 'first'], ['scbertGeneratedSum', 'sum']] as const) {
        const recipe = parseRecipe({ recipe: 'scbert', params: params[name] });
        assert.strictEqual(recipe.recipe === 'scbert' && recipe.params.duplicateGenes, rule);
        const { out, report } = await run(recipe, data.generated, { referenceGenes: generatedReference });
        assertMatchesReference(out, ref[name]);
        assert.strictEqual(report.duplicateColumns, ref[name].duplicateColumns);
        assert.strictEqual(report.duplicatedGenes, ref[name].duplicatedGenes);
        assert.ok(report.duplicateColumns > 0, 'the generated data has duplicate gene names');
        assert.strictEqual(report.duplicateGenesRule, rule);
        assert.ok(report.cellsFiltered > 0 && report.cellsOut > 0);
      }
    });
  });

  describe('scGPT', () => {
    it('filters, normalises, selects batch-aware Seurat v3 genes and bins generated counts like the reference', async () => {
      const recipe = parseRecipe({ recipe: 'scgpt', params: params.scgptGenerated });
      const { out, report, reads } = await run(recipe, data.generated, { blockRows: 64 });
      const r = ref.scgptGenerated;
      assertMatchesReference(out, r, 'X_binned');
      // 120 top genes, plus the other columns of duplicated names among them (scanpy selects by name).
      assert.strictEqual(report.highlyVariableGenes, r.hvgSelectedAmongCandidates);
      assert.ok(report.highlyVariableGenes! > 120, `${report.highlyVariableGenes} genes`);
      assert.ok(report.genesFiltered! > 0 && report.cellsFiltered > 0);
      assert.strictEqual(report.passes, 4);
      assert.strictEqual(reads, 4 * Math.ceil(400 / 64));
      const col = (name: string) => {
        const c = out.layout.varColumns.find(v => v.name === name);
        assert.ok(c && c.kind === 'numeric', name);
        return Array.from(c.values);
      };
      assert.deepStrictEqual(col('id_in_vocab'), r.idInVocab);
      assert.deepStrictEqual(col('highly_variable_nbatches'), r.hvgNBatches);
      assert.deepStrictEqual(col('highly_variable_rank'), (r.hvgRank as (number | null)[]).map(v => (v === null ? NaN : v)));
      (r.hvgVariancesNorm as number[]).forEach((v, i) => assert.ok(Math.abs(col('variances_norm')[i] - v) <= 1e-9 * Math.abs(v)));
    });

    it('bins real 10x counts (many ties) and selects 100 genes without batches like the reference', async () => {
      const { out, report } = await run(parseRecipe({ recipe: 'scgpt', params: params.scgptTenx }), data.tenx);
      assertMatchesReference(out, ref.scgptTenx, 'X_binned');
      assert.strictEqual(report.genesInVocab, 450);
      assert.strictEqual(report.passes, 3);
    });

    it('bins real log-normalised values (PBMC 68k raw/X) without renormalising when inputIsLogNormalized', async () => {
      const { out, report } = await run(parseRecipe({ recipe: 'scgpt', params: params.scgptPbmc }), data.pbmcRaw);
      assertMatchesReference(out, ref.scgptPbmc, 'X_binned');
      assert.strictEqual(report.normalized, false);
      assert.ok(out.layers.X_binned.data.every(b => b >= 1 && b <= 20));
    });

    it('gives the same output whatever the block size', async () => {
      const recipe = parseRecipe({ recipe: 'scgpt', params: { vocab: VOCAB_FILE, nTopGenes: 50, hvgBatchKey: 'batch', minCountsPerCell: 40 } });
      const a = (await run(recipe, data.generated, { blockRows: 1 })).out;
      const b = (await run(recipe, data.generated, { blockRows: 10000 })).out;
      assert.deepStrictEqual(a.layout, b.layout);
      assert.deepStrictEqual(a.X, b.X);
      assert.deepStrictEqual(a.layers, b.layers);
      assert.deepStrictEqual(a.keptCells, b.keptCells);
    });
  });

  describe('benchmark', () => {
    it('takes log1p of real counts, filters genes by count and bins them (mode "bin") like the reference', async () => {
      const { out, report } = await run(parseRecipe({ recipe: 'benchmark', params: params.benchmarkTenx }), data.tenx);
      assertMatchesReference(out, ref.benchmarkTenx, 'X_binned');
      assert.ok(report.genesFiltered! > 0);
      const ids = out.layout.varColumns.find(c => c.name === 'id_in_vocab');
      assert.ok(ids && ids.kind === 'numeric');
      assert.deepStrictEqual(Array.from(ids.values), ref.benchmarkTenx.idInVocab);
    });

    it('takes log1p of a real anndata 0.7 file with defaults (mode "none", every gene) and records provenance', async () => {
      const recipe = parseRecipe({ recipe: 'benchmark' });
      const { out } = await run(recipe, data.small);
      assertMatchesReference(out, ref.benchmarkSmall);
      assert.deepStrictEqual(out.layout.layers, []);
      const prov = out.uns[PROVENANCE_KEY] as Record<string, string>;
      assert.strictEqual(prov.recipe, 'benchmark');
      assert.strictEqual(prov.input_sha256, FAKE_SHA);
      assert.deepStrictEqual(JSON.parse(prov.params), recipe.params);
      assert.strictEqual(JSON.parse(prov.report).cellsOut, 30);
      assert.match(prov.tool_version, /^\d+\.\d+\.\d+/);
    });
  });
});
