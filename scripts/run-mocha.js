#!/usr/bin/env node
// Runs one layer of mocha tests in plain Node (`unit`) over the tsc output in out/test/<layer>/.
// Usage: node scripts/run-mocha.js unit [file-substring] [--grep PATTERN]
// Writes .test-artifacts/<layer>.json ({passes, failures}) for scripts/test.sh to add up.
'use strict';
const fs = require('fs');
const path = require('path');
const Mocha = require('mocha');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const layer = args.shift() || 'unit';
let grep;
const filters = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--grep') grep = args[++i];
  else filters.push(args[i]);
}
// e2e tests are plain JavaScript (they drive a browser, not our modules) and run from test/e2e as written.
const dir = layer === 'e2e' ? path.join(root, 'test', 'e2e') : path.join(root, 'out', 'test', layer);
const files = [];
(function walk(d) {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.test.js') && (filters.length === 0 || filters.some(f => p.includes(f)))) files.push(p);
  }
})(dir);
files.sort();
const mocha = new Mocha({ ui: 'bdd', reporter: 'spec', color: false, timeout: 0, grep });
for (const f of files) mocha.addFile(f);
const artifacts = path.join(root, '.test-artifacts');
fs.mkdirSync(artifacts, { recursive: true });
const runner = mocha.run(failures => {
  const st = runner.stats;
  fs.writeFileSync(path.join(artifacts, `${layer}.json`), JSON.stringify({ passes: st.passes, failures: st.failures, pending: st.pending }));
  console.log(`${layer}: ${st.passes} passed, ${st.failures} failed`);
  process.exitCode = failures ? 1 : 0;
  // A failed test may leave a timer or a child behind (its clean-up never ran): end the layer anyway, as mocha's
  // --exit does, once stdout has drained, so that a failure is reported instead of hanging the whole test run.
  process.stdout.write('', () => process.exit(process.exitCode));
});
