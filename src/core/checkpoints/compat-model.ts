/**
 * What a model expects of a dataset, for "Check dataset against model…": its gene list (vocabulary, genes.txt,
 * model.onnx.json `genes`, an encoder's `genes`), the value scale of its input, and its head's classes. Read from
 * the files beside the weights and from the checkpoint's pickle (interpreted, never run).
 */
import * as fs from 'fs';
import * as path from 'path';
import { openRegularSync, readTextFileSync, TEXT_FILE_LIMIT, UnsafeFileError } from '../safe-read';
import { asCheckpointError, CheckpointError } from './errors';
import { inspectCheckpoint, readJson } from './inspect';
import { PickleDict, PickleTuple, readPickle, TensorRef, torchStorageLoader } from './pickle';
import { looksLikeZip, ZipReader } from './zip';

export type ModelFamily = 'scbert' | 'scgpt' | 'benchmark' | 'unknown';
export type ModelForm = 'scbert-checkpoint' | 'scgpt-folder' | 'worker-checkpoint' | 'onnx' | 'benchmark-encoder' | 'torch' | 'safetensors';
/**
 * scbert: tokens trunc(min(v, 5)) of log2(1 + x) of counts normalised to 1e4; scgpt: per-cell bins (X_binned, or
 * binned by the worker from log-normalised values); log1p: log1p of raw counts; bins: per-cell bins of log1p(counts)
 */
export type ValueMode = 'scbert' | 'scgpt' | 'log1p' | 'bins' | 'unknown';

export interface ModelFacts {
  path: string;
  form: ModelForm;
  family: ModelFamily;
  /** e.g. "scBERT pretrain (dim 16, depth 2, 100 genes)" */
  label: string;
  /** the genes the model knows (special tokens such as <pad> left out); null when unknown */
  genes: string[] | null;
  /** where `genes` came from, in words */
  genesSource: string | null;
  /** a file that a recipe can take as its gene list (scBERT referenceGenes, scGPT/benchmark vocab) */
  genesFile: string | null;
  /** number of gene positions the weights have (scBERT: position embedding rows - 1), when known */
  weightGenes: number | null;
  /** head classes in output order; null when the file has no classifier names */
  classes: string[] | null;
  /** the obs column the head was trained on, when recorded */
  labelColumn: string | null;
  /** the matrix the model reads: a layer name (e.g. X_binned) or null for X */
  valueLayer: string | null;
  valueMode: ValueMode;
  nBins: number;
  /** true when whoever feeds the model aligns the dataset's genes to its list by name (ONNX annotation, scGPT);
   * false when the dataset must have exactly the model's genes in order (scBERT fine-tuning) */
  alignsByName: boolean;
  /** remarks on how the facts were found */
  notes: string[];
}

export interface DescribeOptions {
  /** a gene list to use when the model carries none (scBERT: the Panglao 16,906-gene list) */
  genesFile?: string;
}

/** A value from the pickle turned into JSON-like data (tensors become the string "<tensor>"). */
type Plain = null | boolean | number | string | Plain[] | { [k: string]: Plain };

/** `budget` bounds the values visited: a pickle can make a list that holds itself many times (memo references). */
function plain(v: unknown, depth = 0, budget = { left: 100_000 }): Plain {
  if (depth > 6 || --budget.left < 0) return null;
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof TensorRef) return '<tensor>';
  if (Array.isArray(v)) return v.map(x => plain(x, depth + 1, budget));
  if (v instanceof PickleTuple) return v.items.map(x => plain(x, depth + 1, budget));
  if (v instanceof PickleDict) {
    const o: Record<string, Plain> = {};
    for (const [k, x] of v.entries) if (typeof k === 'string' && !(x instanceof PickleDict && depth === 0 && /state_dict$/.test(k))) o[k] = plain(x, depth + 1, budget);
    return o;
  }
  return null;
}

/** The top-level non-tensor entries of a torch.save file (model, classes, genes, format...); {} for a bare state dict. */
export function readTorchMetadata(file: string): Record<string, Plain> {
  const fd = asCheckpointError(file, () => openRegularSync(file)).fd;
  const head = Buffer.alloc(4);
  try { fs.readSync(fd, head, 0, 4, 0); } finally { fs.closeSync(fd); }
  if (!looksLikeZip(head)) return {};
  const zip = ZipReader.open(file);
  try {
    const pkl = [...zip.entries.values()].find(e => /^[^/]+\/data\.pkl$/.test(e.name) || e.name === 'data.pkl');
    if (!pkl) return {};
    const root = readPickle(zip.readEntry(pkl), torchStorageLoader).value;
    if (!(root instanceof PickleDict)) return {};
    const out: Record<string, Plain> = {};
    const budget = { left: 100_000 };
    for (const [k, v] of root.entries) {
      if (typeof k !== 'string' || /state_dict$/.test(k) || k === 'rng') continue;
      out[k] = plain(v, 1, budget);
    }
    return out;
  } finally {
    zip.close();
  }
}

