/**
 * The 2-D UMAP layout of a run's cell embeddings (`embeddings.npy`, written by a probe run), computed with umap-js
 * and a seeded random stream (numpy's MT19937, src/core/random), so the same file, parameters and seed give the
 * same layout on every machine. Above `maxCells` rows a deterministic subsample (seeded, without replacement,
 * in row order) is laid out, and the result says so.
 *
 * The layout is cached as `umap.json` in the run folder (written atomically), keyed by the sha256 of the embedding
 * file and the parameters: opening the plot again costs one hash of the file.
 */
import * as fs from 'fs';
import * as path from 'path';
import { UMAP } from 'umap-js';
import { writeFileAtomic } from '../fs-atomic';
import { sha256File } from '../hash';
import { MT19937 } from '../random/mt19937';
import { CancelledError } from '../workers/task';
import { NpyError, checkedFileInFolder, readNpyInFolder, type NpyMatrix } from './npy';
import { readTextFile } from '../safe-read';

export const EMBEDDINGS_FILE = 'embeddings.npy';
export const UMAP_FILE = 'umap.json';
export const UMAP_FORMAT = 'scwb-umap';
export const UMAP_VERSION = 1;

/** Whether the run's folder has an embeddings.npy (a regular file or a link; the reader checks where it leads). */
export function hasEmbeddings(runDir: string): boolean {
  try {
    const st = fs.lstatSync(path.join(runDir, EMBEDDINGS_FILE));
    return st.isFile() || st.isSymbolicLink();
  } catch {
    return false;
  }
}

export interface UmapParams {
  /** neighbours of each point in the fuzzy graph (umap-learn's n_neighbors); default 15 */
  nNeighbors: number;
  /** minimum distance of points in the layout; default 0.1 */
  minDist: number;
  /** seed of the random stream (subsample, initialisation, optimisation); default 0 */
  seed: number;
  /** at most this many cells are laid out; more are subsampled; default 20,000 */
  maxCells: number;
}

export const DEFAULT_UMAP_PARAMS: UmapParams = { nNeighbors: 15, minDist: 0.1, seed: 0, maxCells: 20_000 };

export interface UmapLayout {
  format: typeof UMAP_FORMAT;
  version: typeof UMAP_VERSION;
  /** sha256 of embeddings.npy */
  embeddingSha256: string;
  params: UmapParams;
  /** rows of embeddings.npy (cells of the dataset) and their dimension */
  rows: number;
  dim: number;
  /** the rows laid out, ascending (all rows unless subsampled) */
  indices: number[];
  /** coordinates of indices[i]: x[i], y[i] */
  x: number[];
  y: number[];
  /** optimisation epochs umap-js ran */
  nEpochs: number;
  /** neighbours actually used (n_neighbors is lowered for tiny inputs) */
  nNeighborsUsed: number;
}

export function checkParams(p: UmapParams): void {
  if (!Number.isInteger(p.nNeighbors) || p.nNeighbors < 2 || p.nNeighbors > 200) throw new RangeError(`n_neighbors must be an integer in [2, 200], got ${p.nNeighbors}`);
  if (!(p.minDist >= 0 && p.minDist <= 1)) throw new RangeError(`min_dist must be in [0, 1], got ${p.minDist}`);
  if (!Number.isInteger(p.seed) || p.seed < 0 || p.seed > 0xffffffff) throw new RangeError(`seed must be an integer in [0, 2**32 - 1], got ${p.seed}`);
  if (!Number.isInteger(p.maxCells) || p.maxCells < 3) throw new RangeError(`maxCells must be an integer of at least 3, got ${p.maxCells}`);
}

/** The rows laid out: all, or `maxCells` drawn without replacement by MT19937(seed), in ascending order. */
export function subsampleRows(rows: number, maxCells: number, seed: number): number[] {
  if (rows <= maxCells) return Array.from({ length: rows }, (_, i) => i);
  return new MT19937(seed).choice(rows, maxCells, false).sort((a, b) => a - b);
}

export interface LayoutProgress {
  progress?: (fraction: number, message?: string) => void;
  isCancelled?: () => boolean;
}

