"""Reference implementations of the published preprocessing steps, in numpy/scipy, for the exactness tests.

  preprocess_reference.py <scbert|scgpt|benchmark> <datadir> <params.json>
  preprocess_reference.py batch <jobs.json>      [{"recipe", "datadir", "params"}, ...] -> a list of outputs

<datadir> holds a matrix written by preprocess_data.py; <params.json> the recipe parameters (as the TypeScript
recipe takes them, paths absolute). Prints JSON: the output genes, kept cells, X (CSR, float32 values), the bins
at X's stored positions, and the statistics the tests compare.

The steps follow scanpy and the published scripts:
  scBERT  (preprocess.py of scBERT): align to the reference gene order (a duplicated data gene: its first column, as
          the script's list.index, or with duplicateGenes "sum" all its columns added), sc.pp.filter_cells(min_genes),
          sc.pp.normalize_total(target_sum), sc.pp.log1p(base=2).
  scGPT   (scGPT Preprocessor): genes in the vocabulary (every column, duplicated names included); sc.pp.filter_genes; sc.pp.filter_cells(min_counts);
          normalize_total; log1p; highly_variable_genes(flavor='seurat_v3') on counts; binning with
          np.random.seed(seed) and one np.random.rand(len(x)) per non-empty cell.
  benchmark: log1p of counts (no size normalisation), optional binning as scGPT's.
Recipe parameter "input": "counts" and "normalized" (TPM/FPKM/CPM) take the normalise + log steps, "log-normalized"
skips them ("inputIsLogNormalized": true is its older name). Gene names are matched with versioned Ensembl ids
(ENSG00000141510.17) taken as their unversioned id.
Computation is float64, values rounded to float32 at the end, as the TypeScript recipes write X.
scikit-misc (skmisc.loess) is not in Debian, so the Seurat v3 loess is the direct local regression described in
src/core/preprocess/hvg.ts, computed here with np.polyfit; ties in normalised variance keep gene order (stable
sorts), where scanpy's quicksort leaves them unspecified.
"""
import json
import os
import re
import sys
from collections import Counter

import numpy as np
import pandas as pd
import scipy.sparse as sp


def load(datadir):
    with open(os.path.join(datadir, "meta.json")) as f:
        meta = json.load(f)
    indptr = np.fromfile(os.path.join(datadir, "indptr.i32"), dtype=np.int32)
    indices = np.fromfile(os.path.join(datadir, "indices.i32"), dtype=np.int32)
    if meta["dtype"] == "float64":
        data = np.fromfile(os.path.join(datadir, "data.f64"), dtype=np.float64)
    else:
        data = np.fromfile(os.path.join(datadir, "data.f32"), dtype=np.float32)
    X = sp.csr_matrix((data, indices, indptr), shape=(meta["nObs"], meta["nVars"]))
    return X, meta


def gene_key(name):
    """A versioned Ensembl id without its version; any other name unchanged."""
    m = re.match(r"^(ENS[A-Z]{0,6}[GTP]\d{11})\.\d+$", name)
    return m.group(1) if m else name


def keyed_vocab(vocab):
    out = {}
    for g, i in vocab.items():
        out.setdefault(gene_key(g), i)
    return out


def log_normalized_input(p):
    return p.get("input") == "log-normalized" or p.get("inputIsLogNormalized", False)


def read_gene_list(path):
    genes = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                genes.append(line.replace(",", " ").replace("\t", " ").split()[0])
    return genes


def normalize_log(X, target_sum, base):
    """sc.pp.normalize_total(target_sum) then sc.pp.log1p(base), on a float64 CSR."""
    X = X.astype(np.float64).tocsr(copy=True)
    totals = np.asarray(X.sum(axis=1)).ravel()
    if target_sum is not None:
        scale = totals / target_sum
        scale[totals == 0] = 1
        X.data = X.data / np.repeat(scale, np.diff(X.indptr))
    X.data = np.log1p(X.data)
    if base is not None:
        X.data = X.data / np.log(base)
    return X


