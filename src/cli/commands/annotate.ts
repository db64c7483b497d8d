/** `scwb annotate MODEL.onnx DATASET.h5ad OUT.h5ad [--label COL]`: apply a worker-exported classifier. */
import * as path from 'path';
import { CliCommand, CliIO, UsageError, numberFlag, onTerminationSignals, parseFlags, stringFlag } from '../command';
import { AnnotateError, AnnotateResult, readSidecar } from '../../core/annotate/annotate';
import { recordAnnotation } from '../../core/annotate/record';
import { openH5ad } from '../../core/h5ad/read';
import { H5adError } from '../../core/h5ad/types';
import { removeStaleTemps } from '../../core/h5ad/write';
import { RunStore, defaultStoreRoot } from '../../core/runs/store';
import { runTask } from '../../core/workers/run-task';
import { CancelledError } from '../../core/workers/task';

const USAGE = `usage: scwb annotate MODEL.onnx DATASET.h5ad OUT.h5ad [--label COL] [--batch N] [--threads N]
                     [--store DIR] [--overwrite]

Runs a fine-tuned classifier exported by the worker (model.onnx with its model.onnx.json, written in the run
folder at the end of a fine-tune run) over every cell of DATASET with onnxruntime (CPU), and writes OUT: a copy of
DATASET with obs 'scwb_predicted' (the predicted class) and obsm 'scwb_probabilities' (cells x classes). DATASET is
never modified. scBERT and scGPT models, tokenised exactly as the worker does.
  --label COL    obs column with the true labels: accuracy and macro F1 are printed and recorded as a run in the
                 run store (default: the model's training label column when DATASET has it)
  --batch N      cells per model call (default 32)
  --threads N    onnxruntime threads (default: onnxruntime's choice)
  --store DIR    run store folder (default: ./.scwb/runs)
  --overwrite    replace OUT when it exists
SIGINT (Ctrl-C) and SIGTERM stop it: no OUT and no temporary file are left, and the exit status is 130.`;

export const command: CliCommand = {
  name: 'annotate',
  summary: 'annotate a dataset with a fine-tuned model exported to ONNX (predictions + probabilities into a new .h5ad)',
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    const { flags, positionals } = parseFlags(args, ['overwrite']);
    for (const name of flags.keys()) {
      if (!['label', 'batch', 'threads', 'store', 'overwrite'].includes(name)) throw new UsageError(`unknown option --${name}`);
    }
    if (positionals.length !== 3) throw new UsageError('give MODEL.onnx DATASET.h5ad OUT.h5ad');
    const [model, dataset, out] = positionals.map(p => path.resolve(p));
    const batchSize = numberFlag(flags, 'batch', 32);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new UsageError('--batch must be a positive integer');
    const threads = numberFlag(flags, 'threads', 0);
    if (!Number.isInteger(threads) || threads < 0) throw new UsageError('--threads must be a non-negative integer');
    const store = stringFlag(flags, 'store');
    const ac = new AbortController();
    const removeSignals = onTerminationSignals(() => ac.abort());
    try {
      const sidecar = readSidecar(model);
      let label = stringFlag(flags, 'label');
      if (label === undefined && sidecar.labelColumn) {
        const r = await openH5ad(dataset);
        try {
          if (r.obs().columns.some(c => c.name === sidecar.labelColumn)) label = sidecar.labelColumn;
        } finally {
          r.close();
        }
      }
      let last = -1;
      const result = await runTask<AnnotateResult>('annotate/annotate', 'annotateTask',
        { model, dataset, out, labelColumn: label, batchSize, overwrite: flags.has('overwrite'), threads: threads || undefined },
        {
          signal: ac.signal,
          onProgress: f => {
            const pct = Math.floor(f * 10) * 10;
            if (pct > last) { last = pct; io.err(`annotating: ${pct}%\n`); }
          },
        });
      io.out(`${out}: ${result.nCells} cells annotated (${result.genesMatched} of ${result.genesMatched + result.genesMissing} model genes in the dataset; ${Math.round(result.cellsPerSec)} cells/s)\n`);
      for (const c of result.classes) io.out(`  ${c}: ${result.counts[c]}\n`);
      if (result.genesMissing) io.err(`scwb annotate: warning: ${result.genesMissing} of the model's genes are not in ${dataset}; they read as 0\n`);
      if (result.metrics) {
        const m = result.metrics;
        io.out(`  accuracy ${m.accuracy.toFixed(4)}, macro F1 ${m.macroF1.toFixed(4)} on ${m.nLabelled} labelled cells ('${m.labelColumn}')${m.unknownLabels ? `; ${m.unknownLabels} have a label the model does not know` : ''}\n`);
        const rec = await recordAnnotation(new RunStore(store ? path.resolve(store) : defaultStoreRoot(process.cwd())),
          { model, dataset, out, sidecar, result, batchSize });
        io.out(`  recorded as run ${rec.id} (${rec.status})\n`);
      }
      return 0;
    } catch (e) {
      if (e instanceof CancelledError) {
        // The task removes its temp file when it stops; a task ended by force (stuck in the model) cannot.
        removeStaleTemps(out, { ownPid: true });
        io.err('scwb annotate: cancelled; no output was written\n');
        return 130;
      }
      if (e instanceof AnnotateError || e instanceof H5adError) {
        io.err(`scwb annotate: ${e.message}\n`);
        return 1;
      }
      // errors from the worker thread arrive as plain Errors with the task's message (file and problem)
      io.err(`scwb annotate: ${e instanceof Error ? e.message : String(e)}\n`);
      return 1;
    } finally {
      removeSignals();
    }
  },
};
