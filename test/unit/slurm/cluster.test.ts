/**
 * The Slurm run target against a REAL single-node Slurm on localhost (scripts/slurm-local.sh: Debian slurm-wlm,
 * daemons in a network namespace, clients through nsenter wrappers on PATH). Tiny fine-tune runs of the real worker
 * (Debian's torch 1.13, CPU) go through sbatch; a job that cannot start, a cancelled job and hostile arguments too.
 * Without root or Slurm these tests fail with the reason (they are never skipped).
 */
import * as assert from 'assert';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { RunStore } from '../../../src/core/runs/store';
import { SlurmClient, isFinalSlurmState } from '../../../src/core/slurm/client';
import { cancelSlurmRun, refreshSlurmRun, submitRunToSlurm, waitForSlurmRun } from '../../../src/core/slurm/runs';
import { SLURM_SCRIPT_FILE, renderSbatchScript, slurmOutputFile } from '../../../src/core/slurm/script';
import { PROJECT_ROOT, PYTHON, simulateH5ad, tempDir } from '../../helpers/shared';
import { slurmEnv, stopLocalSlurmIfOurs } from '../../helpers/slurm';
import { HOSTILE } from './hostile';

const SCWB = path.join(PROJECT_ROOT, 'bin', 'scwb.js');

