"""Makes (if missing) and checks an .h5ad larger than h5wasm's 2 GiB heap, for bench/large-file.ts.

usage: large_file_reference.py make FILE N_CELLS N_GENES DENSITY   -> writes the file with h5py, chunk by chunk
       large_file_reference.py totals FILE                         -> {"sum", "nnz", "seconds", "max_rss_mib"}
"""
import json
import resource
import sys
import time

import h5py
import numpy as np


def make(path, n_cells, n_genes, density):
    rng = np.random.default_rng(1)
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
        step = 20000
        for r0 in range(0, n_cells, step):
            r1 = min(n_cells, r0 + step)
            a, b = indptr[r0], indptr[r1]
            cols = np.concatenate([np.sort(rng.choice(n_genes, k, replace=False)) for k in per_row[r0:r1]])
            indices[a:b] = cols.astype(np.int32)
            data[a:b] = rng.integers(1, 30, size=b - a).astype(np.float32)
        for name, n, prefix in (("obs", n_cells, "cell"), ("var", n_genes, "gene")):
            g = f.create_group(name)
            g.attrs["encoding-type"] = "dataframe"
            g.attrs["encoding-version"] = "0.2.0"
            g.attrs["_index"] = "_index"
            g.attrs["column-order"] = np.array([], dtype=h5py.special_dtype(vlen=str))
            g.create_dataset("_index", data=np.array(["%s%d" % (prefix, i) for i in range(n)], dtype=object),
                             dtype=h5py.special_dtype(vlen=str))
    print(json.dumps({"nnz": nnz}))


def totals(path):
    t0 = time.perf_counter()
    total = 0.0
    with h5py.File(path, "r") as f:
        d = f["X/data"]
        n = d.shape[0]
        step = 1 << 26
        for a in range(0, n, step):
            total += float(np.sum(d[a:a + step], dtype=np.float64))
    secs = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"sum": total, "nnz": n, "seconds": secs, "max_rss_mib": rss}))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
    else:
        totals(sys.argv[2])
