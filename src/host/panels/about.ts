/** "About scWorkbench / Environment": what the workbench found on this machine. */
import * as os from 'os';
import * as vscode from 'vscode';
import { probePython } from '../../core/python-env';
import type { EnvReport, PythonReport, WebviewMessage } from '../../shared/protocol';
import { chooseInterpreter } from '../python';
import { WebviewApp } from './webview-app';

export class AboutPanel extends WebviewApp {
  static readonly viewType = 'scwb.about';
  private static current: AboutPanel | undefined;
  private report: EnvReport | undefined;

  static show(extension: vscode.ExtensionContext): AboutPanel {
    if (AboutPanel.current) {
      AboutPanel.current.panel.reveal();
      return AboutPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(AboutPanel.viewType, 'scWorkbench: Environment', vscode.ViewColumn.Active, {});
    return AboutPanel.adopt(extension, panel);
  }

  /** Also used by the serializer after a window reload. */
  static adopt(extension: vscode.ExtensionContext, panel: vscode.WebviewPanel): AboutPanel {
    const about = new AboutPanel(extension, panel);
    AboutPanel.current = about;
    return about;
  }

  static get instance(): AboutPanel | undefined {
    return AboutPanel.current;
  }

  private constructor(private readonly extension: vscode.ExtensionContext, panel: vscode.WebviewPanel) {
    super(extension.extensionUri, panel, 'about');
  }

  override dispose(): void {
    if (AboutPanel.current === this) AboutPanel.current = undefined;
    super.dispose();
  }

  protected override async onReady(): Promise<void> {
    if (this.report) this.post({ type: 'about/report', report: this.report });
    else await this.refresh();
  }

  protected override async onMessage(message: WebviewMessage): Promise<void> {
    if (message.type !== 'action') return;
    if (message.action === 'refresh') await this.refresh();
    else if (message.action === 'openSettings') await vscode.commands.executeCommand('workbench.action.openSettings', 'scwb.pythonPath');
  }

  async refresh(): Promise<EnvReport> {
    this.post({ type: 'about/checking' });
    this.report = await collectEnvReport(this.extension);
    this.post({ type: 'about/report', report: this.report });
    return this.report;
  }
}

export async function collectEnvReport(extension: vscode.ExtensionContext): Promise<EnvReport> {
  const choice = await chooseInterpreter(vscode.workspace.workspaceFolders?.[0]?.uri);
  const python: PythonReport = choice.source === 'untrusted'
    ? { source: 'untrusted', interpreter: '', version: null, executable: null, torch: null,
      problem: 'This workspace is not trusted, so scWorkbench starts no Python.', advice: 'Trust the workspace to use the training worker.' }
    : await probePython(choice.interpreter, choice.source);
  return {
    vscodeVersion: vscode.version,
    appHost: vscode.env.appHost,
    extensionVersion: String((extension.extension.packageJSON as { version?: string }).version ?? ''),
    nodeVersion: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    workspaceTrusted: vscode.workspace.isTrusted,
    python,
  };
}