const strings = (v: Plain | undefined): string[] | null => (Array.isArray(v) && v.every(x => typeof x === 'string') ? v as string[] : null);
const str = (v: Plain | undefined): string | null => (typeof v === 'string' ? v : null);

/** Genes of a vocab.json ({gene: id}), without special tokens such as <pad>. */
export function vocabGenes(file: string): string[] {
  const v = readJson(file);
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new CheckpointError(file, 'the vocabulary is not a JSON object of gene -> id');
  return Object.keys(v).filter(g => !/^<.*>$/.test(g));
}

/** Genes of a text list (one a line; a gene2vec-style table's first field; # comments), a JSON list or a vocab.json. */
export function listGenes(file: string): string[] {
  let text: string;
  try {
    text = readTextFileSync(file, { maxBytes: TEXT_FILE_LIMIT });
  } catch (e) {
    if (e instanceof UnsafeFileError) throw new CheckpointError(file, e.problem);
    throw new CheckpointError(file, `cannot read the gene list: ${(e as Error).message}`);
  }
  const t = text.trimStart();
  if (t.startsWith('{')) return vocabGenes(file);
  if (t.startsWith('[')) {
    const v = readJson(file);
    if (!Array.isArray(v) || !v.every(x => typeof x === 'string')) throw new CheckpointError(file, 'a JSON gene list must be an array of strings');
    return v as string[];
  }
  const genes: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const first = line.split(/[\t, ]+/)[0].replace(/^"(.*)"$/, '$1');
    if (genes.length === 0 && /^\d+$/.test(first) && /^\d+ \d+$/.test(line)) continue; // word2vec header
    if (genes.length === 0 && /^(genes?|gene_name|gene_symbol|symbol)$/i.test(first)) continue;
    genes.push(first);
  }
  if (!genes.length) throw new CheckpointError(file, 'the gene list is empty');
  return genes;
}

/** The scBERT gene list beside a checkpoint: genes.txt, else a recipe JSON in the folder whose recipe is scbert. */
function scbertGenesBeside(file: string): { genes: string[]; source: string; file: string } | null {
  const dir = path.dirname(file);
  const txt = path.join(dir, 'genes.txt');
  if (fs.existsSync(txt)) return { genes: listGenes(txt), source: 'genes.txt beside the checkpoint', file: txt };
  let entries: string[] = [];
  try { entries = fs.readdirSync(dir).filter(f => f.endsWith('.json')).sort(); } catch { /* unreadable folder: nothing beside */ }
  for (const f of entries) {
    let v: unknown;
    try { v = JSON.parse(readTextFileSync(path.join(dir, f), { maxBytes: TEXT_FILE_LIMIT })); } catch { continue; }
    const r = v as { recipe?: unknown; params?: { referenceGenes?: unknown } };
    if (r?.recipe === 'scbert' && typeof r.params?.referenceGenes === 'string') {
      const ref = path.resolve(dir, r.params.referenceGenes);
      if (fs.existsSync(ref) && !/\.h5ad$/i.test(ref)) return { genes: listGenes(ref), source: `the scBERT recipe ${f} (referenceGenes)`, file: ref };
    }
  }
  return null;
}

function base(target: string, form: ModelForm, family: ModelFamily, label: string): ModelFacts {
  return {
    path: target, form, family, label, genes: null, genesSource: null, genesFile: null, weightGenes: null, classes: null,
    labelColumn: null, valueLayer: null, valueMode: family === 'scbert' ? 'scbert' : family === 'scgpt' ? 'scgpt' : 'unknown', nBins: 51,
    alignsByName: family !== 'scbert', notes: [],
  };
}

function useGenesFile(m: ModelFacts, file: string, source: string): void {
  m.genes = listGenes(file); // listGenes reads a vocab.json ({gene: id}) too
  m.genesSource = source;
  m.genesFile = file;
}

