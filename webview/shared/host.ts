/** The webview side of the protocol in src/shared/protocol.ts. */
import type { AppName, HostMessage, WebviewMessage } from '../../src/shared/protocol';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const api = acquireVsCodeApi();

export function post(message: WebviewMessage): void {
  api.postMessage(message);
}

export function getState<T>(): T | undefined {
  return api.getState() as T | undefined;
}

export function setState<T>(state: T): void {
  api.setState(state);
}

/**
 * Listens for host messages, then says `ready` (the host sends data only after that). A `ready` posted while the
 * webview is still being wired up can be lost, which would leave the view blank: until the host has answered,
 * `ready` is repeated (the host answers every `ready` with the current data, so a repeat is harmless).
 */
export function startApp(app: AppName, handle: (message: HostMessage) => void | Promise<void>): void {
  let answered = false;
  window.addEventListener('message', (event: MessageEvent<HostMessage>) => {
    answered = true;
    if (event.data?.type === 'ready/ack') return;
    Promise.resolve(handle(event.data)).catch((e: unknown) => {
      post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
    });
  });
  post({ type: 'ready', app });
  let repeats = 0;
  const timer = setInterval(() => {
    if (answered || ++repeats > 30) clearInterval(timer);
    else post({ type: 'ready', app });
  }, 2000);
}

export function rendered(app: AppName, detail: Record<string, number | string | boolean>): void {
  document.getElementById('app')?.setAttribute('aria-busy', 'false');
  post({ type: 'rendered', app, detail });
}

/** Small DOM helper: h('div', {class: 'x'}, 'text', child). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K, attrs?: Record<string, string>, ...children: (Node | string | null | undefined)[]
): HTMLElementTagNameMap[K];
export function h(tag: string, attrs?: Record<string, string>, ...children: (Node | string | null | undefined)[]): HTMLElement;
export function h(tag: string, attrs: Record<string, string> = {}, ...children: (Node | string | null | undefined)[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}
