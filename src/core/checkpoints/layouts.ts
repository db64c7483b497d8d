/**
 * Architecture recognition and the published layouts. The expected key layout of each architecture is generated
 * from its configuration rules, parameterised by sizes (depth, width, genes, classes...) that are read from a few
 * anchor tensors of the file; the published sizes are the defaults. Comparing a file with the layout built from its
 * own sizes finds missing, unexpected and mis-shaped keys; comparing its sizes with the published ones says how it
 * differs from the published model.
 */
import type { TensorInfo } from './formats';

export type ArchitectureId = 'scbert-pretrain' | 'scbert-finetuned' | 'scgpt-flash' | 'scgpt-torch' | 'scgpt-classifier' | 'unknown';

export interface LayoutKey { name: string; shape: number[]; dtype: string }

export interface ScBertSizes { tokens: number; dim: number; genes: number; depth: number; inner: number; dimHead: number; features: number; ff: number; hidden1: number; hidden2: number; classes: number }
export interface ScGptSizes { ntoken: number; d: number; dHid: number; nlayers: number; classes: number; clsLayers: number }

export const PUBLISHED_SCBERT: ScBertSizes = { tokens: 7, dim: 200, genes: 16907, depth: 6, inner: 640, dimHead: 64, features: 266, ff: 800, hidden1: 512, hidden2: 128, classes: 11 };
export const PUBLISHED_SCGPT: ScGptSizes = { ntoken: 60697, d: 512, dHid: 512, nlayers: 12, classes: 0, clsLayers: 3 };

export function scbertLayout(s: ScBertSizes, finetuned: boolean): LayoutKey[] {
  const k: LayoutKey[] = [];
  const f32 = (name: string, ...shape: number[]) => k.push({ name, shape, dtype: 'float32' });
  f32('token_emb.weight', s.tokens, s.dim);
  k.push({ name: 'pos_emb.emb.weight', shape: [s.genes, s.dim], dtype: 'float64' });
  k.push({ name: 'performer.calls_since_last_redraw', shape: [], dtype: 'int64' });
  for (let i = 0; i < s.depth; i++) {
    const a = `performer.net.layers.${i}.0`;
    f32(`${a}.norm.weight`, s.dim); f32(`${a}.norm.bias`, s.dim);
    f32(`${a}.fn.fast_attention.projection_matrix`, s.features, s.dimHead);
    for (const q of ['to_q', 'to_k', 'to_v']) f32(`${a}.fn.${q}.weight`, s.inner, s.dim);
    f32(`${a}.fn.to_out.weight`, s.dim, s.inner); f32(`${a}.fn.to_out.bias`, s.dim);
    const b = `performer.net.layers.${i}.1`;
    f32(`${b}.norm.weight`, s.dim); f32(`${b}.norm.bias`, s.dim);
    f32(`${b}.fn.fn.w1.weight`, s.ff, s.dim); f32(`${b}.fn.fn.w1.bias`, s.ff);
    f32(`${b}.fn.fn.w2.weight`, s.dim, s.ff); f32(`${b}.fn.fn.w2.bias`, s.dim);
  }
  f32('norm.weight', s.dim); f32('norm.bias', s.dim);
  if (!finetuned) {
    f32('to_out.weight', s.tokens, s.dim); f32('to_out.bias', s.tokens);
  } else {
    f32('to_out.conv1.weight', 1, 1, 1, s.dim); f32('to_out.conv1.bias', 1);
    f32('to_out.fc1.weight', s.hidden1, s.genes); f32('to_out.fc1.bias', s.hidden1);
    f32('to_out.fc2.weight', s.hidden2, s.hidden1); f32('to_out.fc2.bias', s.hidden2);
    f32('to_out.fc3.weight', s.classes, s.hidden2); f32('to_out.fc3.bias', s.classes);
  }
  return k;
}

