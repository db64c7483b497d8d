/**
 * Folders scWorkbench writes into (the run store, the queue's `.scwb`) may come from an untrusted repository. A
 * `.scwb` or `.scwb/runs` that is a symbolic link to a folder elsewhere would make every write land outside the
 * workspace. Before writing (and reading) there, every path component from the anchor (the workspace folder, which
 * itself may sit anywhere) down to the target must be a real folder: lstat per level, a link is refused by name.
 * Missing levels are created one at a time with plain mkdir (never `recursive`, which follows links).
 */
import * as fs from 'fs';
import * as path from 'path';

export class LinkedFolderError extends Error {
  constructor(readonly link: string, readonly problem: string) {
    super(`${link}: ${problem}`);
    this.name = 'LinkedFolderError';
  }
}

/** The levels below `anchor` down to `target`, outermost first; throws when target is not inside anchor. */
function levels(anchor: string, target: string): string[] {
  const a = path.resolve(anchor);
  const t = path.resolve(target);
  const rel = path.relative(a, t);
  if (rel === '') return [];
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new LinkedFolderError(t, `lies outside ${a}`);
  const out: string[] = [];
  let cur = a;
  for (const part of rel.split(path.sep)) {
    cur = path.join(cur, part);
    out.push(cur);
  }
  return out;
}

function refuse(level: string, st: fs.Stats): never {
  if (st.isSymbolicLink()) {
    throw new LinkedFolderError(level, 'is a symbolic link; scWorkbench never reads or writes its run store, queue or checkpoints through a link (replace it with a real folder)');
  }
  throw new LinkedFolderError(level, 'is not a folder');
}

/**
 * Checks that each existing level from `anchor` down to `target` is a real folder (not a link, not a file).
 * Returns false when some level does not exist yet (nothing below it can be a link), true when all exist.
 */
export async function checkRealFolders(anchor: string, target: string): Promise<boolean> {
  for (const level of levels(anchor, target)) {
    let st: fs.Stats;
    try {
      st = await fs.promises.lstat(level);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    if (!st.isDirectory()) refuse(level, st);
  }
  return true;
}

export function checkRealFoldersSync(anchor: string, target: string): boolean {
  for (const level of levels(anchor, target)) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(level);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    if (!st.isDirectory()) refuse(level, st);
  }
  return true;
}

/** Creates `target` and its missing parents below `anchor` one level at a time, refusing any level that is a link. */
export async function mkdirReal(anchor: string, target: string): Promise<void> {
  await fs.promises.mkdir(anchor, { recursive: true }); // the anchor itself is trusted (the workspace, or a folder the user named)
  for (const level of levels(anchor, target)) {
    try {
      await fs.promises.mkdir(level);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const st = await fs.promises.lstat(level);
    if (!st.isDirectory()) refuse(level, st);
  }
}
