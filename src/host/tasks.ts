/**
 * Fine-tune, pre-training and probe runs execute as VS Code Tasks of the contributed type `scwb-finetune` (its
 * `command` picks the worker's sub-command): a ProcessExecution (the Python
 * worker with an argument array, never a shell string) in a dedicated integrated terminal that stays open. The
 * same definition works from tasks.json (`{"type": "scwb-finetune", "runDirs": [...], "resume": true}`), resolved by
 * the provider below. When the worker process ends, its runs are finalized (metrics from predictions.csv), runs it
 * never started are settled, the Runs view refreshes and a message offers the results.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import { finalizeFinetuneRuns } from '../core/finetune/finalize';
import { WORKER_RUN_COMMANDS, workerInvocation, type WorkerRunCommand } from '../core/finetune/invocation';
import type { RunRecord } from '../core/runs/schema';
import { RunStore } from '../core/runs/store';
import { Disposable } from './disposable';
import { chooseInterpreter } from './python';
import type { RunsTree } from './runs/tree';

export const FINETUNE_TASK_TYPE = 'scwb-finetune';

export interface FinetuneTaskDefinition extends vscode.TaskDefinition {
  type: typeof FINETUNE_TASK_TYPE;
  /** run folders (absolute, or relative to the workspace folder) */
  runDirs: string[];
  /** the worker's sub-command: finetune (default), pretrain or probe (docs/worker-benchmark.md) */
  command?: WorkerRunCommand;
  resume?: boolean;
  nproc?: number;
  device?: 'auto' | 'cpu' | 'cuda';
  /** CUDA_VISIBLE_DEVICES for the worker (the run queue's GPU slot) */
  cudaVisibleDevices?: string;
  /** started by the run queue: it reports the outcome itself, so no message per task */
  queued?: boolean;
}

/** What happened when a fine-tune task's process ended. */
export interface FinetuneTaskOutcome {
  name: string;
  exitCode: number | undefined;
  runs: RunRecord[];
}

export function isFinetuneDefinition(d: vscode.TaskDefinition): d is FinetuneTaskDefinition {
  return d.type === FINETUNE_TASK_TYPE && Array.isArray(d.runDirs) && d.runDirs.every((x: unknown) => typeof x === 'string')
    && (d.command === undefined || WORKER_RUN_COMMANDS.includes(d.command as WorkerRunCommand));
}

function resolveDirs(def: FinetuneTaskDefinition, scope: vscode.TaskScope | vscode.WorkspaceFolder | undefined): string[] {
  const base = scope && typeof scope === 'object' ? scope.uri.fsPath : vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  return def.runDirs.map(d => (path.isAbsolute(d) || !base ? path.resolve(d) : path.resolve(base, d)));
}

export class FinetuneTasks extends Disposable {
  private readonly finished = this.track(new vscode.EventEmitter<FinetuneTaskOutcome>());
  /** fires after a fine-tune task's process ended and its runs were finalized */
  readonly onDidFinish = this.finished.event;

  constructor(private readonly runs: RunsTree, private readonly showResults: (experiment?: string) => void) {
    super();
    this.track(vscode.tasks.registerTaskProvider(FINETUNE_TASK_TYPE, {
      provideTasks: () => [],
      resolveTask: async task => {
        if (!vscode.workspace.isTrusted || !isFinetuneDefinition(task.definition)) return undefined;
        return this.build(task.definition, task.scope ?? vscode.TaskScope.Workspace, task.name);
      },
    }));
    this.track(vscode.tasks.onDidEndTaskProcess(e => {
      const def = e.execution.task.definition;
      if (isFinetuneDefinition(def)) void this.onEnded(e.execution.task, resolveDirs(def, e.execution.task.scope), e.exitCode, def.command ?? 'finetune');
    }));
  }

  /** The task for a definition, with the configured interpreter. */
  async build(def: FinetuneTaskDefinition, scope: vscode.WorkspaceFolder | vscode.TaskScope, name: string): Promise<vscode.Task> {
    const folder = typeof scope === 'object' ? scope : vscode.workspace.workspaceFolders?.[0];
    const { interpreter } = await chooseInterpreter(folder?.uri);
    const inv = workerInvocation({
      python: interpreter || 'python3', command: def.command, runDirs: resolveDirs(def, scope), resume: def.resume, nproc: def.nproc, device: def.device,
    });
    const env = def.cudaVisibleDevices !== undefined ? { ...inv.env, CUDA_VISIBLE_DEVICES: def.cudaVisibleDevices } : inv.env;
    const task = new vscode.Task(def, scope, name, 'scWorkbench', new vscode.ProcessExecution(inv.command, inv.args, { env, cwd: inv.cwd }));
    task.presentationOptions = { reveal: vscode.TaskRevealKind.Always, panel: vscode.TaskPanelKind.Dedicated, clear: false, close: false, focus: false };
    task.isBackground = false;
    return task;
  }

  /** Starts the worker on these run folders in a task terminal named `name`. */
  async execute(def: FinetuneTaskDefinition, folder: vscode.WorkspaceFolder | undefined, name: string): Promise<vscode.TaskExecution> {
    const task = await this.build(def, folder ?? vscode.TaskScope.Workspace, name);
    return vscode.tasks.executeTask(task);
  }

  private async onEnded(task: vscode.Task, dirs: string[], exitCode: number | undefined, command: WorkerRunCommand): Promise<void> {
    const byRoot = new Map<string, string[]>();
    for (const d of dirs) byRoot.set(path.dirname(d), [...(byRoot.get(path.dirname(d)) ?? []), path.basename(d)]);
    const records: RunRecord[] = [];
    for (const [root, ids] of byRoot) {
      try {
        records.push(...await finalizeFinetuneRuns(new RunStore(root), { ids, workerExitCode: exitCode ?? null }));
      } catch (e) {
        void vscode.window.showErrorMessage(`${command}: could not read the runs in ${root}: ${(e as Error).message}`);
      }
    }
    this.runs.refresh();
    this.finished.fire({ name: task.name, exitCode, runs: records });
    if ((task.definition as FinetuneTaskDefinition).queued) return;
    const completed = records.filter(r => r.status === 'completed').length;
    const failed = records.filter(r => r.status === 'failed' || r.status === 'interrupted').length;
    const cancelled = records.filter(r => r.status === 'cancelled').length;
    const what = command === 'pretrain' ? 'Pre-training' : command === 'probe' ? 'Probe' : 'Fine-tune';
    const text = `${what} finished: ${completed} completed, ${failed} failed${cancelled ? `, ${cancelled} cancelled` : ''}.`;
    const firstError = records.find(r => r.error)?.error;
    const show = failed ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    // A pre-training run has no results table: the next step is probing its encoder.
    const next = command === 'pretrain' ? (completed ? 'Probe Encoder…' : undefined) : 'Open Results';
    const choice = await show(failed && firstError ? `${text} ${firstError}` : text, ...(next ? [next] : []));
    if (choice === 'Open Results') this.showResults(records[0]?.experiment);
    else if (choice === 'Probe Encoder…' && records[0]) void vscode.commands.executeCommand('scwb.probeEncoder', vscode.Uri.file(records[0].dataset.path));
  }
}
