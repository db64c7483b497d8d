/**
 * Dataset statistics: the pure functions against numpy, and the worker tasks (summarize, datasetStats,
 * geneOverlap) run through runTask on real files against anndata + numpy.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { openH5ad } from '../../../src/core/h5ad/read';
import { composition, detectGeneNamespace, geneOverlap, histogram, parseGeneReference } from '../../../src/core/h5ad/stats';
import type { DatasetStats, GeneOverlapResult } from '../../../src/core/h5ad/tasks';
import { DatasetSummary, H5adError } from '../../../src/core/h5ad/types';
import { runTask } from '../../../src/core/workers/run-task';
import { REFERENCE_DIR, h5adPath, runPythonJson, tempDir } from '../../helpers/shared';

interface Hist { edges: number[]; counts: number[] }
interface RefStats {
  totals: Hist; totalsMean: number; totalsMedian: number; genes: Hist; genesMean: number; sparsity: number; stored: number;
  nNonInteger: number; min: number; max: number; composition?: Record<string, number>; missing?: number;
  overlap?: { nDataGenes: number; nReference: number; nOverlap: number; missing: string[] };
}

const VOCAB = path.join(REFERENCE_DIR, 'scgpt_vocab.json');

function closeArrays(a: number[], b: number[], what: string): void {
  assert.strictEqual(a.length, b.length, `${what}: length`);
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) <= 1e-9 * Math.max(1, Math.abs(b[i])), `${what}[${i}]: ${v} vs ${b[i]}`));
}

const HIST_SAMPLES = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  [0.1, 0.2, 0.3, 0.7, 1e-9, 0.3000000000000001, 2.2],
  [4, 4, 4],
  Array.from({ length: 500 }, (_, i) => Math.sin(i) * 1000 + (i % 7) * 0.1),
];
const HIST_BINS = [3, 50];
const STATS_CASES: { file: string; matrix: string; column?: string; kind: string }[] = [
  { file: 'scanpy_t-cells.h5ad', matrix: 'layers/raw_counts', column: 'cell_type', kind: 'raw-counts' },
  { file: 'scanpy_pbmc68k_reduced_2025.h5ad', matrix: 'raw/X', column: 'bulk_labels', kind: 'log-normalized' },
  { file: 'scanpy_pbmc68k_reduced_2025.h5ad', matrix: 'X', kind: 'scaled' },
];

describe('h5ad statistics', () => {
  const dir = tempDir('scwb-h5ad-stats-');
  const modern = path.join(dir, 'modern.h5ad');
  const pbmc = h5adPath('scanpy_pbmc68k_reduced_2025.h5ad');
  let histRefs: Hist[];
  let modernRef: RefStats;
  let vocabRef: RefStats;
  let caseRefs: RefStats[];

  before(() => {
    runPythonJson('h5ad_read_make.py', ['modern', modern]);
    const jobs = [
      ...HIST_SAMPLES.flatMap(values => HIST_BINS.map(bins => ({ op: 'histogram', values, bins }))),
      { op: 'stats', path: modern, matrix: 'X', column: 'cell_type' },
      { op: 'stats', path: pbmc, matrix: 'X', genes: VOCAB },
      ...STATS_CASES.map(c => ({ op: 'stats', path: h5adPath(c.file), matrix: c.matrix, column: c.column ?? null })),
    ];
    const out = runPythonJson<unknown[]>('h5ad_read_stats.py', [], JSON.stringify(jobs));
    const nHist = HIST_SAMPLES.length * HIST_BINS.length;
    histRefs = out.slice(0, nHist) as Hist[];
    [modernRef, vocabRef] = out.slice(nHist, nHist + 2) as RefStats[];
    caseRefs = out.slice(nHist + 2) as RefStats[];
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('histogram matches numpy.histogram, constant samples and edge values included', () => {
    let i = 0;
    for (const values of HIST_SAMPLES) {
      for (const bins of HIST_BINS) {
        const ref = histRefs[i++];
        const ours = histogram(values, bins);
        assert.deepStrictEqual(ours.counts, ref.counts);
        closeArrays(ours.edges, ref.edges, 'edges');
      }
    }
  });

  it('recognises Ensembl ids and symbols in real var names', async () => {
    const tcells = await openH5ad(h5adPath('scanpy_t-cells.h5ad'));
    const v = tcells.var();
    tcells.close();
    // scanpy's t-cells file: var_names are mouse Ensembl ids, gene_symbols holds capitalised mouse symbols.
    assert.strictEqual(detectGeneNamespace(v.index).namespace, 'ensembl-mouse');
    const symbols = v.columns.find(c => c.name === 'gene_symbols');
    assert.ok(symbols && symbols.kind === 'categorical');
    const ns = detectGeneNamespace(Array.from(symbols.codes, c => symbols.categories[c]));
    assert.deepStrictEqual([ns.namespace, ns.symbolCase], ['symbol', 'capitalized']);
    const reader = await openH5ad(pbmc);
    const human = detectGeneNamespace(reader.var().index);
    reader.close();
    assert.deepStrictEqual([human.namespace, human.symbolCase], ['symbol', 'upper']);
    const vocab = parseGeneReference(fs.readFileSync(VOCAB, 'utf8'));
    assert.ok(!vocab.includes('<pad>') && !vocab.includes('<cls>'), 'special tokens are not genes');
    assert.strictEqual(vocab.length, vocabRef.overlap!.nReference);
  });

  it('lists string values in text order (numbers inside compared as numbers) and numbers ascending', () => {
    const text = composition({ kind: 'string', name: 'cluster', values: ['c10', 'c2', 'c2', 'b', 'c10', 'c10'] });
    assert.deepStrictEqual(text.counts, [{ value: 'b', count: 1 }, { value: 'c2', count: 2 }, { value: 'c10', count: 3 }]);
    const numbers = composition({ kind: 'numeric', name: 'plate', dtype: 'int64', values: Float64Array.from([3, 1, 3, 2, 3]) });
    assert.deepStrictEqual(numbers.counts.map(c => c.value), ['1', '2', '3']);
  });

  it('counts a categorical column with missing values like pandas value_counts', async () => {
    const reader = await openH5ad(modern);
    const col = reader.obs().columns.find(c => c.name === 'cell_type')!;
    const comp = composition(col);
    reader.close();
    assert.deepStrictEqual(Object.fromEntries(comp.counts.map(c => [c.value, c.count])), modernRef.composition);
    assert.strictEqual(comp.nMissing, modernRef.missing);
    // bars in the column's category order, not by frequency
    assert.ok(col.kind === 'categorical');
    assert.deepStrictEqual(comp.counts.map(c => c.value), col.categories);
  });

  it('geneOverlap (worker) counts data genes in scGPT\'s vocabulary and in a text list as Python does', async () => {
    const r = await runTask<GeneOverlapResult>('h5ad/tasks', 'geneOverlap', { path: pbmc, genesFile: VOCAB });
    const o = vocabRef.overlap!;
    assert.deepStrictEqual([r.nDataGenes, r.nReference, r.nOverlap], [o.nDataGenes, o.nReference, o.nOverlap]);
    assert.ok(r.examplesMissing.every(g => o.missing.includes(g)));
    assert.strictEqual(r.examplesMissing.length, Math.min(20, o.missing.length));
    // A text list (one gene per line, # comments), matched on a var column.
    const list = path.join(dir, 'genes.txt');
    fs.writeFileSync(list, '# a few symbols\nGENE1\nGENE4\n\nGENE22\nNOT_A_GENE\n');
    const t = await runTask<GeneOverlapResult>('h5ad/tasks', 'geneOverlap', { path: modern, genesFile: list, geneColumn: 'gene_symbols' });
    assert.deepStrictEqual([t.nDataGenes, t.nReference, t.nOverlap, t.matchedOn], [23, 4, 3, 'gene_symbols']);
    assert.deepStrictEqual(t.byColumn, [{ column: 'var_names', nOverlap: 0 }, { column: 'gene_symbols', nOverlap: 3 }]);
    assert.deepStrictEqual(geneOverlap(['A', 'B', 'B', 'C'], ['B', 'C', 'D']), { nDataGenes: 3, nReference: 3, nOverlap: 2, examplesMissing: ['A'] });
  });

  it('datasetStats (worker) matches numpy on raw counts, log-normalised and scaled matrices', async () => {
    const progress: number[][] = STATS_CASES.map(() => []);
    const results = await Promise.all(STATS_CASES.map((c, i) => runTask<DatasetStats>(
      'h5ad/tasks', 'datasetStats', { path: h5adPath(c.file), matrix: c.matrix, column: c.column, blockRows: 64 }, { onProgress: f => progress[i].push(f) },
    )));
    STATS_CASES.forEach((c, i) => {
      const s = results[i];
      const ref = caseRefs[i];
      const what = `${c.file} ${c.matrix}`;
      assert.deepStrictEqual(s.totalCounts.histogram.counts, ref.totals.counts, `${what}: totals histogram`);
      closeArrays(s.totalCounts.histogram.edges, ref.totals.edges, `${what}: totals edges`);
      assert.deepStrictEqual(s.genesPerCell.histogram.counts, ref.genes.counts, `${what}: genes histogram`);
      closeArrays([s.totalCounts.mean, s.totalCounts.median, s.genesPerCell.mean, s.sparsity], [ref.totalsMean, ref.totalsMedian, ref.genesMean, ref.sparsity], what);
      assert.deepStrictEqual([s.stored, s.values.nNonInteger, s.values.min, s.values.max], [ref.stored, ref.nNonInteger, ref.min, ref.max], what);
      assert.strictEqual(s.values.kind, c.kind, `${what}: ${s.values.reason}`);
      if (c.column) {
        assert.deepStrictEqual(Object.fromEntries(s.composition!.counts.filter(x => x.count > 0).map(x => [x.value, x.count])), ref.composition);
      }
      assert.strictEqual(progress[i][progress[i].length - 1], 1);
    });
  });

  it('summarize (worker) equals the in-process summary; errors keep file and problem', async () => {
    const file = h5adPath('anndata_v0.7.0_adata.h5ad');
    const tenx = h5adPath('10x_v3_filtered_feature_bc_matrix.h5');
    const [viaWorker] = await Promise.all([
      runTask<DatasetSummary>('h5ad/tasks', 'summarize', { path: file }),
      assert.rejects(runTask('h5ad/tasks', 'summarize', { path: tenx }), (e: unknown) => e instanceof H5adError && e.file === tenx && /10x Genomics/.test(e.problem)),
      assert.rejects(
        runTask('h5ad/tasks', 'datasetStats', { path: h5adPath('anndata_v0.11.4_adata.h5ad') }),
        (e: unknown) => e instanceof H5adError && /has no X/.test(e.problem),
      ),
    ]);
    const reader = await openH5ad(file);
    assert.deepStrictEqual(viaWorker, reader.summary());
    reader.close();
  });
});
