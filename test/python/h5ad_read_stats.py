"""numpy/anndata reference for the dataset statistics (src/core/h5ad/stats.ts, tasks.ts).

usage: h5ad_read_stats.py < JSON list of jobs  -> JSON list of results, one per job (one process for all:
anndata's import costs about a second)
  {"op": "histogram", "values": [...], "bins": 50}                          -> numpy.histogram
  {"op": "stats", "path": F, "matrix": "X" | "raw/X" | "layers/<name>", "column": C | null, "genes": FILE | null}
"""
import json
import sys
import warnings

import numpy as np
import scipy.sparse as sp

warnings.simplefilter("ignore")


def hist(values, bins=50):
    counts, edges = np.histogram(np.asarray(values, dtype=np.float64), bins=bins)
    return {"edges": edges.tolist(), "counts": counts.tolist()}


def stats(path, matrix, column, genes_file):
    import anndata
    a = anndata.read_h5ad(path)
    if matrix == "X":
        m, names = a.X, list(a.var_names)
    elif matrix == "raw/X":
        m, names = a.raw.X, list(a.raw.var_names)
    else:
        m, names = a.layers[matrix[len("layers/"):]], list(a.var_names)
    m = sp.csr_matrix(m, dtype=np.float64)
    totals = np.asarray(m.sum(axis=1)).ravel()
    genes = np.diff(sp.csr_matrix(m != 0).indptr).astype(np.float64)
    data = m.data
    has_implicit_zero = m.nnz < m.shape[0] * m.shape[1]
    lo = min(data.min(), 0) if has_implicit_zero else data.min()
    hi = max(data.max(), 0) if has_implicit_zero else data.max()
    out = {
        "totals": hist(totals), "totalsMean": float(totals.mean()), "totalsMedian": float(np.median(totals)),
        "genes": hist(genes), "genesMean": float(genes.mean()),
        "sparsity": 1 - m.count_nonzero() / (m.shape[0] * m.shape[1]),
        "stored": int(m.nnz),
        "nNonInteger": int(np.count_nonzero(data != np.round(data))),
        "min": float(lo), "max": float(hi),
    }
    if column is not None:
        s = a.obs[column]
        vc = s.value_counts(dropna=True)
        out["composition"] = {str(k): int(v) for k, v in vc.items()}
        out["missing"] = int(s.isna().sum())
    if genes_file is not None:
        text = open(genes_file).read()
        if text.lstrip().startswith("{"):
            ref = {g for g in json.loads(text) if not (g.startswith("<") and g.endswith(">"))}
        else:
            ref = {l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")}
        out["overlap"] = {"nDataGenes": len(set(names)), "nReference": len(ref), "nOverlap": len(set(names) & ref),
                          "missing": sorted(set(names) - ref)}
    return out


if __name__ == "__main__":
    jobs = json.load(sys.stdin)
    json.dump([hist(j["values"], j["bins"]) if j["op"] == "histogram" else stats(j["path"], j["matrix"], j.get("column"), j.get("genes"))
               for j in jobs], sys.stdout)
