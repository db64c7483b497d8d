"""Data and references for the baseline's pre-flight value check (test/unit/preflight).

make DIR: writes counts.h5ad (raw counts), fpkm.h5ad (FPKM-like: non-integer, varying per-cell totals, max > 20),
fpkm_log1p.h5ad (np.log1p of fpkm's values), counts_lognorm.h5ad (normalize_total 1e4 then log1p of counts) and
rare.h5ad (log-normalised; 80 A, 80 B and 12 C cells), all with the obs column 'cell_type' (3 classes whose cells
express different genes).
transform FILE MODE: prints the stored values of X after MODE (normalize-log1p | log1p), in CSR order, as JSON.
"""
import json
import sys

import anndata
import numpy as np
import pandas as pd
import scipy.sparse as sp


def normalize_log1p(X):
    """scanpy's normalize_total(target_sum=1e4) then log1p, written with numpy on the CSR arrays."""
    X = X.tocsr(copy=True).astype(np.float64)
    totals = np.asarray(X.sum(axis=1)).ravel()
    scale = np.where(totals > 0, 1e4 / np.where(totals > 0, totals, 1), 1.0)
    X.data = np.log1p(X.data * np.repeat(scale, np.diff(X.indptr)))
    return X


def log1p(X):
    X = X.tocsr(copy=True).astype(np.float64)
    X.data = np.log1p(X.data)
    return X


def write(path, X, labels, genes):
    obs = pd.DataFrame({"cell_type": pd.Categorical(labels)}, index=["c%d" % i for i in range(X.shape[0])])
    var = pd.DataFrame(index=genes)
    anndata.AnnData(X=sp.csr_matrix(X), obs=obs, var=var, dtype=np.float64).write_h5ad(path)


def make(out):
    rng = np.random.default_rng(7)
    n, g = 240, 60
    labels = np.array(["A", "B", "C"])[np.arange(n) % 3]
    rate = np.full((n, g), 1.0)
    for k, lab in enumerate("ABC"):
        rate[labels == lab, k * 10:(k + 1) * 10] += 4.0
    depth = rng.uniform(0.3, 3.0, size=(n, 1))  # varying sequencing depth per cell
    counts = rng.poisson(rate * depth).astype(np.float64)
    genes = ["G%d" % j for j in range(g)]
    write(out + "/counts.h5ad", counts, labels, genes)
    length = rng.uniform(0.5, 5.0, size=g)  # gene lengths in kb
    totals = counts.sum(axis=1, keepdims=True)
    fpkm = counts / length / np.where(totals > 0, totals, 1) * 1e6
    write(out + "/fpkm.h5ad", fpkm, labels, genes)
    write(out + "/fpkm_log1p.h5ad", log1p(sp.csr_matrix(fpkm)), labels, genes)
    write(out + "/counts_lognorm.h5ad", normalize_log1p(sp.csr_matrix(counts)), labels, genes)
    # a rare class: 100 A, 100 B, 12 C cells (log-normalised)
    keep = np.concatenate([np.where(labels == "A")[0][:70], np.where(labels == "B")[0][:70], np.where(labels == "C")[0][:12]])
    keep = np.sort(np.concatenate([keep, np.where(labels == "A")[0][70:80], np.where(labels == "B")[0][70:80]]))
    write(out + "/rare.h5ad", normalize_log1p(sp.csr_matrix(counts[keep])), labels[keep], genes)


def transform(path, mode):
    X = anndata.read_h5ad(path).X
    X = sp.csr_matrix(X)
    X.sort_indices()
    Y = normalize_log1p(X) if mode == "normalize-log1p" else log1p(X)
    print(json.dumps({"indptr": Y.indptr.tolist(), "indices": Y.indices.tolist(), "data": Y.data.tolist()}))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        transform(sys.argv[2], sys.argv[3])
