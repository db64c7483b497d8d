"""Python side of bench/h5ad-read.ts: makes the Zheng68K-sized test files, and times the reference readers.

usage:
  h5ad_read_reference.py make OUT_DIR        writes zheng68k_sized.h5ad and zheng68k_sized_gzip.h5ad if missing
  h5ad_read_reference.py h5py FILE           X via h5py + scipy.sparse.csr_matrix, obs cell_type and index
  h5ad_read_reference.py anndata FILE        anndata.read_h5ad(FILE)
The timing modes print JSON {seconds, maxRssMiB, nnz, sum}; run each in its own process for an honest peak RSS.
"""
import json
import os
import resource
import sys
import time
import warnings

import numpy as np

warnings.simplefilter("ignore")

N_CELLS, N_GENES, DENSITY = 68_450, 16_906, 0.05
# Zheng68K's 11 cell types with roughly their published proportions.
CELL_TYPES = ["CD8+ Cytotoxic T", "CD8+/CD45RA+ Naive Cytotoxic", "CD56+ NK", "CD4+/CD25 T Reg", "CD19+ B",
              "CD4+/CD45RO+ Memory", "CD14+ Monocyte", "Dendritic", "CD4+/CD45RA+/CD25- Naive T", "CD34+", "CD4+ T Helper2"]
PROPORTIONS = np.array([30.3, 23.0, 12.3, 9.1, 8.6, 4.6, 3.1, 3.0, 2.7, 0.4, 0.1])


def make(out_dir):
    import anndata
    import pandas as pd
    import scipy.sparse as sp
    plain = os.path.join(out_dir, "zheng68k_sized.h5ad")
    gz = os.path.join(out_dir, "zheng68k_sized_gzip.h5ad")
    if os.path.exists(plain) and os.path.exists(gz):
        return
    rng = np.random.default_rng(68)
    indptr = np.zeros(N_CELLS + 1, dtype=np.int64)
    idx_parts, data_parts = [], []
    for r0 in range(0, N_CELLS, 4096):
        r1 = min(N_CELLS, r0 + 4096)
        mask = rng.random((r1 - r0, N_GENES), dtype=np.float32) < DENSITY
        rows, cols = np.nonzero(mask)
        indptr[r0 + 1:r1 + 1] = indptr[r0] + np.cumsum(np.bincount(rows, minlength=r1 - r0))
        idx_parts.append(cols.astype(np.int32))
        # counts-like: 1 + Poisson, stored as float32 as most count matrices are
        data_parts.append((1 + rng.poisson(1.0, size=cols.size)).astype(np.float32))
    X = sp.csr_matrix((np.concatenate(data_parts), np.concatenate(idx_parts), indptr), shape=(N_CELLS, N_GENES))
    labels = rng.choice(len(CELL_TYPES), size=N_CELLS, p=PROPORTIONS / PROPORTIONS.sum())
    obs = pd.DataFrame({"cell_type": pd.Categorical.from_codes(labels, CELL_TYPES)},
                       index=[f"cell{i:06d}" for i in range(N_CELLS)])
    var = pd.DataFrame(index=[f"GENE{i:05d}" for i in range(N_GENES)])
    a = anndata.AnnData(X=X, obs=obs, var=var)
    for path, kw in ((plain, {}), (gz, {"compression": "gzip"})):
        tmp = path + ".tmp"
        a.write_h5ad(tmp, **kw)
        os.replace(tmp, path)


def report(seconds, X, sum_):
    print(json.dumps({"seconds": seconds,
                      "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "nnz": int(X.nnz), "sum": float(sum_)}))


def via_h5py(path):
    import h5py
    import pandas as pd
    import scipy.sparse as sp
    t0 = time.perf_counter()
    with h5py.File(path, "r") as f:
        g = f["X"]
        X = sp.csr_matrix((g["data"][:], g["indices"][:], g["indptr"][:]), shape=tuple(g.attrs["shape"]))
        codes = f["obs/cell_type/codes"][:]
        cats = f["obs/cell_type/categories"].asstr()[:]
        index = f["obs/_index"].asstr()[:]
        cell_type = pd.Categorical.from_codes(codes, cats)
    seconds = time.perf_counter() - t0
    assert len(index) == len(cell_type) == X.shape[0]
    report(seconds, X, X.data.sum(dtype=np.float64))


def via_anndata(path):
    import anndata
    t0 = time.perf_counter()
    a = anndata.read_h5ad(path)
    seconds = time.perf_counter() - t0
    report(seconds, a.X, a.X.data.sum(dtype=np.float64))


if __name__ == "__main__":
    mode, arg = sys.argv[1], sys.argv[2]
    {"make": make, "h5py": via_h5py, "anndata": via_anndata}[mode](arg)
