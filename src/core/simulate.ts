/**
 * Demo data: a simulated PBMC-like raw count matrix, shaped like Zheng68K (cell types of very unequal size,
 * marker genes, ~95% zeros), streamed to an .h5ad in row blocks so 68,450 x 16,906 fits in memory.
 *
 * Model, per cell c of type t:
 *  - gene profile: a log-normal baseline over all genes (a few housekeeping genes high), multiplied per type by
 *    marker programs: a lineage program shared by related types (T, CD4 T, CD8 T, myeloid, ...) plus a
 *    type-specific one, on real marker symbols (CD3D, CD8A, MS4A1, LYZ, NKG7...) and on simulated genes;
 *  - overlap: a cell of a type with close relatives (the T-cell subsets, monocytes/dendritic) takes a random
 *    share (up to MIX_MAX) of a relative's profile, so related types overlap and are not perfectly separable;
 *  - library size: log-normal (median scaled with the number of genes), times a donor effect;
 *  - counts: negative binomial (gamma-Poisson, theta = NB_THETA) for the program and highly expressed genes;
 *    the long tail of lowly expressed genes is drawn as Poisson through an alias table over the profile (at
 *    means far below theta the two laws coincide, and it keeps the 1.2e9 entries of a Zheng68K-sized matrix
 *    to a few seconds).
 * Every cell draws from its own random stream (SimRng(seed, cell)), so the output depends only on the seed
 * and the shape, not on the block size.
 */
import { AliasTable, SimRng } from './simulate-rng';
import { CsrMatrix } from './sparse';
import { H5adWriter, UnsDict } from './h5ad/write';
import { Column } from './h5ad/types';

export interface CellTypeSpec {
  name: string;
  /** share of cells (renormalised over the chosen types) */
  share: number;
  /** lineage programs it belongs to (shared with relatives) */
  lineages: string[];
  /** real marker symbols up-regulated in this type */
  markers: string[];
}

/** Zheng68K-like composition: one type ~30%, a few under 1%. The first `nTypes` are used. */
export const CELL_TYPES: CellTypeSpec[] = [
  { name: 'CD8+ Cytotoxic T', share: 0.303, lineages: ['T', 'CD8'], markers: ['GZMK', 'GZMH', 'CCL5', 'CST7'] },
  { name: 'CD8+/CD45RA+ Naive Cytotoxic', share: 0.239, lineages: ['T', 'CD8'], markers: ['CCR7', 'LEF1', 'SELL'] },
  { name: 'CD56+ NK', share: 0.124, lineages: ['NKish'], markers: ['GNLY', 'KLRD1', 'FCGR3A', 'PRF1', 'NCAM1'] },
  { name: 'CD4+/CD25 T Reg', share: 0.089, lineages: ['T', 'CD4'], markers: ['FOXP3', 'IL2RA', 'CTLA4', 'TIGIT'] },
  { name: 'CD19+ B', share: 0.082, lineages: ['B'], markers: ['MS4A1', 'CD79A', 'CD79B', 'CD19', 'BANK1'] },
  { name: 'CD4+/CD45RO+ Memory', share: 0.044, lineages: ['T', 'CD4'], markers: ['S100A4', 'CD40LG', 'AQP3'] },
  { name: 'CD14+ Monocyte', share: 0.042, lineages: ['Myeloid'], markers: ['CD14', 'S100A8', 'S100A9', 'FCN1', 'VCAN'] },
  { name: 'Dendritic', share: 0.031, lineages: ['Myeloid'], markers: ['FCER1A', 'CLEC10A', 'CD1C', 'HLA-DQA1'] },
  { name: 'CD4+/CD45RA+/CD25- Naive T', share: 0.027, lineages: ['T', 'CD4'], markers: ['CCR7', 'TCF7', 'SELL', 'LEF1'] },
  { name: 'CD34+', share: 0.0036, lineages: [], markers: ['CD34', 'KIT', 'PROM1', 'SPINK2'] },
  { name: 'CD4+ T Helper2', share: 0.0014, lineages: ['T', 'CD4'], markers: ['GATA3', 'PTGDR2', 'IL4'] },
  { name: 'CD16+ Monocyte', share: 0.008, lineages: ['Myeloid'], markers: ['FCGR3A', 'MS4A7', 'CDKN1C'] },
  { name: 'Megakaryocyte', share: 0.004, lineages: [], markers: ['PPBP', 'PF4', 'GP9'] },
  { name: 'Plasmacytoid DC', share: 0.003, lineages: [], markers: ['LILRA4', 'IL3RA', 'TCF4'] },
];

