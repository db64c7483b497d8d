"""anndata's side of bench/h5ad-write.ts: loads the raw CSR arrays the benchmark generated and times
anndata.write_h5ad of the same AnnData (X CSR float32, obs with a categorical cell_type, var names).

usage: h5ad_write_reference.py RAW_DIR OUT_FILE none|gzip
prints {"seconds", "maxRssMiB", "size"} as JSON.
"""
import json
import os
import resource
import sys
import time

import anndata
import numpy as np
import pandas as pd
from scipy import sparse


def main():
    raw, out, compression = sys.argv[1], sys.argv[2], sys.argv[3]
    meta = json.load(open(os.path.join(raw, "meta.json")))
    n_rows, n_cols = meta["nRows"], meta["nCols"]
    indptr = np.fromfile(os.path.join(raw, "indptr.i32"), dtype="<i4")
    indices = np.fromfile(os.path.join(raw, "indices.i32"), dtype="<i4")
    data = np.fromfile(os.path.join(raw, "data.f32"), dtype="<f4")
    X = sparse.csr_matrix((data, indices, indptr), shape=(n_rows, n_cols))
    obs = pd.DataFrame(index=[f"cell_{i}" for i in range(n_rows)])
    obs["cell_type"] = pd.Categorical.from_codes(np.arange(n_rows) % len(meta["types"]), meta["types"])
    var = pd.DataFrame(index=[f"gene_{j}" for j in range(n_cols)])
    ad = anndata.AnnData(X=X, obs=obs, var=var)
    t0 = time.perf_counter()
    ad.write_h5ad(out, compression=None if compression == "none" else "gzip")
    seconds = time.perf_counter() - t0
    size = os.path.getsize(out)
    os.remove(out)
    print(json.dumps({"seconds": seconds, "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "size": size}))


if __name__ == "__main__":
    main()
