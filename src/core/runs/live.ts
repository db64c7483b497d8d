/**
 * Following a run while it runs: an incremental reader of events.jsonl (reads only what was appended since the last
 * call) and the short live summary the Runs view shows (progress, or a fine-tune's epoch, loss, cells/s and
 * validation accuracy).
 */
import * as fs from 'fs';
import { RunEventSchema, RunFileError, type RunEvent } from './schema';

export type TrainEvent = Extract<RunEvent, { type: 'train' }>;
export type ValidationEvent = Extract<RunEvent, { type: 'validation' }>;
export type ProgressEvent = Extract<RunEvent, { type: 'progress' }>;

/** Events appended since the last read; `reset` when the file shrank or was replaced, so `events` are all of them. */
export interface TailRead {
  events: RunEvent[];
  reset: boolean;
}

/**
 * Reads events.jsonl from where the last read stopped. A line not yet ended by a newline (a writer mid-append) is
 * left for the next read. A line that is not a valid event is an error naming the file and line. Reading never
 * follows a symbolic link (the file is lstat-ed first), so a planted link cannot make the view read elsewhere.
 */
export class EventsTail {
  private offset = 0;
  private line = 0;
  private identity = '';
  private pending = Buffer.alloc(0);

  constructor(readonly file: string) {}

  async read(): Promise<TailRead> {
    let st: fs.Stats;
    try {
      st = await fs.promises.lstat(this.file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return this.restartIfNeeded('', 0);
      throw e;
    }
    if (!st.isFile()) throw new RunFileError(this.file, 'is not a regular file (a link or a folder); refusing to read it');
    const identity = `${st.dev}:${st.ino}`;
    const start = this.restartIfNeeded(identity, st.size);
    if (st.size <= this.offset) return start;
    const handle = await fs.promises.open(this.file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | (fs.constants.O_NOFOLLOW ?? 0));
    let chunk: Buffer;
    try {
      chunk = Buffer.alloc(st.size - this.offset);
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, this.offset);
      chunk = chunk.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
    this.offset += chunk.length;
    const data = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const lastNewline = data.lastIndexOf(0x0a);
    this.pending = Buffer.from(lastNewline < 0 ? data : data.subarray(lastNewline + 1));
    if (lastNewline < 0) return start;
    const events = start.events;
    for (const text of data.subarray(0, lastNewline).toString('utf8').split('\n')) {
      this.line++;
      if (text.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw new RunFileError(this.file, `line ${this.line} is not valid JSON`);
      }
      const res = RunEventSchema.safeParse(value);
      if (!res.success) throw new RunFileError(this.file, `line ${this.line}: ${res.error.issues[0]?.message}`);
      events.push(res.data);
    }
    return start;
  }

  /** Starts over when the file is another one than last time or shorter than what was read. */
  private restartIfNeeded(identity: string, size: number): TailRead {
    const reset = (this.identity !== '' && identity !== this.identity) || size < this.offset;
    if (reset || this.identity === '') {
      this.offset = 0;
      this.line = 0;
      this.pending = Buffer.alloc(0);
    }
    this.identity = identity;
    return { events: [], reset };
  }
}

/** The last events of each kind that matter for a live display. */
export interface LiveSummary {
  progress: ProgressEvent | null;
  train: TrainEvent | null;
  validation: ValidationEvent | null;
  /** the best validation so far (the last with `best: true`) */
  best: ValidationEvent | null;
}

export function emptyLive(): LiveSummary {
  return { progress: null, train: null, validation: null, best: null };
}

/** Folds events (in order) into a live summary. */
export function foldLive(live: LiveSummary, events: readonly RunEvent[]): LiveSummary {
  const next = { ...live };
  for (const e of events) {
    if (e.type === 'progress') next.progress = e;
    else if (e.type === 'train') next.train = e;
    else if (e.type === 'validation') {
      next.validation = e;
      if (e.best) next.best = e;
    }
  }
  return next;
}

/**
 * The number of epochs a fine-tune, pre-training or linear-probe run was configured with (run.json
 * parameters.finetune / pretrain / probe `.epochs`), if known.
 */
export function configuredEpochs(parameters: Record<string, unknown>): number | null {
  const ft = (parameters.finetune ?? parameters.pretrain ?? parameters.probe) as { epochs?: unknown } | undefined;
  const e = ft && typeof ft === 'object' ? ft.epochs : undefined;
  return typeof e === 'number' && Number.isInteger(e) && e > 0 ? e : null;
}

function fmtLoss(x: number): string {
  return Number.isFinite(x) ? x.toFixed(3) : String(x);
}

/** The one-line live text of a running run, e.g. `epoch 2/10 · loss 0.412 · 153 cells/s · val acc 0.871`. */
export function liveText(live: LiveSummary, epochs: number | null): string | undefined {
  const parts: string[] = [];
  if (live.train) {
    const t = live.train;
    parts.push(`epoch ${t.epoch}${epochs ? `/${epochs}` : ''}`, `loss ${fmtLoss(t.loss)}`, `${Math.round(t.cellsPerSec)} cells/s`);
    if (live.validation && live.validation.accuracy !== null) parts.push(`val acc ${live.validation.accuracy.toFixed(3)}`);
    else if (live.validation) parts.push(`val loss ${fmtLoss(live.validation.loss)}`);
  } else if (live.progress) {
    const p = live.progress;
    parts.push(`${Math.round(100 * p.fraction)}%${p.message ? ` ${p.message}` : ''}`);
  }
  return parts.length ? parts.join(' · ') : undefined;
}

/**
 * The short text of a running run's row in the Runs view, most telling part first so that a narrow side bar cuts
 * only the end: "epoch 2/10 · running", or "42% · running" before training (the rest is in liveTooltip).
 */
export function liveLabel(live: LiveSummary, epochs: number | null): string {
  if (live.train) return `epoch ${live.train.epoch}${epochs ? `/${epochs}` : ''} · running`;
  if (live.progress) return `${Math.round(100 * live.progress.fraction)}% · running`;
  return 'running';
}

/** Tooltip lines with the detail of the last training and validation events. */
export function liveTooltip(live: LiveSummary, epochs: number | null): string[] {
  const lines: string[] = [];
  if (live.train) {
    const t = live.train;
    lines.push(`epoch ${t.epoch}${epochs ? ` of ${epochs}` : ''}, step ${t.step}`);
    lines.push(`loss ${fmtLoss(t.loss)}, lr ${t.lr.toExponential(1)}, ${Math.round(t.cellsPerSec)} cells/s`);
    if (t.gpuMemoryMiB !== null) lines.push(`GPU memory ${Math.round(t.gpuMemoryMiB)} MiB`);
  }
  if (live.validation) {
    const v = live.validation;
    lines.push(v.accuracy !== null
      ? `validation accuracy ${v.accuracy.toFixed(3)} (epoch ${v.epoch}${v.best ? ', best' : ''}), loss ${fmtLoss(v.loss)}`
      : `validation loss ${fmtLoss(v.loss)} (epoch ${v.epoch}${v.best ? ', best' : ''})`);
    if (live.best && !v.best) {
      lines.push(live.best.accuracy !== null ? `best validation accuracy ${live.best.accuracy.toFixed(3)} (epoch ${live.best.epoch})`
        : `best validation loss ${fmtLoss(live.best.loss)} (epoch ${live.best.epoch})`);
    }
  }
  if (live.progress && !live.train) lines.push(`progress ${Math.round(100 * live.progress.fraction)}%${live.progress.message ? `: ${live.progress.message}` : ''}`);
  return lines;
}
