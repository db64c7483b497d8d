/**
 * scGPT tokens of one cell exactly as the worker makes them (resources/worker/scwb_worker/tokens.py): the cell's
 * non-zero genes that have a token id (in the model's gene order), `<cls>` first with value 0; values binned per
 * cell when the model was trained without a binned layer (edges at np.quantile(x, np.linspace(0, 1, nBins - 1)), a
 * value between tied edges gets ceil(left + u (right - left)), u from RandomState([seed, row, 1])); a cell with more
 * than maxSeqLen - 1 genes keeps the sorted RandomState([seed, row, 2]).choice(n, maxSeqLen - 1, replace=False).
 * Float arithmetic follows numpy's float64 order of operations, so the bins are identical.
 */
import { digitize, quantilesLinear, unitLinspace } from '../preprocess/binning';
import { MT19937 } from '../random/mt19937';

export interface ScGPTTokenParams {
  geneIds: number[];
  clsId: number;
  padId: number;
  padValue: number;
  maxSeqLen: number;
  seed: number;
  binHere: boolean;
  nBins: number;
}

const SALT_BINNING = 1;
const SALT_SAMPLING = 2;

function rowRng(g: MT19937, seed: number, row: number, salt: number): MT19937 {
  g.seedArray([Number(BigInt.asUintN(32, BigInt(seed))), Number(BigInt.asUintN(32, BigInt(row))), salt]);
  return g;
}

export class ScGPTTokenizer {
  private readonly g = new MT19937(0);
  private readonly qs: Float64Array;
  /** model gene positions that have a token id */
  private readonly keep: Int32Array;

  constructor(readonly p: ScGPTTokenParams) {
    this.qs = unitLinspace(p.nBins - 1);
    this.keep = Int32Array.from(p.geneIds.map((id, i) => (id >= 0 ? i : -1)).filter(i => i >= 0));
  }

  /** Bins of a cell's non-zero values (float32 in, float32 bins out), drawing from (seed, row). */
  binValues(vals: Float32Array, row: number): Float32Array {
    const n = vals.length;
    if (n === 0) return new Float32Array(0);
    const x = Float64Array.from(vals);
    const sorted = Float64Array.from(x).sort();
    const edges = quantilesLinear(sorted, this.qs, false);
    const g = rowRng(this.g, this.p.seed, row, SALT_BINNING);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const left = digitize(x[i], edges, false);
      const right = digitize(x[i], edges, true);
      const u = g.randomSample();
      out[i] = Math.ceil(u * (right - left) + left);
    }
    return out;
  }

  /** One cell from its values over the model's genes (float32, 0 = absent): ids and values with <cls> first. */
  cell(values: Float32Array, row: number): { ids: Int32Array; vals: Float32Array } {
    const pos: number[] = [];
    const raw: number[] = [];
    for (const k of this.keep) {
      const v = values[k];
      if (v !== 0) { pos.push(k); raw.push(v); }
    }
    let vals: Float32Array = Float32Array.from(raw);
    for (const v of vals) if (!Number.isFinite(v)) throw new Error(`row ${row} holds NaN or infinite values`);
    if (this.p.binHere) vals = this.binValues(vals, row);
    let ids = Int32Array.from(pos, k => this.p.geneIds[k]);
    const m = this.p.maxSeqLen - 1;
    if (ids.length > m) {
      const pick = rowRng(this.g, this.p.seed, row, SALT_SAMPLING).choice(ids.length, m, false).sort((a, b) => a - b);
      ids = Int32Array.from(pick, i => ids[i]);
      vals = Float32Array.from(pick, i => vals[i]);
    }
    const outIds = new Int32Array(ids.length + 1);
    outIds[0] = this.p.clsId;
    outIds.set(ids, 1);
    const outVals = new Float32Array(vals.length + 1);
    outVals.set(vals, 1);
    return { ids: outIds, vals: outVals };
  }

  /** Padded batch: gene_ids int64, values float32, padding_mask bool (as uint8), all [B, L]. */
  batch(cells: { ids: Int32Array; vals: Float32Array }[]): { length: number; ids: BigInt64Array; vals: Float32Array; mask: Uint8Array } {
    const length = Math.max(...cells.map(c => c.ids.length));
    const ids = new BigInt64Array(cells.length * length).fill(BigInt(this.p.padId));
    const vals = new Float32Array(cells.length * length).fill(this.p.padValue);
    const mask = new Uint8Array(cells.length * length);
    cells.forEach((c, i) => {
      for (let j = 0; j < c.ids.length; j++) { ids[i * length + j] = BigInt(c.ids[j]); vals[i * length + j] = c.vals[j]; }
    });
    for (let q = 0; q < ids.length; q++) mask[q] = ids[q] === BigInt(this.p.padId) ? 1 : 0;
    return { length, ids, vals, mask };
  }
}
