"""Writes a large CSR .h5ad (anndata >= 0.8 layout) with h5py, chunk by chunk, so its size is not bounded by memory.
Used by the extension-host responsiveness test and by bench/large-file.ts (a file larger than the WASM heap).

usage: host_make_large.py OUT_PATH N_CELLS N_GENES DENSITY   (prints {"nnz": ...} as JSON)
"""
import json
import sys

import h5py
import numpy as np

ROWS_PER_CHUNK = 20000


def write_index_frame(f, name, n, prefix):
    g = f.create_group(name)
    g.attrs["encoding-type"] = "dataframe"
    g.attrs["encoding-version"] = "0.2.0"
    g.attrs["_index"] = "_index"
    g.attrs["column-order"] = np.array([], dtype=h5py.special_dtype(vlen=str))
    g.create_dataset("_index", data=np.array(["%s%d" % (prefix, i) for i in range(n)], dtype=object),
                     dtype=h5py.special_dtype(vlen=str))


def main(path, n_cells, n_genes, density):
    rng = np.random.default_rng(0)
    per_row = rng.binomial(n_genes, density, size=n_cells).astype(np.int64)
    indptr = np.concatenate([[0], np.cumsum(per_row)])
    nnz = int(indptr[-1])
    with h5py.File(path, "w") as f:
        f.attrs["encoding-type"] = "anndata"
        f.attrs["encoding-version"] = "0.1.0"
        x = f.create_group("X")
        x.attrs["encoding-type"] = "csr_matrix"
        x.attrs["encoding-version"] = "0.1.0"
        x.attrs["shape"] = np.array([n_cells, n_genes], dtype=np.int64)
        data = x.create_dataset("data", shape=(nnz,), dtype=np.float32)
        indices = x.create_dataset("indices", shape=(nnz,), dtype=np.int32)
        x["indptr"] = indptr
        for r0 in range(0, n_cells, ROWS_PER_CHUNK):
            r1 = min(n_cells, r0 + ROWS_PER_CHUNK)
            a, b = indptr[r0], indptr[r1]
            cols = np.concatenate([np.sort(rng.choice(n_genes, k, replace=False)) for k in per_row[r0:r1]])
            indices[a:b] = cols.astype(np.int32)
            data[a:b] = rng.integers(1, 30, size=b - a).astype(np.float32)
        write_index_frame(f, "obs", n_cells, "cell")
        write_index_frame(f, "var", n_genes, "gene")
    print(json.dumps({"nnz": nnz}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