/** An exported model: model.onnx with its model.onnx.json (docs/worker.md "ONNX export"). */
function describeOnnx(file: string): ModelFacts {
  const side = `${file}.json`;
  const m = base(file, 'onnx', 'unknown', `${path.basename(file)} (ONNX model)`);
  if (!fs.existsSync(side)) {
    m.notes.push(`no ${path.basename(side)} beside the model: its genes, classes and inputs are unknown (the workbench writes it when it exports a run)`);
    return m;
  }
  const j = readJson(side) as Record<string, unknown>;
  if (!j || typeof j !== 'object' || Array.isArray(j)) throw new CheckpointError(side, 'not a JSON object');
  const family = j.model === 'scbert' ? 'scbert' : j.model === 'scgpt' ? 'scgpt' : 'unknown';
  m.family = family;
  m.valueMode = family === 'scbert' ? 'scbert' : family === 'scgpt' ? 'scgpt' : 'unknown';
  m.label = `${path.basename(file)} (ONNX ${family === 'scbert' ? 'scBERT' : family === 'scgpt' ? 'scGPT' : ''} classifier${Array.isArray(j.classes) ? `, ${j.classes.length} classes` : ''})`;
  if (Array.isArray(j.genes) && j.genes.every(g => typeof g === 'string')) {
    m.genes = j.genes as string[];
    m.genesSource = `${path.basename(side)} (genes)`;
  } else m.notes.push(`${path.basename(side)} has no genes list`);
  if (Array.isArray(j.classes) && j.classes.every(c => typeof c === 'string')) m.classes = j.classes as string[];
  if (typeof j.labelColumn === 'string') m.labelColumn = j.labelColumn;
  if (typeof j.valueLayer === 'string') m.valueLayer = j.valueLayer;
  const sg = j.scgpt as { nBins?: unknown; layer?: unknown } | undefined;
  if (sg && typeof sg.nBins === 'number') m.nBins = sg.nBins;
  if (sg && typeof sg.layer === 'string' && !m.valueLayer) m.valueLayer = sg.layer;
  m.alignsByName = true;
  return m;
}

/** A run folder's run.json (for a worker checkpoint under <run>/checkpoints/). */
function runRecordOf(file: string): { dir: string; record: Record<string, unknown> } | null {
  const dir = path.dirname(path.dirname(file));
  const rj = path.join(dir, 'run.json');
  if (path.basename(path.dirname(file)) !== 'checkpoints' || !fs.existsSync(rj)) return null;
  try {
    return { dir, record: JSON.parse(readTextFileSync(rj, { maxBytes: TEXT_FILE_LIMIT })) as Record<string, unknown> };
  } catch {
    return null;
  }
}

/**
 * What the model at `target` expects. `readVarNames` reads an .h5ad's var names (for a worker checkpoint whose
 * genes are its training dataset's): the caller passes it so that this module stays free of HDF5.
 */
