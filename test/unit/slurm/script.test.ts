/**
 * The sbatch script generator: bash quoting of hostile words (checked by running bash on the output), #SBATCH
 * lines from the options, and clear errors for options sbatch would misread.
 */
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import { bashArray, bashQuote } from '../../../src/core/slurm/quote';
import { parseParsable, slurmRunStatus } from '../../../src/core/slurm/client';
import { HOSTILE } from './hostile';
import { SlurmOptionError, renderSbatchScript, sbatchDirectives, slurmWorld } from '../../../src/core/slurm/script';


/** What bash makes of an array literal: the words it holds, NUL-separated. */
function bashWords(literal: string): string[] {
  const r = spawnSync('bash', ['-c', `a=${literal}\nprintf '%s\\0' "\${a[@]}"`], { encoding: 'utf8' });
  assert.strictEqual(r.status, 0, r.stderr);
  return r.stdout.split('\0').slice(0, -1);
}

describe('bash quoting for sbatch scripts', () => {
  it('gives back every hostile word byte-identical, as one word each', () => {
    assert.deepStrictEqual(bashWords(bashArray(HOSTILE)), HOSTILE);
    for (const w of HOSTILE) assert.deepStrictEqual(bashWords(`(${bashQuote(w)})`), [w], JSON.stringify(w));
  });

  it('leaves plain words unquoted and rejects NUL bytes by name', () => {
    assert.strictEqual(bashQuote('/data/run-1/x.h5ad'), '/data/run-1/x.h5ad');
    assert.strictEqual(bashQuote('a b'), "'a b'");
    assert.throws(() => bashQuote('a\0b'), /NUL byte/);
    // control characters are escaped: no raw CR (sbatch refuses DOS line breaks), one line per word
    assert.strictEqual(bashQuote("a\r\nb'c"), "$'a\\r\\nb\\'c'");
    assert.ok(!/[\r\n]/.test(HOSTILE.map(bashQuote).join(' ')));
  });
});