def loess_direct(x, y, span):
    """Degree-2 local regression with tricube weights over the floor(span * n) nearest points, fitted at each x."""
    n = len(x)
    q = min(n, int(np.floor(n * span)))
    fitted = np.empty(n)
    for x0 in np.unique(x):
        at = x == x0
        d = np.abs(x - x0)
        h = np.partition(d, q - 1)[q - 1]
        if h == 0:
            fitted[at] = y[at].mean()
            continue
        w = np.where(d < h, (1 - (d / h) ** 3) ** 3, 0.0)
        sel = w > 0
        degree = min(2, len(np.unique(x[sel])) - 1)
        coef = np.polyfit((x[sel] - x0) / h, y[sel], degree, w=np.sqrt(w[sel]))
        fitted[at] = coef[-1]
    return fitted


def hvg_seurat_v3(counts, batch_info, n_top, span, names):
    """scanpy's highly_variable_genes(flavor='seurat_v3') on a cells x genes count CSR whose genes are `names`.
    As in scanpy the selection is written by label into a frame indexed by the names, so every column of a
    duplicated name is selected when one of them is among the top n_top."""
    G = counts.shape[1]
    norm_gene_vars = []
    for b in np.unique(batch_info):
        data_batch = counts[batch_info == b]
        N = data_batch.shape[0]
        mean = np.asarray(data_batch.sum(axis=0)).ravel() / N
        mean_sq = np.asarray(data_batch.multiply(data_batch).sum(axis=0)).ravel() / N
        var = (mean_sq - mean * mean) * (N / (N - 1))
        not_const = var > 0
        estimat_var = np.zeros(G, dtype=np.float64)
        estimat_var[not_const] = loess_direct(np.log10(mean[not_const]), np.log10(var[not_const]), span)
        reg_std = np.sqrt(10 ** estimat_var)
        clip_val = reg_std * np.sqrt(N) + mean
        clipped = sp.csr_matrix(data_batch, copy=True)
        mask = clipped.data > clip_val[clipped.indices]
        clipped.data[mask] = clip_val[clipped.indices[mask]]
        squared_sum = np.asarray(clipped.power(2).sum(axis=0)).ravel()
        batch_sum = np.asarray(clipped.sum(axis=0)).ravel()
        norm_gene_var = (1 / ((N - 1) * np.square(reg_std))) * ((N * np.square(mean)) + squared_sum - 2 * batch_sum * mean)
        norm_gene_vars.append(norm_gene_var.reshape(1, -1))
    norm_gene_vars = np.concatenate(norm_gene_vars, axis=0)
    ranked = np.argsort(np.argsort(-norm_gene_vars, axis=1, kind="stable"), axis=1, kind="stable").astype(np.float32)
    n_batches = np.sum((ranked < n_top).astype(int), axis=0)
    ranked[ranked >= n_top] = np.nan
    median_rank = np.ma.median(np.ma.masked_invalid(ranked), axis=0).filled(np.nan)
    df = pd.DataFrame({"rank": median_rank, "nbatches": n_batches}, index=pd.Index(list(names)))
    order = df.sort_values(["rank", "nbatches"], ascending=[True, False], na_position="last", kind="stable").index
    df["highly_variable"] = False
    df.loc[order[:n_top], "highly_variable"] = True
    selected = df["highly_variable"].to_numpy()
    return {"selected": selected, "rank": median_rank, "nbatches": n_batches,
            "variances_norm": norm_gene_vars.mean(axis=0)}


def digitize_spread(x, edges):
    """Left and right np.digitize; values on tied edges get ceil(left + u (right - left)), u ~ np.random.rand."""
    left = np.digitize(x, edges)
    right = np.digitize(x, edges, right=True)
    u = np.random.rand(len(x))
    return np.ceil(u * (right - left) + left).astype(np.int64)


