/**
 * Preprocessing an .h5ad end to end (read, recipe, write): our streaming recipes against the numpy reference of
 * the published steps (test/python/preprocess_reference.py, anndata in and out), on the same generated counts
 * (20,000 cells x 5,000 genes, 3 batches). Each measurement runs in its own child process so that its peak RSS is
 * its own. Usage: node out/bench/preprocess.js
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parseRecipe } from '../src/core/preprocess/recipe';
import { runRecipe } from '../src/core/preprocess/run';

const ROOT = path.resolve(__dirname, '..', '..');
const DATA = path.join(ROOT, 'bench', '.data');
const PY = path.join(ROOT, 'bench', 'preprocess_reference.py');
const PYTHON = process.env.SCWB_REF_PYTHON ?? '/usr/bin/python3';
const INPUT = path.join(DATA, 'preprocess_counts.h5ad');
const REFERENCE_GENES = path.join(DATA, 'preprocess_reference_genes.txt');
const VOCAB = path.resolve(ROOT, '..', 'shared', 'reference', 'scgpt_vocab.json');

const CASES: Record<string, { recipe: string; params: Record<string, unknown> }> = {
  'scGPT: vocab, cell filter, 2,000 HVGs over 3 batches, 51 bins': {
    recipe: 'scgpt', params: { vocab: VOCAB, minCountsPerCell: 50, nTopGenes: 2000, hvgBatchKey: 'batch' },
  },
  'scBERT: align to 5,500 reference genes, min 200 genes, log2': {
    recipe: 'scbert', params: { referenceGenes: REFERENCE_GENES, minGenes: 200 },
  },
  'benchmark: log1p + 51 bins': { recipe: 'benchmark', params: { mode: 'bin' } },
};

interface Measure { seconds: number; maxRssMiB: number; nObs: number; nVars: number }

async function child(caseName: string, out: string): Promise<void> {
  const c = CASES[caseName];
  const t0 = process.hrtime.bigint();
  const report = await runRecipe(parseRecipe({ recipe: c.recipe, params: c.params }), INPUT, out, undefined, { overwrite: true });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const m: Measure = { seconds, maxRssMiB: process.resourceUsage().maxRSS / 1024, nObs: report.cellsOut, nVars: report.genesOut };
  process.stdout.write(JSON.stringify(m) + '\n');
}

function runChild(cmd: string, args: string[]): Measure {
  return JSON.parse(execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 20 }).trim().split('\n').pop()!) as Measure;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(argv[1], argv[2]);
  fs.mkdirSync(DATA, { recursive: true });
  if (!fs.existsSync(INPUT)) {
    console.log('generating the counts file with anndata...');
    execFileSync(PYTHON, [PY, 'make', DATA], { stdio: 'inherit' });
  }
  console.log(`preprocess: ${path.basename(INPUT)} (${(fs.statSync(INPUT).size / 2 ** 20).toFixed(0)} MiB), .h5ad in -> .h5ad out, one run each in its own process`);
  for (const [name, c] of Object.entries(CASES)) {
    const oursOut = path.join(DATA, 'preprocess_out_ours.h5ad');
    const refOut = path.join(DATA, 'preprocess_out_ref.h5ad');
    const paramsFile = path.join(DATA, 'preprocess_params.json');
    fs.writeFileSync(paramsFile, JSON.stringify(c.params));
    const o = runChild(process.execPath, [__filename, '--child', name, oursOut]);
    const p = runChild(PYTHON, [PY, 'run', c.recipe, INPUT, refOut, paramsFile]);
    if (o.nObs !== p.nObs || o.nVars !== p.nVars) throw new Error(`outputs differ in shape: ${JSON.stringify([o, p])}`);
    console.log(`\n${name} -> ${o.nObs} x ${o.nVars}`);
    console.log(`  ours (streaming, 4,096-row blocks)  ${o.seconds.toFixed(2)} s  ${o.maxRssMiB.toFixed(0)} MiB`);
    console.log(`  numpy reference (anndata in/out)   ${p.seconds.toFixed(2)} s  ${p.maxRssMiB.toFixed(0)} MiB   time ours/ref ${(o.seconds / p.seconds).toFixed(2)}x, memory ${(o.maxRssMiB / p.maxRssMiB).toFixed(2)}x`);
    fs.rmSync(oursOut, { force: true });
    fs.rmSync(refOut, { force: true });
  }
}

main().catch(e => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
