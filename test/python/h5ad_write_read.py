"""Reads an .h5ad written by scWorkbench with Debian's anndata (0.8) and h5py; prints it as JSON.

usage: h5ad_write_read.py FILE [--dense]   (--dense: include X and layers as dense lists; small files only)
"""
import json
import sys

import anndata
import h5py
import numpy as np
import pandas as pd
from scipy import sparse


def column(series):
    if isinstance(series.dtype, pd.CategoricalDtype):
        return {"kind": "categorical", "categories": [str(c) for c in series.cat.categories],
                "codes": series.cat.codes.astype(int).tolist(), "ordered": bool(series.cat.ordered)}
    if isinstance(series.dtype, (pd.BooleanDtype,)) or str(series.dtype) == "boolean":
        return {"kind": "nullable-boolean", "values": [None if pd.isna(v) else bool(v) for v in series]}
    if isinstance(series.dtype, pd.core.arrays.integer.IntegerDtype):
        return {"kind": "nullable-integer", "dtype": str(series.dtype), "values": [None if pd.isna(v) else int(v) for v in series]}
    if series.dtype == bool:
        return {"kind": "boolean", "values": [bool(v) for v in series]}
    if series.dtype == object:
        return {"kind": "string", "values": [str(v) for v in series]}
    return {"kind": "numeric", "dtype": str(series.dtype), "values": [float(v) for v in series]}


def frame(df):
    return {"index": [str(i) for i in df.index], "columns": {c: column(df[c]) for c in df.columns},
            "order": list(df.columns)}


def plain(v):
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, np.ndarray):
        return {"array": v.tolist(), "dtype": str(v.dtype)}
    if isinstance(v, (np.bool_, bool)):
        return {"bool": bool(v)}
    if isinstance(v, np.integer):
        return {"int": int(v), "dtype": str(v.dtype)}
    if isinstance(v, np.floating):
        return {"float": float(v), "dtype": str(v.dtype)}
    if isinstance(v, str):
        return v
    return {"other": repr(v), "type": type(v).__name__}


def encodings(path):
    """encoding-type of every element, from h5py."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            t = obj.attrs.get("encoding-type")
            out[name] = None if t is None else (t.decode() if isinstance(t, bytes) else str(t))
        out["/"] = str(f.attrs.get("encoding-type"))
        f.visititems(visit)
        ordered_types = {}
        def visit_ordered(name, obj):
            if "ordered" in obj.attrs:
                ordered_types[name] = str(obj.attrs["ordered"].dtype)
        f.visititems(visit_ordered)
        shape_dtype = str(f["X"].attrs["shape"].dtype)
        x_dtype = str(f["X/data"].dtype)
        compression = f["X/data"].compression
    return out, ordered_types, shape_dtype, x_dtype, compression


def main():
    path = sys.argv[1]
    dense = "--dense" in sys.argv
    ad = anndata.read_h5ad(path)
    enc, ordered_types, shape_dtype, x_dtype, compression = encodings(path)
    X = ad.X
    result = {
        "anndata": anndata.__version__,
        "shape": list(ad.shape),
        "x_is_csr": bool(sparse.isspmatrix_csr(X)),
        "x_dtype": x_dtype,
        "x_compression": compression,
        "shape_attr_dtype": shape_dtype,
        "nnz": int(X.nnz) if sparse.issparse(X) else int(np.count_nonzero(X)),
        "obs": frame(ad.obs),
        "var": frame(ad.var),
        "layers": sorted(ad.layers.keys()),
        "obsm": {k: {"shape": list(v.shape), "dtype": str(v.dtype), "values": np.asarray(v).tolist()} for k, v in ad.obsm.items()},
        "uns": plain(dict(ad.uns)),
        "encodings": enc,
        "ordered_attr_dtypes": ordered_types,
    }
    if dense:
        result["X"] = (X.toarray() if sparse.issparse(X) else np.asarray(X)).tolist()
        result["layer_values"] = {k: (v.toarray() if sparse.issparse(v) else np.asarray(v)).tolist() for k, v in ad.layers.items()}
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
