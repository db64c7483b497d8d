import * as assert from 'assert';
import { checkWorkerEnvironment, judgeEnvironment, type WorkerEnvReport } from '../../../src/core/finetune/env';
import { PYTHON } from '../../helpers/shared';

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
});
