"""Writes a reference/query pair from one .h5ad for the runner's reference-query test: the reference keeps every
gene; the query has some genes dropped, the rest shuffled, and a few genes the reference lacks.

args: SOURCE.h5ad OUTDIR N_REFERENCE
"""
import json
import sys

import anndata as ad
import numpy as np

src, outdir, n_ref = sys.argv[1], sys.argv[2], int(sys.argv[3])
a = ad.read_h5ad(src)
rng = np.random.RandomState(7)
order = rng.permutation(a.n_obs)
ref = a[np.sort(order[:n_ref])].copy()
q = a[np.sort(order[n_ref:])].copy()
keep = rng.permutation(q.n_vars)[: q.n_vars - 40]
X = np.asarray(q.X)[:, keep]
names = list(q.var_names[keep])
extra = rng.rand(q.n_obs, 5).astype(X.dtype)
query = ad.AnnData(X=np.hstack([X, extra]), obs=q.obs[["bulk_labels"]].copy())
query.var_names = names + [f"NOT_IN_REF_{i}" for i in range(5)]
reference = ad.AnnData(X=np.asarray(ref.X), obs=ref.obs[["bulk_labels"]].copy(), var=ref.var[[]].copy())
reference.write_h5ad(f"{outdir}/reference.h5ad")
query.write_h5ad(f"{outdir}/query.h5ad")
print(json.dumps({"reference": f"{outdir}/reference.h5ad", "query": f"{outdir}/query.h5ad"}))
