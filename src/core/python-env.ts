/**
 * Probes a Python interpreter for the training worker: its version, whether torch imports, CUDA devices.
 * The interpreter is started with an argument array (never a shell string) and the bundled probe script.
 */
import { execFile } from 'child_process';
import * as path from 'path';
import type { PythonReport } from '../shared/protocol';
import { PACKAGE_ROOT } from './paths';
import { torchSupport } from './torch-support';

export const ENV_PROBE_SCRIPT = path.join(PACKAGE_ROOT, 'resources', 'worker', 'env_probe.py');

interface ProbeOutput {
  python: string;
  executable: string;
  torch: { version: string; cuda_available: boolean; cuda_version: string | null; devices: string[] } | null;
  torch_error: string | null;
}

const INSTALL_ADVICE =
  'Install PyTorch into that environment (for example `pip install torch`, or `apt-get install python3-torch` on Debian), ' +
  'or point the setting scwb.pythonPath (or the Python extension\'s interpreter) at an environment that has it.';

export async function probePython(interpreter: string, source: PythonReport['source'], timeoutMs = 120_000): Promise<PythonReport> {
  const base: PythonReport = { source, interpreter, version: null, executable: null, torch: null, problem: null, advice: null };
  let stdout: string;
  try {
    stdout = await new Promise<string>((resolve, reject) => {
      execFile(interpreter, [ENV_PROBE_SCRIPT], { timeout: timeoutMs, windowsHide: true, maxBuffer: 1 << 20 }, (err, out, errOut) => {
        if (err) reject(Object.assign(err, { stderr: errOut }));
        else resolve(out);
      });
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string; killed?: boolean };
    if (err.code === 'ENOENT') {
      return { ...base, problem: `The Python interpreter '${interpreter}' was not found.`,
        advice: 'Install Python 3, or set scwb.pythonPath to the full path of an interpreter that has PyTorch.' };
    }
    if (err.killed) {
      return { ...base, problem: `The Python interpreter '${interpreter}' did not answer within ${Math.round(timeoutMs / 1000)} s.`,
        advice: 'Check that the interpreter starts from a terminal; a first torch import can be slow on network filesystems.' };
    }
    const detail = (err.stderr ?? '').trim().split('\n').slice(-3).join(' ');
    return { ...base, problem: `The Python interpreter '${interpreter}' failed to start: ${detail || err.message}`,
      advice: 'Set scwb.pythonPath to a working Python 3 interpreter.' };
  }
  let parsed: ProbeOutput;
  try {
    parsed = JSON.parse(stdout.trim().split('\n').pop() ?? '') as ProbeOutput;
  } catch {
    return { ...base, problem: `'${interpreter}' did not print the expected report (is it Python 3?).`,
      advice: 'Set scwb.pythonPath to a Python 3 interpreter.' };
  }
  const report: PythonReport = { ...base, version: parsed.python, executable: parsed.executable };
  if (!parsed.torch) {
    return { ...report, problem: `PyTorch is not installed for ${parsed.executable} (${parsed.torch_error ?? 'import failed'}).`, advice: INSTALL_ADVICE };
  }
  return {
    ...report,
    torch: {
      version: parsed.torch.version, cudaAvailable: parsed.torch.cuda_available, cudaVersion: parsed.torch.cuda_version, devices: parsed.torch.devices,
      support: torchSupport(parsed.torch.version),
    },
  };
}
