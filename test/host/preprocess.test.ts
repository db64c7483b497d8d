import * as assert from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { openH5ad } from '../../src/core/h5ad/read';
import type { PreprocessOutcome } from '../../src/host/commands/preprocess';
import { simulateH5ad } from '../helpers/shared';
import { activeApi, until } from './helpers';

const WORKSPACE = vscode.workspace.workspaceFolders![0].uri.fsPath;
const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

describe('Preprocess (in the real extension host)', () => {
  const dir = path.join(WORKSPACE, 'preprocess-test');
  const input = path.join(dir, 'pbmc_counts.h5ad');
  before(() => {
    fs.mkdirSync(dir, { recursive: true });
    simulateH5ad(input, 1500, 800, 3);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs the scBERT recipe into a new file beside the input, which stays untouched, and lists it', async () => {
    const api = await activeApi();
    const before = sha(input);
    const reader = await openH5ad(input);
    const genes = reader.var().index;
    reader.close();
    // A reference list: 500 of the data's genes in reverse order plus 20 genes the data does not have.
    const reference = [...genes.slice(0, 500).reverse(), ...Array.from({ length: 20 }, (_, i) => `NOTINDATA${i}`)];
    const refFile = path.join(dir, 'reference_genes.txt');
    fs.writeFileSync(refFile, reference.join('\n') + '\n');
    const outPath = path.join(dir, 'pbmc_counts.scbert.h5ad');
    const outcome = await vscode.commands.executeCommand<PreprocessOutcome>('scwb.preprocess', {
      dataset: input, outPath, recipe: { recipe: 'scbert', params: { referenceGenes: refFile, minGenes: 10 } },
    });
    assert.ok(outcome);
    assert.strictEqual(outcome.report.referenceGenesFound, 500);
    assert.strictEqual(outcome.report.genesOut, 520);
    assert.strictEqual(sha(input), before, 'the input must not change');
    const out = await openH5ad(outPath);
    try {
      assert.deepStrictEqual(out.var().index, reference);
      assert.strictEqual(out.summary().nObs, outcome.report.cellsOut);
      assert.ok(out.summary().uns.includes('scwb_preprocess'));
    } finally {
      out.close();
    }
    const listed = await until(async () => (await api.datasets.list()).find(d => d.uri.fsPath === outPath));
    assert.ok(listed);
    // Its first child links to the source dataset.
    const link = api.datasets.getTreeItem((await api.datasets.getChildren(listed))[0]);
    assert.strictEqual(link.label, 'derived from');
    assert.strictEqual(link.description, 'pbmc_counts.h5ad (scbert recipe)');
    assert.strictEqual((link.command?.arguments?.[0] as vscode.Uri).fsPath, input);
    assert.deepStrictEqual(fs.readdirSync(dir).filter(f => f.includes('.tmp-')), [], 'no temp files left');
  });

  it('refuses a recipe that expects counts on log-normalised input, and writes nothing', async () => {
    const logInput = path.resolve(vscode.workspace.getConfiguration('scwb').get<string[]>('datasetFolders')![0], 'scanpy_pbmc68k_reduced_2025.h5ad');
    const outPath = path.join(dir, 'refused.h5ad');
    await assert.rejects(
      Promise.resolve(vscode.commands.executeCommand('scwb.preprocess', { dataset: logInput, outPath, recipe: { recipe: 'benchmark', params: { mode: 'none' } } })),
      (e: Error) => /pbmc68k_reduced_2025\.h5ad/.test(e.message) && /count/i.test(e.message),
    );
    assert.strictEqual(fs.existsSync(outPath), false);
  });
});
