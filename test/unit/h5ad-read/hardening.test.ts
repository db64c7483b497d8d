/**
 * Issue 10 (silent data errors, robustness): crafted files written by Debian's anndata and damaged with h5py
 * (test/python/h5ad_hardening_make.py), read by the core and by the `scwb` command line as users run it.
 */
import * as assert from 'assert';
import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { openH5ad } from '../../../src/core/h5ad/read';
import { labelValues } from '../../../src/core/h5ad/labels';
import { LzfFallbackError, lzfDecompress, readLzfVlenStrings } from '../../../src/core/h5ad/lzf-strings';
import { H5adError } from '../../../src/core/h5ad/types';
import { sha256File } from '../../../src/core/hash';
import { RunStore } from '../../../src/core/runs/store';
import { PROJECT_ROOT, SHARED, runPythonJson, simulateH5ad, tempDir } from '../../helpers/shared';

const SCWB = path.join(PROJECT_ROOT, 'bin', 'scwb.js');

function scwb(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [SCWB, ...args], { cwd, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('hardening: silent data errors and robustness (issue 10)', () => {
  const dir = tempDir('scwb-harden-');
  const file = (kind: string) => path.join(dir, `${kind}.h5ad`);
  before(() => {
    const kinds = ['clean', 'nan', 'badindex', 'badcodes', 'badutf8', 'smallclass', 'lzf', 'lzfdeep'];
    runPythonJson('h5ad_hardening_make.py', kinds.flatMap(k => [k, file(k)]));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('refuses an out-of-range column index in X in every reader (rows, whole matrix, baseline, preprocess), naming file, row and value', async () => {
    const f = file('badindex');
    const expected = (e: unknown) => {
      assert.ok(e instanceof H5adError, String(e));
      assert.strictEqual(e.file, f);
      assert.match(e.problem, /column index 30 in row 17, outside 0\.\.29/);
      return true;
    };
    const reader = await openH5ad(f);
    try {
      assert.throws(() => reader.readRows(10, 20), expected);
      assert.throws(() => reader.readAllRows(), expected);
      assert.doesNotThrow(() => reader.readRows(0, 17), 'rows before the bad one read fine');
    } finally {
      reader.close();
    }
    const base = scwb(['baseline', f, '--label', 'cell_type', '--store', path.join(dir, 'runs-badindex')], dir);
    assert.notStrictEqual(base.status, 0);
    assert.match(base.stderr, /badindex\.h5ad: 'X\/indices' holds column index 30 in row 17/);
    const recipe = path.join(dir, 'benchmark.json');
    fs.writeFileSync(recipe, JSON.stringify({ recipe: 'benchmark', params: {} }));
    const pre = scwb(['preprocess', recipe, f, path.join(dir, 'badindex-out.h5ad')], dir);
    assert.notStrictEqual(pre.status, 0);
    assert.match(pre.stderr, /badindex\.h5ad: 'X\/indices' holds column index 30 in row 17/, pre.stderr);
    assert.ok(!fs.existsSync(path.join(dir, 'badindex-out.h5ad')));
  });

  it('refuses category codes out of range when reading, naming the input file, column and cell', async () => {
    const f = file('badcodes');
    const reader = await openH5ad(f);
    try {
      assert.throws(() => reader.obs(), (e: unknown) => e instanceof H5adError && e.file === f
        && /'cell_type'.*code 5 at cell 11, outside -1\.\.2/.test(e.problem));
    } finally {
      reader.close();
    }
  });

  it('refuses labels whose bytes are not UTF-8 instead of merging them', async () => {
    const f = file('badutf8');
    const reader = await openH5ad(f);
    try {
      const obs = reader.obs();
      assert.throws(() => labelValues(obs, 'cell_type', f), (e: unknown) => e instanceof H5adError && e.file === f
        && /cell 1 \('cell1'\).*not valid UTF-8/.test(e.problem));
    } finally {
      reader.close();
    }
    const base = scwb(['baseline', f, '--label', 'cell_type', '--store', path.join(dir, 'runs-utf8')], dir);
    assert.strictEqual(base.status, 1);
    assert.match(base.stderr, /not valid UTF-8/);
  });

  it('refuses NaN/Inf anywhere in X (training or test cells) in the baseline, naming file, cell and gene', () => {
    const f = file('nan');
    const store = path.join(dir, 'runs-nan');
    const r = scwb(['baseline', f, '--label', 'cell_type', '--store', store, '--force'], dir);
    assert.strictEqual(r.status, 1, r.stderr);
    assert.match(r.stderr, /nan\.h5ad: X holds Infinity at cell 3 \('cell3'\), gene 7 \('GENE7'\)/);
    const runs = new RunStore(store);
    return runs.list().then(list => {
      assert.strictEqual(list.length, 1);
      assert.strictEqual(list[0].status, 'failed');
      assert.strictEqual(list[0].summary, null, 'no scores for a matrix with non-finite values');
    });
  });

  it('reads LZF-compressed string datasets written by Debian\'s anndata (no WebAssembly trap), as anndata reads them', async () => {
    const f = file('lzf');
    const expected = JSON.parse(fs.readFileSync(`${f}.json`, 'utf8')) as { obs_names: string[]; var_names: string[]; categories: string[]; labels: string[] };
    const reader = await openH5ad(f);
    try {
      const s = reader.summary();
      assert.deepStrictEqual([s.nObs, s.nVars], [20000, 30]);
      assert.deepStrictEqual(s.X?.compression, ['lzf']);
      const obs = reader.obs();
      assert.deepStrictEqual(obs.index, expected.obs_names);
      assert.deepStrictEqual(reader.var().index, expected.var_names);
      const col = obs.columns.find(c => c.name === 'cell_type');
      assert.ok(col && col.kind === 'categorical');
      assert.deepStrictEqual(col.categories, expected.categories);
      assert.deepStrictEqual(labelValues(obs, 'cell_type', f), expected.labels);
      assert.strictEqual(reader.readAllRows().nRows, 20000);
    } finally {
      reader.close();
    }
    // h5wasm keeps working; anndata 0.7's LZF files (strings whose filter has client values) still read through it.
    const good = await openH5ad(path.join(SHARED, 'data', 'h5ad', 'anndata_v0.7.0_adata.h5ad'));
    try {
      assert.strictEqual(good.readRows(0, 30).indptr[30], 228);
      assert.ok(good.var().index.length > 0);
    } finally {
      good.close();
    }
  });

  it('reads LZF string chunks through a chunk B-tree of several levels, empty strings included', () => {
    const f = file('lzfdeep');
    const expected = JSON.parse(fs.readFileSync(`${f}.json`, 'utf8')) as string[];
    assert.deepStrictEqual(readLzfVlenStrings(f, '/a/b/strings'), expected);
    assert.throws(() => readLzfVlenStrings(f, '/a/nothing'), LzfFallbackError);
  });

  it('decompresses LZF as specified: literal runs, back references, overlapping copies; refuses corrupt blocks', () => {
    // "abcabcabcabcX": literal 'abc' (ctrl 2), a back reference of length 9 at distance 3 (ctrl (7<<5)|0, extra 0,
    // offset byte 2), then literal 'X'.
    const block = Uint8Array.from([2, 97, 98, 99, (7 << 5), 0, 2, 0, 88]);
    assert.strictEqual(Buffer.from(lzfDecompress(block, 100)).toString('latin1'), 'abcabcabcabcX');
    assert.throws(() => lzfDecompress(Uint8Array.from([0x20, 5]), 100), LzfFallbackError, 'a reference before the start');
    assert.throws(() => lzfDecompress(block, 5), LzfFallbackError, 'more than the chunk holds');
    assert.throws(() => lzfDecompress(Uint8Array.from([5, 1, 2]), 100), LzfFallbackError, 'a literal past the end');
  });

  it('refuses a FIFO named *.h5ad at once instead of hashing it forever', async () => {
    const fifo = path.join(dir, 'pipe.h5ad');
    execFileSync('mkfifo', [fifo]);
    await assert.rejects(sha256File(fifo), /not a regular file/);
    await assert.rejects(openH5ad(fifo), (e: unknown) => e instanceof H5adError && /FIFO/.test(e.problem));
    const r = scwb(['baseline', fifo, '--label', 'cell_type', '--store', path.join(dir, 'runs-fifo')], dir);
    assert.strictEqual(r.status, 1);
    assert.match(r.stderr, /pipe\.h5ad: is a FIFO \(named pipe\), not an \.h5ad file/);
    assert.ok(!fs.existsSync(path.join(dir, 'runs-fifo')), 'nothing created in the run store');
  });

  it('bounds solver flags: cv folds above the smallest class count, folds < 2, absurd or zero threads, C <= 0', () => {
    const f = file('smallclass');
    const store = path.join(dir, 'runs-folds');
    const r = scwb(['baseline', f, '--label', 'cell_type', '--store', store, '--cv-grid', '0.1,1', '--cv-folds', '5'], dir);
    assert.strictEqual(r.status, 1, r.stderr);
    // The failure is on stderr, not only inside the JSON on stdout.
    assert.match(r.stderr, /5-fold cross-validation needs at least 5 training cells of every class, but class 'C' has only [0-3]/);
    assert.match(JSON.parse(r.stdout).runs[0].error, /class 'C' has only/);
    for (const [args, pattern] of [
      [['--cv-grid', '0.1,1', '--cv-folds', '1'], /--cv-folds must be an integer of at least 2/],
      [['--cv-folds', '3'], /--cv-folds applies only with --cv-grid/],
      [['--threads', '100000'], /--threads must be an integer from 1 to \d+/],
      [['--threads', '0'], /--threads must be an integer from 1/],
      [['--threads', '2.5'], /--threads must be an integer/],
      [['--C', '0'], /--C must be a positive number/],
    ] as const) {
      const bad = scwb(['baseline', file('clean'), '--label', 'cell_type', '--store', path.join(dir, 'runs-never'), ...args], dir);
      assert.strictEqual(bad.status, 2, `${args.join(' ')}: ${bad.stderr}`);
      assert.match(bad.stderr, pattern);
      assert.strictEqual(bad.stdout, '');
    }
    assert.ok(!fs.existsSync(path.join(dir, 'runs-never')));
  });

  it('a missing or unwritable output folder gets one clear line, not an HDF5 stack', () => {
    const missing = scwb(['simulate', '--cells', '10', '--genes', '100', '--out', path.join(dir, 'no', 'such', 'x.h5ad')], dir);
    assert.strictEqual(missing.status, 1);
    assert.strictEqual(missing.stderr.trim().split('\n').length, 1, missing.stderr);
    assert.match(missing.stderr, /the output folder .*no\/such does not exist/);
    const notDir = path.join(dir, 'plain.txt');
    fs.writeFileSync(notDir, 'x');
    const nd = scwb(['simulate', '--cells', '10', '--genes', '100', '--out', path.join(notDir, 'x.h5ad')], dir);
    assert.strictEqual(nd.stderr.trim().split('\n').length, 1, nd.stderr);
    assert.match(nd.stderr, /plain\.txt is not a folder/);
    // /proc refuses new files even for root (permission bits alone would not stop a root test run).
    const ro = scwb(['simulate', '--cells', '10', '--genes', '100', '--out', '/proc/scwb-test.h5ad'], dir);
    assert.strictEqual(ro.status, 1);
    assert.strictEqual(ro.stderr.trim().split('\n').length, 1, ro.stderr);
    assert.doesNotMatch(ro.stderr, /HDF5-DIAG/);
    assert.match(ro.stderr, /\/proc/);
  });

  it('removes temp files a killed writer (kill -9) left beside the same output', () => {
    const out = path.join(dir, 'sim.h5ad');
    const stale = path.join(dir, `.sim.tmp-${deadPid()}-0badc0de.h5ad`);
    const live = path.join(dir, `.sim.tmp-${process.pid}-0badc0df.h5ad`);
    fs.writeFileSync(stale, 'half a file');
    fs.writeFileSync(live, 'a writer still at work');
    simulateH5ad(out, 20, 100, 1);
    assert.ok(fs.existsSync(out));
    assert.ok(!fs.existsSync(stale), 'the dead writer\'s temp file is removed');
    assert.ok(fs.existsSync(live), 'a running writer\'s temp file is left alone');
  });

  it('-- ends the options: a file named --odd.h5ad is a positional; --help after -- is not help', () => {
    fs.copyFileSync(file('clean'), path.join(dir, '--odd.h5ad'));
    const r = scwb(['inspect', '--json', '--', '--odd.h5ad'], dir);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.strictEqual(JSON.parse(r.stdout).nObs, 60);
    const h = scwb(['inspect', '--', '--help'], dir);
    assert.notStrictEqual(h.status, 0);
    assert.match(h.stderr, /--help/);
  });

  it('error messages never echo the contents of an arbitrary file a recipe points at', () => {
    const secret = path.join(dir, 'secret.txt');
    fs.writeFileSync(secret, 'root:x:0:0:TOPSECRET-1:/root:/bin/bash\nuser token=TOPSECRET-2\nroot:x:0:0:TOPSECRET-1:/root:/bin/bash\n');
    const counts = simulateH5ad(path.join(dir, 'counts.h5ad'), 50, 100, 2);
    const cases: Array<Record<string, unknown>> = [
      { recipe: 'scbert', params: { referenceGenes: secret } },
      { recipe: 'scgpt', params: { vocab: secret } },
      { recipe: 'benchmark', params: { vocab: secret } },
    ];
    for (const recipe of cases) {
      const file = path.join(dir, 'recipe.json');
      fs.writeFileSync(file, JSON.stringify(recipe));
      const r = scwb(['preprocess', file, counts, path.join(dir, 'never.h5ad')], dir);
      assert.notStrictEqual(r.status, 0, JSON.stringify(recipe));
      assert.match(r.stderr, /secret\.txt/, r.stderr);
      assert.doesNotMatch(r.stderr + r.stdout, /TOPSECRET|root:x/, r.stderr);
    }
    // A recipe file that is not JSON is not quoted either.
    const r = scwb(['preprocess', secret, counts, path.join(dir, 'never.h5ad')], dir);
    assert.match(r.stderr, /secret\.txt: not valid JSON/);
    assert.doesNotMatch(r.stderr, /TOPSECRET|root:x/);
  });

  it('SIGTERM cancels `scwb baseline` like Ctrl-C: exit 130, the current run cancelled, no run left running', async () => {
    const data = simulateH5ad(path.join(dir, 'big.h5ad'), 3000, 2000, 5);
    const store = path.join(dir, 'runs-term');
    const child = spawn(process.execPath, [SCWB, 'baseline', data, '--label', 'cell_type', '--store', store,
      '--fractions', '0.5,1', '--seeds', '0,1,2', '--progress', '--force'], { cwd: dir });
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!sent && /run 1\/6/.test(stderr)) { sent = true; child.kill('SIGTERM'); }
    });
    const code = await new Promise<number | null>(res => child.on('close', c => res(c)));
    assert.ok(sent, `the baseline never reached its first run: ${stderr}`);
    assert.strictEqual(code, 130, stderr);
    assert.match(stderr, /cancelled/);
    const runs = await new RunStore(store).list();
    assert.strictEqual(runs.length, 6);
    assert.ok(runs.some(r => r.status === 'cancelled'));
    assert.ok(runs.every(r => r.status === 'cancelled' || r.status === 'completed'), runs.map(r => r.status).join(','));
  });

  it('SIGTERM cancels `scwb preprocess` like Ctrl-C: exit 130, no output and no temp file left', async () => {
    const sub = path.join(dir, 'term-pre');
    fs.mkdirSync(sub);
    const data = simulateH5ad(path.join(sub, 'in.h5ad'), 60000, 1000, 6);
    const recipe = path.join(sub, 'bin.json');
    fs.writeFileSync(recipe, JSON.stringify({ recipe: 'benchmark', params: { mode: 'bin' } }));
    const child = spawn(process.execPath, [SCWB, 'preprocess', recipe, data, path.join(sub, 'out.h5ad'), '--progress'], { cwd: sub });
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!sent && /\d+% benchmark/.test(stderr)) { sent = true; child.kill('SIGTERM'); }
    });
    const code = await new Promise<number | null>(res => child.on('close', c => res(c)));
    assert.ok(sent, stderr);
    assert.strictEqual(code, 130, stderr);
    assert.match(stderr, /cancelled; no output was written/);
    assert.deepStrictEqual(fs.readdirSync(sub).sort(), ['bin.json', 'in.h5ad']);
  });
});
