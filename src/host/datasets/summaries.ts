/**
 * Dataset summaries for the tree and the dataset view, read in worker threads (never on the extension host's
 * thread), at most two at a time, and cached by (path, size, mtime) so a changed file is read again.
 */
import * as fs from 'fs';
import { runTask } from '../../core/workers/run-task';
import type { DatasetSummary } from '../../core/h5ad/types';

interface Entry {
  size: number;
  mtimeMs: number;
  summary: Promise<DatasetSummary>;
}

const MAX_PARALLEL = 2;

export class SummaryCache {
  private readonly entries = new Map<string, Entry>();
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  /** The summary of `file`; rejects with an H5adError naming the file and the problem. */
  async get(file: string): Promise<DatasetSummary> {
    // asynchronous: a slow (network) file system must not stall the extension host
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(file);
    } catch {
      throw new Error(`${file}: the file does not exist (any more)`);
    }
    const hit = this.entries.get(file);
    if (hit && hit.size === stat.size && hit.mtimeMs === stat.mtimeMs) return hit.summary;
    const summary = this.limited(() => runTask<DatasetSummary>('h5ad/tasks', 'summarize', { path: file }));
    this.entries.set(file, { size: stat.size, mtimeMs: stat.mtimeMs, summary });
    return summary;
  }

  forget(file: string): void {
    this.entries.delete(file);
  }

  private async limited<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= MAX_PARALLEL) await new Promise<void>(resolve => this.waiting.push(resolve));
    this.running++;
    try {
      return await job();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}
