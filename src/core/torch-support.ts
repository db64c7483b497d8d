/**
 * Which PyTorch versions the training worker is tested on, and what the About panel says about another one. The
 * worker's pytest suite runs on torch 1.13 (Debian's CPU build) and on torch 2.13 (CPU wheels in a venv) in
 * `npm test` (docs/development.md).
 */

/** major.minor of the torch versions the worker's tests run on, oldest first */
export const TESTED_TORCH = ['1.13', '2.13'] as const;

export interface TorchSupport {
  /** tested: one of TESTED_TORCH; between: newer than the oldest, older than the newest; older / newer: outside */
  status: 'tested' | 'between' | 'older' | 'newer' | 'unknown';
  /** one sentence for the user */
  message: string;
}

function majorMinor(v: string): [number, number] | null {
  const m = /^(\d+)\.(\d+)/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2])] : null;
}

function compare(a: [number, number], b: [number, number]): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1];
}

/** What torch `version` (torch.__version__, e.g. '2.13.0+cpu') means for the worker. */
export function torchSupport(version: string): TorchSupport {
  const v = majorMinor(version);
  const oldest = majorMinor(TESTED_TORCH[0])!;
  const newest = majorMinor(TESTED_TORCH[TESTED_TORCH.length - 1])!;
  const tested = TESTED_TORCH.join(' and ');
  if (!v) return { status: 'unknown', message: `torch '${version}' is not a version number the workbench understands; the worker is tested on torch ${tested}.` };
  const mm = `${v[0]}.${v[1]}`;
  if ((TESTED_TORCH as readonly string[]).includes(mm)) return { status: 'tested', message: `torch ${mm} is tested: the worker's test suite runs on torch ${tested}.` };
  if (compare(v, oldest) < 0) {
    return { status: 'older', message: `torch ${mm} is older than the oldest tested version (${TESTED_TORCH[0]}): the worker is not tested on it and may fail; install torch ${TESTED_TORCH[0]} or newer.` };
  }
  if (compare(v, newest) > 0) {
    return { status: 'newer', message: `torch ${mm} is newer than the newest tested version (${newest.join('.')}): the worker uses public torch APIs only and should run, but it is not tested on it; if a run fails, try torch ${newest.join('.')}.` };
  }
  return { status: 'between', message: `torch ${mm} lies between the tested versions (${tested}): ${v[0] >= 2 ? 'it takes the torch-2 code paths tested on ' + newest.join('.') : 'it takes the code paths tested on ' + oldest.join('.')}, but is not tested itself.` };
}