/** Markers of the shared lineage programs. */
const LINEAGE_MARKERS: Record<string, string[]> = {
  T: ['CD3D', 'CD3E', 'CD2', 'IL7R', 'LCK'],
  CD8: ['CD8A', 'CD8B'],
  CD4: ['CD4', 'CD40LG'],
  NKish: ['NKG7', 'GZMB', 'GZMA'],
  B: ['CD74', 'HLA-DRA'],
  Myeloid: ['LYZ', 'CST3', 'TYROBP', 'FCER1G', 'HLA-DRA', 'CD74'],
};
/** NK cells also carry the cytotoxic program of CD8 T cells (NKG7, GZMA...): a partial relative. */
const EXTRA_PROGRAMS: Record<string, string[]> = { 'CD8+ Cytotoxic T': ['NKish'] };

/** Highly expressed in every cell. */
const HOUSEKEEPING = ['MALAT1', 'B2M', 'TMSB4X', 'ACTB', 'FTL', 'EEF1A1', 'RPL13', 'RPS27', 'GAPDH', 'RPLP1', 'FTH1', 'TPT1'];

/** Share of a relative's profile a cell may take (uniform in [0, MIX_MAX]). */
const MIX_MAX = 0.5;
/** Negative binomial inverse dispersion. */
const NB_THETA = 4;
/** Genes drawn per cell with NB noise: the program genes plus the most expressed. */
const NB_GENES_MAX = 400;

export const DONORS = ['donor_1', 'donor_2', 'donor_3', 'donor_4'];
const DONOR_SHARES = [0.35, 0.3, 0.2, 0.15];
const DONOR_DEPTH = [1.0, 0.8, 1.25, 0.9];
const DONOR_BATCH = ['batch_1', 'batch_1', 'batch_2', 'batch_2'];

export interface SimulateOptions {
  nCells: number;
  nGenes: number;
  /** number of cell types (2-14, default 11 as in Zheng68K) */
  nTypes?: number;
  seed?: number;
  /**
   * median counts per cell; default: Zheng68K's ~1,500 over 16,906 genes scaled to the number of genes (at least
   * 300). The demo sets it so that the published scBERT filter (200 genes per cell) keeps most cells.
   */
  medianCounts?: number;
}

export interface SimulationDesign {
  nCells: number;
  nGenes: number;
  seed: number;
  typeNames: string[];
  genes: string[];
  geneIds: string[];
  /** type index per cell */
  cellTypes: Uint8Array;
  donors: Uint8Array;
  /** per type: expected share of counts per gene (sums to 1) */
  profiles: Float64Array[];
  /** per type: index of a relative type for overlap, or -1 */
  relatives: Int32Array[];
  /** genes drawn with NB noise (sorted) */
  nbGenes: Int32Array;
  /** per type: alias table over the other genes */
  tails: AliasTable[];
  /** per type: profile mass outside nbGenes */
  tailMass: Float64Array;
  medianLibrary: number;
}

