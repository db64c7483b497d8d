"""What Debian's anndata (0.8) reads from .h5ad files: the reference the TypeScript reader is compared with.

usage: h5ad_read_reference.py FILE.h5ad [FILE.h5ad ...]  -> JSON {path: description}
Matrices are described by sums, non-zero counts, row sums and a few dense rows (whole dense copies of every
file would make the JSON large for no extra certainty).
"""
import json
import math
import sys
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

warnings.simplefilter("ignore")
import anndata  # noqa: E402


def num(x):
    x = float(x)
    return None if math.isnan(x) else x


def column(s: pd.Series):
    dt = s.dtype
    if isinstance(dt, pd.CategoricalDtype):
        return {"kind": "categorical", "categories": [str(c) for c in s.cat.categories],
                "codes": s.cat.codes.astype(int).tolist(), "ordered": bool(s.cat.ordered)}
    if isinstance(dt, pd.BooleanDtype):
        mask = s.isna().to_numpy()
        return {"kind": "nullable-boolean", "values": [bool(v) if not m else False for v, m in zip(s, mask)], "mask": mask.astype(int).tolist()}
    if isinstance(dt, pd.api.extensions.ExtensionDtype) and pd.api.types.is_integer_dtype(dt):
        mask = s.isna().to_numpy()
        return {"kind": "nullable-integer", "values": [int(v) if not m else 0 for v, m in zip(s, mask)], "mask": mask.astype(int).tolist()}
    if dt == bool:
        return {"kind": "boolean", "values": s.astype(int).tolist()}
    if pd.api.types.is_numeric_dtype(dt):
        return {"kind": "numeric", "dtype": str(dt), "values": [num(v) for v in s.to_numpy()]}
    return {"kind": "string", "values": [str(v) for v in s]}


def frame(df: pd.DataFrame):
    return {"index": [str(i) for i in df.index], "columns": {str(c): column(df[c]) for c in df.columns}}


def matrix(m):
    if m is None:
        return None
    is_sparse = sp.issparse(m)
    csr = sp.csr_matrix(m) if is_sparse else None
    dense_rows = []
    n = m.shape[0]
    picks = sorted({0, 1, n // 2, n - 1} & set(range(n)))
    for r in picks:
        row = csr[r].toarray().ravel() if is_sparse else np.asarray(m[r]).ravel()
        dense_rows.append([float(v) for v in row])
    # Sums in float64 from the start (scipy's sparse sum(dtype=float64) still accumulates float32 values).
    arr = csr.astype(np.float64) if is_sparse else np.asarray(m, dtype=np.float64)
    return {
        "shape": list(m.shape),
        "format": m.format if is_sparse else "dense",
        "dtype": str(m.dtype),
        "sum": float(arr.sum()),
        "nnz": int(csr.count_nonzero() if is_sparse else np.count_nonzero(arr)),
        "stored": int(csr.nnz) if is_sparse else int(arr.size),
        "rowSums": [float(v) for v in np.asarray(arr.sum(axis=1)).ravel()],
        "rows": picks,
        "denseRows": dense_rows,
    }


def describe(path):
    a = anndata.read_h5ad(path)
    out = {
        "shape": list(a.shape),
        "obs": frame(a.obs),
        "var": frame(a.var),
        "X": matrix(a.X),
        "layers": {k: matrix(v) for k, v in a.layers.items()},
        "raw": None,
        "obsm": {},
        "uns": sorted(a.uns.keys()),
    }
    if a.raw is not None:
        out["raw"] = {"shape": list(a.raw.shape), "var": frame(a.raw.var), "X": matrix(a.raw.X)}
    for k, v in a.obsm.items():
        if isinstance(v, pd.DataFrame):
            out["obsm"][k] = {"shape": [v.shape[0], v.shape[1]], "kind": "dataframe"}
        else:
            dense = v.toarray() if sp.issparse(v) else np.asarray(v)
            out["obsm"][k] = {"shape": list(v.shape), "kind": "matrix", "sum": float(dense.sum(dtype=np.float64)),
                              "firstRow": [float(x) for x in dense[0].ravel()]}
    return out


if __name__ == "__main__":
    json.dump({p: describe(p) for p in sys.argv[1:]}, sys.stdout)
