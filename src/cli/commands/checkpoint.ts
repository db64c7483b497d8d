/**
 * `scwb checkpoint inspect FILE [--json]`: what a model file holds, read without Python and without running it.
 * `scwb checkpoint check MODEL DATASET`: will the dataset work with the model (genes, identifiers, values, labels)?
 */
import { CliCommand, CliIO, UsageError, parseFlags, stringFlag } from '../command';
import type { CompatReport } from '../../core/checkpoints/compat';
import { runTask } from '../../core/workers/run-task';
import { formatBytes } from '../../core/format';
import { CheckpointError } from '../../core/checkpoints/errors';
import { CheckpointSummary, inspectCheckpoint } from '../../core/checkpoints/inspect';

const USAGE = `usage: scwb checkpoint inspect FILE [--json] [--tensors]
       scwb checkpoint check MODEL DATASET.h5ad [--label COL] [--genes FILE] [--gene-column COL] [--json]

Reads a model file without Python and without executing it: PyTorch .pth/.pt (torch.save zip; the pickle is
interpreted, never run, and a file that asks to run anything else is refused), an scGPT model folder (best_model.pt,
vocab.json, args.json), .safetensors or .onnx. Prints the format, top-level keys, the recognised architecture
(scBERT pretrain / fine-tuned, scGPT flash or torch names, scGPT classifier), the parameter count, and the keys that
are missing, unexpected or mis-shaped against the published layout.
  --tensors  list every tensor (name, shape, dtype)
  --json     print the summary as JSON

check: compares a dataset with a model (scBERT .pth, scGPT folder, model.onnx with model.onnx.json, a fine-tune
run's checkpoint, a benchmark encoder.pt): the overlap of its genes with the model's gene list or vocabulary, gene
identifiers (symbols vs Ensembl ids; a var column that matches better), the value scale the model expects vs what
the matrix holds, and the labels of --label COL vs the head's classes. Each check prints ok / warn / fail and the
fix (which recipe to run). Exit status 0 when nothing fails, 1 when a check fails.
  --label COL        obs column with the labels (default: the column the model was trained on)
  --genes FILE       the model's gene list, vocab.json or an .h5ad (its var_names) when the model carries none
  --gene-column COL  match genes on this var column instead of var_names
  --json             print the report as JSON`;

export const command: CliCommand = {
  name: 'checkpoint',
  summary: 'inspect a model file (.pth/.pt, scGPT folder, .safetensors, .onnx) without running it; check a dataset against it',
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    const [sub, ...rest] = args;
    if (sub === 'check') return check(rest, io);
    if (sub !== 'inspect') throw new UsageError(sub ? `unknown subcommand '${sub}'` : 'give a subcommand (inspect, check)');
    const { flags, positionals } = parseFlags(rest, ['json', 'tensors']);
    for (const name of flags.keys()) if (name !== 'json' && name !== 'tensors') throw new UsageError(`unknown option --${name}`);
    if (positionals.length !== 1) throw new UsageError('give exactly one model file or scGPT folder');
    let summary: CheckpointSummary;
    try {
      summary = inspectCheckpoint(positionals[0]);
    } catch (e) {
      if (e instanceof CheckpointError) {
        io.err(`scwb checkpoint: ${e.message}\n`);
        return 1;
      }
      throw e;
    }
    io.out(flags.get('json') ? JSON.stringify(summary, null, 2) + '\n' : formatCheckpoint(summary, flags.get('tensors') === true));
    return 0;
  },
};

async function check(rest: string[], io: CliIO): Promise<number> {
  const { flags, positionals } = parseFlags(rest, ['json']);
  for (const name of flags.keys()) if (!['json', 'label', 'genes', 'gene-column'].includes(name)) throw new UsageError(`unknown option --${name}`);
  if (positionals.length !== 2) throw new UsageError('give a model (file or scGPT folder) and a dataset (.h5ad)');
  const [model, dataset] = positionals;
  let report: CompatReport;
  try {
    report = await runTask<CompatReport>('checkpoints/compat', 'checkDatasetTask', {
      model, dataset, labelColumn: stringFlag(flags, 'label'), genesFile: stringFlag(flags, 'genes'), geneColumn: stringFlag(flags, 'gene-column'),
    }, { maxOldGenerationSizeMb: 2048 });
  } catch (e) {
    io.err(`scwb checkpoint check: ${(e as Error).message}\n`);
    return 1;
  }
  io.out(flags.get('json') ? JSON.stringify(report, null, 2) + '\n' : formatCompat(report));
  return report.verdict === 'fail' ? 1 : 0;
}

