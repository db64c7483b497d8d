/** Which Python interpreter the worker uses: the setting, else the Python extension's choice, else python3. */
import * as vscode from 'vscode';
import type { PythonReport } from '../shared/protocol';

interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string };
    resolveEnvironment(env: { path: string } | string): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
  };
}

export interface InterpreterChoice {
  source: PythonReport['source'];
  interpreter: string;
}

export async function chooseInterpreter(resource?: vscode.Uri): Promise<InterpreterChoice> {
  if (!vscode.workspace.isTrusted) return { source: 'untrusted', interpreter: '' };
  const configured = vscode.workspace.getConfiguration('scwb', resource).get<string>('pythonPath', '').trim();
  if (configured) return { source: 'setting', interpreter: configured };
  const ext = vscode.extensions.getExtension<PythonExtensionApi>('ms-python.python');
  if (ext) {
    try {
      const api = ext.isActive ? ext.exports : await ext.activate();
      const envs = api?.environments;
      if (envs) {
        const active = envs.getActiveEnvironmentPath(resource);
        const resolved = await envs.resolveEnvironment(active);
        const exe = resolved?.executable.uri?.fsPath;
        if (exe) return { source: 'python-extension', interpreter: exe };
      }
    } catch {
      // The Python extension failed: fall back to the default below.
    }
  }
  return { source: 'default', interpreter: 'python3' };
}
