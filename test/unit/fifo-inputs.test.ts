/**
 * Every file scWorkbench reads goes through one guarded open: a FIFO, a device or a link to /dev/zero under any name
 * (model files, an scGPT folder's files, annotate's model and sidecar, recipe.json and its referenceGenes, --genes,
 * --config, queue.json, run.json) is refused at once with a message naming the file, never blocking and never
 * filling memory.
 *
 * So that these tests end even where the guard is missing, a helper keeps opening each FIFO for writing (non-blocking)
 * while the command runs: a reader blocked on the FIFO then sees end-of-file and goes on, and the test fails on
 * its message instead of hanging.
 */
import * as assert from 'assert';
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { QueueStore } from '../../src/core/queue/store';
import { readTextFile, readTextFileSync, UnsafeFileError } from '../../src/core/safe-read';
import { PROJECT_ROOT, simulateH5ad, tempDir } from '../helpers/shared';

const SCWB = path.join(PROJECT_ROOT, 'bin', 'scwb.js');

/** Opens each FIFO for writing and closes it again, until `done()`: unblocks a reader stuck on it. */
function unblock(fifos: string[], done: () => boolean): Promise<void> {
  return new Promise(resolve => {
    const tick = () => {
      for (const f of fifos) {
        try { fs.closeSync(fs.openSync(f, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK)); } catch { /* no reader now */ }
      }
      if (done()) resolve(); else setTimeout(tick, 50);
    };
    tick();
  });
}

