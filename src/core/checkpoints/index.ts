/**
 * Recognises the model files users bring: scBERT `.pth` checkpoints, scGPT model folders (best_model.pt beside
 * vocab.json and args.json), other PyTorch files and exported ONNX models. Only names and sizes are looked at:
 * loading weights is the worker's job.
 */
import * as fs from 'fs';
import * as path from 'path';

export type CheckpointKind = 'scgpt-folder' | 'scbert-pth' | 'torch' | 'onnx' | 'safetensors';

export interface CheckpointInfo {
  path: string;
  kind: CheckpointKind;
  /** bytes (for a folder: of its model file) */
  size: number;
  label: string;
}

const TORCH_EXT = new Set(['.pth', '.pt', '.ckpt']);

export function classifyCheckpoint(file: string): CheckpointInfo | undefined {
  const ext = path.extname(file).toLowerCase();
  const base = path.basename(file);
  let size = 0;
  try {
    size = fs.statSync(file).size;
  } catch {
    return undefined;
  }
  if (ext === '.onnx') return { path: file, kind: 'onnx', size, label: `${base} (ONNX model)` };
  if (ext === '.safetensors') return { path: file, kind: 'safetensors', size, label: `${base} (safetensors)` };
  if (!TORCH_EXT.has(ext)) return undefined;
  const dir = path.dirname(file);
  if (base === 'best_model.pt' && fs.existsSync(path.join(dir, 'vocab.json'))) {
    return { path: dir, kind: 'scgpt-folder', size, label: `${path.basename(dir)} (scGPT model folder)` };
  }
  if (ext === '.pth' && /scbert|panglao|performer/i.test(base)) return { path: file, kind: 'scbert-pth', size, label: `${base} (scBERT checkpoint)` };
  return { path: file, kind: 'torch', size, label: `${base} (PyTorch file)` };
}
