/**
 * Preprocessing an .h5ad end to end (read, recipe, write): our streaming recipes against the numpy reference of
 * the published steps (test/python/preprocess_reference.py, anndata in and out), on the same data. Each
 * measurement runs in its own child process so that its peak RSS is its own.
 *
 *   node out/bench/preprocess.js           generated counts, 20,000 cells x 5,000 genes, 3 batches; all recipes
 *   node out/bench/preprocess.js --zheng   Zheng68K-sized simulated counts, 68,450 cells x 20,000 genes (about
 *                                          91 M stored values), scBERT to a 16,906-gene reference and scGPT
 *                                          (2,000 HVGs, 51 bins); made once in bench/.data with `scwb simulate`
 *
 * Our side also reports where its time goes: reading row blocks, checking the values, aligning / selecting
 * genes, the per-cell statistics of the filters, normalise + log + float32, appending to the writer, finishing
 * the file (obs, var, uns and the final flush); "other" is the rest (setup, HVG statistics and binning, waiting
 * for the input's sha256, which is also timed alone).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { openH5ad } from '../src/core/h5ad/read';
import { H5adWriter } from '../src/core/h5ad/write';
import * as blocks from '../src/core/preprocess/blocks';
import { sha256File } from '../src/core/hash';
import { parseRecipe } from '../src/core/preprocess/recipe';
import { runRecipe } from '../src/core/preprocess/run';

const ROOT = path.resolve(__dirname, '..', '..');
const DATA = path.join(ROOT, 'bench', '.data');
const PY = path.join(ROOT, 'bench', 'preprocess_reference.py');
const PYTHON = process.env.SCWB_REF_PYTHON ?? '/usr/bin/python3';
const VOCAB = path.resolve(ROOT, '..', 'shared', 'reference', 'scgpt_vocab.json');

interface Case { recipe: string; params: Record<string, unknown> }
interface Dataset { input: string; make(): void; cases: Record<string, Case> }

const SMALL_REFERENCE = path.join(DATA, 'preprocess_reference_genes.txt');
const ZHENG_REFERENCE = path.join(DATA, 'preprocess_zheng68k_reference_genes.txt');

const DATASETS: Record<'small' | 'zheng', Dataset> = {
  small: {
    input: path.join(DATA, 'preprocess_counts.h5ad'),
    make() {
      console.log('generating the counts file with anndata...');
      execFileSync(PYTHON, [PY, 'make', DATA], { stdio: 'inherit' });
    },
    cases: {
      'scGPT: vocab, cell filter, 2,000 HVGs over 3 batches, 51 bins': {
        recipe: 'scgpt', params: { vocab: VOCAB, minCountsPerCell: 50, nTopGenes: 2000, hvgBatchKey: 'batch' },
      },
      'scBERT: align to 5,500 reference genes, min 200 genes, log2': {
        recipe: 'scbert', params: { referenceGenes: SMALL_REFERENCE, minGenes: 200 },
      },
      'benchmark: log1p + 51 bins': { recipe: 'benchmark', params: { mode: 'bin' } },
    },
  },
  zheng: {
    input: path.join(DATA, 'preprocess_zheng68k_counts.h5ad'),
    make() {
      const input = DATASETS.zheng.input;
      console.log('simulating 68,450 x 20,000 counts with scwb simulate (about a minute)...');
      execFileSync(process.execPath, [path.join(ROOT, 'bin', 'scwb.js'), 'simulate', '--cells', '68450', '--genes', '20000',
        '--out', input, '--overwrite'], { stdio: 'inherit' });
      console.log('naming genes after vocabulary symbols and writing the 16,906-gene reference list...');
      execFileSync(PYTHON, [PY, 'zheng-genes', input, ZHENG_REFERENCE], { stdio: 'inherit' });
    },
    cases: {
      'scBERT: align to 16,906 reference genes, min 200 genes, log2': {
        recipe: 'scbert', params: { referenceGenes: ZHENG_REFERENCE, minGenes: 200 },
      },
      'scGPT: vocab, 2,000 HVGs (Seurat v3), 51 bins': {
        recipe: 'scgpt', params: { vocab: VOCAB, nTopGenes: 2000 },
      },
    },
  },
};

interface Measure {
  seconds: number;
  maxRssMiB: number;
  nObs: number;
  nVars: number;
  /** ours only: seconds per stage */
  stages?: Record<string, number>;
}

/** Wraps `obj[name]` so that the seconds spent in it add up under `stage`. */
function timeMethod(stages: Record<string, number>, stage: string, obj: object, name: string): void {
  const target = obj as Record<string, (...a: unknown[]) => unknown>;
  const original = target[name];
  target[name] = function (this: unknown, ...args: unknown[]) {
    const t0 = process.hrtime.bigint();
    const done = () => { stages[stage] = (stages[stage] ?? 0) + Number(process.hrtime.bigint() - t0) / 1e9; };
    const result = original.apply(this, args);
    if (result instanceof Promise) return result.finally(done);
    done();
    return result;
  };
}