export function scgptLayout(s: ScGptSizes, flash: boolean): LayoutKey[] {
  const k: LayoutKey[] = [];
  const f32 = (name: string, ...shape: number[]) => k.push({ name, shape, dtype: 'float32' });
  const classifier = s.classes > 0;
  f32('encoder.embedding.weight', s.ntoken, s.d);
  f32('encoder.enc_norm.weight', s.d); f32('encoder.enc_norm.bias', s.d);
  if (!classifier) f32('flag_encoder.weight', 2, s.d);
  f32('value_encoder.linear1.weight', s.d, 1); f32('value_encoder.linear1.bias', s.d);
  f32('value_encoder.linear2.weight', s.d, s.d); f32('value_encoder.linear2.bias', s.d);
  f32('value_encoder.norm.weight', s.d); f32('value_encoder.norm.bias', s.d);
  for (let i = 0; i < s.nlayers; i++) {
    const l = `transformer_encoder.layers.${i}`;
    f32(flash ? `${l}.self_attn.Wqkv.weight` : `${l}.self_attn.in_proj_weight`, 3 * s.d, s.d);
    f32(flash ? `${l}.self_attn.Wqkv.bias` : `${l}.self_attn.in_proj_bias`, 3 * s.d);
    f32(`${l}.self_attn.out_proj.weight`, s.d, s.d); f32(`${l}.self_attn.out_proj.bias`, s.d);
    f32(`${l}.linear1.weight`, s.dHid, s.d); f32(`${l}.linear1.bias`, s.dHid);
    f32(`${l}.linear2.weight`, s.d, s.dHid); f32(`${l}.linear2.bias`, s.d);
    f32(`${l}.norm1.weight`, s.d); f32(`${l}.norm1.bias`, s.d);
    f32(`${l}.norm2.weight`, s.d); f32(`${l}.norm2.bias`, s.d);
  }
  if (!classifier) {
    f32('decoder.fc.0.weight', s.d, s.d); f32('decoder.fc.0.bias', s.d);
    f32('decoder.fc.2.weight', s.d, s.d); f32('decoder.fc.2.bias', s.d);
    f32('decoder.fc.4.weight', 1, s.d); f32('decoder.fc.4.bias', 1);
    f32('mvc_decoder.gene2query.weight', s.d, s.d); f32('mvc_decoder.gene2query.bias', s.d);
    f32('mvc_decoder.W.weight', s.d, s.d);
  } else {
    for (let j = 0; j < s.clsLayers - 1; j++) {
      f32(`cls_decoder._decoder.${3 * j}.weight`, s.d, s.d); f32(`cls_decoder._decoder.${3 * j}.bias`, s.d);
      f32(`cls_decoder._decoder.${3 * j + 2}.weight`, s.d); f32(`cls_decoder._decoder.${3 * j + 2}.bias`, s.d);
    }
    f32('cls_decoder.out_layer.weight', s.classes, s.d); f32('cls_decoder.out_layer.bias', s.classes);
  }
  return k;
}

export interface LayoutComparison {
  /** what the file was compared with, e.g. "scBERT pretrain layout (dim 200, depth 6, 16907 genes)" */
  reference: string;
  missing: string[];
  unexpected: string[];
  misShaped: { name: string; expected: number[]; actual: number[] }[];
  /** sizes that differ from the published model's, e.g. "dim 16 (published 200)" */
  differsFromPublished: string[];
}

export interface Recognition {
  architecture: ArchitectureId;
  label: string;
  sizes?: Record<string, number>;
  comparison?: LayoutComparison;
  /** a `module.` prefix (DataParallel) was found on every key and ignored */
  strippedPrefix?: string;
}

function layerCount(names: Iterable<string>, re: RegExp): number {
  let n = 0;
  for (const k of names) { const m = re.exec(k); if (m) n = Math.max(n, Number(m[1]) + 1); }
  return n;
}

function compare(tensors: Map<string, TensorInfo>, layout: LayoutKey[], reference: string, sizes: Record<string, number>, published: Record<string, number>): LayoutComparison {
  const expected = new Map(layout.map(k => [k.name, k]));
  const c: LayoutComparison = { reference, missing: [], unexpected: [], misShaped: [], differsFromPublished: [] };
  for (const k of layout) {
    const t = tensors.get(k.name);
    if (!t) c.missing.push(k.name);
    else if (t.shape.length !== k.shape.length || t.shape.some((d, i) => d !== k.shape[i])) c.misShaped.push({ name: k.name, expected: k.shape, actual: t.shape });
  }
  for (const name of tensors.keys()) if (!expected.has(name)) c.unexpected.push(name);
  for (const [key, v] of Object.entries(sizes)) if (key in published && published[key] !== v) c.differsFromPublished.push(`${key} ${v} (published ${published[key]})`);
  return c;
}

