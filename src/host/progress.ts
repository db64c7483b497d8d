import * as vscode from 'vscode';

/** Worker-task callbacks as the core takes them: progress in [0, 1] (NaN when unknown) and a cancel signal. */
export interface WorkerProgress {
  signal: AbortSignal;
  onProgress: (fraction: number, message?: string) => void;
}

/**
 * Runs `work` behind a cancellable progress notification: the notification's Cancel aborts the signal, and the
 * task's fractions become the notification's increments.
 */
export function withCancellableProgress<T>(title: string, work: (progress: WorkerProgress) => Promise<T>): Thenable<T> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) => {
    const ac = new AbortController();
    token.onCancellationRequested(() => ac.abort());
    let reported = 0;
    return work({
      signal: ac.signal,
      onProgress: (fraction, message) => {
        if (Number.isFinite(fraction) && fraction > reported) {
          progress.report({ increment: 100 * (fraction - reported), message });
          reported = fraction;
        } else if (message) progress.report({ message });
      },
    });
  });
}
