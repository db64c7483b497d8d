/**
 * Who executes a run, and whether that process still lives. A run left 'running' by a crashed process or a
 * reloaded VS Code window must not stay 'running' forever: the store marks it interrupted when its owner is gone.
 *
 * On the owner's own host the check is exact: the pid must exist and have the same start time (a recycled pid
 * has another) and must not be a zombie (exited, not yet reaped by its parent). From another host (a shared
 * filesystem) only the heartbeat file's age can tell.
 */
import * as fs from 'fs';
import * as os from 'os';
import type { RunOwner } from './schema';

/** A heartbeat older than this means the owner on another host is gone. */
export const HEARTBEAT_STALE_MS = 2 * 60 * 1000;
/** How often a running owner refreshes its heartbeat file. */
export const HEARTBEAT_INTERVAL_MS = 10 * 1000;

/** Fields 3.. of /proc/<pid>/stat (Linux), or null where /proc is unavailable or the process is gone. */
function procStat(pid: number): string[] | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces; fields after it are plain.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** Start time of process `pid` in clock ticks since boot (Linux), or null where /proc is unavailable. */
export function processStartTime(pid: number): string | null {
  return procStat(pid)?.[19] ?? null; // field 22 (starttime); [0] is field 3
}

/**
 * Whether `pid` has exited but was not reaped yet (state Z, zombie; or X, dead): it still has a pid and answers
 * kill(pid, 0), yet it runs nothing.
 */
export function isZombie(pid: number): boolean {
  const state = procStat(pid)?.[0];
  return state === 'Z' || state === 'X';
}

export function currentOwner(): RunOwner {
  return { pid: process.pid, hostname: os.hostname(), processStart: processStartTime(process.pid) };
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the owner process of a run still runs. `heartbeatMs` is the heartbeat file's mtime (null when the
 * file is missing); it decides only for owners on another host.
 */
export function isOwnerAlive(owner: RunOwner, heartbeatMs: number | null, now = Date.now()): boolean {
  if (owner.hostname === os.hostname()) {
    if (!pidExists(owner.pid) || isZombie(owner.pid)) return false;
    if (owner.processStart === null) return true;
    const start = processStartTime(owner.pid);
    return start === null || start === owner.processStart;
  }
  return heartbeatMs !== null && now - heartbeatMs < HEARTBEAT_STALE_MS;
}
