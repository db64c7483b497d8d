import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { checkWorkerEnvironment, estimateRunMemory, judgeEnvironment, type WorkerEnvReport } from '../../../src/core/finetune/env';
import { prepareFinetuneGrid } from '../../../src/core/finetune/prepare';
import { PROJECT_ROOT, PYTHON, simulateH5ad, tempDir } from '../../helpers/shared';

describe('fine-tune: the environment check (python -m scwb_worker env --json)', () => {
  it('reads the real worker\'s report from Debian\'s python3 (torch on CPU)', async () => {
    const check = await checkWorkerEnvironment(PYTHON, { device: 'cpu' });
    assert.strictEqual(check.ok, true, check.problem ?? '');
    assert.match(check.report!.torch ?? '', /^\d+\.\d+/);
    assert.strictEqual(check.report!.executable, PYTHON);
    if (!check.report!.cuda.available) {
      const gpu = judgeEnvironment(check.report!, { device: 'cuda' });
      assert.strictEqual(gpu.ok, false);
      assert.match(gpu.problem!, /You asked for a GPU, but .* has no CUDA device/);
    }
  });

  it('names a missing interpreter', async () => {
    const check = await checkWorkerEnvironment('/nonexistent/python3');
    assert.strictEqual(check.ok, false);
    assert.match(check.problem!, /'\/nonexistent\/python3' was not found/);
  });

  it('refuses more GPUs than torch sees, and passes on the worker\'s own problems', () => {
    const report: WorkerEnvReport = {
      python: '3.11', executable: '/py', torch: '2.3.0', ok: true, problems: [], message: 'Ready',
      cuda: { available: true, version: '12.1', devices: [{ name: 'H100', totalMiB: 81559, freeMiB: 80000 }] },
    };
    assert.deepStrictEqual(judgeEnvironment(report, { device: 'cuda', nproc: 1 }).ok, true);
    assert.match(judgeEnvironment(report, { device: 'cuda', nproc: 2 }).problem!, /asked for 2 GPUs, but torch sees 1/);
    const broken = { ...report, ok: false, problems: ['torch is not importable'], message: 'The training worker cannot run with /py:\n- torch is not importable' };
    assert.match(judgeEnvironment(broken).problem!, /cannot run with \/py/);
  });

  it('estimates a prepared run\'s peak memory with the worker (weights, grads, Adam, activations), and names a bad run folder', async () => {
    const dir = tempDir('scwb-ft-estimate-');
    try {
      const sim = simulateH5ad(path.join(dir, 'sim.h5ad'), 400, 100, 5);
      execFileSync(PYTHON, ['-m', 'scwb_worker', 'demo-checkpoints', path.join(dir, 'ckpt'), '--genes-from', sim], {
        env: { ...process.env, PYTHONPATH: path.join(PROJECT_ROOT, 'resources', 'worker') },
      });
      const plan = await prepareFinetuneGrid({
        datasetPath: sim, labelColumn: 'cell_type', model: 'scgpt', checkpoint: path.join(dir, 'ckpt', 'scGPT_tiny'),
        batchSize: 16, device: 'cpu', storeRoot: path.join(dir, 'runs'),
      }, { progress: () => undefined, cancelled: false });
      const est = await estimateRunMemory(PYTHON, plan.runs[0].runDir);
      assert.strictEqual(est.model, 'scgpt');
      assert.strictEqual(est.device, 'cpu');
      assert.strictEqual(est.batchPerProcess, 16);
      assert.strictEqual(est.seqLen, 3001);
      const sum = Object.values(est.components).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(est.peakMiB - sum) < 0.5, `${est.peakMiB} vs ${sum}`);
      assert.ok(est.components.activationsMiB > 0 && est.components.weightsMiB > 0, JSON.stringify(est.components));
      assert.strictEqual(est.fits, null, 'no GPU: nothing to fit into');
      const missing = path.join(dir, 'runs', 'no-such-run');
      await assert.rejects(estimateRunMemory(PYTHON, missing), (e: Error) => e.message.includes(missing));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
