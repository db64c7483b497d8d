/** `scwb checkpoint inspect FILE [--json]`: what a model file holds, read without Python and without running it. */
import { CliCommand, CliIO, UsageError, parseFlags } from '../command';
import { formatBytes } from '../../core/format';
import { CheckpointError } from '../../core/checkpoints/errors';
import { CheckpointSummary, inspectCheckpoint } from '../../core/checkpoints/inspect';

const USAGE = `usage: scwb checkpoint inspect FILE [--json] [--tensors]

Reads a model file without Python and without executing it: PyTorch .pth/.pt (torch.save zip; the pickle is
interpreted, never run, and a file that asks to run anything else is refused), an scGPT model folder (best_model.pt,
vocab.json, args.json), .safetensors or .onnx. Prints the format, top-level keys, the recognised architecture
(scBERT pretrain / fine-tuned, scGPT flash or torch names, scGPT classifier), the parameter count, and the keys that
are missing, unexpected or mis-shaped against the published layout.
  --tensors  list every tensor (name, shape, dtype)
  --json     print the summary as JSON`;

export const command: CliCommand = {
  name: 'checkpoint',
  summary: 'inspect a model file (.pth/.pt, scGPT folder, .safetensors, .onnx) without running it',
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    const [sub, ...rest] = args;
    if (sub !== 'inspect') throw new UsageError(sub ? `unknown subcommand '${sub}'` : 'give a subcommand (inspect)');
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
