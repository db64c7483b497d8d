"""Python side of bench/preprocess.ts.

  make <dir>                                   writes <dir>/preprocess_counts.h5ad (generated counts, 3 batches)
  run <recipe> <in.h5ad> <out.h5ad> <params.json>
      reads with anndata, runs the numpy reference of the recipe (test/python/preprocess_reference.py), writes with
      anndata; prints {"seconds", "maxRssMiB", "nObs", "nVars"}
"""
import json
import os
import resource
import sys
import time

import numpy as np
import scipy.sparse as sp

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "python"))


def make(outdir, n_cells=20000, n_genes=5000):
    import anndata
    import pandas as pd
    rng = np.random.default_rng(7)
    with open(os.path.join(HERE, "..", "..", "shared", "reference", "scgpt_vocab.json")) as f:
        vocab = sorted(g for g in json.load(f) if not g.startswith("<"))
    names = list(rng.choice(vocab, size=n_genes, replace=False))
    gene_mean = np.exp(rng.uniform(np.log(0.002), np.log(2), size=n_genes))
    batch = rng.integers(0, 3, size=n_cells)
    size = np.exp(rng.normal(0, 0.5, size=n_cells))
    rows = []
    for start in range(0, n_cells, 2000):
        end = min(n_cells, start + 2000)
        mu = gene_mean[None, :] * size[start:end, None]
        rows.append(sp.csr_matrix(rng.negative_binomial(2.0, 2.0 / (2.0 + mu)).astype(np.float32)))
    X = sp.vstack(rows).tocsr()
    obs = pd.DataFrame({"batch": pd.Categorical([f"b{b}" for b in batch])}, index=[f"cell{i}" for i in range(n_cells)])
    a = anndata.AnnData(X=X, obs=obs, var=pd.DataFrame(index=names))
    path = os.path.join(outdir, "preprocess_counts.h5ad")
    a.write_h5ad(path)
    with open(os.path.join(outdir, "preprocess_reference_genes.txt"), "w") as f:
        reference = list(dict.fromkeys(list(reversed(names[::2])) + vocab[:3000]))
        f.write("\n".join(reference))
    print(json.dumps({"path": path, "nnz": int(X.nnz)}))


def run(recipe, in_path, out_path, params_file):
    import anndata
    import preprocess_reference as ref
    t0 = time.perf_counter()
    with open(params_file) as f:
        params = json.load(f)
    a = anndata.read_h5ad(in_path)
    meta = {"varNames": a.var_names.tolist(), "obs": {c: a.obs[c].astype(str).tolist() for c in a.obs.columns}}
    out = ref.RECIPES[recipe](sp.csr_matrix(a.X), meta, params)
    res = anndata.AnnData(X=out["X"], obs=a.obs.iloc[out["keptCells"]].copy(), var=__import__("pandas").DataFrame(index=out["varNames"]))
    if "bins" in out:
        res.layers["X_binned"] = out["bins"]
    res.write_h5ad(out_path)
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "nObs": res.n_obs, "nVars": res.n_vars}))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        run(*sys.argv[2:6])
