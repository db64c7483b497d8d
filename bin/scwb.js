#!/usr/bin/env node
'use strict';
// `npx scwb ...`: the command line built from the same core as the extension (compiled to out/ by `npm run build`).
require('../out/src/cli/main.js').main(process.argv.slice(2)).then(
  code => { process.exitCode = code; },
  err => { process.stderr.write(`scwb: ${err instanceof Error ? err.message : String(err)}\n`); process.exitCode = 1; },
);
