/**
 * The base of every scWorkbench webview panel:
 * - strict CSP (default-src 'none'; scripts and styles only by nonce or from the extension's own files),
 *   local resources only (out/webview and media), so a webview can never load anything from the network;
 * - the ready handshake: messages posted before the webview said `ready` are queued, and every `ready`
 *   (also after the webview was reloaded) calls onReady() again so the app can send its data anew;
 * - `rendered` notifications, which tests and callers can await;
 * - state survives a window reload through a WebviewPanelSerializer (see `registerSerializer`).
 */
import * as crypto from 'crypto';
import * as vscode from 'vscode';
import { isWebviewMessage, type AppName, type HostMessage, type WebviewMessage } from '../../shared/protocol';
import { Disposable } from '../disposable';
import { saveExport } from './export';

export type RenderedDetail = Record<string, number | string | boolean>;

const READY_WATCHDOG_MS = 10_000;

export abstract class WebviewApp extends Disposable {
  private isReady = false;
  private readonly queue: HostMessage[] = [];
  private readonly renderedEmitter = this.track(new vscode.EventEmitter<RenderedDetail>());
  /** fires each time the webview reports that it rendered what it was sent */
  readonly onDidRender = this.renderedEmitter.event;
  private lastRendered: RenderedDetail | undefined;

  protected constructor(
    protected readonly extensionUri: vscode.Uri,
    readonly panel: vscode.WebviewPanel,
    readonly app: AppName,
  ) {
    super();
    panel.webview.options = {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'out', 'webview'), vscode.Uri.joinPath(extensionUri, 'media')],
    };
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'scwb.svg');
    panel.webview.html = webviewHtml(panel.webview, extensionUri, app);
    this.track(panel.webview.onDidReceiveMessage(m => this.receive(m)));
    this.track(panel.onDidDispose(() => this.dispose()));
    // In the browser (code-server), webviews share one origin and their service workers can race: a webview may
    // then wait forever for its worker and stay blank. If it has not said `ready` in time, reload the webviews.
    if (vscode.env.uiKind === vscode.UIKind.Web) {
      const watchdog = setTimeout(() => {
        if (!this.isReady) void vscode.commands.executeCommand('workbench.action.webview.reloadWebviewAction');
      }, READY_WATCHDOG_MS);
      this.track({ dispose: () => clearTimeout(watchdog) });
    }
  }

  /** Sends now if the webview is ready, else when it is. */
  post(message: HostMessage): void {
    if (this.isReady) void this.panel.webview.postMessage(message);
    else this.queue.push(message);
  }

  /** Resolves with the next `rendered` detail (or the last one if `acceptPrevious` and it came already). */
  whenRendered(acceptPrevious = true): Promise<RenderedDetail> {
    if (acceptPrevious && this.lastRendered) return Promise.resolve(this.lastRendered);
    return new Promise(resolve => {
      const sub = this.onDidRender(d => { sub.dispose(); resolve(d); });
    });
  }

  get lastRenderedDetail(): RenderedDetail | undefined {
    return this.lastRendered;
  }

  /** Called on every `ready`: send the app its data. */
  protected abstract onReady(): void | Promise<void>;

  /** App-specific messages (everything but ready/rendered/export). */
  protected onMessage(_message: WebviewMessage): void | Promise<void> {
    // default: nothing
  }

  private async receive(raw: unknown): Promise<void> {
    if (!isWebviewMessage(raw)) return;
    switch (raw.type) {
      case 'ready': {
        this.isReady = true;
        this.lastRendered = undefined;
        void this.panel.webview.postMessage({ type: 'ready/ack' } satisfies HostMessage);
        for (const m of this.queue.splice(0)) void this.panel.webview.postMessage(m);
        await this.onReady();
        return;
      }
      case 'rendered':
        this.lastRendered = raw.detail;
        this.renderedEmitter.fire(raw.detail);
        return;
      case 'export':
        await saveExport(raw.format, raw.suggestedName, raw.content);
        return;
      case 'error':
        void vscode.window.showErrorMessage(`scWorkbench (${this.app} view): ${raw.message}`);
        return;
      default:
        await this.onMessage(raw);
    }
  }
}

function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, app: AppName): string {
  const nonce = crypto.randomBytes(18).toString('base64');
  const asset = (file: string) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'out', 'webview', file));
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data:`,
    `font-src ${webview.cspSource}`,
    `style-src ${webview.cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" nonce="${nonce}" href="${asset(`${app}.css`)}">
</head>
<body data-app="${app}">
<main id="app" aria-busy="true"></main>
<script nonce="${nonce}" src="${asset(`${app}.js`)}"></script>
</body>
</html>`;
}
