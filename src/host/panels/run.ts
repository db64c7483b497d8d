/**
 * The run panel beside the editor: one run's status, parameters and last log lines and, for a fine-tune, live
 * curves (training loss by step, validation loss and accuracy by epoch, cells/s, GPU memory).
 *
 * It follows the run folder: a file watcher on the folder and, while the run is live, a two-second poll (watchers
 * can miss changes) schedule an update, at most one per 250 ms. events.jsonl is read incrementally (only what was
 * appended) and only the new points are posted; a replaced or truncated file starts the panel over.
 */
import * as fs from 'fs';
import * as vscode from 'vscode';
import { ranOnDemoWeights } from '../../core/checkpoints/demo-weights';
import { EventsTail, configuredEpochs } from '../../core/runs/live';
import { FINAL_STATUSES, type RunRecord } from '../../core/runs/schema';
import { EVENTS_FILE, LOG_FILE, datasetName } from '../../core/runs/store';
import { slurmOutputFile } from '../../core/slurm/script';
import type { HostMessage, RunPanelRun, RunTrainPoint, RunValidationPoint } from '../../shared/protocol';
import type { RunsTree } from '../runs/tree';
import { WebviewApp } from './webview-app';

const UPDATE_THROTTLE_MS = 250;
const POLL_MS = 2000;
const LOG_LINES = 20;
const LOG_TAIL_BYTES = 16 * 1024;

/** What the panel holds; tests read it through `RunPanel.state`. */
export interface RunPanelState {
  run: RunPanelRun | null;
  train: RunTrainPoint[];
  validation: RunValidationPoint[];
  log: string[];
  problem: string | null;
}

export class RunPanel extends WebviewApp {
  static readonly viewType = 'scwb.run';
  private static readonly open = new Map<string, RunPanel>();

  private readonly tail: EventsTail;
  private readonly held: RunPanelState = { run: null, train: [], validation: [], log: [], problem: null };
  /** points already posted to the webview since its last reset */
  private sent = { train: 0, validation: 0 };
  private resetPending = true;
  private progress: RunPanelRun['progress'] = null;
  private throttle: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private readonly updatedEmitter = this.track(new vscode.EventEmitter<RunPanelState>());
  /** fires after each update read the run folder */
  readonly onDidUpdate = this.updatedEmitter.event;

  /** Opens (or reveals) the panel of run `runId` beside the editor. */
  static show(extension: vscode.ExtensionContext, runs: RunsTree, runId: string): RunPanel {
    const existing = RunPanel.open.get(runId);
    if (existing) {
      existing.panel.reveal(vscode.ViewColumn.Beside, true);
      existing.schedule();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(RunPanel.viewType, 'scWorkbench: Run', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {});
    return RunPanel.adopt(extension, runs, panel, runId);
  }

  /** Wraps a panel (a new one, or one VS Code restores after a reload). */
  static adopt(extension: vscode.ExtensionContext, runs: RunsTree, panel: vscode.WebviewPanel, runId: string): RunPanel {
    const p = new RunPanel(extension, runs, panel, runId);
    RunPanel.open.set(runId, p);
    void p.update();
    return p;
  }

  /** The open panel of a run, if any. */
  static of(runId: string): RunPanel | undefined {
    return RunPanel.open.get(runId);
  }

  static all(): RunPanel[] {
    return [...RunPanel.open.values()];
  }

  private constructor(extension: vscode.ExtensionContext, private readonly runs: RunsTree, panel: vscode.WebviewPanel, readonly runId: string) {
    super(extension.extensionUri, panel, 'run');
    const store = runs.store;
    if (!store) throw new Error('no run store: open a folder first');
    this.tail = new EventsTail(store.file(runId, EVENTS_FILE));
    const watcher = this.track(vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(store.runDir(runId)), '*')));
    for (const ev of [watcher.onDidCreate, watcher.onDidChange, watcher.onDidDelete]) this.track(ev(() => this.schedule()));
    this.track(runs.onDidChangeRuns(() => this.schedule()));
    this.track({ dispose: () => { if (this.throttle) clearTimeout(this.throttle); if (this.poll) clearTimeout(this.poll); } });
  }

  override dispose(): void {
    if (RunPanel.open.get(this.runId) === this) RunPanel.open.delete(this.runId);
    super.dispose();
  }

  /** A copy of what the panel holds now. */
  get state(): RunPanelState {
    return { ...this.held, train: [...this.held.train], validation: [...this.held.validation], log: [...this.held.log] };
  }

  protected override onReady(): Promise<void> {
    // A (re)loaded webview holds nothing: send everything again.
    this.resetPending = true;
    return this.update();
  }

  /** An update soon, at most one per UPDATE_THROTTLE_MS however often the files change. */
  schedule(): void {
    if (this.throttle) return;
    this.throttle = setTimeout(() => { this.throttle = undefined; void this.update(); }, UPDATE_THROTTLE_MS);
  }

  /** Reads the run folder and posts what changed. Calls made while one runs are folded into one more run after it. */
  update(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.readAndPost();
        } while (this.again);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  private async readAndPost(): Promise<void> {
    const store = this.runs.store!;
    let record: RunRecord;
    try {
      record = await store.get(this.runId);
    } catch (e) {
      const gone = (e as NodeJS.ErrnoException).code === 'ENOENT';
      this.held.problem = gone ? `Run ${this.runId} no longer exists (its folder was deleted).` : (e as Error).message;
      this.post({ type: 'error', message: this.held.problem });
      this.updatedEmitter.fire(this.state);
      return;
    }
    let problem: string | null = null;
    try {
      const { events, reset } = await this.tail.read();
      if (reset) {
        this.held.train = [];
        this.held.validation = [];
        this.progress = null;
        this.resetPending = true;
      }
      for (const e of events) {
        if (e.type === 'train') this.held.train.push({ epoch: e.epoch, step: e.step, loss: e.loss, lr: e.lr, cellsPerSec: e.cellsPerSec, gpuMemoryMiB: e.gpuMemoryMiB, time: e.time });
        else if (e.type === 'validation') this.held.validation.push({ epoch: e.epoch, step: e.step, loss: e.loss, accuracy: e.accuracy, best: e.best, time: e.time });
        else if (e.type === 'progress') this.progress = { fraction: e.fraction, message: e.message ?? '' };
      }
    } catch (e) {
      problem = (e as Error).message;
    }
    this.held.log = await readLogTail(store.file(this.runId, LOG_FILE)).catch(() => []);
    if (record.slurm) {
      // a Slurm run: the job's own output (what the worker printed on the node, and Slurm's errors) after run.log
      const out = slurmOutputFile(record.slurm.jobId);
      const slurmLog = await readLogTail(store.file(this.runId, out)).catch(() => []);
      this.held.log.push(`--- ${out} (Slurm job ${record.slurm.jobId}: ${record.slurm.state ?? 'state unknown'}) ---`, ...slurmLog);
    }
    this.held.run = panelRun(record, this.progress);
    this.held.problem = problem;
    this.panel.title = `Run: ${record.name || `${record.model.label} · ${record.fraction} · seed ${record.seed}`}`;
    const reset = this.resetPending;
    const train = reset ? this.held.train : this.held.train.slice(this.sent.train);
    const validation = reset ? this.held.validation : this.held.validation.slice(this.sent.validation);
    const message: HostMessage = { type: 'run/update', reset, run: this.held.run, train, validation, log: this.held.log, problem };
    this.post(message);
    this.resetPending = false;
    this.sent = { train: this.held.train.length, validation: this.held.validation.length };
    this.schedulePoll(record);
    this.updatedEmitter.fire(this.state);
  }

  private schedulePoll(record: RunRecord): void {
    if (this.poll || FINAL_STATUSES.includes(record.status)) return;
    this.poll = setTimeout(() => { this.poll = undefined; void this.update(); }, POLL_MS);
  }
}

