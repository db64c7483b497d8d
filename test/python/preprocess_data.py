"""Input matrices for the preprocessing exactness tests, dumped as raw binary so TypeScript reads the same values.

  dump <file> <outdir> [matrix] [varColumn]
                                   an .h5ad (matrix: X, raw/X or layers/<name>; gene names from var_names or the
                                   var column) or a 10x Genomics .h5
  generate <seed> <outdir> <cells> <genes> <batches>
                                   negative-binomial counts; gene names from scGPT's vocabulary, some absent
                                   from it and some duplicated

Writes indptr.i32, indices.i32, data.f32|data.f64 (CSR, cells x genes) and meta.json
{nObs, nVars, dtype, varNames, obsNames, obs: {column: [labels]}} into outdir; prints meta without names.
  batch <commands.json>            a list of such argument lists, run in one process
"""
import json
import os
import sys

import numpy as np
import scipy.sparse as sp

VOCAB = os.path.join(os.environ.get("SCWB_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared")),
                     "reference", "scgpt_vocab.json")


def write(outdir, X, var_names, obs_names, obs):
    X = sp.csr_matrix(X)
    X.sort_indices()
    os.makedirs(outdir, exist_ok=True)
    X.indptr.astype(np.int32).tofile(os.path.join(outdir, "indptr.i32"))
    X.indices.astype(np.int32).tofile(os.path.join(outdir, "indices.i32"))
    dtype = "float64" if X.dtype == np.float64 else "float32"
    X.data.astype(dtype).tofile(os.path.join(outdir, "data.f64" if dtype == "float64" else "data.f32"))
    meta = {"nObs": X.shape[0], "nVars": X.shape[1], "dtype": dtype,
            "varNames": [str(v) for v in var_names], "obsNames": [str(o) for o in obs_names],
            "obs": {k: [str(x) for x in v] for k, v in obs.items()}}
    with open(os.path.join(outdir, "meta.json"), "w") as f:
        json.dump(meta, f)
    return {"nObs": meta["nObs"], "nVars": meta["nVars"], "dtype": dtype, "nnz": int(X.nnz)}


def dump(path, outdir, matrix="X", var_column=None):
    if path.endswith(".h5") and not path.endswith(".h5ad"):
        import h5py
        with h5py.File(path, "r") as f:
            m = f["matrix"]
            n_genes, n_cells = m["shape"][:]
            # 10x stores genes x cells as CSC, i.e. cells x genes as CSR.
            X = sp.csr_matrix((m["data"][:].astype(np.float32), m["indices"][:], m["indptr"][:]), shape=(n_cells, n_genes))
            var_names = [x.decode() for x in m["features/name"][:]]
            obs_names = [x.decode() for x in m["barcodes"][:]]
        return write(outdir, X, var_names, obs_names, {})
    import anndata
    a = anndata.read_h5ad(path)
    if matrix == "X":
        X, var_names = a.X, a.var_names
    elif matrix == "raw/X":
        X, var_names = a.raw.X, a.raw.var_names
    else:
        X, var_names = a.layers[matrix.split("/", 1)[1]], a.var_names
    if var_column:
        var_names = (a.raw.var if matrix == "raw/X" else a.var)[var_column].astype(str).tolist()
    obs = {c: a.obs[c].astype(str).tolist() for c in a.obs.columns if str(a.obs[c].dtype) in ("category", "object")}
    return write(outdir, X, var_names, a.obs_names, obs)


def generate(seed, outdir, n_cells, n_genes, n_batches):
    rng = np.random.default_rng(seed)
    with open(VOCAB) as f:
        vocab = [g for g in json.load(f) if not g.startswith("<")]
    vocab.sort()
    names = list(rng.choice(vocab, size=n_genes, replace=False))
    # A few genes the vocabulary lacks, and a few names repeated (as in files with duplicate symbols).
    for i in range(0, n_genes, 17):
        names[i] = f"NOTAGENE{i}"
    for i in range(5, n_genes, 31):
        names[i] = names[i - 3]
    batch = rng.integers(0, n_batches, size=n_cells)
    gene_mean = np.exp(rng.uniform(np.log(0.02), np.log(30), size=n_genes))
    batch_effect = np.exp(rng.normal(0, 0.3, size=(n_batches, n_genes)))
    size = np.exp(rng.normal(0, 0.5, size=n_cells))
    mu = gene_mean[None, :] * batch_effect[batch] * size[:, None]
    dispersion = 2.0
    counts = rng.negative_binomial(dispersion, dispersion / (dispersion + mu)).astype(np.float32)
    # Some cells nearly empty, to exercise the cell filters.
    counts[rng.choice(n_cells, size=max(1, n_cells // 20), replace=False)] *= (rng.random(n_genes) < 0.05)
    obs = {"batch": [f"b{b}" for b in batch]}
    return write(outdir, counts, names, [f"cell{i}" for i in range(n_cells)], obs)


def command(args):
    if args[0] == "dump":
        return dump(args[1], args[2], args[3] if len(args) > 3 else "X", args[4] if len(args) > 4 else None)
    if args[0] == "generate":
        return generate(int(args[1]), args[2], int(args[3]), int(args[4]), int(args[5]))
    raise SystemExit(f"unknown command {args[0]}")


def main():
    if sys.argv[1] == "batch":
        with open(sys.argv[2]) as f:
            print(json.dumps([command(a) for a in json.load(f)]))
    else:
        print(json.dumps(command(sys.argv[1:])))


if __name__ == "__main__":
    main()
