/** Helpers for the tests that run inside the real extension host. */
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { ScwbApi } from '../../src/extension';

export const EXTENSION_ID = 'scworkbench.scworkbench';

export async function activeApi(): Promise<ScwbApi> {
  const ext = vscode.extensions.getExtension<ScwbApi>(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not loaded`);
  return ext.isActive ? ext.exports : await ext.activate();
}

/** Polls `check` until it returns a value (not undefined/false); no time limit: the harness guards the whole run. */
export async function until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, everyMs = 100): Promise<T> {
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    await new Promise(r => setTimeout(r, everyMs));
  }
}