def bin_rows(X32, n_bins, seed):
    """scGPT's binning over the dense rows of a float32 matrix, one random draw per non-zero value of each cell."""
    np.random.seed(seed)
    out = np.zeros(X32.shape, dtype=np.int64)
    for i in range(X32.shape[0]):
        row = X32[i].toarray().ravel()
        if row.max() == 0:
            continue
        nz = row.nonzero()
        values = row[nz]
        edges = np.quantile(values, np.linspace(0, 1, n_bins - 1))
        digits = digitize_spread(values, edges)
        assert digits.min() >= 1 and digits.max() <= n_bins - 1
        out[i][nz] = digits
    return out


def csr_json(X):
    X = sp.csr_matrix(X)
    X.sort_indices()
    return {"indptr": X.indptr.tolist(), "indices": X.indices.tolist(), "data": [float(v) for v in X.data]}


def finish(X64, kept_cells, var_names, extra, bins_of=None):
    """X rounded to float32 (as the recipes write it), and the bins at X's stored positions when binning."""
    X32 = sp.csr_matrix(X64.astype(np.float32))
    X32.eliminate_zeros()
    X32.sort_indices()
    out = {"varNames": list(var_names), "keptCells": np.asarray(kept_cells, dtype=np.int64), "X": X32}
    if bins_of is not None:
        n_bins, seed = bins_of
        dense_bins = bin_rows(X32, n_bins, seed)
        rows = np.repeat(np.arange(X32.shape[0]), np.diff(X32.indptr))
        out["bins"] = sp.csr_matrix((dense_bins[rows, X32.indices].astype(np.float32), X32.indices.copy(), X32.indptr.copy()),
                                    shape=X32.shape)
    out.update(extra)
    return out


def to_json(out):
    res = dict(out)
    res["keptCells"] = [int(i) for i in out["keptCells"]]
    res["X"] = csr_json(out["X"])
    if "bins" in out:
        res["bins"] = [int(b) for b in out["bins"].data]
    return res


def scbert(X, meta, p):
    """duplicateGenes "first" is the published script's rule: each reference gene takes the data column that
    `var_names.tolist().index(gene)` finds, i.e. its first occurrence; "sum" adds every column with the name."""
    reference = read_gene_list(p["referenceGenes"])
    genes = [gene_key(g) for g in meta["varNames"]]
    reference_keys = [gene_key(g) for g in reference]
    rule = p.get("duplicateGenes", "first")
    if rule == "first":
        rows, cols = [], []
        for i, g in enumerate(reference_keys):
            if g in genes:
                rows.append(genes.index(g))
                cols.append(i)
    else:
        position = {g: i for i, g in enumerate(reference_keys)}
        rows = [c for c, g in enumerate(genes) if g in position]
        cols = [position[genes[c]] for c in rows]
    mapping = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(genes), len(reference)))
    aligned = sp.csr_matrix(X.astype(np.float64) @ mapping)
    aligned.eliminate_zeros()
    n_genes = np.asarray((aligned > 0).sum(axis=1)).ravel()
    keep = n_genes >= p.get("minGenes", 200)
    aligned = aligned[keep]
    Xn = aligned if log_normalized_input(p) else normalize_log(aligned, p.get("targetSum", 1e4), p.get("logBase", 2))
    reference_set = set(reference_keys)
    times = Counter(g for g in genes if g in reference_set)
    found = len(times)
    return finish(Xn, np.flatnonzero(keep), reference,
                  {"referenceGenesFound": found, "duplicateColumns": sum(times.values()) - found,
                   "duplicatedGenes": sum(1 for n in times.values() if n > 1), "duplicateGenesRule": rule,
                   "present": [bool(g in set(genes)) for g in reference_keys], "nGenes": n_genes[keep].tolist()})


def duplicates_of(names):
    """Columns whose name repeats an earlier one's, and the distinct names concerned."""
    times = Counter(names)
    return {"duplicateColumns": sum(times.values()) - len(times),
            "duplicatedGenes": sum(1 for n in times.values() if n > 1), "duplicateGenesRule": "keep"}