/** The report as text: one block per check, verdict first. */
export function formatCompat(r: CompatReport): string {
  const lines = [`model:   ${r.model.label}`, `         ${r.model.path}`, `dataset: ${r.dataset.path} (${r.dataset.nObs.toLocaleString('en-US')} cells x ${r.dataset.nVars.toLocaleString('en-US')} genes${r.dataset.recipe ? `, Preprocess ${r.dataset.recipe}` : ''})`, `verdict: ${r.verdict.toUpperCase()}`, ''];
  for (const c of r.checks) {
    lines.push(`[${c.verdict.toUpperCase()}] ${c.title}: ${c.summary}`);
    for (const d of c.details) lines.push(`    ${d}`);
    if (c.fix) lines.push(`    fix: ${c.fix}`);
    for (const a of c.actions) {
      if (a.kind === 'preprocess' && a.recipe) lines.push(`    recipe: ${JSON.stringify(a.recipe)}`);
      if (a.kind === 'preprocess' && a.note) lines.push(`    ${a.note}`);
      if (a.kind === 'geneColumn') lines.push(`    try: --gene-column ${a.column}`);
      if (a.kind === 'labelColumn') lines.push(`    try: --label ${a.column}`);
    }
  }
  return lines.join('\n') + '\n';
}

export function formatCheckpoint(s: CheckpointSummary, allTensors: boolean): string {
  const lines = [s.path, `  format: ${s.format}, ${formatBytes(s.fileSize)}`, `  architecture: ${s.recognition.label}`];
  if (s.recognition.strippedPrefix) lines.push(`  every key starts with '${s.recognition.strippedPrefix}' (saved from DataParallel); compared without it`);
  lines.push(`  tensors: ${s.tensors.length}, ${s.parameterCount.toLocaleString('en-US')} elements${s.stateDictKey ? ` (under '${s.stateDictKey}')` : ''}`);
  if (s.topLevel.length) {
    lines.push('  top-level:');
    for (const t of s.topLevel) lines.push(`    ${t.key}: ${t.description}`);
  }
  if (s.scgpt) lines.push(`  vocab.json: ${s.scgpt.vocabSize ?? 'absent'} tokens${s.scgpt.specialTokens.length ? ` (special: ${s.scgpt.specialTokens.join(' ')})` : ''}; args.json: ${s.scgpt.args ? Object.keys(s.scgpt.args).length + ' settings' : 'absent'}`);
  if (s.onnx) {
    lines.push(`  opsets: ${s.onnx.opsets.map(o => `${o.domain || 'ai.onnx'} ${o.version}`).join(', ')}; ${s.onnx.nodes} nodes; producer ${s.onnx.producer || '?'}`);
    for (const i of s.onnx.inputs) lines.push(`  input  ${i.name}: ${i.elemType} [${i.shape.join(', ')}]`);
    for (const o of s.onnx.outputs) lines.push(`  output ${o.name}: ${o.elemType} [${o.shape.join(', ')}]`);
  }
  const cmp = s.recognition.comparison;
  if (cmp) {
    lines.push(`  layout: ${cmp.missing.length} missing, ${cmp.unexpected.length} unexpected, ${cmp.misShaped.length} mis-shaped (${cmp.reference})`);
    if (cmp.differsFromPublished.length) lines.push(`  differs from the published model: ${cmp.differsFromPublished.join(', ')}`);
  }
  lines.push(s.problems.length ? '  problems:' : '  problems: none');
  for (const p of s.problems) lines.push(`    ${p}`);
  if (allTensors) {
    lines.push('  tensors:');
    for (const t of s.tensors) lines.push(`    ${t.name}  [${t.shape.join(', ')}] ${t.dtype}`);
  }
  return lines.join('\n') + '\n';
}