describe('sbatch script', () => {
  const inv = { command: '/opt/py env/bin/python', args: ['-m', 'scwb_worker', 'finetune', '--run-dir', "/runs/it's $x", '--nproc', '1'], env: { PYTHONPATH: '/ext/resources/worker', PYTHONUNBUFFERED: '1' }, cwd: "/runs/it's $x" };

  it('writes the options as #SBATCH lines, output to slurm-%j.out', () => {
    const lines = sbatchDirectives({ partition: 'gpu', account: 'lab-1', time: '1-02:00:00', nodes: 2, gpusPerNode: 4, cpusPerTask: 8, memory: '64G', extraArgs: ['--qos=high', ' ', '--constraint=a100'], jobName: 'scwb-x' });
    assert.deepStrictEqual(lines, [
      '#SBATCH --job-name=scwb-x', '#SBATCH --output=slurm-%j.out', '#SBATCH --open-mode=append', '#SBATCH --nodes=2',
      '#SBATCH --ntasks-per-node=4', '#SBATCH --cpus-per-task=8', '#SBATCH --mem=64G', '#SBATCH --gres=gpu:4',
      '#SBATCH --partition=gpu', '#SBATCH --account=lab-1', '#SBATCH --time=1-02:00:00', '#SBATCH --qos=high', '#SBATCH --constraint=a100',
    ]);
    assert.ok(sbatchDirectives({ gpusPerNode: 2, gpuFlag: 'gpus-per-node' }).includes('#SBATCH --gpus-per-node=2'));
    assert.deepStrictEqual(slurmWorld({ nodes: 2, gpusPerNode: 4 }), { nodes: 2, perNode: 4, world: 8 });
    assert.deepStrictEqual(slurmWorld({ tasksPerNode: 2 }), { nodes: 1, perNode: 2, world: 2 });
  });

  it('refuses options sbatch would misread, naming the option', () => {
    assert.throws(() => sbatchDirectives({ partition: 'gpu; rm -rf /' }), (e: Error) => e instanceof SlurmOptionError && /partition/.test(e.message));
    assert.throws(() => sbatchDirectives({ time: 'two hours' }), /Slurm time 'two hours'/);
    assert.throws(() => sbatchDirectives({ memory: '16 GB' }), /Slurm memory/);
    assert.throws(() => sbatchDirectives({ nodes: 0 }), /nodes must be a positive integer/);
    assert.throws(() => sbatchDirectives({ extraArgs: ['--comment=two words'] }), /extra sbatch argument '--comment=two words'/);
    assert.throws(() => sbatchDirectives({ extraArgs: ['qos=high'] }), /starting with '-'/);
    assert.throws(() => renderSbatchScript({ invocation: inv, runDir: '/r', options: { setup: ['module load x\nrm -rf /'] } }), /line break/);
  });

  it('one process runs the worker directly; several run one srun task per rank with a file rendezvous in the run folder', () => {
    const one = renderSbatchScript({ invocation: inv, runDir: "/runs/it's $x", options: {} });
    assert.match(one, /^#!\/bin\/bash\n/);
    assert.match(one, /\n"\$\{worker\[@\]\}"\nstatus=\$\?\nexit "\$status"\n$/);
    assert.doesNotMatch(one, /srun/);
    assert.match(one, /export PYTHONPATH=\/ext\/resources\/worker"\$\{PYTHONPATH:\+:\$PYTHONPATH\}"/);
    const ddp = renderSbatchScript({ invocation: inv, runDir: "/runs/it's $x", options: { tasksPerNode: 2, setup: ['module load cuda'] } });
    assert.match(ddp, /\nmodule load cuda\n/);
    assert.match(ddp, /export SCWB_DDP_STORE='\/runs\/it'\\''s \$x\/\.ddp-store-slurm-'"\$SLURM_JOB_ID"/);
    assert.match(ddp, /\nsrun --kill-on-bad-exit=0 bash -c 'export RANK="\$SLURM_PROCID" LOCAL_RANK="\$SLURM_LOCALID" WORLD_SIZE="\$SLURM_NTASKS"; exec "\$@"' scwb-rank "\$\{worker\[@\]\}"\n/);
    assert.match(ddp, /GLOO_SOCKET_IFNAME/);
    const multi = renderSbatchScript({ invocation: inv, runDir: '/r', options: { nodes: 2, gpusPerNode: 1 } });
    assert.doesNotMatch(multi, /GLOO_SOCKET_IFNAME/, 'loopback only on one node');
    // the worker's words survive bash
    const literal = /\nworker=(\([\s\S]*?\))\n/.exec(one)![1];
    assert.deepStrictEqual(bashWords(literal), [inv.command, ...inv.args]);
  });
});

describe('Slurm job states and sbatch output', () => {
  it('maps job states to run statuses', () => {
    const cases: [string, string][] = [['PENDING', 'queued'], ['CONFIGURING', 'queued'], ['RUNNING', 'running'], ['COMPLETING', 'running'],
      ['COMPLETED', 'completed'], ['CANCELLED by 0', 'cancelled'], ['CANCELLED+', 'cancelled'], ['FAILED', 'failed'], ['TIMEOUT', 'failed'],
      ['OUT_OF_MEMORY', 'failed'], ['NODE_FAIL', 'failed'], ['PREEMPTED', 'failed']];
    for (const [state, status] of cases) assert.strictEqual(slurmRunStatus(state), status, state);
  });

  it('reads the job id (and cluster) sbatch --parsable prints', () => {
    assert.deepStrictEqual(parseParsable('1234\n'), { jobId: '1234' });
    assert.deepStrictEqual(parseParsable('77;west\n'), { jobId: '77', cluster: 'west' });
    assert.throws(() => parseParsable('sbatch: error: Batch job submission failed\n'), /no job id/);
  });
});