def scgpt(X, meta, p):
    with open(p["vocab"]) as f:
        vocab = keyed_vocab(json.load(f))
    genes = np.array(meta["varNames"], dtype=object)
    in_vocab = np.array([gene_key(g) in vocab for g in genes])
    counts = sp.csr_matrix(X[:, np.flatnonzero(in_vocab)].astype(np.float64))
    gene_idx = np.flatnonzero(in_vocab)
    min_counts_gene, min_cells_gene = p.get("minCountsPerGene", 0), p.get("minCellsPerGene", 0)
    if min_counts_gene > 0 or min_cells_gene > 0:
        totals = np.asarray(counts.sum(axis=0)).ravel()
        cells = np.asarray((counts > 0).sum(axis=0)).ravel()
        keep_genes = (totals >= min_counts_gene) & (cells >= min_cells_gene)
        counts, gene_idx = counts[:, keep_genes], gene_idx[keep_genes]
    keep_cells = np.asarray(counts.sum(axis=1)).ravel() >= p.get("minCountsPerCell", 0)
    kept = np.flatnonzero(keep_cells)
    counts = counts[keep_cells]
    log_normalized = log_normalized_input(p)
    values = counts if log_normalized else normalize_log(counts, p.get("targetSum", 1e4), None)
    extra = {}
    n_top = p.get("nTopGenes")
    if n_top is not None:
        key = p.get("hvgBatchKey")
        batch = np.array(meta["obs"][key])[kept] if key else np.zeros(len(kept), dtype=int)
        h = hvg_seurat_v3(counts, batch, n_top, p.get("hvgSpan", 0.3), genes[gene_idx])
        sel = h["selected"]
        values, gene_idx = values[:, sel], gene_idx[sel]
        extra = {"hvgRank": [None if np.isnan(r) else float(r) for r in h["rank"][sel]],
                 "hvgNBatches": h["nbatches"][sel].tolist(), "hvgVariancesNorm": h["variances_norm"][sel].tolist(),
                 "hvgSelectedAmongCandidates": int(sel.sum())}
    extra["idInVocab"] = [int(vocab[gene_key(g)]) for g in genes[gene_idx]]
    extra.update(duplicates_of(genes[np.flatnonzero(in_vocab)]))
    return finish(values, kept, genes[gene_idx].tolist(), extra, (p.get("nBins", 51), p.get("seed", 0)))


def benchmark(X, meta, p):
    genes = np.array(meta["varNames"], dtype=object)
    gene_idx = np.arange(len(genes))
    vocab = None
    if p.get("vocab"):
        with open(p["vocab"]) as f:
            vocab = keyed_vocab(json.load(f))
        gene_idx = np.flatnonzero([gene_key(g) in vocab for g in genes])
    gene_idx0 = gene_idx  # the genes before the count filter, where duplicates are counted
    counts = sp.csr_matrix(X[:, gene_idx].astype(np.float64))
    min_counts = p.get("minCountsPerGene", 0)
    if min_counts > 0:
        keep = np.asarray(counts.sum(axis=0)).ravel() >= min_counts
        counts, gene_idx = counts[:, keep], gene_idx[keep]
    values = counts if log_normalized_input(p) else normalize_log(counts, None, None)
    extra = {"idInVocab": [int(vocab[gene_key(g)]) for g in genes[gene_idx]]} if vocab else {}
    extra.update(duplicates_of(genes[gene_idx0]))
    bins = (p.get("nBins", 51), p.get("seed", 0)) if p.get("mode", "none") == "bin" else None
    return finish(values, np.arange(X.shape[0]), genes[gene_idx].tolist(), extra, bins)


RECIPES = {"scbert": scbert, "scgpt": scgpt, "benchmark": benchmark}


def run(recipe, datadir, params):
    X, meta = load(datadir)
    return to_json(RECIPES[recipe](X, meta, params))


def main():
    if sys.argv[1] == "batch":
        with open(sys.argv[2]) as f:
            jobs = json.load(f)
        print(json.dumps([run(j["recipe"], j["datadir"], j["params"]) for j in jobs]))
        return
    recipe, datadir, params_file = sys.argv[1:4]
    with open(params_file) as f:
        params = json.load(f)
    print(json.dumps(run(recipe, datadir, params)))


if __name__ == "__main__":
    main()