export async function describeModel(target: string, opts: DescribeOptions = {}, readVarNames?: (file: string) => Promise<string[]>): Promise<ModelFacts> {
  let stat: fs.Stats;
  try { stat = fs.statSync(target); } catch { throw new CheckpointError(target, 'no such file or folder'); }
  const ext = path.extname(target).toLowerCase();
  let m: ModelFacts;
  if (ext === '.onnx') m = describeOnnx(target);
  else if (ext === '.safetensors') {
    const s = inspectCheckpoint(target);
    m = base(target, 'safetensors', s.recognition.architecture.startsWith('scbert') ? 'scbert' : s.recognition.architecture.startsWith('scgpt') ? 'scgpt' : 'unknown', `${path.basename(target)} (${s.recognition.label})`);
  } else if (stat.isDirectory() || (path.basename(target) === 'best_model.pt' && fs.existsSync(path.join(path.dirname(target), 'vocab.json')))) {
    const dir = stat.isDirectory() ? target : path.dirname(target);
    const s = inspectCheckpoint(dir);
    m = base(dir, 'scgpt-folder', 'scgpt', `${path.basename(dir)} (${s.recognition.label})`);
    const vocab = path.join(dir, 'vocab.json');
    if (fs.existsSync(vocab)) useGenesFile(m, vocab, 'vocab.json of the model folder');
    else m.notes.push('the folder has no vocab.json');
    m.weightGenes = s.recognition.sizes?.ntoken ?? null;
  } else {
    const s = inspectCheckpoint(target);
    const meta = readTorchMetadata(target);
    const arch = s.recognition.architecture;
    const archFamily: ModelFamily = arch.startsWith('scbert') ? 'scbert' : arch.startsWith('scgpt') ? 'scgpt' : 'unknown';
    if (meta.format === 'scwb-encoder') {
      const model = str(meta.model);
      const family: ModelFamily = model === 'scbert' ? 'scbert' : model === 'scgpt' ? 'scgpt' : 'benchmark';
      m = base(target, 'benchmark-encoder', family, `${path.basename(target)} (pre-trained ${family === 'benchmark' ? `benchmark ${str(meta.structure) ?? ''} encoder` : `${family} encoder`})`.replace(/ {2,}/g, ' '));
      m.valueMode = family === 'benchmark' ? (meta.valueMode === 'bins' ? 'bins' : 'log1p') : m.valueMode;
      if (typeof meta.nBins === 'number') m.nBins = meta.nBins;
      const genes = strings(meta.genes);
      if (genes) { m.genes = genes; m.genesSource = 'the encoder file (genes)'; }
      else if (str(meta.vocab) && fs.existsSync(str(meta.vocab)!)) useGenesFile(m, str(meta.vocab)!, `the encoder's vocabulary ${str(meta.vocab)}`);
      else m.notes.push('the encoder records no genes and its vocabulary file is not found');
    } else if (strings(meta.classes) && (meta.model === 'scbert' || meta.model === 'scgpt')) {
      const family = meta.model as ModelFamily;
      m = base(target, 'worker-checkpoint', family, `${path.basename(target)} (${s.recognition.label}, a fine-tune run's checkpoint)`);
      m.classes = strings(meta.classes);
      const run = runRecordOf(target);
      const ft = (run?.record.parameters as { finetune?: Record<string, unknown> } | undefined)?.finetune;
      if (run && typeof run.record.labelColumn === 'string') m.labelColumn = run.record.labelColumn;
      if (ft && typeof ft.valueLayer === 'string') m.valueLayer = ft.valueLayer;
      const onnxJson = run ? path.join(run.dir, 'model.onnx.json') : '';
      const trained = (run?.record.dataset as { path?: unknown } | undefined)?.path;
      if (onnxJson && fs.existsSync(onnxJson)) {
        const j = readJson(onnxJson) as { genes?: unknown };
        if (Array.isArray(j.genes) && j.genes.every(g => typeof g === 'string')) { m.genes = j.genes as string[]; m.genesSource = "the run's model.onnx.json (genes)"; }
      }
      if (!m.genes && family === 'scgpt' && typeof ft?.checkpoint === 'string' && fs.existsSync(path.join(ft.checkpoint, 'vocab.json'))) {
        useGenesFile(m, path.join(ft.checkpoint, 'vocab.json'), `vocab.json of ${ft.checkpoint} (the run's pre-trained model)`);
      }
      if (!m.genes && typeof trained === 'string' && readVarNames && fs.existsSync(trained)) {
        m.genes = await readVarNames(trained);
        m.genesSource = `the genes of the run's training dataset ${path.basename(trained)}`;
        if (family === 'scbert') m.genesFile = trained; // the scBERT recipe takes an .h5ad's var_names as its gene list
      }
      if (!m.genes && family === 'scbert') {
        const beside = scbertGenesBeside(target);
        if (beside) { m.genes = beside.genes; m.genesSource = beside.source; m.genesFile = beside.file; }
      }
    } else {
      const form: ModelForm = archFamily === 'scbert' ? 'scbert-checkpoint' : 'torch';
      m = base(target, form, archFamily, `${path.basename(target)} (${s.recognition.label})`);
      if (archFamily === 'scbert') {
        const beside = scbertGenesBeside(target);
        if (beside) { m.genes = beside.genes; m.genesSource = beside.source; m.genesFile = beside.file; }
      } else if (archFamily === 'scgpt') {
        const vocab = path.join(path.dirname(target), 'vocab.json');
        if (fs.existsSync(vocab)) useGenesFile(m, vocab, 'vocab.json beside the file');
      }
    }
    if (m.family === 'scbert' && s.recognition.sizes?.genes) m.weightGenes = s.recognition.sizes.genes - 1;
    if (m.family === 'scgpt' && s.recognition.sizes?.ntoken) m.weightGenes = s.recognition.sizes.ntoken;
  }
  if (opts.genesFile && /\.h5ad$/i.test(opts.genesFile)) {
    if (!readVarNames) throw new CheckpointError(opts.genesFile, 'reading a gene list from an .h5ad needs the AnnData reader');
    m.genes = await readVarNames(path.resolve(opts.genesFile));
    m.genesSource = `the var_names of ${path.basename(opts.genesFile)} you gave`;
    m.genesFile = path.resolve(opts.genesFile);
  } else if (opts.genesFile) useGenesFile(m, path.resolve(opts.genesFile), `the gene list ${path.basename(opts.genesFile)} you gave`);
  return m;
}

/** What the user should provide when the model's genes are unknown. */
export function missingGenesAdvice(m: ModelFacts): string {
  switch (m.family) {
    case 'scbert': return 'the scBERT gene list is not inside the .pth: put the 16,906-gene Panglao list (one gene a line) as genes.txt beside the checkpoint, or give it with "Choose gene list…" (CLI: --genes FILE)';
    case 'scgpt': return 'put the model\'s vocab.json beside best_model.pt (an scGPT model folder), or give it with "Choose gene list…" (CLI: --genes vocab.json)';
    default: return m.form === 'onnx'
      ? `export the model with the workbench (it writes ${path.basename(m.path)}.json with its genes and classes), or give a gene list with "Choose gene list…" (CLI: --genes FILE)`
      : 'give the model\'s gene list or vocabulary with "Choose gene list…" (CLI: --genes FILE)';
  }
}