async function scwb(args: string[], cwd: string, fifos: string[]): Promise<{ status: number | null; stderr: string; stdout: string }> {
  const child = spawn(process.execPath, [SCWB, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  let ended = false;
  child.stderr.on('data', d => { stderr += String(d); });
  child.stdout.on('data', d => { stdout += String(d); });
  const status = new Promise<number | null>(resolve => child.on('close', code => { ended = true; resolve(code); }));
  await unblock(fifos, () => ended);
  return { status: await status, stderr, stdout };
}

const fifo = (file: string) => { execFileSync('mkfifo', [file]); return file; };
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe('guarded reads: FIFOs, devices and /dev/zero links are refused by name', () => {
  const dir = tempDir('scwb-fifo-');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the guard itself: FIFO, device, /dev/zero link, folder and size ceiling', async () => {
    const f = fifo(path.join(dir, 'guard.json'));
    const zero = path.join(dir, 'zero.json');
    fs.symlinkSync('/dev/zero', zero);
    const big = path.join(dir, 'big.json');
    fs.writeFileSync(big, 'x'.repeat(2000));
    const checks: [string, RegExp, number?][] = [
      [f, /is a FIFO \(named pipe\), not a regular file/], [zero, /is a device, not a regular file/], ['/dev/null', /is a device/],
      [dir, /is a folder/], [big, /is 2000 bytes, more than the 1000 bytes/, 1000],
    ];
    for (const [file, message, maxBytes] of checks) {
      assert.throws(() => readTextFileSync(file, { maxBytes }), (e: unknown) => e instanceof UnsafeFileError && e.file === file && message.test(e.problem), file);
      await assert.rejects(readTextFile(file, { maxBytes }), (e: unknown) => e instanceof UnsafeFileError && message.test(e.message), file);
    }
    assert.throws(() => readTextFileSync(zero, { noFollow: true }), /is a symbolic link/);
    assert.strictEqual(readTextFileSync(big), 'x'.repeat(2000));
  });

  it('a file whose fstat size is 0 (/proc) is read in chunks, and its ceiling is kept while reading', async () => {
    const expected = fs.readFileSync('/proc/version', 'utf8');
    assert.ok(fs.statSync('/proc/version').size === 0 && expected.length > 20);
    assert.strictEqual(readTextFileSync('/proc/version'), expected);
    assert.strictEqual(await readTextFile('/proc/version'), expected);
    const ceiling = (e: unknown) => e instanceof UnsafeFileError && e.problem === 'holds more than the 20 bytes read for a file of this kind';
    assert.throws(() => readTextFileSync('/proc/version', { maxBytes: 20 }), ceiling);
    await assert.rejects(readTextFile('/proc/version', { maxBytes: 20 }), ceiling);
    const exact = path.join(dir, 'exact.txt');
    fs.writeFileSync(exact, 'y'.repeat(70 * 1024));
    assert.strictEqual(readTextFileSync(exact, { maxBytes: 70 * 1024 }), 'y'.repeat(70 * 1024));
    assert.strictEqual(await readTextFile(exact, { maxBytes: 70 * 1024 }), 'y'.repeat(70 * 1024));
  });

  it('scwb checkpoint inspect: .pth, .safetensors and .onnx FIFOs and /dev/zero links', async () => {
    for (const name of ['m.pth', 'm.safetensors', 'm.onnx']) {
      const f = fifo(path.join(dir, name));
      const r = await scwb(['checkpoint', 'inspect', f], dir, [f]);
      assert.strictEqual(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`${esc(f)}: is a FIFO`));
      const z = path.join(dir, `zero-${name}`);
      fs.symlinkSync('/dev/zero', z);
      const rz = await scwb(['checkpoint', 'inspect', z], dir, []);
      assert.strictEqual(rz.status, 1, rz.stderr);
      assert.match(rz.stderr, new RegExp(`${esc(z)}: is a device`));
    }
  });

  it('an scGPT folder whose best_model.pt, vocab.json or args.json is a FIFO', async () => {
    for (const which of ['best_model.pt', 'vocab.json', 'args.json']) {
      const folder = path.join(dir, `scgpt-${which}`);
      fs.mkdirSync(folder);
      fs.writeFileSync(path.join(folder, 'vocab.json'), '{"<pad>": 0, "A": 1}');
      fs.writeFileSync(path.join(folder, 'args.json'), '{"embsize": 8}');
      fs.writeFileSync(path.join(folder, 'best_model.pt'), 'not read first');
      const f = path.join(folder, which);
      fs.rmSync(f);
      fifo(f);
      const r = await scwb(['checkpoint', 'inspect', folder], dir, [f]);
      assert.strictEqual(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`${esc(f)}: is a FIFO`), which);
    }
  });

  it('scwb annotate: model.onnx or model.onnx.json is a FIFO', async () => {
    const data = simulateH5ad(path.join(dir, 'data.h5ad'), 20, 100, 1);
    const sidecar = JSON.stringify({ schemaVersion: 1, model: 'scbert', classes: ['a', 'b'], genes: ['G1'], inputs: ['x'], outputs: ['y'], opset: 17, scbert: { maxToken: 5, appendZero: true, nGenes: 1, seqLen: 2 } });
    const m1 = path.join(dir, 'fifo-model.onnx');
    fifo(m1);
    fs.writeFileSync(`${m1}.json`, sidecar);
    const r1 = await scwb(['annotate', m1, data, path.join(dir, 'o1.h5ad')], dir, [m1]);
    assert.strictEqual(r1.status, 1, r1.stderr);
    assert.match(r1.stderr, new RegExp(`${esc(m1)}: is a FIFO`));
    const m2 = path.join(dir, 'side-fifo.onnx');
    fs.writeFileSync(m2, 'unused');
    fifo(`${m2}.json`);
    const r2 = await scwb(['annotate', m2, data, path.join(dir, 'o2.h5ad')], dir, [`${m2}.json`]);
    assert.strictEqual(r2.status, 1, r2.stderr);
    assert.match(r2.stderr, new RegExp(`${esc(m2)}\\.json: is a FIFO`));
    assert.ok(!fs.existsSync(path.join(dir, 'o1.h5ad')) && !fs.existsSync(path.join(dir, 'o2.h5ad')));
  });

  it('scwb preprocess: recipe.json or its referenceGenes is a FIFO', async () => {
    const data = path.join(dir, 'data.h5ad');
    if (!fs.existsSync(data)) simulateH5ad(data, 20, 100, 1);
    const recipe = fifo(path.join(dir, 'recipe.json'));
    const r1 = await scwb(['preprocess', recipe, data, path.join(dir, 'p1.h5ad')], dir, [recipe]);
    assert.notStrictEqual(r1.status, 0);
    assert.match(r1.stderr, new RegExp(`${esc(recipe)}: cannot read the recipe: is a FIFO`));
    const genes = fifo(path.join(dir, 'ref-genes.txt'));
    const recipe2 = path.join(dir, 'scbert.json');
    fs.writeFileSync(recipe2, JSON.stringify({ recipe: 'scbert', params: { referenceGenes: 'ref-genes.txt' } }));
    const r2 = await scwb(['preprocess', recipe2, data, path.join(dir, 'p2.h5ad')], dir, [genes]);
    assert.notStrictEqual(r2.status, 0);
    assert.match(r2.stderr, new RegExp(`${esc(genes)}: cannot read the reference gene list: is a FIFO`));
  });

  it('scwb checkpoint check --genes FILE and scwb finetune --config FILE as FIFOs', async () => {
    const data = path.join(dir, 'data.h5ad');
    if (!fs.existsSync(data)) simulateH5ad(data, 20, 100, 1);
    const model = path.join(dir, 'tiny.safetensors');
    const h = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    fs.writeFileSync(model, Buffer.concat([len, h, Buffer.alloc(4)]));
    const genes = fifo(path.join(dir, 'genes-flag.txt'));
    const r1 = await scwb(['checkpoint', 'check', model, data, '--genes', genes], dir, [genes]);
    assert.notStrictEqual(r1.status, 0);
    assert.match(r1.stderr, new RegExp(`${esc(genes)}: is a FIFO`));
    const config = fifo(path.join(dir, 'config.json'));
    const r2 = await scwb(['finetune', data, '--label', 'cell_type', '--model', 'scbert', '--checkpoint', 'none', '--config', config, '--prepare-only'], dir, [config]);
    assert.notStrictEqual(r2.status, 0);
    assert.match(r2.stderr, new RegExp(`--config ${esc(config)}: is a FIFO`));
  });

  it('scwb results with a run.json linked to /dev/zero or a FIFO: the run is skipped, naming its file', async () => {
    const store = path.join(dir, 'store');
    for (const [id, make] of [['20250101T000000000Z-aaaaaa', (f: string) => fs.symlinkSync('/dev/zero', f)], ['20250101T000000001Z-bbbbbb', fifo]] as const) {
      fs.mkdirSync(path.join(store, id), { recursive: true });
      make(path.join(store, id, 'run.json'));
    }
    const fifoFile = path.join(store, '20250101T000000001Z-bbbbbb', 'run.json');
    const r = await scwb(['results', store], dir, [fifoFile]);
    assert.strictEqual(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`skipped ${esc(path.join(store, '20250101T000000000Z-aaaaaa', 'run.json'))}: is a symbolic link`));
    assert.match(r.stderr, new RegExp(`skipped ${esc(fifoFile)}: is a FIFO`));
    assert.doesNotMatch(r.stderr, /Invalid string length/);
  });

  it('queue.json as a FIFO or a link to /dev/zero is refused by name', async () => {
    for (const kind of ['fifo', 'zero'] as const) {
      const scwbDir = path.join(dir, `ws-${kind}`, '.scwb');
      fs.mkdirSync(scwbDir, { recursive: true });
      const file = path.join(scwbDir, 'queue.json');
      if (kind === 'fifo') fifo(file); else fs.symlinkSync('/dev/zero', file);
      let done = false;
      const outcome = new QueueStore(scwbDir).read().then(() => null, (e: Error) => e).finally(() => { done = true; });
      await unblock([file], () => done);
      const error = await outcome;
      assert.ok(error, 'refused');
      assert.match(error.message, new RegExp(`${esc(file)}: ${kind === 'fifo' ? 'is a FIFO' : 'is a symbolic link'}`));
    }
  });
});
