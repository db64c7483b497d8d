/**
 * Real-world inputs: FPKM values (not counts, not log) with versioned Ensembl ids as var_names and symbols in a var
 * column, in a small Smart-seq-like file written by anndata (test/python/make_smartseq_like.py). Each recipe with
 * "input": "normalized" against the numpy reference (test/python/preprocess_reference.py), the output read back by
 * anndata; the recipe parameters' alias and the messages that name the right fix.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { compareGenes } from '../../../src/core/checkpoints/compat';
import type { GeneOverlapResult } from '../../../src/core/h5ad/tasks';
import { H5adError } from '../../../src/core/h5ad/types';
import { runTask } from '../../../src/core/workers/run-task';
import { runPipeline } from '../../../src/core/preprocess/pipeline';
import { PROVENANCE_KEY } from '../../../src/core/preprocess/provenance';
import { parseRecipe } from '../../../src/core/preprocess/recipe';
import { runRecipe } from '../../../src/core/preprocess/run';
import { REFERENCE_DIR, runPythonJson, tempDir } from '../../helpers/shared';
import { assertMatchesReference, dumpSource, makeDumps, memorySink, pythonReferences, type Dump, type ReferenceOutput } from './fixtures';

const VOCAB_FILE = path.join(REFERENCE_DIR, 'scgpt_vocab.json');

interface SeenByAnndata {
  varNames: string[];
  obsNames: string[];
  X: { indptr: number[]; indices: number[]; data: number[]; dtype: string };
  layers: Record<string, { data: number[] }>;
  var: Record<string, (number | string | boolean | null)[]>;
  uns: Record<string, Record<string, string>>;
}

function assertSeenAsReference(seen: SeenByAnndata, ref: ReferenceOutput, obsNames: string[]): void {
  assert.deepStrictEqual(seen.varNames, ref.varNames);
  assert.deepStrictEqual(seen.obsNames, ref.keptCells.map(i => obsNames[i]));
  assert.deepStrictEqual(seen.X.indptr, ref.X.indptr);
  assert.deepStrictEqual(seen.X.indices, ref.X.indices);
  seen.X.data.forEach((v, k) => assert.ok(Math.abs(v - ref.X.data[k]) <= 1e-6 * Math.abs(ref.X.data[k]), `value ${k}: ${v} vs ${ref.X.data[k]}`));
}

describe('input kinds (TPM/FPKM) and Ensembl ids: a Smart-seq-like file', () => {
  let dir: string;
  let file: string;
  let made: { nObs: number; nVars: number; symbols: string[]; ensembl: string[] };
  let data: Record<'ensembl' | 'symbols', Dump>;
  let refList: string[];
  const params = {
    scbert: { referenceGenes: '', input: 'normalized', minGenes: 50 },
    scgpt: { vocab: VOCAB_FILE, geneColumn: 'gene_symbols', input: 'normalized', seed: 2 },
    benchmark: { input: 'normalized', mode: 'bin', seed: 4 },
  };
  let ref: Record<keyof typeof params, ReferenceOutput>;

  before(() => {
    dir = tempDir('scwb-input-kinds-');
    file = path.join(dir, 'smartseq_like.h5ad');
    made = runPythonJson('make_smartseq_like.py', [file, '7']);
    data = makeDumps(dir, {
      ensembl: ['dump', file, '$OUT'],
      symbols: ['dump', file, '$OUT', 'X', 'gene_symbols'],
    });
    // scBERT's list: unversioned Ensembl ids (the data's var_names carry versions), reordered, plus one absent id.
    refList = [...made.ensembl.slice(0, 1500).reverse(), 'ENSG99999999999'];
    params.scbert.referenceGenes = path.join(dir, 'reference_ids.txt');
    fs.writeFileSync(params.scbert.referenceGenes, refList.join('\n') + '\n');
    ref = pythonReferences(dir, {
      scbert: { recipe: 'scbert', dump: data.ensembl, params: params.scbert },
      scgpt: { recipe: 'scgpt', dump: data.symbols, params: params.scgpt },
      benchmark: { recipe: 'benchmark', dump: data.ensembl, params: params.benchmark },
    });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the file is what the tests need: FPKM (non-integer, varying totals), versioned Ensembl var_names', () => {
    assert.ok(data.ensembl.meta.varNames.every(n => /^ENSG\d{11}\.\d+$/.test(n)));
    assert.ok(Array.from(data.ensembl.X.data).some(v => !Number.isInteger(v)));
  });

  it('refuses FPKM as counts, naming "input": "normalized" (not inputIsLogNormalized), and writes nothing', async () => {
    for (const recipe of [
      parseRecipe({ recipe: 'scgpt', params: { vocab: VOCAB_FILE, geneColumn: 'gene_symbols' } }),
      parseRecipe({ recipe: 'scbert', params: { referenceGenes: params.scbert.referenceGenes } }),
    ]) {
      const out = path.join(dir, `refused_${recipe.recipe}.h5ad`);
      await assert.rejects(runRecipe(recipe, file, out), (e: unknown) => e instanceof H5adError && e.file === path.resolve(file) &&
        /non-integer/.test(e.problem) && /"input": "normalized" for TPM, FPKM or CPM/.test(e.problem) && !/inputIsLogNormalized/.test(e.problem));
      assert.strictEqual(fs.existsSync(out), false);
    }
  });

  it('scBERT with "input": "normalized": versioned ids match the unversioned list; normalise + log2 as the reference; uns records the input', async () => {
    const out = path.join(dir, 'scbert.h5ad');
    const report = await runRecipe(parseRecipe({ recipe: 'scbert', params: params.scbert }), file, out);
    assert.strictEqual(report.referenceGenesFound, 1500);
    assert.strictEqual(report.input, 'normalized');
    assert.strictEqual(report.normalized, true);
    const seen = runPythonJson<SeenByAnndata>('preprocess_read_output.py', [out, file]);
    assertSeenAsReference(seen, ref.scbert, data.ensembl.meta.obsNames);
    assert.deepStrictEqual(seen.varNames, refList);
    assert.strictEqual(JSON.parse(seen.uns[PROVENANCE_KEY].params).input, 'normalized');
    assert.strictEqual(JSON.parse(seen.uns[PROVENANCE_KEY].report).input, 'normalized');
  });

  it('scGPT with "input": "normalized" and the symbols column: vocabulary genes, normalise + log1p, bins as the reference', async () => {
    const out = path.join(dir, 'scgpt.h5ad');
    const report = await runRecipe(parseRecipe({ recipe: 'scgpt', params: params.scgpt }), file, out);
    assert.strictEqual(report.input, 'normalized');
    assert.strictEqual(report.genesInVocab, made.nVars - 40, 'every symbol but the 40 novel ones');
    const seen = runPythonJson<SeenByAnndata>('preprocess_read_output.py', [out, file]);
    assertSeenAsReference(seen, ref.scgpt, data.symbols.meta.obsNames);
    assert.deepStrictEqual(seen.layers.X_binned.data, ref.scgpt.bins);
    assert.deepStrictEqual(seen.var.id_in_vocab, ref.scgpt.idInVocab);
    assert.strictEqual(JSON.parse(seen.uns[PROVENANCE_KEY].params).input, 'normalized');
  });

  it('benchmark with "input": "normalized": log1p of the stored FPKM values, bins as the reference', async () => {
    const sink = memorySink();
    const report = await runPipeline(parseRecipe({ recipe: 'benchmark', params: params.benchmark }), dumpSource(data.ensembl), sink, { inputSha256: 'ab'.repeat(32) });
    assert.ok(sink.result);
    assertMatchesReference(sink.result, ref.benchmark, 'X_binned');
    assert.strictEqual(report.input, 'normalized');
  });

  it('versioned Ensembl ids find an unversioned vocabulary entry (and keep their own name)', async () => {
    const ids = new Map<string, number>();
    made.ensembl.slice(0, 10).forEach((e, i) => ids.set(e, 100 + i));
    const sink = memorySink();
    const source = dumpSource(data.ensembl);
    const report = await runPipeline(parseRecipe({ recipe: 'benchmark', params: { vocab: 'ids.json', input: 'normalized' } }), source, sink, { inputSha256: 'ab'.repeat(32), vocab: ids });
    assert.strictEqual(report.genesInVocab, 10);
    assert.ok(sink.result);
    assert.deepStrictEqual(sink.result.layout.varNames, data.ensembl.meta.varNames.slice(0, 10));
    const idCol = sink.result.layout.varColumns.find(c => c.name === 'id_in_vocab');
    assert.ok(idCol && idCol.kind === 'numeric');
    assert.deepStrictEqual(Array.from(idCol.values), Array.from({ length: 10 }, (_, i) => 100 + i));
  });

  it('the gene comparison\'s headline counts the best column: symbols beside Ensembl var_names; versions ignored', async () => {
    const vocab = await runTask<GeneOverlapResult>('h5ad/tasks', 'geneOverlap', { path: file, genesFile: VOCAB_FILE });
    assert.strictEqual(vocab.matchedOn, 'gene_symbols');
    assert.strictEqual(vocab.bestOfCandidates, true);
    assert.strictEqual(vocab.nOverlap, made.nVars - 40);
    assert.deepStrictEqual(vocab.byColumn, [{ column: 'var_names', nOverlap: 0 }, { column: 'gene_symbols', nOverlap: made.nVars - 40 }]);
    // an unversioned id list matches the versioned var_names
    const ids = await runTask<GeneOverlapResult>('h5ad/tasks', 'geneOverlap', { path: file, genesFile: params.scbert.referenceGenes });
    assert.deepStrictEqual([ids.matchedOn, ids.nOverlap, ids.nReference], ['var_names', 1500, 1501]);
    // asked for a column, it is used even when another matches better
    const asked = await runTask<GeneOverlapResult>('h5ad/tasks', 'geneOverlap', { path: file, genesFile: VOCAB_FILE, geneColumn: 'gene_symbols' });
    assert.deepStrictEqual([asked.matchedOn, asked.bestOfCandidates], ['gene_symbols', false]);
    // the model compatibility check matches versions the same way
    const facts = compareGenes(data.ensembl.meta.varNames, made.ensembl.slice(0, 100), 'var_names', new Map());
    assert.strictEqual(facts.nOverlap, 100);
    assert.deepStrictEqual(facts.missingFromData, []);
  });

  describe('the recipe parameter', () => {
    it('"input" defaults to counts in every recipe; inputIsLogNormalized stays an alias of "log-normalized"', () => {
      assert.strictEqual(parseRecipe({ recipe: 'benchmark' }).params.input, 'counts');
      assert.strictEqual(parseRecipe({ recipe: 'scbert', params: { referenceGenes: 'g.txt' } }).params.input, 'counts');
      const alias = parseRecipe({ recipe: 'scgpt', params: { vocab: 'v.json', inputIsLogNormalized: true } });
      assert.ok(alias.recipe === 'scgpt');
      assert.strictEqual(alias.params.input, 'log-normalized');
      assert.ok(!('inputIsLogNormalized' in alias.params));
      const plain = parseRecipe({ recipe: 'scgpt', params: { vocab: 'v.json', inputIsLogNormalized: false } });
      assert.strictEqual(plain.params.input, 'counts');
      assert.strictEqual(parseRecipe({ recipe: 'scgpt', params: { vocab: 'v.json', input: 'log-normalized', inputIsLogNormalized: true } }).params.input, 'log-normalized');
    });

    it('refuses an unknown input kind and an alias that contradicts "input", naming the file', () => {
      assert.throws(() => parseRecipe({ recipe: 'scbert', params: { referenceGenes: 'g.txt', input: 'tpm' } }, 'r.json'),
        (e: unknown) => e instanceof H5adError && e.file === 'r.json' && /params\.input/.test(e.problem));
      assert.throws(() => parseRecipe({ recipe: 'scgpt', params: { vocab: 'v.json', input: 'normalized', inputIsLogNormalized: true } }, 'r.json'),
        (e: unknown) => e instanceof H5adError && /inputIsLogNormalized: true contradicts "input": "normalized"/.test(e.problem));
    });
  });
});
