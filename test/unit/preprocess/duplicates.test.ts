/**
 * Duplicated gene names (issue 14): each recipe's default does what its published code does with them, through
 * the real reader and writer on an .h5ad written by anndata, compared with test/python/preprocess_duplicates.py.
 *   scBERT: the script looks each reference gene up with list.index, so the first column with the name counts; a
 *           cell built at the min-genes boundary is dropped by that rule and kept when duplicates are summed.
 *   scGPT: every vocabulary column is kept, duplicates included, with the same token id; scanpy's Seurat v3
 *          selection marks genes by name, so all columns of a selected name are kept.
 *   benchmark: its scBank conversion maps every column to the name's token id: duplicates are kept.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { describeDuplicates, type PreprocessReport } from '../../../src/core/preprocess/pipeline';
import { PROVENANCE_KEY } from '../../../src/core/preprocess/provenance';
import { parseRecipe, type RecipeInput } from '../../../src/core/preprocess/recipe';
import { runRecipe } from '../../../src/core/preprocess/run';
import { runPythonJson, tempDir } from '../../helpers/shared';
import type { ReferenceOutput } from './fixtures';

const MIN_GENES = 40;

interface Made {
  nCells: number;
  nCols: number;
  names: string[];
  boundary: { keptBySumOnly: number; keptByBoth: number; droppedByBoth: number };
  duplicateColumnsInReference: number;
}

interface Seen {
  X: { indptr: number[]; indices: number[]; data: number[]; dtype: string };
  layers: Record<string, { indptr: number[]; indices: number[]; data: number[] }>;
  varNames: string[];
  var: Record<string, (number | string | boolean | null)[]>;
  obsNames: string[];
  obsNGenes: number[] | null;
  uns: Record<string, Record<string, string>>;
}

type Case = 'scbertDefault' | 'scbertSum' | 'scgpt' | 'benchmark';

const obsName = (i: number) => `cell${i}`;

/** Same genes, cells and sparsity pattern as the reference, values within float32 rounding. */
function assertSameOutput(s: Seen, r: ReferenceOutput): void {
  assert.deepStrictEqual(s.varNames, r.varNames, 'gene order');
  assert.deepStrictEqual(s.obsNames, r.keptCells.map(obsName), 'cells kept');
  assert.deepStrictEqual(s.X.indptr, r.X.indptr);
  assert.deepStrictEqual(s.X.indices, r.X.indices);
  s.X.data.forEach((v, k) => assert.ok(Math.abs(v - r.X.data[k]) <= 1e-6 * Math.abs(r.X.data[k]), `value ${k}: ${v} vs ${r.X.data[k]}`));
}

