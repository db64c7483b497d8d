import * as vscode from 'vscode';

/** Untrusted workspaces run nothing: every command that starts work asks here first. */
export function requireTrust(action: string): boolean {
  if (vscode.workspace.isTrusted) return true;
  void vscode.window.showWarningMessage(`scWorkbench runs nothing in an untrusted workspace, so it cannot ${action}. Trust the workspace to continue.`, 'Manage Workspace Trust')
    .then(choice => { if (choice) void vscode.commands.executeCommand('workbench.trust.manage'); });
  return false;
}
