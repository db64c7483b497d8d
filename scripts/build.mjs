#!/usr/bin/env node
// Builds everything into out/:
//   - tsc: src/, test/ and bench/ to CommonJS (the extension host, the CLI, worker threads and the tests run it as is);
//   - AssemblyScript: the WebAssembly kernels of the logistic regressions (scripts/wasm-kernels.mjs) ->
//     out/src/core/baselines/logreg-kernels.wasm;
//   - esbuild: one browser bundle per webview app (webview/<app>/main.ts -> out/webview/<app>.js + .css), with chart.js
//     and @vscode-elements/elements bundled in, so webviews load nothing from outside the extension.
// `--watch` rebuilds the webviews on change (run `tsc -w -p .` beside it for the rest).
import { execFileSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { buildKernels } from './wasm-kernels.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const watch = process.argv.includes('--watch');
const webviewsOnly = process.argv.includes('--webviews-only');

const apps = readdirSync(path.join(root, 'webview'), { withFileTypes: true })
  .filter(d => d.isDirectory() && existsSync(path.join(root, 'webview', d.name, 'main.ts')))
  .map(d => d.name);

const options = {
  absWorkingDir: root,
  entryPoints: Object.fromEntries(apps.map(a => [a, `webview/${a}/main.ts`])),
  outdir: 'out/webview',
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2022',
  minify: !watch,
  sourcemap: watch ? 'inline' : false,
  legalComments: 'linked',
  logLevel: 'warning',
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
  console.log(`watching webviews: ${apps.join(', ')}`);
} else {
  if (!webviewsOnly) {
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    execFileSync(process.execPath, [tsc, '-p', '.'], { cwd: root, stdio: 'inherit' });
    await buildKernels(path.join(root, 'out', 'src', 'core', 'baselines', 'logreg-kernels.wasm'));
  }
  await esbuild.build(options);
  console.log(`built out/ (webviews: ${apps.join(', ')})`);
}
