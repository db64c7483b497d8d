/**
 * A Smart-seq-like file (FPKM values, versioned Ensembl var_names, symbols in var "gene_symbols", a 4-class label
 * after a 96-well plate column; written by anndata: test/python/make_smartseq_like.py) through the dataset view and
 * the Preprocess quick-pick flow, as a new user meets it.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { prepareFinetuneGrid } from '../../src/core/finetune/prepare';
import { openH5ad } from '../../src/core/h5ad/read';
import { askForRecipe, runPreprocess } from '../../src/host/commands/preprocess';
import type { Prompts } from '../../src/host/prompts';
import { PROJECT_ROOT, PYTHON, REFERENCE_DIR, runPythonJson } from '../helpers/shared';
import { activeApi, until } from './helpers';

const WORKSPACE = vscode.workspace.workspaceFolders![0].uri.fsPath;
const VOCAB = path.join(REFERENCE_DIR, 'scgpt_vocab.json');

describe('Real-world inputs: FPKM, Ensembl ids, plate columns (in the real extension host)', () => {
  const dir = path.join(WORKSPACE, 'real-inputs-test');
  const file = path.join(dir, 'smartseq_like.h5ad');
  let made: { nVars: number };
  before(() => {
    fs.mkdirSync(dir, { recursive: true });
    made = runPythonJson('make_smartseq_like.py', [file, '11']);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the dataset view shows the 4-class label (not the plate well column) in category order with counts, and the best gene column', async () => {
    const api = await activeApi();
    await vscode.commands.executeCommand('scwb.dataset.open', vscode.Uri.file(file));
    const view = await until(() => api.panels.datasetViews().find(v => v.uri.fsPath === file));
    const stats = await until(() => (view.lastRenderedDetail?.stage === 'stats' ? view.lastRenderedDetail : undefined));
    assert.strictEqual(stats.column, 'cell_class');
    assert.strictEqual(stats.valueKind, 'normalized');
    const reader = await openH5ad(file);
    const col = reader.obs().columns.find(c => c.name === 'cell_class');
    reader.close();
    assert.ok(col && col.kind === 'categorical');
    const expected = col.categories.map((name, i) => `${name} (${col.codes.filter(c => c === i).length.toLocaleString('en-US')})`);
    assert.strictEqual(stats.compositionLabels, expected.join('|'));
    const overlap = await view.pickGeneList(vscode.Uri.file(VOCAB));
    assert.ok(overlap);
    const shown = await until(() => (view.lastRenderedDetail?.stage === 'overlap' ? view.lastRenderedDetail : undefined));
    assert.strictEqual(shown.matchedOn, 'gene_symbols');
    assert.strictEqual(shown.nOverlap, made.nVars - 40);
    assert.match(String(shown.overlapText), /^2,960 of 3,000 genes \(98\.7%\) are in scgpt_vocab\.json .* matched on var column "gene_symbols", the best match \(var_names: 0;/);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('Preprocess asks which gene column (symbols first) and what the values are (normalised first), then runs scGPT on FPKM', async () => {
    const api = await activeApi();
    const asked: string[] = [];
    const firstOffered: Record<string, string> = {};
    const ui: Prompts = {
      pick: async <T extends vscode.QuickPickItem>(items: T[], options: vscode.QuickPickOptions) => {
        const q = String(options.placeHolder);
        asked.push(q);
        firstOffered[q] = items[0].label;
        if (q === 'Recipe') return items.find(i => i.label === 'scGPT');
        return items[0]; // accepting what is offered first
      },
      input: async options => { asked.push(String(options.prompt)); return options.value; },
      open: async () => [vscode.Uri.file(VOCAB)],
    };
    const request = await askForRecipe(file, f => api.datasets.summaryOf(f), ui);
    assert.ok(request);
    assert.deepStrictEqual(asked.slice(0, 3), ['Recipe', 'Gene names', 'Input values']);
    assert.strictEqual(firstOffered['Gene names'], 'gene_symbols');
    assert.strictEqual(firstOffered['Input values'], 'Normalised, not log (TPM, FPKM, CPM)');
    assert.deepStrictEqual(request.recipe, {
      recipe: 'scgpt', params: { vocab: VOCAB, inputMatrix: 'X', input: 'normalized', geneColumn: 'gene_symbols', nTopGenes: null, hvgBatchKey: null, nBins: 51 },
    });
    const outcome = await runPreprocess(request);
    assert.ok(outcome);
    assert.strictEqual(outcome.report.input, 'normalized');
    assert.strictEqual(outcome.report.genesInVocab, made.nVars - 40);
    assert.strictEqual(outcome.outPath, path.join(dir, 'smartseq_like.scgpt.h5ad'));
  });

  it('a run on the demo\'s random-weight checkpoint is marked "demo weights (random)" in the run panel', async () => {
    const api = await activeApi();
    const ckpt = path.join(dir, 'ckpt');
    execFileSync(PYTHON, ['-m', 'scwb_worker', 'demo-checkpoints', ckpt, '--genes-from', file], {
      env: { ...process.env, PYTHONPATH: path.join(PROJECT_ROOT, 'resources', 'worker') },
    });
    const plan = await prepareFinetuneGrid({
      datasetPath: file, labelColumn: 'cell_class', model: 'scbert', checkpoint: path.join(ckpt, 'scbert_tiny', 'scbert_tiny_pretrain.pth'),
      storeRoot: api.runs.store!.root, fractions: [1], seeds: [0], experiment: 'host demo weights',
    }, { progress: () => undefined, cancelled: false });
    const id = plan.runs[0].id;
    const exp = await until(async () => (await api.runs.getChildren()).find(e => e.kind === 'experiment' && e.group.name === 'host demo weights'));
    const item = api.runs.getTreeItem((await api.runs.getChildren(exp))[0]);
    assert.match(String(item.label), /demo weights \(random\)/);
    await vscode.commands.executeCommand(item.command!.command, ...(item.command!.arguments ?? []));
    const panel = await until(() => api.panels.run(id));
    const shown = await until(() => (panel.lastRenderedDetail?.runId === id ? panel.lastRenderedDetail : undefined));
    assert.strictEqual(shown.demoWeights, 'demo weights (random)');
    assert.strictEqual(panel.state.run?.model, 'scBERT · demo weights (random)');
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });
});