export function designSimulation(opts: SimulateOptions): SimulationDesign {
  const nCells = opts.nCells;
  const nGenes = opts.nGenes;
  const nTypes = opts.nTypes ?? 11;
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(nCells) || nCells < 1) throw new Error(`cells must be a positive integer, got ${nCells}`);
  if (!Number.isInteger(nGenes) || nGenes < 100) throw new Error(`genes must be an integer of at least 100, got ${nGenes}`);
  if (opts.medianCounts !== undefined && !(Number.isInteger(opts.medianCounts) && opts.medianCounts >= 1)) {
    throw new Error(`median counts must be a positive integer, got ${opts.medianCounts}`);
  }
  if (!Number.isInteger(nTypes) || nTypes < 2 || nTypes > CELL_TYPES.length) {
    throw new Error(`types must be an integer from 2 to ${CELL_TYPES.length}, got ${nTypes}`);
  }
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  const types = CELL_TYPES.slice(0, nTypes);

  // Gene names depend only on nGenes (so simulations of one width share their genes); programs on the seed.
  const genes = geneSymbols(nGenes);
  const geneIds = genes.map((_, i) => `ENSG${String(100000 + i * 37).padStart(11, '0')}`);
  const geneIndex = new Map(genes.map((g, i) => [g, i]));

  const rng = new SimRng(seed, -1);
  const baseline = new Float64Array(nGenes);
  for (let g = 0; g < nGenes; g++) baseline[g] = Math.exp(1.6 * rng.normal());
  for (const g of HOUSEKEEPING) {
    const i = geneIndex.get(g);
    if (i !== undefined) baseline[i] = 150 + 300 * rng.uniform();
  }
  // Marker genes are quiet outside their programs.
  const markerSet = new Set<string>([...Object.values(LINEAGE_MARKERS).flat(), ...CELL_TYPES.flatMap(t => t.markers)]);
  for (const m of markerSet) {
    const i = geneIndex.get(m);
    if (i !== undefined) baseline[i] = 0.3 + 0.5 * rng.uniform();
  }
  // Simulated genes join programs too (5 per lineage/type at 1,000 genes, more for wider matrices).
  const simulated: number[] = [];
  for (let g = 0; g < nGenes; g++) if (!markerSet.has(genes[g]) && !HOUSEKEEPING.includes(genes[g])) simulated.push(g);
  rng.shuffle(simulated);
  let nextSimulated = 0;
  const perProgram = Math.max(3, Math.round(nGenes / 200));
  const programs = new Map<string, { gene: number; lfc: number }[]>();
  const program = (key: string, symbols: string[], lfcLow: number, lfcHigh: number): { gene: number; lfc: number }[] => {
    let p = programs.get(key);
    if (!p) {
      p = [];
      for (const s of symbols) {
        const i = geneIndex.get(s);
        if (i !== undefined) p.push({ gene: i, lfc: lfcLow + (lfcHigh - lfcLow) * rng.uniform() + 2.5 });
      }
      for (let k = 0; k < perProgram && nextSimulated < simulated.length; k++) {
        p.push({ gene: simulated[nextSimulated++], lfc: lfcLow + (lfcHigh - lfcLow) * rng.uniform() });
      }
      programs.set(key, p);
    }
    return p;
  };

  const profiles: Float64Array[] = [];
  for (const t of types) {
    const logFold = new Float64Array(nGenes);
    const lineages = [...t.lineages, ...(EXTRA_PROGRAMS[t.name] ?? [])];
    for (const l of lineages) {
      const partial = EXTRA_PROGRAMS[t.name]?.includes(l) ? 0.5 : 1;
      for (const { gene, lfc } of program(`lineage:${l}`, LINEAGE_MARKERS[l] ?? [], 1.5, 3)) logFold[gene] += partial * lfc;
    }
    // Subtypes within a lineage differ less than lineages do.
    const related = t.lineages.length > 0 && types.some(o => o !== t && o.lineages.some(l => t.lineages.includes(l)));
    const [low, high] = related ? [0.6, 1.6] : [1.5, 3];
    for (const { gene, lfc } of program(`type:${t.name}`, t.markers, low, high)) logFold[gene] += lfc;
    const profile = Float64Array.from(baseline, (b, g) => b * Math.exp(logFold[g]));
    let total = 0;
    for (const v of profile) total += v;
    for (let g = 0; g < nGenes; g++) profile[g] /= total;
    profiles.push(profile);
  }
  // Relatives: types sharing the most specific lineage (CD4 with CD4, CD8 with CD8, myeloid with myeloid).
  const relatives = types.map(t => {
    const key = t.lineages[t.lineages.length - 1];
    return Int32Array.from(types.flatMap((o, j) => (o !== t && key !== undefined && o.lineages[o.lineages.length - 1] === key ? [j] : [])));
  });

  // NB genes: every program gene plus the genes with the highest mean share.
  const nbSet = new Set<number>();
  for (const p of programs.values()) for (const { gene } of p) nbSet.add(gene);
  const maxShare = Float64Array.from({ length: nGenes }, (_, g) => Math.max(...profiles.map(p => p[g])));
  const byShare = Array.from({ length: nGenes }, (_, g) => g).sort((a, b) => maxShare[b] - maxShare[a]);
  for (const g of byShare) {
    if (nbSet.size >= Math.min(NB_GENES_MAX, Math.floor(nGenes / 2))) break;
    nbSet.add(g);
  }
  const nbGenes = Int32Array.from([...nbSet].sort((a, b) => a - b));
  const tails: AliasTable[] = [];
  const tailMass = new Float64Array(types.length);
  for (let t = 0; t < types.length; t++) {
    const w = Float64Array.from(profiles[t]);
    for (const g of nbGenes) w[g] = 0;
    let mass = 0;
    for (const v of w) mass += v;
    tailMass[t] = mass;
    tails.push(new AliasTable(w));
  }

  // Cell types: exact counts by share (at least 2 cells of each type when there is room), shuffled.
  const shareTotal = types.reduce((s, t) => s + t.share, 0);
  const minPerType = Math.min(2, Math.floor(nCells / types.length));
  const counts = types.map(t => Math.max(minPerType, Math.round((t.share / shareTotal) * nCells)));
  counts[0] += nCells - counts.reduce((s, c) => s + c, 0);
  if (counts[0] < minPerType) throw new Error(`cannot place ${types.length} cell types in ${nCells} cells`);
  const cellTypes = new Uint8Array(nCells);
  let at = 0;
  counts.forEach((c, t) => { cellTypes.fill(t, at, at + c); at += c; });
  rng.shuffle(cellTypes);
  const donors = new Uint8Array(nCells);
  for (let c = 0; c < nCells; c++) {
    let u = rng.uniform();
    let d = 0;
    while (d < DONORS.length - 1 && u >= DONOR_SHARES[d]) { u -= DONOR_SHARES[d]; d++; }
    donors[c] = d;
  }
  return {
    nCells, nGenes, seed, typeNames: types.map(t => t.name), genes, geneIds, cellTypes, donors, profiles, relatives,
    nbGenes, tails, tailMass,
    // Zheng68K has a median of ~1,500 counts per cell over 16,906 genes; narrower simulations get fewer.
    medianLibrary: opts.medianCounts ?? Math.max(300, Math.round((1500 * nGenes) / 16906)),
  };
}

