"""Writes a large CSR .h5ad (anndata >= 0.8 layout) with h5py, for the extension-host responsiveness test.

usage: host_make_large.py OUT_PATH N_CELLS N_GENES DENSITY   (prints {"nnz": ...} as JSON)
"""
import json
import sys

import h5py
import numpy as np


def main(path, n_cells, n_genes, density):
    rng = np.random.default_rng(0)
    per_row = rng.binomial(n_genes, density, size=n_cells).astype(np.int64)
    indptr = np.concatenate([[0], np.cumsum(per_row)])
    indices = np.concatenate([np.sort(rng.choice(n_genes, k, replace=False)) for k in per_row]).astype(np.int32)
    data = rng.integers(1, 20, size=indptr[-1]).astype(np.float32)
    with h5py.File(path, "w") as f:
        f.attrs["encoding-type"] = "anndata"
        f.attrs["encoding-version"] = "0.1.0"
        x = f.create_group("X")
        x.attrs["encoding-type"] = "csr_matrix"
        x.attrs["encoding-version"] = "0.1.0"
        x.attrs["shape"] = np.array([n_cells, n_genes], dtype=np.int64)
        x["data"], x["indices"], x["indptr"] = data, indices, indptr
        for name, n, prefix in (("obs", n_cells, "cell"), ("var", n_genes, "gene")):
            g = f.create_group(name)
            g.attrs["encoding-type"] = "dataframe"
            g.attrs["encoding-version"] = "0.2.0"
            g.attrs["_index"] = "_index"
            g.attrs["column-order"] = np.array([], dtype=h5py.special_dtype(vlen=str))
            g.create_dataset("_index", data=np.array(["%s%d" % (prefix, i) for i in range(n)], dtype=object),
                             dtype=h5py.special_dtype(vlen=str))
    print(json.dumps({"nnz": int(indptr[-1])}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
