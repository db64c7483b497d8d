/** Inspects any model file (PyTorch zip, scGPT folder, safetensors, ONNX) without Python and without running it. */
import * as fs from 'fs';
import * as path from 'path';
import { openRegularSync, readTextFileSync, TEXT_FILE_LIMIT, UnsafeFileError } from '../safe-read';
import { asCheckpointError, CheckpointError } from './errors';
import { OnnxSummary, readOnnx, readSafetensors, readTorchZip, TensorInfo, TopLevelEntry } from './formats';
import { recognise, Recognition } from './layouts';
import { looksLikeZip } from './zip';

export type ModelFileFormat = 'pytorch' | 'scgpt-folder' | 'safetensors' | 'onnx';

export interface ScGptFolderInfo {
  modelFile: string;
  vocabSize?: number;
  specialTokens: string[];
  args?: Record<string, unknown>;
}

export interface CheckpointSummary {
  path: string;
  format: ModelFileFormat;
  fileSize: number;
  topLevel: TopLevelEntry[];
  stateDictKey?: string;
  tensors: TensorInfo[];
  parameterCount: number;
  recognition: Recognition;
  /** things that will make loading fail or are suspicious (missing storage, layout problems...) */
  problems: string[];
  scgpt?: ScGptFolderInfo;
  onnx?: OnnxSummary;
}

/** A JSON file of a checkpoint (args.json, vocab.json, model.onnx.json…); CheckpointError naming it when unreadable. */
export function readJson(file: string): unknown {
  let text: string;
  try {
    text = readTextFileSync(file, { maxBytes: TEXT_FILE_LIMIT });
  } catch (e) {
    if (e instanceof UnsafeFileError) throw new CheckpointError(file, e.problem);
    throw new CheckpointError(file, `cannot read: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(file, `not valid JSON: ${(e as Error).message}`);
  }
}

function torchContents(file: string) {
  const fd = asCheckpointError(file, () => openRegularSync(file)).fd;
  const head = Buffer.alloc(4);
  try { fs.readSync(fd, head, 0, 4, 0); } finally { fs.closeSync(fd); }
  if (!looksLikeZip(head)) {
    if (head[0] === 0x80) throw new CheckpointError(file, 'a legacy (pre-1.6, non-zip) PyTorch file; re-save it with torch.save in torch >= 1.6 to inspect it');
    throw new CheckpointError(file, 'not a PyTorch checkpoint (torch.save writes a zip file; this file does not start like one)');
  }
  return readTorchZip(file);
}

export function inspectCheckpoint(target: string): CheckpointSummary {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(target);
  } catch {
    throw new CheckpointError(target, 'no such file or folder');
  }
  let format: ModelFileFormat;
  let modelFile = target;
  let scgpt: ScGptFolderInfo | undefined;
  const ext = path.extname(target).toLowerCase();
  if (stat.isDirectory() || (path.basename(target) === 'best_model.pt' && fs.existsSync(path.join(path.dirname(target), 'vocab.json')))) {
    const dir = stat.isDirectory() ? target : path.dirname(target);
    format = 'scgpt-folder';
    modelFile = path.join(dir, 'best_model.pt');
    if (!fs.existsSync(modelFile)) throw new CheckpointError(dir, 'not an scGPT model folder (no best_model.pt)');
    scgpt = { modelFile, specialTokens: [] };
    const vocabFile = path.join(dir, 'vocab.json');
    if (fs.existsSync(vocabFile)) {
      const vocab = readJson(vocabFile);
      if (!vocab || typeof vocab !== 'object' || Array.isArray(vocab)) throw new CheckpointError(vocabFile, 'the vocabulary is not a JSON object of token -> id');
      const tokens = Object.keys(vocab);
      scgpt.vocabSize = tokens.length;
      scgpt.specialTokens = tokens.filter(t => /^<.*>$/.test(t));
    }
    const argsFile = path.join(dir, 'args.json');
    if (fs.existsSync(argsFile)) {
      const args = readJson(argsFile);
      if (args && typeof args === 'object' && !Array.isArray(args)) scgpt.args = args as Record<string, unknown>;
    }
  } else if (ext === '.safetensors') format = 'safetensors';
  else if (ext === '.onnx') format = 'onnx';
  else format = 'pytorch';

  let tensors: TensorInfo[] = [];
  let topLevel: TopLevelEntry[] = [];
  let stateDictKey: string | undefined;
  const problems: string[] = [];
  let onnx: OnnxSummary | undefined;
  if (format === 'onnx') {
    onnx = readOnnx(target);
    tensors = onnx.initializers;
  } else if (format === 'safetensors') {
    const s = readSafetensors(target);
    tensors = s.tensors;
    problems.push(...s.problems);
    topLevel = Object.entries(s.metadata).map(([key, v]) => ({ key, description: `metadata ${JSON.stringify(v)}` }));
  } else {
    const c = torchContents(modelFile);
    tensors = c.tensors;
    topLevel = c.topLevel;
    stateDictKey = c.stateDictKey;
    problems.push(...c.problems);
  }
  const recognition = format === 'onnx' ? { architecture: 'unknown' as const, label: `ONNX model (opset ${onnx?.opsets.find(o => o.domain === '' || o.domain === 'ai.onnx')?.version ?? '?'})` } : recognise(tensors);
  const cmp = recognition.comparison;
  if (cmp) {
    if (cmp.missing.length) problems.push(`${cmp.missing.length} missing key(s) vs the ${cmp.reference}: ${cmp.missing.slice(0, 5).join(', ')}${cmp.missing.length > 5 ? ', ...' : ''}`);
    if (cmp.unexpected.length) problems.push(`${cmp.unexpected.length} unexpected key(s): ${cmp.unexpected.slice(0, 5).join(', ')}${cmp.unexpected.length > 5 ? ', ...' : ''}`);
    for (const m of cmp.misShaped.slice(0, 10)) problems.push(`${m.name}: shape [${m.actual.join(', ')}], expected [${m.expected.join(', ')}]`);
  }
  if (scgpt?.vocabSize !== undefined && recognition.sizes?.ntoken !== undefined && scgpt.vocabSize !== recognition.sizes.ntoken) {
    problems.push(`vocab.json has ${scgpt.vocabSize} tokens but the embedding has ${recognition.sizes.ntoken} rows`);
  }
  const parameterCount = tensors.reduce((a, t) => a + t.numel, 0);
  return { path: target, format, fileSize: fs.statSync(modelFile).size, topLevel, stateDictKey, tensors, parameterCount, recognition, problems, scgpt, onnx };
}

/** Worker-thread task (src/core/workers): the summary, or the error as text (a hostile file's refusal included). */
export function inspectTask(input: { path: string }): { summary?: CheckpointSummary; error?: string } {
  try {
    return { summary: inspectCheckpoint(input.path) };
  } catch (e) {
    if (e instanceof CheckpointError) return { error: e.message };
    return { error: `${input.path}: ${(e as Error).message}` };
  }
}
