import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { main } from '../../src/cli/main';
import { classificationReport } from '../../src/core/metrics';
import { RunEventSchema } from '../../src/core/runs/schema';
import { EVENTS_FILE, RunStore } from '../../src/core/runs/store';
import { askForFinetune, type FinetuneLaunch, type FinetunePrompts } from '../../src/host/commands/finetune';
import { checkWorkerEnvironment } from '../../src/core/finetune/env';
import { FINETUNE_TASK_TYPE, type FinetuneTaskOutcome } from '../../src/host/tasks';
import { activeApi, makeScbertDemo, until } from './helpers';

const WORKSPACE = vscode.workspace.workspaceFolders![0].uri.fsPath;
const PYTHON = vscode.workspace.getConfiguration('scwb').get<string>('pythonPath', '') || '/usr/bin/python3';
const ROOT = path.resolve(__dirname, '..', '..', '..');

describe('Run Fine-tune (in the real extension host, real worker on CPU)', () => {
  const dir = path.join(WORKSPACE, 'finetune-demo');
  const dataset = path.join(dir, 'sim_scbert.h5ad');
  const checkpoint = path.join(dir, 'ckpt', 'scbert_tiny', 'scbert_tiny_pretrain.pth');

  before(async () => {
    // A small simulated dataset, the worker's tiny demo checkpoints over its genes, and the scBERT recipe's output.
    await makeScbertDemo(dir, 300, 5);
  });

  it('runs the worker as a task in a terminal that stays, then scores the run like the baseline', async () => {
    const api = await activeApi();
    const finished = new Promise<FinetuneTaskOutcome>(resolve => { const d = api.finetune.onDidFinish(o => { d.dispose(); resolve(o); }); });
    const started = new Promise<vscode.TaskExecution>(resolve => {
      const d = vscode.tasks.onDidStartTask(e => { if (e.execution.task.definition.type === FINETUNE_TASK_TYPE) { d.dispose(); resolve(e.execution); } });
    });
    const launch = (await vscode.commands.executeCommand<FinetuneLaunch>('scwb.runFinetune', {
      datasetPath: dataset, labelColumn: 'cell_type', model: 'scbert', checkpoint, epochs: 2, batchSize: 16, device: 'cpu',
      fractions: [1], seeds: [0], experiment: 'host test fine-tune',
    }))!;
    assert.ok(launch, 'the command returned its launch');
    assert.strictEqual(launch.runIds.length, 1);
    assert.strictEqual(launch.storeRoot, path.join(WORKSPACE, '.scwb', 'runs'));
    // The task's terminal appears under the task's name.
    const terminal = await until(() => vscode.window.terminals.find(t => t.name.includes(launch.taskName)));
    assert.ok(terminal);
    const running = await started;
    assert.strictEqual(running.task.name, launch.taskName);
    assert.ok(running.task.execution instanceof vscode.ProcessExecution, 'a process, not a shell command line');
    const exec = running.task.execution as vscode.ProcessExecution;
    assert.strictEqual(exec.process, PYTHON);
    assert.deepStrictEqual(exec.args, ['-m', 'scwb_worker', 'finetune', '--run-dir', launch.runDirs[0], '--device', 'cpu']);
    assert.strictEqual(running.task.presentationOptions.close, false);
    assert.strictEqual(running.task.presentationOptions.panel, vscode.TaskPanelKind.Dedicated);

    const outcome = await finished;
    assert.strictEqual(outcome.exitCode, 0);
    assert.deepStrictEqual(outcome.runs.map(r => [r.id, r.status]), [[launch.runIds[0], 'completed']]);
    assert.ok(vscode.window.terminals.some(t => t.name.includes(launch.taskName)), 'the terminal stays after the run');

    const store = new RunStore(launch.storeRoot);
    const id = launch.runIds[0];
    const record = await store.get(id);
    assert.strictEqual(record.kind, 'finetune');
    // the demo's tiny checkpoint: marked as random weights
    assert.deepStrictEqual(record.model, { family: 'scBERT', label: 'scBERT · demo weights (random)', variant: '' });
    assert.strictEqual(record.parameters.demoWeights, true);
    const predictions = (await store.readPredictions(id))!;
    const report = classificationReport(predictions.map(p => p.trueLabel), predictions.map(p => p.predictedLabel));
    const metrics = (await store.readMetrics(id))!;
    assert.strictEqual(metrics.accuracy, report.accuracy);
    assert.strictEqual(metrics.macroF1, report.macro.f1);
    assert.deepStrictEqual(metrics.confusion, report.confusion);
    assert.strictEqual(record.summary?.accuracy, report.accuracy);
    const lines = fs.readFileSync(store.file(id, EVENTS_FILE), 'utf8').split('\n').filter(Boolean);
    for (const [i, line] of lines.entries()) assert.ok(RunEventSchema.safeParse(JSON.parse(line)).success, `events.jsonl line ${i + 1}: ${line}`);
    const events = await store.readEvents(id);
    assert.ok(events.some(e => e.type === 'train'));
    assert.strictEqual(events.filter(e => e.type === 'validation').length, 2);

    // The Runs view lists it under its experiment with its accuracy.
    const exp = await until(async () => (await api.runs.getChildren()).find(e => e.kind === 'experiment' && e.group.name === 'host test fine-tune'));
    // The LR baseline ran beside it in the same experiment, on the same split, fraction and seed (or an existing one was reused).
    const lr = await launch.baseline;
    assert.ok(lr, 'the LR baseline ran beside the fine-tune');
    assert.strictEqual(lr.skipped, null);
    assert.strictEqual(lr.ran + lr.reused, 1);
    const lrRuns = (await store.list()).filter(r => r.kind === 'baseline' && r.experiment === 'host test fine-tune');
    assert.deepStrictEqual(lrRuns.map(r => [r.model.label, r.fraction, r.seed, r.split, r.status]),
      lr.ran ? [['LR L1 C=0.1', 1, 0, record.split, 'completed']] : []);
    const nodes = await until(async () => { const n = await api.runs.getChildren(exp); return n.length === 1 + lr.ran ? n : undefined; });
    assert.strictEqual(nodes.length, 1 + lr.ran);
  });

  it('resumes a cancelled fine-tune run from the Runs view as a new task', async () => {
    const api = await activeApi();
    // Prepared by the CLI (as a cluster script would), cancelled before the worker ever ran it.
    let out = '';
    const code = await main(['finetune', dataset, '--model', 'scbert', '--checkpoint', checkpoint, '--label', 'cell_type', '--epochs', '1',
      '--device', 'cpu', '--experiment', 'host test resume', '--store', path.join(WORKSPACE, '.scwb', 'runs'), '--prepare-only'],
    { out: t => { out += t; }, err: () => undefined });
    assert.strictEqual(code, 0);
    const id = (JSON.parse(out) as { runs: { id: string; status: string }[] }).runs[0].id;
    const store = api.runs.store!;
    await store.update(id, { status: 'cancelled', endedAt: new Date().toISOString() });
    const finished = new Promise<FinetuneTaskOutcome>(resolve => { const d = api.finetune.onDidFinish(o => { d.dispose(); resolve(o); }); });
    const launch = (await vscode.commands.executeCommand<FinetuneLaunch>('scwb.runs.resumeFinetune', { kind: 'run', run: await store.get(id) }))!;
    assert.deepStrictEqual(launch.runIds, [id]);
    const outcome = await finished;
    assert.strictEqual(outcome.exitCode, 0);
    assert.deepStrictEqual(outcome.runs.map(r => [r.id, r.status]), [[id, 'completed']]);
    assert.ok(await store.readMetrics(id));
    assert.ok((await store.readLog(id)).includes('no checkpoints/last.pt: starting from the beginning'));
    // A completed run is not resumed again.
    assert.strictEqual(await vscode.commands.executeCommand('scwb.runs.resumeFinetune', { runId: id }), undefined);
  });

  it('asks label, split, model, checkpoint (from the Checkpoints view), ablation, fractions, seeds and batch size in order', async () => {
    const api = await activeApi();
    const asked: string[] = [];
    const answers: Record<string, (items: vscode.QuickPickItem[]) => vscode.QuickPickItem | undefined> = {
      'Label column (cell types)': items => items.find(i => i.label === 'cell_type'),
      'Split': items => items[0],
      'Model': items => items.find(i => i.label === 'scBERT'),
      'scBERT checkpoint': items => items.find(i => i.description?.includes('scbert_tiny_pretrain.pth')),
      'Ablation': items => items.find(i => i.label === 'No gene2vec'),
      'Where to train': items => items.find(i => i.label === 'CPU'),
    };
    const inputs: string[] = [];
    const ui: FinetunePrompts = {
      pick: async <T extends vscode.QuickPickItem>(items: T[], options: vscode.QuickPickOptions) => {
        asked.push(String(options.placeHolder));
        if (options.placeHolder === 'scBERT checkpoint') {
          assert.deepStrictEqual(items.slice(-2).map(i => i.label), ['No pre-training (random initialisation)', 'Browse…']);
        }
        return answers[String(options.placeHolder)]?.(items) as T | undefined;
      },
      input: async options => { asked.push(String(options.prompt)); inputs.push(String(options.value)); return options.value; },
      open: async () => undefined,
    };
    // The Checkpoints view sees the demo checkpoint written into the workspace.
    await until(async () => (await api.checkpoints.all()).some(c => c.path === checkpoint));
    const options = await askForFinetune(dataset, await api.datasets.summaryOf(dataset), { checkpoints: () => api.checkpoints.all() },
      checkWorkerEnvironment(PYTHON), ui);
    assert.deepStrictEqual(asked.slice(0, 5), ['Label column (cell types)', 'Split', 'Model', 'scBERT checkpoint', 'Ablation']);
    assert.deepStrictEqual(inputs, ['1', '0,2021,4042', '32', '10'], 'fraction 1, the published scBERT seeds, batch 32, 10 epochs');
    assert.deepStrictEqual(options, {
      datasetPath: dataset, queryPath: undefined, labelColumn: 'cell_type', model: 'scbert', checkpoint, ablation: 'no-gene2vec',
      fractions: [1], seeds: [0, 2021, 4042], device: 'cpu', nproc: 1, batchSize: 32, epochs: 10,
    });
  });

  it('resolves a task from a tasks.json definition into the worker\'s argument array', async () => {
    const api = await activeApi();
    const task = await api.finetune.build({ type: FINETUNE_TASK_TYPE, runDirs: ['.scwb/runs/x y'], resume: true }, vscode.workspace.workspaceFolders![0], 'resume x');
    const exec = task.execution as vscode.ProcessExecution;
    assert.ok(exec instanceof vscode.ProcessExecution);
    assert.deepStrictEqual(exec.args, ['-m', 'scwb_worker', 'finetune', '--run-dir', path.join(WORKSPACE, '.scwb', 'runs', 'x y'), '--resume']);
    assert.strictEqual(exec.options?.env?.PYTHONUNBUFFERED, '1');
    assert.ok(exec.options?.env?.PYTHONPATH?.startsWith(path.join(ROOT, 'resources', 'worker')));
  });

  it('refuses a missing label column with a message naming the file, and starts no task', async () => {
    const before = vscode.tasks.taskExecutions.length;
    await assert.rejects(
      Promise.resolve(vscode.commands.executeCommand('scwb.runFinetune', { datasetPath: dataset, labelColumn: 'no_such_column', model: 'scbert', checkpoint })),
      (e: Error) => e.message.includes(dataset) && e.message.includes('no_such_column'));
    assert.strictEqual(vscode.tasks.taskExecutions.length, before);
  });
});