/** Lays out the rows `indices` of `m` in 2-D with umap-js. Pure: no files. */
export function layoutMatrix(m: NpyMatrix, indices: readonly number[], params: UmapParams, hooks: LayoutProgress = {}): { x: number[]; y: number[]; nEpochs: number; nNeighborsUsed: number } {
  checkParams(params);
  const n = indices.length;
  if (n < 3) throw new RangeError(`a UMAP layout needs at least 3 cells, got ${n}`);
  const vectors: number[][] = new Array(n);
  for (let k = 0; k < n; k++) {
    const start = indices[k] * m.cols;
    const row = new Array<number>(m.cols);
    for (let j = 0; j < m.cols; j++) {
      const v = m.data[start + j];
      if (!Number.isFinite(v)) throw new RangeError(`row ${indices[k]}, column ${j} is ${v}: embeddings must be finite`);
      row[j] = v;
    }
    vectors[k] = row;
  }
  const rng = new MT19937(params.seed);
  const nNeighborsUsed = Math.min(params.nNeighbors, n - 1);
  const umap = new UMAP({ nComponents: 2, nNeighbors: nNeighborsUsed, minDist: params.minDist, random: () => rng.randomSample() });
  // umap-js's neighbour search reports nothing: the fraction is unknown (NaN) until the epochs start.
  hooks.progress?.(NaN, 'nearest neighbours');
  const nEpochs = umap.initializeFit(vectors);
  for (let e = 0; e < nEpochs; e++) {
    if (hooks.isCancelled?.()) throw new CancelledError();
    umap.step();
    if (e % 5 === 0) hooks.progress?.(0.1 + 0.9 * (e / nEpochs), `epoch ${e + 1} of ${nEpochs}`);
  }
  const emb = umap.getEmbedding();
  return { x: emb.map(p => p[0]), y: emb.map(p => p[1]), nEpochs, nNeighborsUsed };
}

/** The cached layout in `runDir` if it matches the file hash and parameters, else null (a bad cache is ignored). */
export async function readCachedLayout(runDir: string, sha256: string, params: UmapParams): Promise<UmapLayout | null> {
  const file = path.join(runDir, UMAP_FILE);
  try {
    await checkedFileInFolder(file, runDir);
  } catch {
    return null;
  }
  try {
    const v = JSON.parse(await readTextFile(file, { maxBytes: 256 * 1024 * 1024 })) as Partial<UmapLayout>;
    const ok = v.format === UMAP_FORMAT && v.version === UMAP_VERSION && v.embeddingSha256 === sha256
      && v.params !== undefined && sameParams(v.params, params)
      && Array.isArray(v.indices) && Array.isArray(v.x) && Array.isArray(v.y)
      && v.x.length === v.indices.length && v.y.length === v.indices.length
      && v.x.every(Number.isFinite) && v.y.every(Number.isFinite)
      && v.indices.every(i => Number.isInteger(i) && i >= 0 && i < (v.rows ?? 0));
    return ok ? (v as UmapLayout) : null;
  } catch {
    return null;
  }
}

function sameParams(a: UmapParams, b: UmapParams): boolean {
  return a.nNeighbors === b.nNeighbors && a.minDist === b.minDist && a.seed === b.seed && a.maxCells === b.maxCells;
}

export interface RunUmapOptions extends LayoutProgress {
  params?: Partial<UmapParams>;
  /** write umap.json (false in an untrusted workspace: nothing is written); default true */
  writeCache?: boolean;
  /** use a matching umap.json; default true */
  readCache?: boolean;
}

/**
 * The layout of `<runDir>/embeddings.npy`: from the cache when it matches, else computed (and cached).
 * `fromCache` says which.
 */
export async function runUmap(runDir: string, opts: RunUmapOptions = {}): Promise<{ layout: UmapLayout; fromCache: boolean }> {
  const params: UmapParams = { ...DEFAULT_UMAP_PARAMS, ...opts.params };
  checkParams(params);
  const file = path.join(runDir, EMBEDDINGS_FILE);
  const real = await checkedFileInFolder(file, runDir);
  opts.progress?.(0, 'hashing the embeddings');
  const sha = await sha256File(real, undefined, opts.isCancelled);
  const cached = opts.readCache === false ? null : await readCachedLayout(runDir, sha, params);
  if (cached) return { layout: cached, fromCache: true };
  const m = await readNpyInFolder(file, runDir);
  if (m.rows < 3) throw new NpyError(file, `has ${m.rows} rows; a UMAP layout needs at least 3 cells`);
  const indices = subsampleRows(m.rows, params.maxCells, params.seed);
  const done = layoutMatrix(m, indices, params, {
    isCancelled: opts.isCancelled,
    progress: (f, msg) => opts.progress?.(Number.isNaN(f) ? NaN : 0.05 + 0.95 * f, msg),
  });
  const layout: UmapLayout = {
    format: UMAP_FORMAT, version: UMAP_VERSION, embeddingSha256: sha, params, rows: m.rows, dim: m.cols, indices,
    x: done.x, y: done.y, nEpochs: done.nEpochs, nNeighborsUsed: done.nNeighborsUsed,
  };
  if (opts.writeCache ?? true) await writeFileAtomic(path.join(runDir, UMAP_FILE), JSON.stringify(layout) + '\n');
  opts.progress?.(1, 'done');
  return { layout, fromCache: false };
}
