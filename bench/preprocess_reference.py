"""Python side of bench/preprocess.ts.

  make <dir>                                   writes <dir>/preprocess_counts.h5ad (generated counts, 3 batches)
  zheng-genes <counts.h5ad> <reference.txt>    renames the genes of a simulated Zheng68K-sized file (in place) so
                                               that most are scGPT vocabulary symbols, and writes a 16,906-gene
                                               scBERT-like reference list overlapping them
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


def zheng_genes(counts_path, reference_path, n_reference=16906, n_shared=15000, seed=11):
    """The simulator names most genes after common gene-family patterns that the scGPT vocabulary lacks; real
    Zheng68K has ~20,000 of its genes there. Non-vocabulary names become unused vocabulary symbols (85% of them),
    so that HVG selection and binning work on a realistic gene count. The reference list takes n_shared data
    genes in shuffled order plus vocabulary symbols absent from the data, as PanglaoDB's list does."""
    import h5py
    rng = np.random.default_rng(seed)
    with open(os.path.join(HERE, "..", "..", "shared", "reference", "scgpt_vocab.json")) as f:
        vocab = sorted(g for g in json.load(f) if not g.startswith("<"))
    with h5py.File(counts_path, "r+") as f:
        ds = f["var/_index"]
        names = [n.decode() if isinstance(n, bytes) else n for n in ds[:]]
        vocab_set = set(vocab)
        outside = [i for i, g in enumerate(names) if g not in vocab_set]
        taken = set(names)
        unused = [g for g in vocab if g not in taken]
        renamed = rng.choice(outside, size=int(0.85 * len(outside)), replace=False)
        for i, g in zip(renamed, rng.choice(unused, size=len(renamed), replace=False)):
            names[i] = g
        assert len(set(names)) == len(names)
        attrs = dict(ds.attrs)
        del f["var/_index"]
        new = f["var"].create_dataset("_index", data=np.array(names, dtype=object), dtype=h5py.string_dtype())
        for k, v in attrs.items():
            new.attrs[k] = v
    shared = list(rng.choice(names, size=n_shared, replace=False))
    present = set(names)
    absent = [g for g in rng.permutation(vocab) if g not in present][: n_reference - n_shared]
    reference = shared + absent
    reference = [reference[i] for i in rng.permutation(len(reference))]
    with open(reference_path, "w") as f:
        f.write("\n".join(reference) + "\n")
    print(json.dumps({"genes": len(names), "inVocab": sum(g in vocab_set for g in names), "reference": len(reference)}))


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
    elif sys.argv[1] == "zheng-genes":
        zheng_genes(sys.argv[2], sys.argv[3])
    else:
        run(*sys.argv[2:6])
