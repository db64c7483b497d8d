/**
 * The run store: one folder per run under a root (`<workspace>/.scwb/runs/` by default).
 *
 *   <root>/<id>/run.json          RunRecord (schema-validated, written atomically)
 *   <root>/<id>/events.jsonl      progress / metric / status events, one JSON object a line, append-only
 *   <root>/<id>/run.log           free-text log, append-only
 *   <root>/<id>/metrics.json      RunMetrics once the run completed
 *   <root>/<id>/predictions.csv   index,obs_name,true_label,predicted_label for every test cell
 *   <root>/<id>/split.json        the training rows (after few-shot sampling) and test rows, in the order used
 *   <root>/<id>/heartbeat         touched while the owner runs (only read for owners on another host)
 *
 * Ids sort by creation time (UTC timestamp, then a random suffix), so a plain directory listing is chronological.
 * A run found 'queued' or 'running' whose owner process is gone is marked 'interrupted' when read; its log and
 * events stay.
 *
 * A run store may come from an untrusted repository, so the store never reads or writes through a symbolic link:
 * every folder from the anchor (the workspace) down to the run folder must be a real folder (src/core/safe-dirs.ts,
 * checked before each operation; a link is refused by name), appends open the file with O_NOFOLLOW, run.json and
 * the other files are read with the guarded reader (regular files only, bounded size: src/core/safe-read.ts), run
 * folders that are links are not listed, and a store opened read-only (the extension does so in an untrusted
 * workspace) writes nothing at all — an interrupted run is reported as such without being saved.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../fs-atomic';
import { checkRealFolders, mkdirReal } from '../safe-dirs';
import { readTextFile, readTextFileIfExists } from '../safe-read';
import { csvRow, parseCsv } from '../results/csv';
import { isOwnerAlive } from './owner';
import {
  FINAL_STATUSES, RUN_SCHEMA_VERSION, RunEventSchema, RunFileError, RunMetricsSchema, RunRecordSchema,
  RunSplitRowsSchema, parseRunFile, type RunEvent, type RunSplitRows, type RunEventInput, type RunMetrics, type RunRecord,
} from './schema';

export const RUN_FILE = 'run.json';
export const EVENTS_FILE = 'events.jsonl';
export const LOG_FILE = 'run.log';
export const METRICS_FILE = 'metrics.json';
export const PREDICTIONS_FILE = 'predictions.csv';
export const HEARTBEAT_FILE = 'heartbeat';
export const SPLIT_FILE = 'split.json';

/** The default store folder inside a workspace. */
export function defaultStoreRoot(workspace: string): string {
  return path.join(workspace, '.scwb', 'runs');
}

/**
 * The folder the store's folder chain is checked from: the workspace for `<workspace>/.scwb/runs`, else the
 * folder that holds the store (a store the user named elsewhere: the store folder itself must be real).
 */
export function storeAnchor(root: string): string {
  const abs = path.resolve(root);
  const parent = path.dirname(abs);
  return path.basename(abs) === 'runs' && path.basename(parent) === '.scwb' ? path.dirname(parent) : parent;
}

/** What a caller gives to create a run; the store fills in id, times, status and schema version. */
export type NewRun = Omit<RunRecord, 'schemaVersion' | 'id' | 'createdAt' | 'startedAt' | 'endedAt' | 'status' | 'error'
  | 'note' | 'summary' | 'owner' | 'stratifiedFewShot'> & Partial<Pick<RunRecord, 'note' | 'status' | 'owner' | 'stratifiedFewShot'>>;

/** Fields `update` may change. */
export type RunPatch = Partial<Omit<RunRecord, 'schemaVersion' | 'id' | 'createdAt'>>;

export interface PredictionRow {
  /** row of the test cell in its file (the dataset, or the query file of a reference/query split) */
  index: number;
  obsName: string;
  trueLabel: string;
  predictedLabel: string;
}

/** Runs of one experiment: a named grid of dataset x model x fraction x seed. */
export interface ExperimentGroup {
  name: string;
  runs: RunRecord[];
  datasets: string[];
  models: string[];
  fractions: number[];
  seeds: number[];
  /** runs per status */
  statusCounts: Partial<Record<RunRecord['status'], number>>;
  /** creation time of the newest run */
  lastCreatedAt: string;
}