describe('Slurm run target on a real local Slurm (scripts/slurm-local.sh)', () => {
  let dir: string;
  let store: RunStore;
  let env: NodeJS.ProcessEnv;
  let client: SlurmClient;

  function scwb(args: string[]): { code: number; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [SCWB, ...args], { encoding: 'utf8', env, maxBuffer: 1 << 26 });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** A queued tiny scBERT run (demo checkpoint) in the store, prepared by `scwb finetune --prepare-only`. */
  function prepareRun(experiment: string, extra: string[] = []): string {
    const r = scwb(['finetune', path.join(dir, 'sim_scbert.h5ad'), '--model', 'scbert', '--checkpoint', path.join(dir, 'ckpt', 'scbert_tiny', 'scbert_tiny_pretrain.pth'),
      '--label', 'cell_type', '--epochs', '2', '--python', PYTHON, '--store', store.root, '--device', 'cpu', '--experiment', experiment, '--prepare-only', ...extra]);
    assert.strictEqual(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { runs: { id: string }[] }).runs[0].id;
  }

  async function waitJob(jobId: string): Promise<{ state: string | null; exitCode: string | null; seen: string[] }> {
    const seen: string[] = [];
    for (;;) {
      const s = await client.state(jobId);
      if (s.state && seen.at(-1) !== s.state) seen.push(s.state);
      if (s.state && isFinalSlurmState(s.state)) return { ...s, seen };
      await new Promise(res => setTimeout(res, 300));
    }
  }

  before(() => {
    env = slurmEnv();
    client = new SlurmClient({ env });
    // A run folder name with a space and a quote: every path in the script must survive bash and sbatch.
    dir = tempDir("scwb slurm 'it");
    store = new RunStore(path.join(dir, 'runs'));
    const sim = simulateH5ad(path.join(dir, 'sim.h5ad'), 200, 120, 5);
    execFileSync(PYTHON, ['-m', 'scwb_worker', 'demo-checkpoints', path.join(dir, 'ckpt'), '--genes-from', sim], {
      env: { ...process.env, PYTHONPATH: path.join(PROJECT_ROOT, 'resources', 'worker') },
    });
    fs.writeFileSync(path.join(dir, 'scbert.json'), JSON.stringify({ recipe: 'scbert', params: { referenceGenes: 'ckpt/scbert_tiny/genes.txt', minGenes: 10 } }));
    const p = scwb(['preprocess', path.join(dir, 'scbert.json'), sim, path.join(dir, 'sim_scbert.h5ad')]);
    assert.strictEqual(p.code, 0, p.stderr);
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    stopLocalSlurmIfOurs();
  });

  it('passes hostile arguments through sbatch byte-identical', async () => {
    const jobDir = path.join(dir, 'quoting $x `y`');
    fs.mkdirSync(jobDir);
    const outFile = path.join(jobDir, 'argv.json');
    const script = renderSbatchScript({
      invocation: {
        command: PYTHON, args: ['-c', 'import json, os, sys; open(sys.argv[1], "w", encoding="utf-8").write(json.dumps([os.environ["SCWB_HOSTILE"]] + sys.argv[2:]))', outFile, ...HOSTILE],
        env: { SCWB_HOSTILE: "a'b $c `d`\ne" }, cwd: jobDir,
      },
      runDir: jobDir, options: { jobName: 'scwb-quoting' },
    });
    fs.writeFileSync(path.join(jobDir, SLURM_SCRIPT_FILE), script);
    const { jobId } = await client.submit(path.join(jobDir, SLURM_SCRIPT_FILE), jobDir);
    const end = await waitJob(jobId);
    assert.strictEqual(end.state, 'COMPLETED', fs.readFileSync(path.join(jobDir, slurmOutputFile(jobId)), 'utf8'));
    assert.deepStrictEqual(JSON.parse(fs.readFileSync(outFile, 'utf8')), ["a'b $c `d`\ne", ...HOSTILE]);
  });

  it('runs a tiny fine-tune through sbatch: PENDING, RUNNING, COMPLETED, then predictions and metrics', async () => {
    // --begin keeps the job PENDING for a few seconds, so the queued state is seen for sure
    const r = scwb(['finetune', path.join(dir, 'sim_scbert.h5ad'), '--model', 'scbert', '--checkpoint', path.join(dir, 'ckpt', 'scbert_tiny', 'scbert_tiny_pretrain.pth'),
      '--label', 'cell_type', '--epochs', '2', '--python', PYTHON, '--store', store.root, '--device', 'cpu', '--experiment', 'on slurm',
      '--slurm', '--sbatch-args=--begin=now+3', '--time', '30:00']);
    assert.strictEqual(r.code, 0, r.stderr);
    const submitted = JSON.parse(r.stdout) as { runs: { id: string; status: string; slurmJobId: string }[] };
    const id = submitted.runs[0].id;
    assert.strictEqual(submitted.runs[0].status, 'queued');
    assert.match(submitted.runs[0].slurmJobId, /^\d+$/);
    const states: string[] = [];
    const statuses: string[] = [];
    const end = await waitForSlurmRun(store, id, client, {
      intervalMs: 300,
      onState: v => {
        if (v.job.state && states.at(-1) !== v.job.state) states.push(v.job.state);
        if (statuses.at(-1) !== v.record.status) statuses.push(v.record.status);
      },
    });
    const jobId = submitted.runs[0].slurmJobId;
    const log = fs.readFileSync(store.file(id, slurmOutputFile(jobId)), 'utf8');
    assert.strictEqual(end.record.status, 'completed', `${end.record.error}\n${log}`);
    assert.strictEqual(states[0], 'PENDING');
    assert.ok(states.includes('RUNNING'), `states seen: ${states.join(', ')}`);
    assert.strictEqual(states.at(-1), 'COMPLETED');
    assert.deepStrictEqual([statuses[0], statuses.at(-1)], ['queued', 'completed']);
    const record = await store.get(id);
    assert.strictEqual(record.slurm?.jobId, jobId);
    assert.strictEqual(record.slurm?.state, 'COMPLETED');
    assert.strictEqual(record.slurm?.script, store.file(id, SLURM_SCRIPT_FILE));
    const predictions = (await store.readPredictions(id))!;
    const split = (await store.readSplit(id))!;
    assert.strictEqual(predictions.length, split.test.length);
    const metrics = (await store.readMetrics(id))!;
    assert.strictEqual(record.summary?.accuracy, metrics.accuracy);
    // the worker ran on the node: its own status events, and its output in slurm-<job>.out
    const events = await store.readEvents(id);
    assert.deepStrictEqual(events.filter(e => e.type === 'status').map(e => e.type === 'status' && e.status), ['running', 'completed']);
    assert.ok(log.length > 0, 'the job wrote its output to slurm-<job>.out in the run folder');
    assert.match(await store.readLog(id), new RegExp(`submitted to Slurm as job ${jobId}`));
  });

  it('a job that fails before the worker starts ends failed, naming the job, its state and the kept log', async () => {
    const id = prepareRun('no python');
    const rec = await submitRunToSlurm(store, id, { python: path.join(dir, 'no such python'), options: {}, client });
    const end = await waitForSlurmRun(store, id, client, { intervalMs: 300 });
    const jobId = rec.slurm!.jobId;
    assert.strictEqual(end.record.status, 'failed');
    assert.strictEqual(end.job.state, 'FAILED');
    assert.strictEqual(end.job.exitCode, '127:0');
    assert.match(end.record.error ?? '', new RegExp(`Slurm job ${jobId} ended FAILED \\(exit code 127:0\\).*${slurmOutputFile(jobId).replace('.', '\\.')}`));
    const log = fs.readFileSync(store.file(id, slurmOutputFile(jobId)), 'utf8');
    assert.match(log, /no such python/);
    const events = await store.readEvents(id);
    assert.deepStrictEqual(events.filter(e => e.type === 'status').map(e => e.type === 'status' && e.status), ['failed']);
  });

  it('cancels a pending run (the run ends cancelled) and a sleeping job (Slurm says CANCELLED)', async () => {
    const id = prepareRun('cancel pending');
    await submitRunToSlurm(store, id, { python: PYTHON, options: { extraArgs: ['--begin=now+600'] }, client });
    assert.strictEqual((await refreshSlurmRun(store, id, client)).job.state, 'PENDING');
    const r = scwb(['slurm', 'cancel', store.runDir(id)]);
    assert.strictEqual(r.code, 0, r.stderr);
    const end = await waitForSlurmRun(store, id, client, { intervalMs: 300 });
    assert.strictEqual(end.record.status, 'cancelled');
    assert.strictEqual(end.job.state, 'CANCELLED');
    const status = JSON.parse(scwb(['slurm', 'status', store.runDir(id)]).stdout) as { status: string; slurmState: string };
    assert.deepStrictEqual([status.status, status.slurmState], ['cancelled', 'CANCELLED']);

    const sleepDir = path.join(dir, 'sleep');
    fs.mkdirSync(sleepDir);
    fs.writeFileSync(path.join(sleepDir, 'sleep.sbatch'), '#!/bin/bash\n#SBATCH --output=slurm-%j.out\necho started\nsleep 600\n');
    const { jobId } = await client.submit(path.join(sleepDir, 'sleep.sbatch'), sleepDir);
    for (;;) {
      if ((await client.state(jobId)).state === 'RUNNING') break;
      await new Promise(res => setTimeout(res, 200));
    }
    await client.cancel(jobId);
    assert.strictEqual((await waitJob(jobId)).state, 'CANCELLED');
  });

  it('cancelling a job whose worker runs: the worker checkpoints and marks the run cancelled', async () => {
    const id = prepareRun('cancel running', ['--epochs', '50']);
    await submitRunToSlurm(store, id, { python: PYTHON, options: {}, client });
    for (;;) {
      if ((await store.readEvents(id)).some(e => e.type === 'train')) break;
      await new Promise(res => setTimeout(res, 200));
    }
    await cancelSlurmRun(store, id, client);
    const end = await waitForSlurmRun(store, id, client, { intervalMs: 300 });
    assert.strictEqual(end.record.status, 'cancelled', end.record.error ?? '');
    const events = await store.readEvents(id);
    assert.deepStrictEqual(events.filter(e => e.type === 'status').map(e => e.type === 'status' && e.status), ['running', 'cancelled'], 'the worker, not the host, ended it');
  });

  it('runs data-parallel as a 2-task srun on one node (gloo, CPU) with the file rendezvous in the run folder', async () => {
    const r = scwb(['finetune', path.join(dir, 'sim_scbert.h5ad'), '--model', 'scbert', '--checkpoint', path.join(dir, 'ckpt', 'scbert_tiny', 'scbert_tiny_pretrain.pth'),
      '--label', 'cell_type', '--epochs', '1', '--python', PYTHON, '--store', store.root, '--device', 'cpu', '--experiment', 'ddp on slurm',
      '--slurm', '--tasks-per-node', '2', '--wait']);
    const out = JSON.parse(r.stdout) as { runs: { id: string; status: string; slurmJobId: string; error: string | null }[] };
    const run = out.runs[0];
    const log = fs.readFileSync(store.file(run.id, slurmOutputFile(run.slurmJobId)), 'utf8');
    assert.strictEqual(r.code, 0, `${r.stderr}\n${log}`);
    assert.strictEqual(run.status, 'completed', run.error ?? '');
    assert.match(fs.readFileSync(store.file(run.id, SLURM_SCRIPT_FILE), 'utf8'), /\nsrun /);
    assert.match(await store.readLog(run.id), /2 processes/);
    assert.deepStrictEqual(fs.readdirSync(store.runDir(run.id)).filter(f => f.startsWith('.ddp-store')), [], 'the rendezvous file is removed');
    assert.ok(await store.readMetrics(run.id));
  });
});
