/**
 * The demo-data simulator: its samplers against their analytic moments, and a small simulation read back by
 * anndata 0.8 and checked with numpy/sklearn (test/python/h5ad_write_simulation.py).
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { CELL_TYPES, designSimulation, geneSymbols, simulateRows, simulateToH5ad } from '../../../src/core/simulate';
import { AliasTable, SimRng } from '../../../src/core/simulate-rng';
import { runPythonJson, tempDir } from '../../helpers/shared';

interface SimCheck {
  shape: [number, number];
  integral: boolean;
  dtype: string;
  zero_fraction: number;
  type_counts: Record<string, number>;
  categories: string[];
  donors: string[];
  batches: string[];
  n_counts_match: boolean;
  var_names_unique: boolean;
  obs_names_unique: boolean;
  gene_ids: string[];
  marker_means: Record<string, [number, number]>;
  logreg_accuracy: number;
  x_sum: number;
  uns_seed: number;
}

function sum(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s;
}

function moments(draw: () => number, n: number): { mean: number; variance: number } {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const x = draw();
    s += x;
    s2 += x * x;
  }
  const mean = s / n;
  return { mean, variance: s2 / n - mean * mean };
}

describe('simulator samplers', () => {
  const n = 200_000;
  it('match the analytic mean and variance of their laws', () => {
    const rng = new SimRng(7);
    const close = (got: number, want: number, rel: number, what: string): void =>
      assert.ok(Math.abs(got - want) <= rel * want, `${what}: ${got} vs ${want}`);
    const u = moments(() => rng.uniform(), n);
    close(u.mean, 0.5, 0.01, 'uniform mean');
    close(u.variance, 1 / 12, 0.02, 'uniform variance');
    const z = moments(() => rng.normal(), n);
    assert.ok(Math.abs(z.mean) < 0.01, `normal mean ${z.mean}`);
    close(z.variance, 1, 0.02, 'normal variance');
    for (const shape of [0.5, 4]) {
      const g = moments(() => rng.gamma(shape), n);
      close(g.mean, shape, 0.02, `gamma(${shape}) mean`);
      close(g.variance, shape, 0.05, `gamma(${shape}) variance`);
    }
    for (const mean of [0.3, 5, 40, 900]) {
      const p = moments(() => rng.poisson(mean), n);
      close(p.mean, mean, 0.02, `poisson(${mean}) mean`);
      close(p.variance, mean, 0.05, `poisson(${mean}) variance`);
    }
    const nb = moments(() => rng.negativeBinomial(6, 4), n);
    close(nb.mean, 6, 0.02, 'NB mean');
    close(nb.variance, 6 + 36 / 4, 0.05, 'NB variance');
    const table = new AliasTable([1, 2, 3, 4]);
    const hits = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) hits[table.draw(rng)]++;
    hits.forEach((h, i) => close(h / n, (i + 1) / 10, 0.03, `alias share ${i}`));
  });

  it('repeat exactly for a seed and stream, and differ across streams', () => {
    const a = new SimRng(3, 10);
    const b = new SimRng(3, 10);
    const c = new SimRng(3, 11);
    const xs = Array.from({ length: 8 }, () => a.nextU32());
    assert.deepStrictEqual(Array.from({ length: 8 }, () => b.nextU32()), xs);
    assert.notDeepStrictEqual(Array.from({ length: 8 }, () => c.nextU32()), xs);
  });
});

describe('simulated PBMC-like data (read back by anndata 0.8)', () => {
  let dir: string;
  before(() => { dir = tempDir('scwb-simulate-'); });
  after(() => { fs.rmSync(dir, { recursive: true, force: true }); });

  it('takes the median counts per cell when given (the demo simulates PBMC depth), else scales Zheng68K\'s', () => {
    assert.strictEqual(designSimulation({ nCells: 10, nGenes: 2000, seed: 7 }).medianLibrary, 300);
    assert.strictEqual(designSimulation({ nCells: 10, nGenes: 16906, seed: 7 }).medianLibrary, 1500);
    assert.strictEqual(designSimulation({ nCells: 10, nGenes: 2000, seed: 7, medianCounts: 1500 }).medianLibrary, 1500);
    assert.throws(() => designSimulation({ nCells: 10, nGenes: 2000, medianCounts: 0 }), /median counts must be a positive integer, got 0/);
    // deeper cells express more genes: more non-zeros per row
    const nnz = (medianCounts?: number) => simulateRows(designSimulation({ nCells: 200, nGenes: 2000, seed: 7, medianCounts }), 0, 200).block.indptr[200];
    assert.ok(nnz(1500) > 2 * nnz(), `${nnz(1500)} vs ${nnz()}`);
  });

  it('gene symbols are unique, symbol-like and include the real markers', () => {
    const genes = geneSymbols(16906);
    assert.strictEqual(new Set(genes).size, 16906);
    for (const g of genes) assert.match(g, /^[A-Z][A-Za-z0-9.-]*$/, g);
    for (const m of ['CD3D', 'CD8A', 'MS4A1', 'CD14', 'LYZ', 'NKG7', 'GNLY', 'FCGR3A', 'PPBP']) assert.ok(genes.includes(m), m);
    assert.deepStrictEqual(geneSymbols(300), geneSymbols(300), 'deterministic');
  });

  it('writes counts with realistic sparsity, unequal types, markers and learnable but overlapping types', async () => {
    const out = path.join(dir, 'sim.h5ad');
    const summary = await simulateToH5ad(out, { nCells: 1500, nGenes: 1000, seed: 5, blockRows: 400 });
    const markers: Record<string, string[]> = {
      'CD19+ B': ['MS4A1', 'CD79A'],
      'CD14+ Monocyte': ['CD14', 'LYZ'],
      'CD56+ NK': ['GNLY', 'NKG7'],
      'CD8+ Cytotoxic T': ['CD8A', 'CD3D'],
      'CD4+/CD25 T Reg': ['FOXP3'],
      'Dendritic': ['FCER1A'],
    };
    const py = runPythonJson<SimCheck>('h5ad_write_simulation.py', [out, JSON.stringify(markers)]);
    assert.deepStrictEqual(py.shape, [1500, 1000]);
    assert.ok(py.integral, 'positive integer counts');
    assert.strictEqual(py.dtype, 'float32');
    assert.ok(py.zero_fraction > 0.85 && py.zero_fraction < 0.98, `zero fraction ${py.zero_fraction}`);
    assert.deepStrictEqual(py.categories, CELL_TYPES.slice(0, 11).map(t => t.name));
    assert.deepStrictEqual(py.type_counts, Object.fromEntries(Object.entries(summary.typeCounts).sort(([a], [b]) => (a < b ? -1 : 1))));
    const counts = Object.values(py.type_counts);
    assert.strictEqual(counts.length, 11, 'all types present');
    assert.ok(Math.max(...counts) / 1500 > 0.25, 'one dominant type');
    assert.ok(Math.min(...counts) <= 0.01 * 1500, 'rare types');
    assert.deepStrictEqual(py.donors, ['donor_1', 'donor_2', 'donor_3', 'donor_4']);
    assert.deepStrictEqual(py.batches, ['batch_1', 'batch_2']);
    assert.ok(py.n_counts_match && py.var_names_unique && py.obs_names_unique);
    assert.match(py.gene_ids[0], /^ENSG\d{11}$/);
    for (const [key, [inside, outside]] of Object.entries(py.marker_means)) {
      assert.ok(inside > 1.5 * outside && inside > 0.5, `${key}: mean log1p ${inside} in type vs ${outside} outside`);
    }
    assert.strictEqual(Object.keys(py.marker_means).length, 10);
    // Chance (the majority class) is ~0.30; the T-cell subsets overlap, so not all cells are separable.
    assert.ok(py.logreg_accuracy > 0.6 && py.logreg_accuracy < 0.97, `logistic regression accuracy ${py.logreg_accuracy}`);
    assert.strictEqual(py.uns_seed, 5);

    // Deterministic and independent of blocking: one 1500-row block in memory sums to the file's X.
    const d = designSimulation({ nCells: 1500, nGenes: 1000, seed: 5 });
    const whole = simulateRows(d, 0, 1500).block;
    assert.strictEqual(sum(whole.data), py.x_sum);
    const other = simulateRows(designSimulation({ nCells: 1500, nGenes: 1000, seed: 6 }), 0, 1500).block;
    assert.notStrictEqual(sum(other.data), py.x_sum);
  });
});
