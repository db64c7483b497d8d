import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { annotateCommand } from '../../src/host/commands/annotate';
import type { Prompts } from '../../src/host/prompts';
import { activeApi, until } from './helpers';

const WORKSPACE = vscode.workspace.workspaceFolders![0].uri.fsPath;
const PYTHON = vscode.workspace.getConfiguration('scwb').get<string>('pythonPath', '') || '/usr/bin/python3';
const ROOT = path.resolve(__dirname, '..', '..', '..');

describe('Annotate Dataset with Model… (in the real extension host, onnxruntime-node)', () => {
  const dir = path.join(WORKSPACE, 'annotate-demo');
  let model: string;
  let query: string;

  before(() => {
    // A tiny scBERT run trained by the worker (it exports model.onnx + model.onnx.json) and a labelled query file.
    fs.mkdirSync(dir, { recursive: true });
    const made = JSON.parse(execFileSync(PYTHON, [path.join(ROOT, 'test', 'python', 'annotate_reference.py'), 'make', dir, '40'], { encoding: 'utf8' })) as { run: string; query: string };
    model = path.join(made.run, 'model.onnx');
    query = made.query;
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is contributed on datasets, ONNX models and the palette', async () => {
    await activeApi();
    assert.ok((await vscode.commands.getCommands(true)).includes('scwb.annotate'));
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { contributes: { menus: Record<string, { command: string; when?: string }[]> } };
    const whens = Object.values(pkg.contributes.menus).flat().filter(m => m.command === 'scwb.annotate').map(m => m.when ?? '');
    assert.ok(whens.some(w => w.includes('viewItem == scwb.dataset')) && whens.some(w => w.includes('viewItem == scwb.checkpoint.onnx')));
    assert.ok(whens.every(w => w.includes('isWorkspaceTrusted')), 'trusted workspaces only');
  });

  it('picks the exported model from the Checkpoints view, writes the annotated copy and records the metrics as a run', async () => {
    const api = await activeApi();
    await until(async () => (await api.checkpoints.all()).some(c => c.path === model));
    const asked: string[] = [];
    const ui: Prompts = {
      pick: async <T extends vscode.QuickPickItem>(items: T[], options: vscode.QuickPickOptions) => {
        asked.push(String(options.title));
        if (String(options.title).startsWith('Model')) return items.find(i => i.description?.endsWith('annotate-demo/run/model.onnx')) as T | undefined;
        assert.strictEqual(items[0].label, 'cell_type', "the model's label column comes first");
        return items[0];
      },
      input: async options => { asked.push(String(options.title)); return options.value; },
      open: async () => undefined,
    };
    const before = fs.readFileSync(query);
    const outcome = await annotateCommand(vscode.Uri.file(query), {
      summaryOf: f => api.datasets.summaryOf(f), pickDataset: async () => undefined, checkpoints: () => api.checkpoints.all(), runs: api.runs, prompts: ui,
    });
    assert.ok(outcome, 'annotated');
    assert.deepStrictEqual(asked.map(a => a.split(' ')[0]), ['Model', 'Labels', 'Annotated']);
    assert.strictEqual(outcome.result.out, path.join(dir, 'query_annotated.h5ad'));
    assert.ok(fs.existsSync(outcome.result.out));
    assert.ok(before.equals(fs.readFileSync(query)), 'the dataset is unchanged');
    assert.strictEqual(outcome.result.nCells, 40);
    assert.ok(outcome.run && outcome.run.status === 'completed');
    const metrics = await api.runs.store!.readMetrics(outcome.run.id);
    assert.strictEqual(metrics?.accuracy, outcome.result.metrics?.accuracy);
    assert.strictEqual(metrics?.nTest, 40);
  });
});
