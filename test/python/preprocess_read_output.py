"""Reads a preprocessed .h5ad with anndata and prints what the tests compare, plus sha256 of the input file.

  preprocess_read_output.py <output.h5ad> <input file> [<output.h5ad> <input file> ...]
One pair prints one object; several print a list.
"""
import hashlib
import json
import sys
import warnings

import anndata
import numpy as np
import scipy.sparse as sp


def csr(m):
    m = sp.csr_matrix(m)
    return {"indptr": m.indptr.tolist(), "indices": m.indices.tolist(), "data": [float(v) for v in m.data],
            "dtype": str(m.dtype)}


def obsm_vs_input(a, src):
    """Each output embedding, and whether it equals the input's rows of the same cells (by obs name)."""
    rows = src.obs_names.get_indexer(a.obs_names)
    out = {}
    for k, v in a.obsm.items():
        ref = None
        if k in src.obsm:
            m = src.obsm[k]
            ref = (m.toarray() if sp.issparse(m) else np.asarray(m))[rows]
        out[k] = {"shape": list(v.shape), "dtype": str(np.asarray(v).dtype),
                  "equalToInput": ref is not None and bool(np.array_equal(np.asarray(v), ref))}
    return out


def describe(out_path, in_path):
    a = anndata.read_h5ad(out_path)
    src = anndata.read_h5ad(in_path, backed="r") if in_path.endswith(".h5ad") else None
    h = hashlib.sha256()
    with open(in_path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return {
        "shape": list(a.shape),
        "X": csr(a.X),
        "layers": {k: csr(v) for k, v in a.layers.items()},
        "varNames": a.var_names.tolist(),
        "var": {c: [None if isinstance(v, float) and np.isnan(v) else (v.item() if hasattr(v, "item") else v)
                    for v in a.var[c].tolist()] for c in a.var.columns},
        "obsNames": a.obs_names.tolist(),
        "obsColumns": {c: str(a.obs[c].dtype) for c in a.obs.columns},
        "obsNGenes": a.obs["n_genes"].tolist() if "n_genes" in a.obs else None,
        "uns": {k: (dict(v) if isinstance(v, dict) else str(v)) for k, v in a.uns.items()},
        "obsm": obsm_vs_input(a, src) if src is not None else {},
        "inputObsm": {k: list(np.asarray(v).shape) for k, v in src.obsm.items()} if src is not None else {},
        "inputSha256": h.hexdigest(),
    }


# Outputs of the scGPT and benchmark recipes keep duplicated gene names as the published code does.
warnings.filterwarnings("ignore", message="Variable names are not unique")


def main():
    pairs = [sys.argv[i:i + 2] for i in range(1, len(sys.argv), 2)]
    outs = [describe(o, i) for o, i in pairs]
    print(json.dumps(outs[0] if len(outs) == 1 else outs))


if __name__ == "__main__":
    main()
