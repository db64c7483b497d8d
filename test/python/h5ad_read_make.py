"""Writes small .h5ad files the real test files do not cover, for the reader's tests.

usage: h5ad_read_make.py KIND OUT_PATH [KIND OUT_PATH ...]   (prints {"ok": true} as JSON)
  modern     anndata 0.8 writer: CSC X of integer counts, layers (dense float64, CSR int32, CSC float32),
             raw, obs with categorical (with missing), nullable-integer, nullable-boolean, bool, string, int
             and float (with NaN) columns, Ensembl var names with a gene-symbol column, obsm.
  foo        X is a group with encoding-type 'foo_matrix' (an encoding this reader does not know).
  badfilter  a valid AnnData file whose X/data needs an HDF5 filter h5wasm does not have. No filter missing
             from h5wasm can be *written* by h5py (HDF5 refuses to create a dataset with an unavailable
             mandatory filter), so X/data is written with LZF and the filter id in its pipeline message is
             changed to 32750, an id no plugin registers. The message keeps the name 'lzf'.
  nox        only obs/var (no X), anndata 0.8 writer.
"""
import json
import sys
import warnings

import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

warnings.simplefilter("ignore")
import anndata  # noqa: E402

MISSING_FILTER_ID = 32750


def modern(path):
    rng = np.random.default_rng(7)
    n, g = 37, 23
    counts = rng.poisson(0.6, size=(n, g)).astype(np.int64)
    obs = pd.DataFrame(index=[f"cell{i}" for i in range(n)])
    cats = pd.Categorical(rng.choice(["T cell", "B cell", "NK"], size=n), categories=["B cell", "NK", "T cell"])
    cats[[3, 9]] = np.nan
    obs["cell_type"] = cats
    obs["batch"] = pd.Categorical(rng.choice(["b1", "b2"], size=n), ordered=True)
    ints = pd.array(rng.integers(-5, 100, size=n), dtype="Int64")
    ints[[0, 5]] = pd.NA
    obs["n_reads"] = ints
    flags = pd.array(rng.random(n) > 0.5, dtype="boolean")
    flags[[2]] = pd.NA
    obs["passed_qc"] = flags
    obs["is_doublet"] = rng.random(n) > 0.8
    obs["donor_note"] = [f"note {i % 4}" for i in range(n)]
    obs["age"] = rng.integers(20, 80, size=n).astype(np.int32)
    score = rng.normal(size=n)
    score[4] = np.nan
    obs["score"] = score
    var = pd.DataFrame(index=[f"ENSG{100000 + i:011d}" for i in range(g)])
    var["gene_symbols"] = [f"GENE{i}" for i in range(g)]
    a = anndata.AnnData(X=sp.csc_matrix(counts.astype(np.float32)), obs=obs, var=var)
    a.raw = a.copy()
    a.X = sp.csc_matrix(counts)
    a.layers["dense64"] = counts.astype(np.float64) / 3.0
    a.layers["csr_int"] = sp.csr_matrix(counts.astype(np.int32))
    a.layers["csc32"] = sp.csc_matrix(np.log1p(counts).astype(np.float32))
    a.obsm["X_pca"] = rng.normal(size=(n, 5)).astype(np.float32)
    a.obsm["X_umap"] = rng.normal(size=(n, 2))
    a.uns["note"] = "synthetic"
    a.write_h5ad(path)
    # anndata turns string columns into categoricals on write; put one back as a plain string-array.
    with h5py.File(path, "a") as f:
        del f["obs/donor_note"]
        d = f["obs"].create_dataset("donor_note", data=np.array(obs["donor_note"], dtype=object), dtype=h5py.string_dtype())
        d.attrs.update({"encoding-type": "string-array", "encoding-version": "0.2.0"})


def foo(path):
    with h5py.File(path, "w") as f:
        f.attrs["encoding-type"] = "anndata"
        f.attrs["encoding-version"] = "0.1.0"
        for name, n in (("obs", 3), ("var", 2)):
            g = f.create_group(name)
            g.attrs.update({"encoding-type": "dataframe", "encoding-version": "0.2.0", "_index": "_index"})
            g.attrs.create("column-order", np.array([], dtype="float64"))
            g.create_dataset("_index", data=np.array([f"{name}{i}" for i in range(n)], dtype=h5py.string_dtype()))
        x = f.create_group("X")
        x.attrs.update({"encoding-type": "foo_matrix", "encoding-version": "0.1.0", "shape": np.array([3, 2])})
        x.create_dataset("data", data=np.ones(6, dtype=np.float32))


def badfilter(path):
    a = anndata.AnnData(X=sp.random(20, 10, density=0.3, format="csr", dtype=np.float32, random_state=1))
    a.write_h5ad(path)
    with h5py.File(path, "a") as f:
        # Compressible values: h5py registers LZF as an optional filter, so a chunk LZF cannot shrink is
        # stored unfiltered and would read fine without the filter.
        data = np.arange(f["X/data"].shape[0], dtype=np.float32) % 4 + 1
        del f["X/data"]
        f.create_dataset("X/data", data=data, compression="lzf", chunks=True)
    raw = bytearray(open(path, "rb").read())
    at = raw.find(b"lzf\x00")
    # Filter pipeline message v1: id (2 bytes), name length (2), flags (2), number of values (2), then the name.
    assert at > 8 and raw[at - 8:at - 6] == (32000).to_bytes(2, "little") and raw.find(b"lzf\x00", at + 1) < 0
    raw[at - 8:at - 6] = MISSING_FILTER_ID.to_bytes(2, "little")
    open(path, "wb").write(bytes(raw))


def nox(path):
    a = anndata.AnnData(obs=pd.DataFrame(index=["a", "b"]), var=pd.DataFrame(index=["g1", "g2", "g3"]))
    a.write_h5ad(path)


if __name__ == "__main__":
    makers = {"modern": modern, "foo": foo, "badfilter": badfilter, "nox": nox}
    args = sys.argv[1:]
    for kind, out in zip(args[::2], args[1::2]):
        makers[kind](out)
    json.dump({"ok": True}, sys.stdout)