/** Recognises the architecture from the tensor names and compares the file with that architecture's layout. */
export function recognise(list: TensorInfo[]): Recognition {
  let strippedPrefix: string | undefined;
  let tensors = new Map(list.map(t => [t.name, t]));
  if (list.length && list.every(t => t.name.startsWith('module.'))) {
    strippedPrefix = 'module.';
    tensors = new Map(list.map(t => [t.name.slice(7), t]));
  }
  const shape = (n: string) => tensors.get(n)?.shape;
  const names = [...tensors.keys()];
  if (tensors.has('token_emb.weight') && names.some(n => n.startsWith('performer.'))) {
    const emb = shape('token_emb.weight') ?? [0, 0];
    const finetuned = tensors.has('to_out.fc3.weight') || tensors.has('to_out.fc1.weight');
    const proj = shape('performer.net.layers.0.0.fn.fast_attention.projection_matrix') ?? [PUBLISHED_SCBERT.features, PUBLISHED_SCBERT.dimHead];
    const s: ScBertSizes = {
      tokens: emb[0], dim: emb[1],
      genes: shape('pos_emb.emb.weight')?.[0] ?? shape('to_out.fc1.weight')?.[1] ?? PUBLISHED_SCBERT.genes,
      depth: layerCount(names, /^performer\.net\.layers\.(\d+)\./),
      inner: shape('performer.net.layers.0.0.fn.to_q.weight')?.[0] ?? PUBLISHED_SCBERT.inner,
      dimHead: proj[1], features: proj[0],
      ff: shape('performer.net.layers.0.1.fn.fn.w1.weight')?.[0] ?? PUBLISHED_SCBERT.ff,
      hidden1: shape('to_out.fc1.weight')?.[0] ?? PUBLISHED_SCBERT.hidden1,
      hidden2: shape('to_out.fc2.weight')?.[0] ?? PUBLISHED_SCBERT.hidden2,
      classes: shape('to_out.fc3.weight')?.[0] ?? 0,
    };
    const sizes: Record<string, number> = { dim: s.dim, depth: s.depth, genes: s.genes, tokens: s.tokens, inner: s.inner, dimHead: s.dimHead, features: s.features, ff: s.ff };
    if (finetuned) Object.assign(sizes, { hidden1: s.hidden1, hidden2: s.hidden2, classes: s.classes });
    const arch: ArchitectureId = finetuned ? 'scbert-finetuned' : 'scbert-pretrain';
    const label = finetuned ? `scBERT fine-tuned (${s.classes} classes, dim ${s.dim}, depth ${s.depth}, ${s.genes - 1} genes)` : `scBERT pretrain (dim ${s.dim}, depth ${s.depth}, ${s.genes - 1} genes)`;
    const published: Record<string, number> = { ...PUBLISHED_SCBERT };
    delete published.classes;
    return { architecture: arch, label, sizes, strippedPrefix, comparison: compare(tensors, scbertLayout(s, finetuned), `${finetuned ? 'scBERT fine-tuned' : 'scBERT pretrain'} layout at the file's sizes`, sizes, published) };
  }
  if (tensors.has('encoder.embedding.weight') && names.some(n => n.startsWith('transformer_encoder.layers.'))) {
    const emb = shape('encoder.embedding.weight') ?? [0, 0];
    const flash = names.some(n => n.includes('.self_attn.Wqkv.'));
    const classes = shape('cls_decoder.out_layer.weight')?.[0] ?? 0;
    const s: ScGptSizes = {
      ntoken: emb[0], d: emb[1],
      dHid: shape('transformer_encoder.layers.0.linear1.weight')?.[0] ?? PUBLISHED_SCGPT.dHid,
      nlayers: layerCount(names, /^transformer_encoder\.layers\.(\d+)\./),
      classes, clsLayers: Math.floor(layerCount(names, /^cls_decoder\._decoder\.(\d+)\./) / 3) + 1,
    };
    const sizes: Record<string, number> = { ntoken: s.ntoken, d: s.d, dHid: s.dHid, nlayers: s.nlayers };
    if (classes) Object.assign(sizes, { classes });
    const arch: ArchitectureId = classes ? 'scgpt-classifier' : flash ? 'scgpt-flash' : 'scgpt-torch';
    const names2 = classes ? `scGPT classifier (${classes} classes` : `scGPT ${flash ? 'flash-attn names (Wqkv)' : 'torch names (in_proj)'} (`;
    const label = `${names2}${classes ? ', ' : ''}${s.ntoken} tokens, d ${s.d}, ${s.nlayers} layers)`;
    return { architecture: arch, label, sizes, strippedPrefix, comparison: compare(tensors, scgptLayout(s, flash), `${classes ? 'scGPT classifier' : 'scGPT_human'} layout at the file's sizes`, sizes, { ntoken: PUBLISHED_SCGPT.ntoken, d: PUBLISHED_SCGPT.d, dHid: PUBLISHED_SCGPT.dHid, nlayers: PUBLISHED_SCGPT.nlayers }) };
  }
  return { architecture: 'unknown', label: 'unrecognised architecture', strippedPrefix };
}