/** Rows [start, end) of the simulated counts, as CSR (float32 counts) plus per-row totals. */
export function simulateRows(d: SimulationDesign, start: number, end: number): { block: CsrMatrix; totals: Float64Array; nGenesExpressed: Int32Array } {
  const n = end - start;
  const rng = new SimRng(d.seed, 0);
  const scratch = new Float64Array(d.nGenes);
  const touched = new Int32Array(d.nGenes);
  const indptr = new Int32Array(n + 1);
  let indices = new Int32Array(Math.max(1024, n * 256));
  let data = new Float32Array(indices.length);
  const totals = new Float64Array(n);
  const nGenesExpressed = new Int32Array(n);
  let nnz = 0;
  for (let r = 0; r < n; r++) {
    const cell = start + r;
    rng.reseed(d.seed, cell);
    const t = d.cellTypes[cell];
    const rel = d.relatives[t];
    const other = rel.length > 0 ? rel[rng.int(rel.length)] : -1;
    const mix = other >= 0 ? MIX_MAX * rng.uniform() : 0;
    const library = d.medianLibrary * DONOR_DEPTH[d.donors[cell]] * Math.exp(0.45 * rng.normal());
    const own = d.profiles[t];
    let nTouched = 0;
    for (const g of d.nbGenes) {
      const share = other >= 0 ? (1 - mix) * own[g] + mix * d.profiles[other][g] : own[g];
      const k = rng.negativeBinomial(library * share, NB_THETA);
      if (k > 0) {
        if (scratch[g] === 0) touched[nTouched++] = g;
        scratch[g] += k;
      }
    }
    const tailOwn = (1 - mix) * d.tailMass[t];
    const tailOther = other >= 0 ? mix * d.tailMass[other] : 0;
    const nTail = rng.poisson(library * (tailOwn + tailOther));
    const pOwn = tailOwn / (tailOwn + tailOther);
    for (let i = 0; i < nTail; i++) {
      const g = other < 0 || rng.uniform() < pOwn ? d.tails[t].draw(rng) : d.tails[other].draw(rng);
      if (scratch[g] === 0) touched[nTouched++] = g;
      scratch[g] += 1;
    }
    const row = touched.subarray(0, nTouched).sort();
    if (indices.length < nnz + nTouched) {
      const size = Math.max(indices.length * 2, nnz + nTouched);
      const grownI = new Int32Array(size);
      grownI.set(indices.subarray(0, nnz));
      indices = grownI;
      const grownD = new Float32Array(size);
      grownD.set(data.subarray(0, nnz));
      data = grownD;
    }
    let total = 0;
    for (const g of row) {
      indices[nnz] = g;
      data[nnz] = scratch[g];
      total += scratch[g];
      scratch[g] = 0;
      nnz++;
    }
    totals[r] = total;
    nGenesExpressed[r] = nTouched;
    indptr[r + 1] = nnz;
  }
  return {
    block: { nRows: n, nCols: d.nGenes, indptr, indices: indices.slice(0, nnz), data: data.slice(0, nnz) },
    totals, nGenesExpressed,
  };
}