describe('duplicated gene names: each recipe as its published code', () => {
  let dir: string;
  let made: Made;
  let input: string;
  const params: Record<Case, RecipeInput> = {} as Record<Case, RecipeInput>;
  const reports = {} as Record<Case, PreprocessReport>;
  const seen = {} as Record<Case, Seen>;
  let ref: Record<Case, ReferenceOutput>;

  before(async () => {
    dir = tempDir('scwb-preprocess-dup-');
    made = runPythonJson<Made>('preprocess_duplicates.py', ['make', dir, String(MIN_GENES)]);
    input = path.join(dir, 'dup.h5ad');
    const referenceGenes = path.join(dir, 'reference.txt');
    const vocab = path.join(dir, 'vocab.json');
    // scbertDefault leaves duplicateGenes unset: the default must be the script's rule.
    params.scbertDefault = { recipe: 'scbert', params: { referenceGenes, minGenes: MIN_GENES } };
    params.scbertSum = { recipe: 'scbert', params: { referenceGenes, minGenes: MIN_GENES, duplicateGenes: 'sum' } };
    params.scgpt = { recipe: 'scgpt', params: { vocab, nTopGenes: 30, seed: 2 } };
    params.benchmark = { recipe: 'benchmark', params: { vocab, mode: 'bin', seed: 4 } };
    const cases = Object.keys(params) as Case[];
    const outputs: string[] = [];
    for (const c of cases) {
      const out = path.join(dir, `${c}.h5ad`);
      reports[c] = await runRecipe(parseRecipe(params[c]), input, out, undefined, { blockRows: 16 });
      outputs.push(out, input);
    }
    const read = runPythonJson<Seen[]>('preprocess_read_output.py', outputs);
    cases.forEach((c, i) => { seen[c] = read[i]; });
    const jobs = path.join(dir, 'jobs.json');
    fs.writeFileSync(jobs, JSON.stringify(cases.map(c => ({ recipe: params[c].recipe, h5ad: input, params: params[c].params }))));
    const outs = runPythonJson<ReferenceOutput[]>('preprocess_duplicates.py', ['reference', jobs]);
    ref = Object.fromEntries(cases.map((c, i) => [c, outs[i]])) as Record<Case, ReferenceOutput>;
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));


  it('scBERT by default keeps the first column of a duplicated gene, as the script: same cells, genes and values exactly', () => {
    const s = seen.scbertDefault;
    const r = ref.scbertDefault;
    assert.strictEqual(r.duplicateGenesRule, 'first');
    assert.deepStrictEqual(s.varNames, r.varNames, 'gene order');
    assert.deepStrictEqual(s.obsNames, r.keptCells.map(obsName), 'cells kept');
    assert.deepStrictEqual(s.X.indptr, r.X.indptr);
    assert.deepStrictEqual(s.X.indices, r.X.indices);
    assert.strictEqual(s.X.dtype, 'float32');
    const differing = s.X.data.filter((v, k) => v !== r.X.data[k]).length;
    assert.strictEqual(differing, 0, `${differing} of ${r.X.data.length} values differ from the script's rule`);
    assert.deepStrictEqual(s.obsNGenes, r.nGenes);
    // The boundary cells: the script's rule sees MIN_GENES - 1 genes in the first and third.
    const kept = new Set(s.obsNames);
    assert.ok(!kept.has(obsName(made.boundary.keptBySumOnly)), 'dropped: its extra gene is only in a later duplicate column');
    assert.ok(kept.has(obsName(made.boundary.keptByBoth)));
    assert.ok(!kept.has(obsName(made.boundary.droppedByBoth)));
    // The report says how many duplicate columns there were and which rule was used, also in the file.
    const report = reports.scbertDefault;
    assert.strictEqual(report.duplicateColumns, made.duplicateColumnsInReference);
    assert.strictEqual(report.duplicateColumns, r.duplicateColumns);
    assert.strictEqual(report.duplicatedGenes, r.duplicatedGenes);
    assert.strictEqual(report.duplicateGenesRule, 'first');
    const prov = s.uns[PROVENANCE_KEY];
    assert.deepStrictEqual(JSON.parse(prov.report), report);
    assert.strictEqual(JSON.parse(prov.params).duplicateGenes, 'first');
  });

  it('scBERT with duplicateGenes "sum" adds the columns and keeps the boundary cell the script drops', () => {
    const s = seen.scbertSum;
    const r = ref.scbertSum;
    assertSameOutput(s, r);
    const kept = new Set(s.obsNames);
    assert.ok(kept.has(obsName(made.boundary.keptBySumOnly)), 'kept: its duplicate column adds the MIN_GENES-th gene');
    assert.ok(kept.has(obsName(made.boundary.keptByBoth)));
    assert.ok(!kept.has(obsName(made.boundary.droppedByBoth)));
    assert.ok(s.obsNames.length > seen.scbertDefault.obsNames.length);
    assert.strictEqual(reports.scbertSum.duplicateGenesRule, 'sum');
    assert.strictEqual(reports.scbertSum.duplicateColumns, made.duplicateColumnsInReference);
    // Where a cell is kept by both rules, a gene with an expressed duplicate column has a larger value when summed.
    const row = (x: Seen, name: string) => {
      const i = x.obsNames.indexOf(name);
      const m = new Map<number, number>();
      for (let k = x.X.indptr[i]; k < x.X.indptr[i + 1]; k++) m.set(x.X.indices[k], x.X.data[k]);
      return m;
    };
    const both = obsName(made.boundary.keptByBoth);
    assert.notDeepStrictEqual(row(s, both), row(seen.scbertDefault, both));
  });

  it('scGPT keeps every duplicated vocabulary column with the same token id and selects genes by name like scanpy', () => {
    const s = seen.scgpt;
    const r = ref.scgpt;
    assertSameOutput(s, r);
    assert.deepStrictEqual(s.layers.X_binned.data, r.bins);
    assert.deepStrictEqual(s.var.id_in_vocab, r.idInVocab);
    // More than nTopGenes columns: a selected name brings all its columns, each with the name's id.
    assert.ok(s.varNames.length > 30, `${s.varNames.length} genes`);
    const ids = new Map<string, number>();
    let repeated = 0;
    s.varNames.forEach((g, i) => {
      const id = s.var.id_in_vocab[i] as number;
      if (ids.has(g)) {
        repeated++;
        assert.strictEqual(id, ids.get(g), `token id of ${g}`);
      } else ids.set(g, id);
    });
    assert.ok(repeated > 0, 'some duplicated names are among the selected genes');
    for (const g of new Set(s.varNames)) {
      const inData = made.names.filter(n => n === g).length;
      assert.strictEqual(s.varNames.filter(n => n === g).length, inData, `every column of ${g} is selected`);
    }
    assert.strictEqual(reports.scgpt.duplicateGenesRule, 'keep');
    assert.strictEqual(reports.scgpt.duplicateColumns, r.duplicateColumns);
    assert.ok(reports.scgpt.duplicateColumns > 0);
  });

  it('benchmark keeps every duplicated vocabulary column with the same token id, as its scBank conversion', () => {
    const s = seen.benchmark;
    const r = ref.benchmark;
    assertSameOutput(s, r);
    assert.deepStrictEqual(s.layers.X_binned.data, r.bins);
    assert.deepStrictEqual(s.var.id_in_vocab, r.idInVocab);
    const vocab = JSON.parse(fs.readFileSync(path.join(dir, 'vocab.json'), 'utf8')) as Record<string, number>;
    assert.deepStrictEqual(s.varNames, made.names.filter(g => g in vocab), 'every vocabulary column, in data order');
    assert.strictEqual(reports.benchmark.duplicateGenesRule, 'keep');
    assert.strictEqual(reports.benchmark.duplicateColumns, r.duplicateColumns);
    assert.ok(reports.benchmark.duplicateColumns > 0);
  });

  it('tells the user how many names were duplicated and what the recipe did with them', () => {
    const r = reports.scbertDefault;
    assert.strictEqual(describeDuplicates(r),
      `${r.duplicatedGenes} gene names on more than one column (${r.duplicateColumns} extra columns): the first column of each was used, as scBERT's script does`);
    assert.match(describeDuplicates(reports.scbertSum)!, /: their columns were summed$/);
    assert.match(describeDuplicates(reports.scgpt)!, /every column was kept with the name's token id/);
    assert.strictEqual(describeDuplicates({ duplicateColumns: 1, duplicatedGenes: 1, duplicateGenesRule: 'sum' }),
      '1 gene name on more than one column (1 extra column): their columns were summed');
    assert.strictEqual(describeDuplicates({ duplicateColumns: 0, duplicatedGenes: 0, duplicateGenesRule: 'first' }), null);
  });
});
