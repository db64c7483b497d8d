/**
 * Loaded by the real extension host through extensionTestsPath: runs every out/test/host/*.test.js with mocha
 * and writes the counts where test/harness/run-host-tests.js waits for them.
 */
import * as fs from 'fs';
import * as path from 'path';
import Mocha from 'mocha';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 0, grep: process.env.SCWB_HOST_GREP || undefined });
  for (const f of fs.readdirSync(__dirname).sort()) if (f.endsWith('.test.js')) mocha.addFile(path.join(__dirname, f));
  const resultFile = process.env.SCWB_HOST_RESULT;
  return new Promise(resolve => {
    const runner = mocha.run(() => {
      const st = runner.stats ?? { passes: 0, failures: 1 };
      const line = `${st.passes} passed, ${st.failures} failed`;
      console.log(`HOST ${line}`);
      if (resultFile) fs.writeFileSync(resultFile, JSON.stringify({ passes: st.passes, failures: st.failures }));
      // Resolve either way: the harness reads the counts; rejecting would only add a VS Code error dialog.
      resolve();
    });
    runner.on('pass', t => console.log(`PASS ${t.fullTitle()} (${t.duration ?? 0} ms)`));
    runner.on('fail', (t, e: Error) => console.log(`FAIL ${t.fullTitle()}: ${e.message}\n${e.stack ?? ''}`));
  });
}
