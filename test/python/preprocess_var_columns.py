"""Input and check for 'preprocess keeps the input's var columns' (issue 10).

  preprocess_var_columns.py make OUT.h5ad
      a small raw-counts AnnData whose var has gene ids (str), feature types (categorical), a count (int),
      a flag (bool) and a mean (float); some genes are all zero, so a gene filter drops them
  preprocess_var_columns.py compare OUTPUT.h5ad INPUT.h5ad
      for each var column of the input: is it in the output, equal to the input's values for the output's genes,
      with the same dtype kind? Prints JSON.
"""
import json
import sys

import anndata
import numpy as np
import pandas as pd
import scipy.sparse as sp


def make(out):
    rng = np.random.default_rng(5)
    n_cells, n_genes = 60, 40
    x = rng.poisson(2.0, size=(n_cells, n_genes)).astype(np.float32)
    x[:, ::7] = 0  # genes 0, 7, 14, ... have no counts
    var = pd.DataFrame({
        "gene_ids": [f"ENSG{i:011d}" for i in range(n_genes)],
        "feature_types": pd.Categorical(["Gene Expression"] * (n_genes - 3) + ["Antibody Capture"] * 3),
        "n_cells": (x > 0).sum(0).astype(np.int64),
        "is_mito": np.arange(n_genes) % 5 == 0,
        "mean": x.mean(0).astype(np.float64),
    }, index=[f"GENE{i}" for i in range(n_genes)])
    obs = pd.DataFrame({"cell_type": pd.Categorical(["A", "B", "C"] * (n_cells // 3))}, index=[f"c{i}" for i in range(n_cells)])
    anndata.AnnData(X=sp.csr_matrix(x), obs=obs, var=var).write_h5ad(out)


def compare(out, inp):
    a = anndata.read_h5ad(out)
    b = anndata.read_h5ad(inp)
    present = np.asarray(a.var_names.isin(b.var_names))
    src = b.var.loc[a.var_names[present]]
    res = {"nGenesOut": int(a.n_vars), "nGenesIn": int(b.n_vars), "notInInput": int((~present).sum()), "columns": {}}
    for col in b.var.columns:
        if col not in a.var.columns:
            res["columns"][col] = {"present": False}
            continue
        got, want = a.var[col][present], src[col]
        absent = a.var[col][~present]
        res["columns"][col] = {
            "present": True,
            "equal": bool((np.asarray(got.astype(str)) == np.asarray(want.astype(str))).all()),
            "dtype": str(got.dtype), "inputDtype": str(want.dtype),
            # genes the input lacks (scBERT's reference genes): no value (NA, NaN or an empty string)
            "absentEmpty": bool(all(pd.isna(v) or v == "" for v in absent)),
        }
    print(json.dumps(res))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        compare(sys.argv[2], sys.argv[3])
