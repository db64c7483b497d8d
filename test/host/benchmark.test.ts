import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { main } from '../../src/cli/main';
import { emptyPreset } from '../../src/core/presets/presets';
import { QUEUE_FINAL } from '../../src/core/queue/schema';
import type { GridPanel } from '../../src/host/panels/grid';
import type { BenchmarkLaunch } from '../../src/host/commands/benchmark';
import { askForProbe } from '../../src/host/commands/benchmark';
import { ProbeParametersSchema } from '../../src/core/runs/schema';
import { RunStore } from '../../src/core/runs/store';
import type { Prompts } from '../../src/host/prompts';
import { FINETUNE_TASK_TYPE, type FinetuneTaskOutcome } from '../../src/host/tasks';
import { activeApi, until } from './helpers';

const WORKSPACE = vscode.workspace.workspaceFolders![0].uri.fsPath;
const PYTHON = vscode.workspace.getConfiguration('scwb').get<string>('pythonPath', '') || '/usr/bin/python3';

describe('Pre-train Encoder and Probe Encoder (in the real extension host, real worker on CPU)', () => {
  const dir = path.join(WORKSPACE, 'benchmark-demo');
  const dataset = path.join(dir, 'sim.h5ad');
  let encoder = '';

  before(async () => {
    fs.mkdirSync(dir, { recursive: true });
    let err = '';
    const code = await main(['simulate', '--cells', '240', '--genes', '100', '--seed', '3', '--out', dataset], { out: () => undefined, err: t => { err += t; } });
    assert.strictEqual(code, 0, err);
  });

  async function runCommand(command: string, options: unknown): Promise<{ launch: BenchmarkLaunch; outcome: FinetuneTaskOutcome; exec: vscode.ProcessExecution }> {
    const api = await activeApi();
    const finished = new Promise<FinetuneTaskOutcome>(resolve => { const d = api.finetune.onDidFinish(o => { d.dispose(); resolve(o); }); });
    const started = new Promise<vscode.TaskExecution>(resolve => {
      const d = vscode.tasks.onDidStartTask(e => { if (e.execution.task.definition.type === FINETUNE_TASK_TYPE) { d.dispose(); resolve(e.execution); } });
    });
    const launch = (await vscode.commands.executeCommand<BenchmarkLaunch>(command, options))!;
    assert.ok(launch, `${command} returned its launch`);
    const running = await started;
    assert.strictEqual(running.task.name, launch.taskName);
    assert.ok(running.task.execution instanceof vscode.ProcessExecution, 'a process, not a shell command line');
    return { launch, outcome: await finished, exec: running.task.execution as vscode.ProcessExecution };
  }

  it('Pre-train Encoder runs `scwb_worker pretrain` as a task; the run completes with encoder.pt', async () => {
    const { launch, outcome, exec } = await runCommand('scwb.pretrainEncoder', {
      datasetPath: dataset, structure: 'linear_ours', config: { dim: 16 }, epochs: 1, batchSize: 32, maxSeqLen: 47, warmupSteps: 1,
      device: 'cpu', amp: false, experiment: 'host test pre-train',
    });
    assert.strictEqual(exec.process, PYTHON);
    assert.deepStrictEqual(exec.args, ['-m', 'scwb_worker', 'pretrain', '--run-dir', launch.runDirs[0], '--device', 'cpu']);
    assert.strictEqual(outcome.exitCode, 0);
    assert.deepStrictEqual(outcome.runs.map(r => [r.kind, r.status]), [['pretrain', 'completed']]);
    encoder = path.join(launch.runDirs[0], 'encoder.pt');
    assert.ok(fs.existsSync(encoder));
  });

  it('Probe Encoder offers the completed pre-training run, then runs linear + kNN trials beside the raw-expression LR', async () => {
    assert.ok(encoder, 'the pre-training test ran first');
    const api = await activeApi();
    // The quick-pick flow lists the pre-training run's encoder first and asks in order.
    const asked: string[] = [];
    const ui: Prompts = {
      pick: async <T extends vscode.QuickPickItem>(items: T[], options: vscode.QuickPickOptions) => {
        asked.push(String(options.placeHolder));
        if (options.placeHolder === 'Encoder to probe (frozen)') {
          assert.strictEqual(items[0].label, 'linear_ours encoder (pre-training run)');
          assert.strictEqual(items.at(-1)!.label, 'Browse…');
          return items[0];
        }
        if (options.placeHolder === 'Label column (cell types)') return items.find(i => i.label === 'cell_type');
        if (options.placeHolder === 'Split protocol') return items.find(i => i.label.startsWith('Published'));
        if (options.placeHolder === 'Where to run') return items.find(i => i.label === 'CPU');
        return items[0];
      },
      input: async options => { asked.push(String(options.prompt)); return '2'; },
      open: async () => undefined,
    };
    const options = await askForProbe(dataset, await api.datasets.summaryOf(dataset), { checkpoints: () => api.checkpoints.all(), runs: api.runs }, ui);
    assert.deepStrictEqual(asked, ['Encoder to probe (frozen)', 'Downstream task', 'Label column (cell types)', 'Probes', 'Split protocol', 'Cell embedding', 'Trials', 'Where to run']);
    assert.deepStrictEqual(options, {
      datasetPath: dataset, labelColumn: 'cell_type', encoder: { model: 'benchmark', path: encoder }, methods: ['linear', 'knn'],
      protocol: 'published', pooling: 'cls', trials: 2, device: 'cpu',
    });

    const { launch, outcome, exec } = await runCommand('scwb.probeEncoder', { ...options, epochs: 2, experiment: 'host test probes' });
    assert.deepStrictEqual(exec.args, ['-m', 'scwb_worker', 'probe', ...launch.runDirs.flatMap(d => ['--run-dir', d]), '--device', 'cpu']);
    assert.strictEqual(outcome.exitCode, 0);
    assert.strictEqual(outcome.runs.length, 4);
    assert.ok(outcome.runs.every(r => r.kind === 'probe' && r.status === 'completed' && r.summary !== null), JSON.stringify(outcome.runs.map(r => r.error)));
    const store = new RunStore(launch.storeRoot);
    const first = await store.get(launch.runIds[0]);
    assert.strictEqual(first.split.kind, 'random');
    assert.strictEqual(ProbeParametersSchema.parse(first.parameters.probe).writeEmbeddings, true);
    assert.ok(fs.existsSync(store.file(first.id, 'embeddings.npy')));
    assert.strictEqual(launch.baselineRunIds?.length, 2);
    for (const id of launch.baselineRunIds!) assert.strictEqual((await store.get(id)).status, 'completed');
    // The Runs view lists the experiment with the probes and the LR runs.
    const exp = await until(async () => (await api.runs.getChildren()).find(e => e.kind === 'experiment' && e.group.name === 'host test probes'));
    assert.strictEqual((await api.runs.getChildren(exp)).length, 6);
  });

  it('Probe Encoder offers perturbation prediction for a benchmark encoder: column, control label, zero-shot split', async () => {
    assert.ok(encoder, 'the pre-training test ran first');
    const api = await activeApi();
    const asked: string[] = [];
    const ui: Prompts = {
      pick: async <T extends vscode.QuickPickItem>(items: T[], options: vscode.QuickPickOptions) => {
        asked.push(String(options.placeHolder));
        if (options.placeHolder === 'Downstream task') return items.find(i => i.label === 'Perturbation prediction');
        if (options.placeHolder?.startsWith('Perturbation column')) return items.find(i => i.label === 'cell_type');
        if (options.placeHolder === 'Split') return items.find(i => i.label.startsWith('Zero-shot'));
        if (options.placeHolder === 'Where to run') return items.find(i => i.label === 'CPU');
        return items[0];
      },
      input: async options => { asked.push(String(options.prompt)); return '3'; },
      open: async () => undefined,
    };
    const summary = await api.datasets.summaryOf(dataset);
    const options = await askForProbe(dataset, summary, { checkpoints: () => api.checkpoints.all(), runs: api.runs }, ui);
    assert.deepStrictEqual(asked, ['Encoder to probe (frozen)', 'Downstream task', 'Perturbation column (the perturbed gene of each cell)',
      'Label of the control (unperturbed) cells', 'Split', 'Trials', 'Where to run']);
    const first = summary.obs.find(c => c.name === 'cell_type')!.categories![0];
    assert.deepStrictEqual(options, {
      datasetPath: dataset, labelColumn: 'cell_type', encoder: { model: 'benchmark', path: encoder }, task: 'perturbation-prediction',
      control: first, zeroShot: true, trials: 3, device: 'cpu',
    });
  });

  it('the run queue runs benchmark probe items (grid editor, random 70/30 split) through the worker, the linear one beside its LR', async () => {
    assert.ok(encoder, 'the pre-training test ran first');
    const api = await activeApi();
    const queue = api.queue!;
    const panel = (await vscode.commands.executeCommand<GridPanel>('scwb.experiments.new', null))!;
    await panel.whenRendered();
    const doc = emptyPreset();
    doc.experiment = 'queued probes';
    const g = doc.grids[0];
    g.title = 'probes';
    g.datasets[0] = { ...g.datasets[0], name: 'sim', path: dataset, labelColumn: 'cell_type', split: { kind: 'random', testSize: 0.3 }, cells: 240 };
    g.models = [
      { kind: 'probe', method: 'linear', encoder: 'benchmark', encoderPath: encoder, k: 10, epochs: 5, lr: 0.005, batchSize: 64, evalEvery: 5, pooling: 'cls', geneSampling: 'weighted' },
      { kind: 'probe', method: 'knn', encoder: 'benchmark', encoderPath: encoder, k: 5, epochs: 50, lr: 0.005, batchSize: 64, evalEvery: 5, pooling: 'cls', geneSampling: 'weighted' },
    ];
    g.seeds = [11];
    const summary = panel.update(doc);
    assert.strictEqual(summary.error, null);
    assert.deepStrictEqual(summary.problems, []);
    assert.strictEqual(await panel.submit('queue'), 2);
    const done = await until(async () => {
      const items = (await queue.store.read()).items.filter(i => i.spec.experiment === 'queued probes');
      return items.length === 2 && items.every(i => QUEUE_FINAL.includes(i.status)) && items;
    }, 500);
    panel.dispose();
    for (const it of done) assert.strictEqual(it.status, 'completed', `${it.label}: ${it.error}`);
    const store = new RunStore(path.join(WORKSPACE, '.scwb', 'runs'));
    const runs = await Promise.all(done.flatMap(i => i.runIds).map(id => store.get(id)));
    // linear: its probe run and the raw-expression LR of the same trial; kNN: its probe run only
    assert.deepStrictEqual(runs.map(r => r.kind).sort(), ['baseline', 'probe', 'probe'], JSON.stringify(done.map(i => [i.label, i.spec, i.runIds])));
    for (const r of runs) {
      assert.strictEqual(r.status, 'completed');
      assert.deepStrictEqual(r.split, { kind: 'random', testSize: 0.3, seed: 11 }, 'the item\'s seed drew the split');
      assert.ok(r.summary && r.summary.accuracy >= 0);
    }
    const probes = runs.filter(r => r.kind === 'probe').map(r => ProbeParametersSchema.parse((r.parameters as { probe: unknown }).probe));
    assert.deepStrictEqual(probes.map(p => [p.method, p.method === 'knn' ? p.k : p.epochs]).sort(), [['knn', 5], ['linear', 5]]);
  });
});