export interface SimulationSummary {
  nCells: number;
  nGenes: number;
  nnz: number;
  typeCounts: Record<string, number>;
}

/** Simulates and writes an .h5ad (atomically); `onProgress` gets the rows written so far. */
export async function simulateToH5ad(
  outPath: string,
  opts: SimulateOptions & { blockRows?: number; overwrite?: boolean; compression?: 'gzip'; toolVersion?: string },
  onProgress?: (rowsDone: number, nCells: number) => void,
): Promise<SimulationSummary> {
  const d = designSimulation(opts);
  const blockRows = opts.blockRows ?? 4096;
  const writer = await H5adWriter.create(outPath, { nVars: d.nGenes, overwrite: opts.overwrite, compression: opts.compression });
  try {
    const totals = new Float64Array(d.nCells);
    const nExpressed = new Int32Array(d.nCells);
    let nnz = 0;
    for (let start = 0; start < d.nCells; start += blockRows) {
      const end = Math.min(d.nCells, start + blockRows);
      const rows = simulateRows(d, start, end);
      writer.appendRows(rows.block);
      totals.set(rows.totals, start);
      nExpressed.set(rows.nGenesExpressed, start);
      nnz += rows.block.indptr[rows.block.nRows];
      onProgress?.(end, d.nCells);
      // Let the event loop breathe between blocks (progress, cancellation).
      await new Promise(resolve => setImmediate(resolve));
    }
    const obsColumns: Column[] = [
      { kind: 'categorical', name: 'cell_type', categories: d.typeNames, codes: Int32Array.from(d.cellTypes), ordered: false },
      { kind: 'categorical', name: 'donor', categories: DONORS, codes: Int32Array.from(d.donors), ordered: false },
      { kind: 'categorical', name: 'batch', categories: ['batch_1', 'batch_2'], codes: Int32Array.from(d.donors, x => (DONOR_BATCH[x] === 'batch_1' ? 0 : 1)), ordered: false },
      { kind: 'numeric', name: 'n_counts', dtype: 'float32', values: totals },
      { kind: 'numeric', name: 'n_genes', dtype: 'int32', values: Float64Array.from(nExpressed) },
    ];
    const uns: UnsDict = {
      simulation: {
        generator: 'scwb simulate',
        ...(opts.toolVersion ? { tool_version: opts.toolVersion } : {}),
        seed: d.seed, n_cells: d.nCells, n_genes: d.nGenes, n_types: d.typeNames.length,
        cell_types: d.typeNames, nb_theta: NB_THETA, mix_max: MIX_MAX, median_library: d.medianLibrary,
      },
    };
    await writer.finish({
      obs: { index: cellBarcodes(d.nCells), indexName: '_index', columns: obsColumns },
      var: { index: d.genes, indexName: '_index', columns: [{ kind: 'string', name: 'gene_ids', values: d.geneIds }] },
      uns,
    });
    const typeCounts: Record<string, number> = {};
    d.typeNames.forEach(n => { typeCounts[n] = 0; });
    for (const t of d.cellTypes) typeCounts[d.typeNames[t]]++;
    return { nCells: d.nCells, nGenes: d.nGenes, nnz, typeCounts };
  } finally {
    writer.abort();
  }
}

