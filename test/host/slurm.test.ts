/**
 * Run Fine-tune on Slurm inside the real extension host, against the real local Slurm of scripts/slurm-local.sh:
 * the command submits, the Runs view shows the job, the poll records the end, the run panel tails the job's
 * output, and Cancel Slurm Job cancels a pending run.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { RunRecord } from '../../src/core/runs/schema';
import { RunStore } from '../../src/core/runs/store';
import type { FinetuneLaunch } from '../../src/host/commands/finetune';
import { localSlurmBin, stopLocalSlurmIfOurs } from '../helpers/slurm';
import { activeApi, makeScbertDemo, until } from './helpers';

const WORKSPACE = vscode.workspace.workspaceFolders![0].uri.fsPath;

describe('Slurm run target (in the real extension host, real local Slurm)', () => {
  const dir = path.join(WORKSPACE, 'slurm-demo');
  const dataset = path.join(dir, 'sim_scbert.h5ad');
  const checkpoint = path.join(dir, 'ckpt', 'scbert_tiny', 'scbert_tiny_pretrain.pth');
  const config = () => vscode.workspace.getConfiguration('scwb');
  let oldPath: string | undefined;

  before(async () => {
    // The extension host is this process: the Slurm clients (nsenter wrappers) go first on its PATH.
    oldPath = process.env.PATH;
    process.env.PATH = `${localSlurmBin()}${path.delimiter}${process.env.PATH ?? ''}`;
    await makeScbertDemo(dir, 200, 9);
  });
  after(async () => {
    await config().update('slurm.extraArgs', undefined, vscode.ConfigurationTarget.Workspace);
    await config().update('slurm.time', undefined, vscode.ConfigurationTarget.Workspace);
    process.env.PATH = oldPath;
    stopLocalSlurmIfOurs();
  });

  async function launch(experiment: string, epochs: number): Promise<FinetuneLaunch> {
    const l = await vscode.commands.executeCommand<FinetuneLaunch>('scwb.runFinetune', {
      datasetPath: dataset, labelColumn: 'cell_type', model: 'scbert', checkpoint, epochs, batchSize: 16, device: 'cpu',
      fractions: [1], seeds: [0], experiment, runOn: 'slurm', baseline: false,
    });
    assert.ok(l?.slurmJobs?.length === 1, 'one Slurm job for the one run');
    return l;
  }

  it('Run Fine-tune on Slurm: the job id in run.json and the Runs view, the end recorded, the job output in the run panel', async () => {
    const api = await activeApi();
    const store = new RunStore(path.join(WORKSPACE, '.scwb', 'runs'));
    await config().update('slurm.extraArgs', ['--begin=now+2'], vscode.ConfigurationTarget.Workspace);
    await config().update('slurm.time', '20:00', vscode.ConfigurationTarget.Workspace);
    const l = await launch('host slurm', 1);
    const id = l.runIds[0];
    const jobId = l.slurmJobs![0];
    const queued = await store.get(id);
    assert.strictEqual(queued.slurm?.jobId, jobId);
    assert.match(fs.readFileSync(store.file(id, 'slurm.sbatch'), 'utf8'), /#SBATCH --time=20:00\n#SBATCH --begin=now\+2\n/);
    const node = { kind: 'run' as const, run: queued };
    const item = api.runs.getTreeItem(node);
    assert.match(String(item.description), new RegExp(`^Slurm ${jobId} PENDING · queued`));
    assert.strictEqual(item.contextValue, 'scwb.run.queued.slurm');
    // the extension's poll (what Refresh Slurm Job States runs) follows the job to its end
    const done = await until(async () => {
      await vscode.commands.executeCommand('scwb.runs.refreshSlurm');
      const r = await store.get(id);
      return r.status === 'completed' && r.summary ? r : undefined;
    }, 1000);
    assert.strictEqual(done.slurm?.state, 'COMPLETED');
    assert.ok(fs.existsSync(store.file(id, 'metrics.json')));
    await vscode.commands.executeCommand('scwb.runs.openPanel', { runId: id });
    const panel = await until(() => api.panels.run(id));
    const state = await until(() => (panel.state.log.some(l => l.startsWith(`--- slurm-${jobId}.out`)) ? panel.state : undefined));
    const shown = state.run!.parameters.find(([k]) => k === 'Slurm job');
    assert.match(shown?.[1] ?? '', new RegExp(`^${jobId} \\(COMPLETED(, exit code 0:0)?\\)$`));
    panel.dispose();
  });

  it('Cancel Slurm Job on a pending run: scancel, and the run ends cancelled', async () => {
    const store = new RunStore(path.join(WORKSPACE, '.scwb', 'runs'));
    await config().update('slurm.extraArgs', ['--begin=now+600'], vscode.ConfigurationTarget.Workspace);
    const l = await launch('host slurm cancel', 1);
    const record = await vscode.commands.executeCommand<RunRecord>('scwb.runs.cancelSlurmJob', { runId: l.runIds[0] });
    assert.ok(record);
    const ended = await until(async () => {
      await vscode.commands.executeCommand('scwb.runs.refreshSlurm');
      const r = await store.get(l.runIds[0]);
      return r.status === 'cancelled' ? r : undefined;
    }, 500);
    assert.strictEqual(ended.slurm?.state, 'CANCELLED');
  });
});
