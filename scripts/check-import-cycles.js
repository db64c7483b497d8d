#!/usr/bin/env node
// Fails when TypeScript modules import each other in a circle (directly or through others).
// Usage: node scripts/check-import-cycles.js [folder...]   (default: src webview)
// Reads every relative `import ... from './x'`, `export ... from './x'` and `import './x'` in the .ts files under the
// folders (type-only imports included: a circle of types is still a circle of concerns), finds the strongly
// connected components of that graph (Tarjan) and prints each circle; exits 1 when there is one.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const folders = process.argv.slice(2).length ? process.argv.slice(2) : ['src', 'webview'];

function tsFiles(dir, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) tsFiles(p, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The module a relative specifier names (x.ts or x/index.ts), or undefined for a package or another file kind. */
function resolve(from, spec) {
  if (!spec.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), spec.replace(/\.js$/, ''));
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts')]) if (fs.existsSync(candidate)) return candidate;
  return undefined;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s+(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/g;

function edges(file) {
  const text = fs.readFileSync(file, 'utf8');
  const out = new Set();
  for (const m of text.matchAll(IMPORT)) {
    const target = resolve(file, m[1]);
    if (target) out.add(target);
  }
  return [...out];
}

const files = folders.flatMap(f => tsFiles(path.join(root, f)));
const graph = new Map(files.map(f => [f, edges(f)]));

// Tarjan's strongly connected components, iterative (deep import chains must not overflow the stack).
let counter = 0;
const index = new Map();
const low = new Map();
const onStack = new Set();
const stack = [];
const circles = [];
for (const start of graph.keys()) {
  if (index.has(start)) continue;
  const work = [[start, 0]];
  index.set(start, counter); low.set(start, counter); counter++;
  stack.push(start); onStack.add(start);
  while (work.length) {
    const frame = work[work.length - 1];
    const [v, i] = frame;
    const next = graph.get(v) ?? [];
    if (i < next.length) {
      frame[1]++;
      const w = next[i];
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        index.set(w, counter); low.set(w, counter); counter++;
        stack.push(w); onStack.add(w);
        work.push([w, 0]);
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), index.get(w)));
      }
      continue;
    }
    work.pop();
    if (work.length) {
      const parent = work[work.length - 1][0];
      low.set(parent, Math.min(low.get(parent), low.get(v)));
    }
    if (low.get(v) === index.get(v)) {
      const component = [];
      let w;
      do { w = stack.pop(); onStack.delete(w); component.push(w); } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) circles.push(component);
    }
  }
}

const rel = f => path.relative(root, f);
if (circles.length) {
  for (const c of circles) console.error(`import circle: ${c.map(rel).sort().join(' <-> ')}`);
  console.error(`${circles.length} import circle${circles.length === 1 ? '' : 's'}: move the shared pieces down to a module both can import`);
  process.exit(1);
}
console.log(`no import circles among ${files.length} modules (${folders.join(', ')})`);
