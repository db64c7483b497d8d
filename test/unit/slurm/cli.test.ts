/** `scwb finetune --slurm ...` flags: the job options they give, and usage errors for flags without --slurm. */
import * as assert from 'assert';
import { finetuneRequestFromArgs } from '../../../src/cli/commands/finetune';

describe('scwb finetune --slurm flags', () => {
  const base = ['data.h5ad', '--model', 'scbert', '--checkpoint', 'none', '--label', 'cell_type'];

  it('turns the Slurm flags into job options', () => {
    const req = finetuneRequestFromArgs([...base, '--slurm', '--partition', 'gpu', '--account', 'lab', '--time', '04:00:00', '--mem', '32G',
      '--gpus', '4', '--gpu-flag', 'gpus-per-node', '--nodes', '2', '--cpus-per-task', '8', '--sbatch-args=--qos=high  --constraint=a100', '--wait'], '/w');
    assert.deepStrictEqual(req.slurm, {
      partition: 'gpu', account: 'lab', time: '04:00:00', memory: '32G', gpusPerNode: 4, gpuFlag: 'gpus-per-node', nodes: 2,
      tasksPerNode: undefined, cpusPerTask: 8, extraArgs: ['--qos=high', '--constraint=a100'],
    });
    assert.strictEqual(req.wait, true);
    assert.strictEqual(finetuneRequestFromArgs(base, '/w').slurm, null);
    const resume = finetuneRequestFromArgs(['--resume', '/w/runs/x', '--slurm', '--tasks-per-node', '2'], '/w');
    assert.strictEqual(resume.slurm?.tasksPerNode, 2);
  });

  it('refuses Slurm flags without --slurm and bad values', () => {
    assert.throws(() => finetuneRequestFromArgs([...base, '--partition', 'gpu'], '/w'), /--partition applies only with --slurm/);
    assert.throws(() => finetuneRequestFromArgs([...base, '--slurm', '--gpus', '0'], '/w'), /--gpus must be a positive integer/);
    assert.throws(() => finetuneRequestFromArgs([...base, '--slurm', '--gpu-flag', 'tres'], '/w'), /--gpu-flag must be gres or gpus-per-node/);
  });
});
