/**
 * The environment check before a fine-tune launch: `python -m scwb_worker env --json` with the chosen interpreter
 * (argument array, the bundled package on PYTHONPATH), read into what the launcher tells the user.
 */
import { execFile } from 'child_process';
import { workerInvocation } from './invocation';

export interface WorkerEnvReport {
  python: string;
  executable: string;
  torch: string | null;
  cuda: { available: boolean; version: string | null; devices: { name: string; totalMiB: number; freeMiB: number | null }[] };
  ok: boolean;
  problems: string[];
  message: string;
}

export interface WorkerEnvCheck {
  /** the worker can run with this interpreter and the requested device/GPU count */
  ok: boolean;
  report: WorkerEnvReport | null;
  /** what is wrong and what to do, for the user; null when ok */
  problem: string | null;
}

export async function checkWorkerEnvironment(python: string, want: { device?: 'auto' | 'cpu' | 'cuda'; nproc?: number } = {}, timeoutMs = 120_000): Promise<WorkerEnvCheck> {
  const inv = workerInvocation({ python, runDirs: ['.'] });
  let stdout: string;
  try {
    stdout = await new Promise<string>((resolve, reject) => {
      execFile(inv.command, ['-m', 'scwb_worker', 'env', '--json'], {
        env: { ...process.env, ...inv.env }, timeout: timeoutMs, windowsHide: true, maxBuffer: 1 << 20,
      }, (err, out, errOut) => {
        // Exit status 1 means "something is missing" and still prints the report.
        if (err && !(out.trim() && typeof err.code === 'number')) reject(Object.assign(err, { stderr: errOut }));
        else resolve(out);
      });
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string; killed?: boolean };
    if (err.code === 'ENOENT') {
      return { ok: false, report: null, problem: `The Python interpreter '${python}' was not found. Install Python 3 with PyTorch, or set scwb.pythonPath to one.` };
    }
    if (err.killed) return { ok: false, report: null, problem: `'${python} -m scwb_worker env' did not answer within ${Math.round(timeoutMs / 1000)} s.` };
    const detail = (err.stderr ?? '').trim().split('\n').slice(-3).join(' ');
    return { ok: false, report: null, problem: `'${python}' could not run the training worker's environment check: ${detail || err.message}` };
  }
  let report: WorkerEnvReport;
  try {
    report = JSON.parse(stdout.trim().split('\n').pop() ?? '') as WorkerEnvReport;
  } catch {
    return { ok: false, report: null, problem: `'${python}' did not print the worker's environment report (is it Python 3?).` };
  }
  return judgeEnvironment(report, want);
}

/** Whether a worker environment report allows the wanted device and GPU count, and if not, why. */
export function judgeEnvironment(report: WorkerEnvReport, want: { device?: 'auto' | 'cpu' | 'cuda'; nproc?: number } = {}): WorkerEnvCheck {
  if (!report.ok) return { ok: false, report, problem: report.message || report.problems.join('\n') };
  const gpus = report.cuda.available ? report.cuda.devices.length : 0;
  if (want.device === 'cuda' && gpus === 0) {
    return { ok: false, report, problem: `You asked for a GPU, but ${report.executable} has no CUDA device: ${report.message}` };
  }
  if ((want.nproc ?? 1) > 1 && want.device !== 'cpu' && gpus > 0 && (want.nproc ?? 1) > gpus) {
    return { ok: false, report, problem: `You asked for ${want.nproc} GPUs, but torch sees ${gpus}.` };
  }
  return { ok: true, report, problem: null };
}

/** What `python -m scwb_worker estimate --run-dir DIR [--probe]` prints (per process; MiB). */
export interface MemoryEstimate {
  model: string;
  device: 'cpu' | 'cuda';
  batchPerProcess: number;
  processes: number;
  seqLen: number;
  peakMiB: number;
  components: Record<string, number>;
  /** free / total memory of the first GPU; null on the CPU */
  freeMiB: number | null;
  totalMiB: number | null;
  /** the largest per-process batch whose estimate fits in 90% of the free memory; null on the CPU */
  suggestedBatch: number | null;
  fits: boolean | null;
  probe: { largestBatch: number | null; message?: string } | null;
}

/**
 * The worker's peak-memory estimate for a prepared run (and, with `probe`, the largest batch that really ran on
 * the GPU). Throws with the worker's message (naming the run folder) when it cannot estimate.
 */
export async function estimateRunMemory(python: string, runDir: string, opts: { probe?: boolean; timeoutMs?: number } = {}): Promise<MemoryEstimate> {
  const inv = workerInvocation({ python, runDirs: [runDir] });
  const args = ['-m', 'scwb_worker', 'estimate', '--run-dir', runDir, ...(opts.probe ? ['--probe'] : [])];
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(inv.command, args, { env: { ...process.env, ...inv.env }, timeout: opts.timeoutMs ?? 600_000, windowsHide: true, maxBuffer: 1 << 20 },
      (err, out, errOut) => {
        // The worker prints {"error": ...} with exit status 1 for a run it cannot estimate.
        if (err && !out.trim()) reject(new Error(`${runDir}: the memory estimate failed: ${(errOut || err.message).trim().split('\n').slice(-2).join(' ')}`));
        else resolve(out);
      });
  });
  let value: MemoryEstimate & { error?: string };
  try {
    value = JSON.parse(stdout.trim().split('\n').pop() ?? '') as MemoryEstimate & { error?: string };
  } catch {
    throw new Error(`${runDir}: the worker's memory estimate was not JSON`);
  }
  if (value.error) throw new Error(value.error);
  return value;
}