async function child(dataset: Dataset, caseName: string, out: string): Promise<void> {
  const c = dataset.cases[caseName];
  const stages: Record<string, number> = {};
  const probe = await openH5ad(dataset.input);
  timeMethod(stages, 'read', Object.getPrototypeOf(probe) as object, 'readRows');
  probe.close();
  timeMethod(stages, 'write', H5adWriter.prototype, 'appendRows');
  timeMethod(stages, 'write', H5adWriter.prototype, 'addLayerRows');
  timeMethod(stages, 'finish', H5adWriter.prototype, 'finish');
  timeMethod(stages, 'check', blocks.InputCheck.prototype, 'check');
  timeMethod(stages, 'align', blocks, 'remapColumns');
  timeMethod(stages, 'filter', blocks, 'rowPositives');
  timeMethod(stages, 'filter', blocks, 'rowSums');
  timeMethod(stages, 'normalise+log', blocks, 'keptRowsFloat32');
  const t0 = process.hrtime.bigint();
  const report = await runRecipe(parseRecipe({ recipe: c.recipe, params: c.params }), dataset.input, out, undefined, { overwrite: true });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const maxRssMiB = process.resourceUsage().maxRSS / 1024;
  stages.other = seconds - Object.values(stages).reduce((a, b) => a + b, 0);
  const h0 = process.hrtime.bigint();
  await sha256File(dataset.input);
  stages['sha256 alone'] = Number(process.hrtime.bigint() - h0) / 1e9;
  const m: Measure = { seconds, maxRssMiB, nObs: report.cellsOut, nVars: report.genesOut, stages };
  process.stdout.write(JSON.stringify(m) + '\n');
}

function runChild(cmd: string, args: string[]): Measure {
  return JSON.parse(execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 20 }).trim().split('\n').pop()!) as Measure;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const which = argv.includes('--zheng') ? 'zheng' : 'small';
  const dataset = DATASETS[which];
  if (argv[0] === '--child') return child(dataset, argv[1], argv[2]);
  const only = argv.find(a => a.startsWith('--only='))?.slice('--only='.length);
  const side = argv.find(a => a.startsWith('--side='))?.slice('--side='.length) ?? 'both';
  fs.mkdirSync(DATA, { recursive: true });
  if (!fs.existsSync(dataset.input)) dataset.make();
  console.log(`preprocess: ${path.basename(dataset.input)} (${(fs.statSync(dataset.input).size / 2 ** 20).toFixed(0)} MiB), .h5ad in -> .h5ad out, one run each in its own process`);
  for (const [name, c] of Object.entries(dataset.cases)) {
    if (only && !name.toLowerCase().includes(only.toLowerCase())) continue;
    const oursOut = path.join(DATA, 'preprocess_out_ours.h5ad');
    const refOut = path.join(DATA, 'preprocess_out_ref.h5ad');
    const paramsFile = path.join(DATA, 'preprocess_params.json');
    fs.writeFileSync(paramsFile, JSON.stringify(c.params));
    console.log(`\n${name}`);
    const o = side === 'ref' ? null : runChild(process.execPath, [__filename, '--child', name, oursOut, ...(which === 'zheng' ? ['--zheng'] : [])]);
    if (o) {
      const stages = Object.entries(o.stages ?? {}).map(([k, v]) => `${k} ${v.toFixed(2)} s`).join(', ');
      console.log(`  ours (streaming, 4,096-row blocks)  ${o.seconds.toFixed(2)} s  ${o.maxRssMiB.toFixed(0)} MiB  -> ${o.nObs} x ${o.nVars}`);
      console.log(`    stages: ${stages}`);
    }
    const p = side === 'ours' ? null : runChild(PYTHON, [PY, 'run', c.recipe, dataset.input, refOut, paramsFile]);
    if (p) console.log(`  numpy reference (anndata in/out)   ${p.seconds.toFixed(2)} s  ${p.maxRssMiB.toFixed(0)} MiB  -> ${p.nObs} x ${p.nVars}`);
    if (o && p) {
      if (o.nObs !== p.nObs || o.nVars !== p.nVars) throw new Error(`outputs differ in shape: ${JSON.stringify([o, p])}`);
      console.log(`  time ours/ref ${(o.seconds / p.seconds).toFixed(2)}x, peak RSS ours/ref ${(o.maxRssMiB / p.maxRssMiB).toFixed(2)}x`);
    }
    fs.rmSync(oursOut, { force: true });
    fs.rmSync(refOut, { force: true });
  }
}

main().catch(e => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
