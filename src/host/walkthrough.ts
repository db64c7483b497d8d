/**
 * The walkthrough "From the demo to a paper table" (contributes.walkthroughs in package.json): a command that opens
 * it, and its opening on the first start when the setting scwb.walkthrough.openOnFirstStart asks for it (`npm start`
 * sets it in the demo workspace, so a new user lands on the scWorkbench view and the walkthrough).
 */
import * as vscode from 'vscode';

/** `<publisher>.<name>#<walkthrough id>`, as workbench.action.openWalkthrough wants it. */
export const WALKTHROUGH = 'scworkbench.scworkbench#firstHour';
/** globalState key: the walkthrough was opened once on a first start */
export const OPENED_KEY = 'scwb.walkthrough.openedOnFirstStart';

/** Shows the scWorkbench view container and opens the walkthrough beside it. */
export async function openWalkthrough(): Promise<void> {
  await vscode.commands.executeCommand('workbench.view.extension.scwb');
  await vscode.commands.executeCommand('workbench.action.openWalkthrough', WALKTHROUGH, false);
}

/** Opens the walkthrough once per user when the setting asks for it; says whether it did. */
export async function openOnFirstStart(context: vscode.ExtensionContext): Promise<boolean> {
  if (!vscode.workspace.getConfiguration('scwb').get<boolean>('walkthrough.openOnFirstStart', false)) return false;
  if (context.globalState.get<boolean>(OPENED_KEY)) return false;
  await context.globalState.update(OPENED_KEY, true);
  await openWalkthrough();
  return true;
}

export function registerWalkthrough(context: vscode.ExtensionContext): vscode.Disposable[] {
  void openOnFirstStart(context).catch(() => undefined);
  return [vscode.commands.registerCommand('scwb.walkthrough.open', () => openWalkthrough())];
}
