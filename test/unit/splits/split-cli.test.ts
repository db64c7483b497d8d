import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { main } from '../../../src/cli/main';
import { MT19937 } from '../../../src/core/random/mt19937';
import { h5adPath, runPythonJson, tempDir } from '../../helpers/shared';

interface Result { n: number; train: number[]; test: number[]; fewshot?: number[] }

async function scwb(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: t => { out += t; }, err: t => { err += t; } });
  return { code, out, err };
}

function scrambled(counts: Record<string, number>, seed: number): string[] {
  const out: string[] = [];
  for (const [k, c] of Object.entries(counts)) for (let i = 0; i < c; i++) out.push(k);
  new MT19937(seed).shuffle(out);
  return out;
}

describe('scwb split vs scikit-learn / numpy', () => {
  const PBMC = h5adPath('scanpy_pbmc68k_reduced_2025.h5ad');
  const cellTypes = scrambled({ 'CD8+ Cytotoxic T': 210, 'CD56+ NK': 90, 'CD19+ B': 60, 'Dendritic': 25, 'CD34+': 4, 'CD4+ T Helper2': 2 }, 5);
  const ints = scrambled({ 10: 40, 2: 30, 3: 20, 100: 10 }, 8).map(Number);
  const quotedNames = scrambled({ 'T, naive': 50, 'B "memory"': 30, NK: 20 }, 9);
  // One Python run for every reference: importing sklearn dominates the time.
  const requests = [
    { kind: 'pipeline', labels: cellTypes, test_size: 0.2, seed: 2022, fraction: 0.25, fraction_seed: 2021 },
    { kind: 'pipeline', labels: ints, test_size: 0.3, seed: 7 },
    { kind: 'pipeline', labels: quotedNames, test_size: 0.2, seed: 0 },
    { kind: 'pipeline', path: PBMC, column: 'bulk_labels', test_size: 0.2, seed: 2022, fraction: 0.3, fraction_seed: 3, stratified: true },
    { kind: 'pipeline', path: PBMC, column: 'bulk_labels', group_column: 'louvain', test_size: 0.25, seed: 1 },
    { kind: 'pipeline', path: PBMC, column: 'bulk_labels', test_size: 0.2, seed: 2022, fraction: 0.1, fraction_seed: 0 },
  ];
  let ref: Result[] = [];
  let dir = '';
  before(() => {
    dir = tempDir('scwb-split-');
    ref = runPythonJson<Result[]>('splits_reference.py', [], JSON.stringify(requests));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('text label file (CRLF): stratified split and unstratified few-shot equal sklearn + np.random.choice', async () => {
    const file = path.join(dir, 'labels.txt');
    fs.writeFileSync(file, cellTypes.join('\r\n') + '\r\n');
    const r = await scwb(['split', '--labels', file, '--fraction', '0.25', '--fraction-seed', '2021']);
    assert.strictEqual(r.code, 0, r.err);
    assert.deepStrictEqual(JSON.parse(r.out), ref[0]);
    assert.strictEqual(ref[0].fewshot!.length, Math.floor(ref[0].train.length * 0.25));
  });

  it('numeric text labels are numbers (numeric class order, as pandas reads them); CSV header column with quotes; --out', async () => {
    const txt = path.join(dir, 'ints.txt');
    fs.writeFileSync(txt, ints.join('\n'));
    const csv = path.join(dir, 'cells.csv');
    fs.writeFileSync(csv, 'cell,type\n' + quotedNames.map((n, i) => `c${i},"${n.replace(/"/g, '""')}"`).join('\n') + '\n');
    const a = await scwb(['split', '--labels', txt, '--test-size', '0.3', '--seed', '7']);
    assert.strictEqual(a.code, 0, a.err);
    assert.deepStrictEqual(JSON.parse(a.out), ref[1]);
    const outFile = path.join(dir, 'out.json');
    const b = await scwb(['split', '--labels', csv, '--column', 'type', '--seed', '0', '--out', outFile]);
    assert.strictEqual(b.code, 0, b.err);
    assert.strictEqual(b.out, '');
    assert.deepStrictEqual(JSON.parse(fs.readFileSync(outFile, 'utf8')), ref[2]);
    assert.deepStrictEqual(fs.readdirSync(dir).filter(f => f.endsWith('.tmp')), []);
  });

  it('.h5ad obs column (pbmc68k_reduced bulk_labels): split, stratified and plain few-shot, donor-style group split equal anndata + sklearn', async () => {
    const r = await scwb(['split', '--labels', PBMC, '--column', 'bulk_labels', '--fraction', '0.3', '--fraction-seed', '3', '--stratified']);
    assert.strictEqual(r.code, 0, r.err);
    assert.deepStrictEqual(JSON.parse(r.out), ref[3]);
    const g = await scwb(['split', '--labels', PBMC, '--column', 'bulk_labels', '--group-column', 'louvain', '--seed', '1', '--test-size', '0.25']);
    assert.strictEqual(g.code, 0, g.err);
    assert.deepStrictEqual(JSON.parse(g.out), ref[4]);
    const u = await scwb(['split', '--labels', PBMC, '--column', 'bulk_labels', '--fraction', '0.1', '--fraction-seed', '0']);
    assert.deepStrictEqual(JSON.parse(u.out), ref[5]);
    assert.strictEqual(ref[3].n, 700);
  });

  it('explains bad input: unknown column, singleton class, missing --column', async () => {
    const missing = await scwb(['split', '--labels', PBMC, '--column', 'cell_type']);
    assert.strictEqual(missing.code, 1);
    assert.match(missing.err, /obs has no column 'cell_type' \(columns: bulk_labels/);
    const file = path.join(dir, 'single.txt');
    fs.writeFileSync(file, ['a', 'a', 'a', 'b', 'b', 'b', 'lonely'].join('\n'));
    const single = await scwb(['split', '--labels', file]);
    assert.strictEqual(single.code, 1);
    assert.match(single.err, /single\.txt: class 'lonely' has only 1 member/);
    const noColumn = await scwb(['split', '--labels', PBMC]);
    assert.strictEqual(noColumn.code, 2);
    assert.match(noColumn.err, /--column NAME is required/);
  });
});