const LOCK_DIR = '.lock';
/** Most bytes read from run.json or metrics.json. */
const RUN_FILE_LIMIT = 16 * 1024 * 1024;
/** Most bytes read from events.jsonl, run.log, predictions.csv or split.json. */
const EVENTS_LIMIT = 256 * 1024 * 1024;
const LOCK_STALE_MS = 10_000;
const LOCK_WAIT_MS = 15_000;

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A new id: 20250131T123456789Z-3f9a1c (UTC time to the millisecond, then 6 random hex digits). */
export function newRunId(now?: Date): string {
  const stamp = (now ?? monotonicNow()).toISOString().replace(/[-:.]/g, '');
  return `${stamp}-${crypto.randomBytes(3).toString('hex')}`;
}

let lastIdMs = 0;

/** The creation time an id carries, as an ISO string: runs created in one millisecond still order as their ids do. */
export function runIdTime(id: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-/.exec(id);
  if (!m) return new Date().toISOString();
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`;
}

/**
 * The current time, but strictly later than the last id's: runs created within one millisecond (a grid is
 * created at once) must still sort in creation order, which the random suffix alone would not give.
 */
function monotonicNow(): Date {
  lastIdMs = Math.max(Date.now(), lastIdMs + 1);
  return new Date(lastIdMs);
}

export interface RunStoreOptions {
  /**
   * Never write anything (an untrusted workspace): reads still work, every write method throws. A function is
   * asked at each call, so a store follows a workspace that becomes trusted.
   */
  readOnly?: boolean | (() => boolean);
  /** the folder from which every level down to a run folder must be a real folder (default: storeAnchor(root)) */
  anchor?: string;
}

/** Thrown by the write methods of a read-only store. */
export class ReadOnlyStoreError extends Error {}

export class RunStore {
  /** Updates of one run are applied one after another within this process. */
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly readOnlyOption: boolean | (() => boolean);
  readonly anchor: string;

  constructor(readonly root: string, options: RunStoreOptions = {}) {
    this.readOnlyOption = options.readOnly ?? false;
    this.anchor = options.anchor ?? storeAnchor(root);
  }

  /** Refuses a store or run folder reached through a symbolic link (any level below the anchor). */
  private async checkFolders(id?: string): Promise<void> {
    await checkRealFolders(this.anchor, id === undefined ? this.root : this.runDir(id));
  }

  get readOnly(): boolean {
    return typeof this.readOnlyOption === 'function' ? this.readOnlyOption() : this.readOnlyOption;
  }

  private assertWritable(what: string): void {
    if (this.readOnly) throw new ReadOnlyStoreError(`the run store ${this.root} is read-only (untrusted workspace): cannot ${what}`);
  }

  runDir(id: string): string {
    if (!ID_PATTERN.test(id)) throw new Error(`invalid run id '${id}'`);
    return path.join(this.root, id);
  }

  file(id: string, name: string): string {
    return path.join(this.runDir(id), name);
  }

  async create(init: NewRun): Promise<RunRecord> {
    this.assertWritable('create a run');
    await mkdirReal(this.anchor, this.root);
    let id = newRunId();
    // mkdir without recursive fails when the folder exists, so two creators never share an id.
    for (;;) {
      try {
        await fs.promises.mkdir(this.runDir(id));
        await this.checkFolders(id);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        id = newRunId();
      }
    }
    const record = this.validate(id, {
      ...init, schemaVersion: RUN_SCHEMA_VERSION, id, createdAt: runIdTime(id), startedAt: null, endedAt: null,
      status: init.status ?? 'queued', error: null, note: init.note ?? '', summary: null, owner: init.owner ?? null,
      stratifiedFewShot: init.stratifiedFewShot ?? false,
    });
    await writeFileAtomic(this.file(id, RUN_FILE), JSON.stringify(record, null, 2) + '\n');
    await appendNoFollow(this.file(id, LOG_FILE), '');
    await appendNoFollow(this.file(id, EVENTS_FILE), '');
    return record;
  }

  /** The run's record, validated; a dead owner's 'queued'/'running' run comes back (and is saved) 'interrupted'. */
  async get(id: string): Promise<RunRecord> {
    const record = await this.readRecord(id);
    return this.detectInterrupted(record);
  }

  /** All runs that read cleanly, oldest first. Use `scan` to also see the folders that did not. */
  async list(): Promise<RunRecord[]> {
    return (await this.scan()).runs;
  }

  async scan(): Promise<{ runs: RunRecord[]; problems: Error[] }> {
    await this.checkFolders();
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(this.root, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { runs: [], problems: [] };
      throw e;
    }
    // Dirent types come from lstat: a symbolic link to a folder is not a run folder and is not followed.
    const ids = entries.filter(e => e.isDirectory() && ID_PATTERN.test(e.name)).map(e => e.name).sort();
    const runs: RunRecord[] = [];
    const problems: Error[] = [];
    for (const id of ids) {
      try {
        runs.push(await this.get(id));
      } catch (e) {
        // A folder still being created has no run.json yet; that is not a problem to report.
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        problems.push(e as Error);
      }
    }
    return { runs, problems };
  }

  /** Applies `patch` to run.json (validated, atomic) and returns the new record. */
  update(id: string, patch: RunPatch | ((r: RunRecord) => RunPatch)): Promise<RunRecord> {
    if (this.readOnly) return Promise.reject(new ReadOnlyStoreError(`the run store ${this.root} is read-only (untrusted workspace): cannot update run ${id}`));
    return this.serialize(id, async () => {
      const current = await this.readRecord(id);
      const p = typeof patch === 'function' ? patch(current) : patch;
      const next = this.validate(id, { ...current, ...p, schemaVersion: RUN_SCHEMA_VERSION, id, createdAt: current.createdAt });
      await writeFileAtomic(this.file(id, RUN_FILE), JSON.stringify(next, null, 2) + '\n');
      return next;
    });
  }

  rename(id: string, name: string): Promise<RunRecord> {
    return this.update(id, { name });
  }

  setNote(id: string, note: string): Promise<RunRecord> {
    return this.update(id, { note });
  }

  /** Removes the run's folder and everything in it. */
  async delete(id: string): Promise<void> {
    this.assertWritable(`delete run ${id}`);
    await this.checkFolders(id);
    await fs.promises.rm(this.runDir(id), { recursive: true, force: true });
  }

  async appendEvent(id: string, event: RunEventInput): Promise<void> {
    const full = { ...event, time: event.time ?? new Date().toISOString() };
    const checked = RunEventSchema.safeParse(full);
    if (!checked.success) throw new Error(`run ${id}: invalid event: ${checked.error.issues[0]?.message}`);
    this.assertWritable(`append to the events of run ${id}`);
    await this.checkFolders(id);
    await appendNoFollow(this.file(id, EVENTS_FILE), JSON.stringify(checked.data) + '\n');
  }

  /**
   * Events in order. A last line cut short by a crash mid-append is skipped; any other bad line is an error
   * naming the file and line.
   */
  async readEvents(id: string): Promise<RunEvent[]> {
    const file = this.file(id, EVENTS_FILE);
    await this.checkFolders(id);
    const text = await readIfExists(file, EVENTS_LIMIT);
    if (text === null) return [];
    const lines = text.split('\n');
    const complete = text.endsWith('\n');
    const out: RunEvent[] = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (line.trim() === '') continue;
      if (i === lines.length - 1 && !complete) break;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw new RunFileError(file, `line ${i + 1} is not valid JSON`);
      }
      const res = RunEventSchema.safeParse(value);
      if (!res.success) throw new RunFileError(file, `line ${i + 1}: ${res.error.issues[0]?.message}`);
      out.push(res.data);
    }
    return out;
  }

  /** Appends text to run.log, each line prefixed with an ISO timestamp. */
  async appendLog(id: string, text: string): Promise<void> {
    const stamp = new Date().toISOString();
    const lines = text.replace(/\n$/, '').split('\n').map(l => `${stamp} ${l}`).join('\n') + '\n';
    this.assertWritable(`append to the log of run ${id}`);
    await this.checkFolders(id);
    await appendNoFollow(this.file(id, LOG_FILE), lines);
  }

  async readLog(id: string): Promise<string> {
    await this.checkFolders(id);
    return (await readIfExists(this.file(id, LOG_FILE), EVENTS_LIMIT)) ?? '';
  }

  async writeMetrics(id: string, metrics: Omit<RunMetrics, 'schemaVersion'>): Promise<RunMetrics> {
    this.assertWritable(`write the metrics of run ${id}`);
    const file = this.file(id, METRICS_FILE);
    const res = RunMetricsSchema.safeParse({ ...metrics, schemaVersion: RUN_SCHEMA_VERSION });
    if (!res.success) throw new RunFileError(file, `refusing to write invalid metrics: ${res.error.issues[0]?.message}`);
    await this.checkFolders(id);
    await writeFileAtomic(file, JSON.stringify(res.data, null, 2) + '\n');
    return res.data;
  }

  /** The run's metrics, or null before it completed. */
  async readMetrics(id: string): Promise<RunMetrics | null> {
    const file = this.file(id, METRICS_FILE);
    await this.checkFolders(id);
    const text = await readIfExists(file);
    return text === null ? null : parseRunFile(file, text, RunMetricsSchema);
  }

  async writePredictions(id: string, rows: readonly PredictionRow[]): Promise<void> {
    this.assertWritable(`write the predictions of run ${id}`);
    const parts = [csvRow(['index', 'obs_name', 'true_label', 'predicted_label'])];
    for (const r of rows) parts.push(csvRow([r.index, r.obsName, r.trueLabel, r.predictedLabel]));
    await this.checkFolders(id);
    await writeFileAtomic(this.file(id, PREDICTIONS_FILE), parts.join(''));
  }

  async readPredictions(id: string): Promise<PredictionRow[] | null> {
    const file = this.file(id, PREDICTIONS_FILE);
    await this.checkFolders(id);
    const text = await readIfExists(file, EVENTS_LIMIT);
    if (text === null) return null;
    const rows = parseCsv(text, file);
    const header = rows.shift()?.join(',');
    if (header !== 'index,obs_name,true_label,predicted_label') throw new RunFileError(file, `unexpected header '${header}'`);
    return rows.map((r, i) => {
      if (r.length !== 4 || !/^\d+$/.test(r[0])) throw new RunFileError(file, `row ${i + 2} is malformed`);
      return { index: Number(r[0]), obsName: r[1], trueLabel: r[2], predictedLabel: r[3] };
    });
  }

  /** Records which rows trained and which tested the run (row numbers in their files, in the order used). */
  async writeSplit(id: string, split: RunSplitRows): Promise<void> {
    this.assertWritable(`write the split of run ${id}`);
    const value = RunSplitRowsSchema.parse({ ...split, schemaVersion: RUN_SCHEMA_VERSION });
    await this.checkFolders(id);
    await writeFileAtomic(this.file(id, SPLIT_FILE), JSON.stringify(value) + '\n');
  }

  async readSplit(id: string): Promise<RunSplitRows | null> {
    const file = this.file(id, SPLIT_FILE);
    await this.checkFolders(id);
    const text = await readIfExists(file, EVENTS_LIMIT);
    return text === null ? null : parseRunFile(file, text, RunSplitRowsSchema);
  }

  /** Marks the run alive for observers on other hosts. */
  async heartbeat(id: string): Promise<void> {
    this.assertWritable(`touch the heartbeat of run ${id}`);
    const file = this.file(id, HEARTBEAT_FILE);
    await this.checkFolders(id);
    const now = new Date();
    try {
      // lutimes: a heartbeat that is a link changes the link's own times, never its target's.
      await fs.promises.lutimes(file, now, now);
    } catch {
      await appendNoFollow(file, '');
    }
  }

  /** Runs grouped by experiment name, newest experiment first. */
  async experiments(): Promise<ExperimentGroup[]> {
    return groupExperiments(await this.list());
  }

  private async readRecord(id: string): Promise<RunRecord> {
    const file = this.file(id, RUN_FILE);
    await this.checkFolders(id);
    const text = await readTextFile(file, { noFollow: true, maxBytes: RUN_FILE_LIMIT });
    const record = parseRunFile(file, text, RunRecordSchema);
    if (record.id !== id) throw new RunFileError(file, `id '${record.id}' does not match its folder '${id}'`);
    return record;
  }

  private async detectInterrupted(record: RunRecord): Promise<RunRecord> {
    if (FINAL_STATUSES.includes(record.status) || !record.owner) return record;
    let heartbeat: number | null = null;
    try {
      heartbeat = (await fs.promises.stat(this.file(record.id, HEARTBEAT_FILE))).mtimeMs;
    } catch {
      heartbeat = null;
    }
    if (isOwnerAlive(record.owner, heartbeat)) return record;
    const message = `the process that ran it (pid ${record.owner.pid} on ${record.owner.hostname}) is gone: it crashed, was killed or its window reloaded`;
    // A read-only store reports the run as interrupted without saving anything.
    if (this.readOnly) return { ...record, status: 'interrupted', endedAt: record.endedAt ?? null, error: message };
    const updated = await this.update(record.id, r => (FINAL_STATUSES.includes(r.status) ? {} : {
      status: 'interrupted', endedAt: new Date().toISOString(), error: message,
    }));
    if (updated.status === 'interrupted' && record.status !== 'interrupted') {
      await this.appendEvent(record.id, { type: 'status', status: 'interrupted', message });
      await this.appendLog(record.id, `interrupted: ${message}`);
    }
    return updated;
  }

  private validate(id: string, value: unknown): RunRecord {
    const res = RunRecordSchema.safeParse(value);
    if (!res.success) {
      const issue = res.error.issues[0];
      throw new RunFileError(this.file(id, RUN_FILE), `refusing to write an invalid record: ${issue?.path.join('.')}: ${issue?.message}`);
    }
    return res.data;
  }

  /**
   * Read-modify-write of run.json under a lock folder, so a worker thread or another process (the runner
   * setting the status while the user renames the run) never loses the other's change. A lock older than
   * LOCK_STALE_MS is left over from a crash and is taken over.
   */
  private async withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const lock = this.file(id, LOCK_DIR);
    await this.checkFolders(id);
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
      try {
        await fs.promises.mkdir(lock);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const age = await fs.promises.stat(lock).then(st => Date.now() - st.mtimeMs, () => 0);
        if (age > LOCK_STALE_MS || Date.now() > deadline) {
          await fs.promises.rm(lock, { recursive: true, force: true });
          continue;
        }
        await new Promise(res => setTimeout(res, wait));
      }
    }
    try {
      return await fn();
    } finally {
      await fs.promises.rm(lock, { recursive: true, force: true });
    }
  }

  private serialize<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(id) ?? Promise.resolve();
    const locked = () => this.withLock(id, fn);
    const next = prev.then(locked, locked);
    const settled = next.catch(() => undefined);
    this.queues.set(id, settled);
    void settled.then(() => { if (this.queues.get(id) === settled) this.queues.delete(id); });
    return next;
  }
}

/** Groups runs by experiment; pure, so views can group a list they already hold. */
export function groupExperiments(runs: readonly RunRecord[]): ExperimentGroup[] {
  const byName = new Map<string, RunRecord[]>();
  for (const r of runs) {
    const list = byName.get(r.experiment) ?? [];
    list.push(r);
    byName.set(r.experiment, list);
  }
  const groups: ExperimentGroup[] = [];
  for (const [name, list] of byName) {
    const statusCounts: ExperimentGroup['statusCounts'] = {};
    for (const r of list) statusCounts[r.status] = (statusCounts[r.status] ?? 0) + 1;
    groups.push({
      name, runs: list,
      datasets: uniqueSorted(list.map(r => datasetName(r))),
      models: uniqueSorted(list.map(r => r.model.label)),
      fractions: Array.from(new Set(list.map(r => r.fraction))).sort((a, b) => a - b),
      seeds: Array.from(new Set(list.map(r => r.seed))).sort((a, b) => a - b),
      statusCounts,
      lastCreatedAt: list.map(r => r.createdAt).sort().at(-1) ?? '',
    });
  }
  return groups.sort((a, b) => (a.lastCreatedAt < b.lastCreatedAt ? 1 : a.lastCreatedAt > b.lastCreatedAt ? -1 : 0));
}

/** The dataset's display name: the file stem (`zheng68k.h5ad` -> `zheng68k`). */
export function datasetName(run: Pick<RunRecord, 'dataset'>): string {
  return path.basename(run.dataset.path).replace(/\.h5ad$/i, '');
}

function uniqueSorted(values: string[]): string[] {
  return Array.from(new Set(values)).sort();
}

/**
 * Appends `data` to `file` (created when missing), never through a symbolic link: O_NOFOLLOW makes opening a
 * link fail (ELOOP), which is reported as an error naming the file.
 */
export async function appendNoFollow(file: string, data: string): Promise<void> {
  const c = fs.constants;
  let handle: fs.promises.FileHandle;
  try {
    // O_NONBLOCK: a FIFO planted under the name fails to open (ENXIO) instead of blocking; no effect on files.
    handle = await fs.promises.open(file, c.O_WRONLY | c.O_APPEND | c.O_CREAT | c.O_NOFOLLOW | c.O_NONBLOCK, 0o644);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'EMLINK') throw new RunFileError(file, 'is a symbolic link; scWorkbench never writes through links in a run folder');
    throw e;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new RunFileError(file, 'is not a regular file; scWorkbench appends only to regular files');
    await handle.appendFile(data);
  } finally {
    await handle.close();
  }
}

/** A run's own file: regular, not a link, bounded (run.json and metrics.json are small; events and logs may grow). */
function readIfExists(file: string, maxBytes = RUN_FILE_LIMIT): Promise<string | null> {
  return readTextFileIfExists(file, { noFollow: true, maxBytes });
}
