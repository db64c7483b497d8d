"""Checks a simulated .h5ad (scwb simulate) with anndata 0.8 / numpy / sklearn; prints JSON.

usage: h5ad_write_simulation.py FILE MARKERS_JSON
MARKERS_JSON maps cell type -> marker symbols expected to be higher in that type.
Reports shape, integrality, sparsity, type counts, per-marker mean in/out of the type, and the held-out accuracy
of a logistic regression on log1p(CP10k) (stratified 70/30 split).
"""
import json
import sys
import warnings

import anndata
import numpy as np
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split


def main():
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    ad = anndata.read_h5ad(sys.argv[1])
    markers = json.loads(sys.argv[2])
    X = sparse.csr_matrix(ad.X)
    data = X.data
    types = ad.obs["cell_type"].astype(str).to_numpy()
    totals = np.asarray(X.sum(axis=1)).ravel()
    norm = sparse.diags(1e4 / np.maximum(totals, 1)) @ X
    norm.data = np.log1p(norm.data)
    marker_means = {}
    for t, genes in markers.items():
        inside = types == t
        for g in genes:
            if g not in ad.var_names:
                continue
            col = np.asarray(norm[:, ad.var_names.get_loc(g)].todense()).ravel()
            marker_means[f"{t}|{g}"] = [float(col[inside].mean()), float(col[~inside].mean())]
    y = types
    Xtr, Xte, ytr, yte = train_test_split(norm, y, test_size=0.3, random_state=0, stratify=y)
    clf = LogisticRegression(max_iter=300, C=0.1)
    clf.fit(Xtr, ytr)
    acc = float((clf.predict(Xte) == yte).mean())
    uniq, counts = np.unique(types, return_counts=True)
    print(json.dumps({
        "shape": list(ad.shape),
        "integral": bool(np.all(data == np.round(data))) and bool(np.all(data > 0)),
        "dtype": str(X.dtype),
        "zero_fraction": float(1 - X.nnz / (X.shape[0] * X.shape[1])),
        "type_counts": {str(k): int(v) for k, v in zip(uniq, counts)},
        "categories": [str(c) for c in ad.obs["cell_type"].cat.categories],
        "donors": sorted(set(map(str, ad.obs["donor"]))),
        "batches": sorted(set(map(str, ad.obs["batch"]))),
        "n_counts_match": bool(np.allclose(ad.obs["n_counts"].to_numpy(), totals)),
        "var_names_unique": bool(ad.var_names.is_unique),
        "obs_names_unique": bool(ad.obs_names.is_unique),
        "gene_ids": [str(x) for x in ad.var["gene_ids"][:3]],
        "median_counts": float(np.median(totals)),
        "marker_means": marker_means,
        "logreg_accuracy": acc,
        "x_sum": float(X.sum()),
        "uns_seed": int(ad.uns["simulation"]["seed"]),
    }))


if __name__ == "__main__":
    main()