/** 10x-style barcodes (16 bases + "-1"), unique: an odd multiplier permutes 2^32 = 4^16. */
export function cellBarcodes(n: number): string[] {
  const bases = 'ACGT';
  const out: string[] = new Array(n);
  for (let i = 0; i < n; i++) {
    let x = Math.imul(i + 1, 0x2c9277b5) >>> 0;
    let s = '';
    for (let k = 0; k < 16; k++) { s += bases[x & 3]; x >>>= 2; }
    out[i] = `${s}-1`;
  }
  return out;
}

const REAL_SYMBOLS = [
  ...HOUSEKEEPING,
  ...new Set([...Object.values(LINEAGE_MARKERS).flat(), ...CELL_TYPES.flatMap(t => t.markers)]),
];

/**
 * `n` unique gene symbols: the real markers and housekeeping genes above, placed at fixed pseudo-random
 * positions, and plausible simulated symbols from common human gene-family patterns for the rest.
 */
export function geneSymbols(n: number): string[] {
  const rng = new SimRng(20240611, n);
  const used = new Set<string>(REAL_SYMBOLS);
  const families: (() => string)[] = [
    () => `ZNF${100 + rng.int(800)}`,
    () => `SLC${1 + rng.int(45)}A${1 + rng.int(12)}`,
    () => `TMEM${10 + rng.int(250)}`,
    () => `KIAA${1000 + rng.int(1000)}`,
    () => `FAM${10 + rng.int(200)}${'ABC'[rng.int(3)]}`,
    () => `C${1 + rng.int(22)}orf${10 + rng.int(180)}`,
    () => `CCDC${10 + rng.int(180)}`,
    () => `ANKRD${1 + rng.int(60)}`,
    () => `LRRC${1 + rng.int(70)}`,
    () => `TRIM${1 + rng.int(75)}`,
    () => `ZBTB${1 + rng.int(48)}`,
    () => `KLHL${1 + rng.int(42)}`,
    () => `RNF${100 + rng.int(150)}`,
    () => `LINC0${String(rng.int(10000)).padStart(4, '0')}`,
    () => `PRR${1 + rng.int(36)}`,
    () => `DNAJC${1 + rng.int(30)}`,
    () => `${['AC0', 'AL', 'AP00'][rng.int(3)]}${100000 + rng.int(900000)}.${1 + rng.int(3)}`,
    () => `${pick(rng, ['MAP', 'RAB', 'ARHG', 'PPP', 'USP', 'KIF', 'DDX', 'ATP'])}${1 + rng.int(40)}${pick(rng, ['', 'A', 'B', 'C', 'L'])}`,
  ];
  const simulated: string[] = [];
  while (simulated.length < Math.max(0, n - REAL_SYMBOLS.length)) {
    const s = families[rng.int(families.length)]();
    if (!used.has(s)) { used.add(s); simulated.push(s); }
  }
  const real = REAL_SYMBOLS.slice(0, Math.min(n, REAL_SYMBOLS.length));
  const positions = Array.from({ length: n }, (_, i) => i);
  rng.shuffle(positions);
  const out: string[] = new Array(n);
  real.forEach((s, k) => { out[positions[k]] = s; });
  let next = 0;
  for (let i = 0; i < n; i++) if (out[i] === undefined) out[i] = simulated[next++];
  return out;
}

function pick<T>(rng: SimRng, items: T[]): T {
  return items[rng.int(items.length)];
}
