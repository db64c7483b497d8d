/**
 * Annotate trusts nothing it is given: the class list of model.onnx.json is checked against the ONNX model's
 * output before any cell is read, and `scwb annotate` stopped by SIGTERM/SIGINT leaves no temp file and exits 130.
 * The model is a real worker export (test/python/annotate_reference.py make).
 */
import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { AnnotateError, annotateTask } from '../../../src/core/annotate/annotate';
import { readOnnx } from '../../../src/core/checkpoints/formats';
import { PROJECT_ROOT, runPythonJson, tempDir } from '../../helpers/shared';

interface Made { run: string; query: string; classes: string[] }

const SCWB = path.join(PROJECT_ROOT, 'bin', 'scwb.js');

describe('annotate hardening: class list vs the model, termination signals', () => {
  let dir: string;
  let made: Made;
  let side: Record<string, unknown>;
  const N_CELLS = 20000;

  before(() => {
    dir = tempDir('scwb-annotate-hard-');
    made = runPythonJson<Made>('annotate_reference.py', ['make', dir, String(N_CELLS)]);
    side = JSON.parse(fs.readFileSync(path.join(made.run, 'model.onnx.json'), 'utf8')) as Record<string, unknown>;
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A copy of the model with `classes` in its sidecar. */
  function withClasses(name: string, classes: string[]): string {
    const model = path.join(dir, `${name}.onnx`);
    fs.copyFileSync(path.join(made.run, 'model.onnx'), model);
    fs.writeFileSync(`${model}.json`, JSON.stringify({ ...side, classes }));
    return model;
  }

  it('the exported model states its class dimension, which equals the sidecar\'s class count', () => {
    const onnx = readOnnx(path.join(made.run, 'model.onnx'));
    const out = onnx.outputs.find(o => o.name === (side.outputs as string[])[0])!;
    assert.strictEqual(out.shape[out.shape.length - 1], made.classes.length);
  });

  it('refuses one class too few, one too many, and a duplicated name before reading any cell; no output is written', async () => {
    const cases: [string, string[], RegExp][] = [
      ['short', made.classes.slice(0, -1), new RegExp(`lists ${made.classes.length - 1} classes but the model's output '[^']+' has ${made.classes.length}`)],
      ['long', [...made.classes, 'extra'], new RegExp(`lists ${made.classes.length + 1} classes but the model's output '[^']+' has ${made.classes.length}`)],
      ['dup', [...made.classes.slice(0, -1), made.classes[0]], new RegExp(`'classes' names "${made.classes[0]}" twice`)],
    ];
    for (const [name, classes, message] of cases) {
      const model = withClasses(name, classes);
      const out = path.join(dir, `${name}-out.h5ad`);
      await assert.rejects(annotateTask({ model, dataset: made.query, out }),
        (e: Error) => e instanceof AnnotateError && e.file === `${model}.json` && message.test(e.message), name);
      assert.ok(!fs.existsSync(out), `${name}: no output`);
      assert.deepStrictEqual(fs.readdirSync(dir).filter(f => f.startsWith(`.${name}-out`)), [], `${name}: no temp file`);
    }
  });

  it('an output name in the sidecar that the model does not have is refused by name', async () => {
    const model = path.join(dir, 'renamed.onnx');
    fs.copyFileSync(path.join(made.run, 'model.onnx'), model);
    fs.writeFileSync(`${model}.json`, JSON.stringify({ ...side, outputs: ['nope'] }));
    await assert.rejects(annotateTask({ model, dataset: made.query, out: path.join(dir, 'renamed-out.h5ad') }),
      /renamed\.onnx\.json: 'outputs' names "nope", which is not an output of renamed\.onnx/);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`scwb annotate stopped by ${signal} removes its temp file and exits 130`, async () => {
      const outDir = path.join(dir, `sig-${signal}`);
      fs.mkdirSync(outDir);
      const out = path.join(outDir, 'annotated.h5ad');
      // --batch 1: one model call per cell, so the run is still going when the signal comes.
      const child = spawn(process.execPath, [SCWB, 'annotate', path.join(made.run, 'model.onnx'), made.query, out, '--batch', '1', '--store', path.join(outDir, 'runs')],
        { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', d => { stderr += String(d); });
      const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)));
      // Wait for the writer's temp file (the annotation has started), then signal.
      let running = true;
      void exited.then(() => { running = false; });
      while (running && !fs.readdirSync(outDir).some(f => f.startsWith('.annotated.tmp-'))) await new Promise(r => setTimeout(r, 20));
      assert.ok(running, `the annotation ended before the signal: ${stderr}`);
      child.kill(signal);
      const code = await exited;
      assert.strictEqual(code, 130, stderr);
      assert.match(stderr, /cancelled; no output was written/);
      assert.deepStrictEqual(fs.readdirSync(outDir), [], 'neither the output nor a temp file is left');
    });
  }
});
