/** Paths to ../shared (test data lives there, never copied into the project) and the reference Python. */
import * as path from 'path';
import * as fs from 'fs';
import { execFileSync } from 'child_process';
import * as os from 'os';

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..', '..');
export const SHARED = process.env.SCWB_SHARED ?? path.resolve(PROJECT_ROOT, '..', 'shared');
export const H5AD_DIR = path.join(SHARED, 'data', 'h5ad');
export const REFERENCE_DIR = path.join(SHARED, 'reference');
/** Debian's python3 sees python3-numpy/scipy/sklearn/anndata; pyenv's python3 on PATH does not. */
export const PYTHON = process.env.SCWB_REF_PYTHON ?? '/usr/bin/python3';
export const PY_DIR = path.join(PROJECT_ROOT, 'test', 'python');

export function h5adPath(name: string): string {
  return path.join(H5AD_DIR, name);
}

/** Runs test/python/<script> with args under Debian's python3 and parses its stdout as JSON. */
export function runPythonJson<T = unknown>(script: string, args: string[], input?: string): T {
  const out = execFileSync(PYTHON, [path.join(PY_DIR, script), ...args], {
    input, encoding: 'utf8', maxBuffer: 1 << 30, env: { ...process.env, PYTHONHASHSEED: '0' },
  });
  return JSON.parse(out) as T;
}

/** A fresh temp folder under the OS temp dir (tests clean it up). */
export function tempDir(prefix = 'scwb-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes a simulated counts .h5ad with `scwb simulate` (the CLI as users run it) and returns its path. */
export function simulateH5ad(out: string, cells: number, genes: number, seed: number): string {
  execFileSync(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'scwb.js'), 'simulate', '--cells', String(cells), '--genes', String(genes), '--seed', String(seed), '--out', out]);
  return out;
}