/** The run as the webview shows it. */
export function panelRun(r: RunRecord, progress: RunPanelRun['progress']): RunPanelRun {
  return {
    id: r.id, name: r.name, kind: r.kind, experiment: r.experiment, status: r.status, error: r.error,
    model: r.model.label + (r.model.variant ? ` (${r.model.variant})` : ''), demoWeights: ranOnDemoWeights(r.parameters),
    dataset: datasetName(r), labelColumn: r.labelColumn,
    fraction: r.fraction, seed: r.seed, createdAt: r.createdAt, startedAt: r.startedAt, endedAt: r.endedAt,
    epochs: r.kind !== 'baseline' ? configuredEpochs(r.parameters) : null,
    parameters: [...(r.slurm ? [['Slurm job', `${r.slurm.jobId} (${r.slurm.state ?? 'state unknown'}${r.slurm.exitCode ? `, exit code ${r.slurm.exitCode}` : ''})`] as [string, string]] : []),
      ...flattenParameters(r.parameters)], progress,
    summary: r.summary ? { accuracy: r.summary.accuracy, macroF1: r.summary.macroF1 } : null,
  };
}

/** `{finetune: {epochs: 10, lr: 1e-4}}` -> [['epochs', '10'], ['lr', '0.0001']]: one level of nesting is flattened. */
export function flattenParameters(parameters: Record<string, unknown>): [string, string][] {
  const out: [string, string][] = [];
  const text = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v) ?? String(v));
  for (const [k, v] of Object.entries(parameters)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) out.push([k2, text(v2)]);
    } else out.push([k, text(v)]);
  }
  return out;
}

/** The last lines of run.log (read from its end; never through a symbolic link). */
async function readLogTail(file: string): Promise<string[]> {
  const st = await fs.promises.lstat(file);
  if (!st.isFile() || st.size === 0) return [];
  const handle = await fs.promises.open(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | (fs.constants.O_NOFOLLOW ?? 0));
  try {
    const length = Math.min(st.size, LOG_TAIL_BYTES);
    const buf = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buf, 0, length, st.size - length);
    const lines = buf.subarray(0, bytesRead).toString('utf8').split('\n');
    if (st.size > length) lines.shift(); // the first line is cut
    return lines.filter(l => l.trim() !== '').slice(-LOG_LINES);
  } finally {
    await handle.close();
  }
}
