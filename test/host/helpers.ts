/** Helpers for the tests that run inside the real extension host. */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { main } from '../../src/cli/main';
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

/** `scwb …` in this process; fails the test with its error output. */
export async function cli(args: string[]): Promise<void> {
  let err = '';
  const code = await main(args, { out: () => undefined, err: t => { err += t; } });
  assert.strictEqual(code, 0, err);
}

/**
 * In `dir`: a simulated `sim.h5ad` (120 genes), the worker's tiny demo checkpoints over its genes (`ckpt/`, with
 * Debian's or the configured Python) and the scBERT recipe's output `sim_scbert.h5ad` over the tiny model's genes.
 */
export async function makeScbertDemo(dir: string, cells: number, seed: number): Promise<void> {
  const python = vscode.workspace.getConfiguration('scwb').get<string>('pythonPath', '') || '/usr/bin/python3';
  fs.mkdirSync(dir, { recursive: true });
  const sim = path.join(dir, 'sim.h5ad');
  await cli(['simulate', '--cells', String(cells), '--genes', '120', '--seed', String(seed), '--out', sim]);
  execFileSync(python, ['-m', 'scwb_worker', 'demo-checkpoints', path.join(dir, 'ckpt'), '--genes-from', sim], {
    env: { ...process.env, PYTHONPATH: path.join(path.resolve(__dirname, '..', '..', '..'), 'resources', 'worker') },
  });
  const recipe = path.join(dir, 'scbert.json');
  fs.writeFileSync(recipe, JSON.stringify({ recipe: 'scbert', params: { referenceGenes: 'ckpt/scbert_tiny/genes.txt', minGenes: 10 } }));
  await cli(['preprocess', recipe, sim, path.join(dir, 'sim_scbert.h5ad')]);
}
