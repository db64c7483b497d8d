"""Crafted .h5ad files for the hardening tests (test/unit/h5ad-read/hardening.test.ts), written by Debian's
anndata 0.8 and then damaged with h5py where the damage is the point. Usage: KIND PATH [KIND PATH ...]

  clean      60 cells x 30 genes, 3 balanced classes in obs/cell_type, log1p-like float32 CSR X
  nan        as clean, with NaN at cell 57 gene 4 and +inf at cell 3 gene 7 (test and training cells alike)
  badindex   as clean, with one stored column index of row 17 set to 30 (one past the last gene)
  badcodes   as clean, with the cell_type code of cell 11 set to 5 (3 categories)
  badutf8    as clean, with two categories whose bytes are not UTF-8 and differ (b'T\\xffcell', b'T\\xfecell')
  lzf        20,000 cells x 30 genes with non-ASCII labels, written with compression='lzf' (strings included:
             obs/_index, var/_index, categories: many chunks); what anndata reads back goes to PATH.json
  smallclass as clean, but class 'C' has only 3 cells
  lzfdeep    plain HDF5 (h5py): /a/b/strings, 3,000 variable-length strings in LZF chunks of 10 (a chunk B-tree
             of more than one level); the strings go to PATH.json
Prints {"ok": true}.
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


def make(n=60, g=30, small_class=False):
    rng = np.random.default_rng(3)
    labels = np.array(["A", "B", "C"])[np.arange(n) % 3]
    if small_class:
        labels = np.where(labels == "C", "B", labels)
        labels[[2, 5, 8]] = "C"
    X = rng.poisson(1.0, size=(n, g)).astype(np.float32)
    # Class-dependent genes so the baseline has something to learn.
    for k, name in enumerate(["A", "B", "C"]):
        X[labels == name, k * 3:(k + 1) * 3] += 4
    X = np.log1p(X)
    obs = pd.DataFrame({"cell_type": pd.Categorical(labels)}, index=[f"cell{i}" for i in range(n)])
    var = pd.DataFrame(index=[f"GENE{j}" for j in range(g)])
    return anndata.AnnData(X=sp.csr_matrix(X), obs=obs, var=var)


def clean(path):
    make().write_h5ad(path)


def nan(path):
    a = make()
    X = a.X.toarray()
    X[57, 4] = np.nan
    X[3, 7] = np.inf
    a.X = sp.csr_matrix(X)
    a.write_h5ad(path)


def badindex(path):
    make().write_h5ad(path)
    with h5py.File(path, "a") as f:
        start = int(f["X/indptr"][17])
        idx = f["X/indices"][:]
        idx[start] = 30
        f["X/indices"][:] = idx


def badcodes(path):
    make().write_h5ad(path)
    with h5py.File(path, "a") as f:
        codes = f["obs/cell_type/codes"][:]
        codes[11] = 5
        f["obs/cell_type/codes"][:] = codes


def badutf8(path):
    make().write_h5ad(path)
    with h5py.File(path, "a") as f:
        del f["obs/cell_type/categories"]
        # Fixed-length byte strings declared UTF-8: the bytes 0xff and 0xfe are invalid there.
        tid = h5py.h5t.C_S1.copy()
        tid.set_size(6)
        tid.set_cset(h5py.h5t.CSET_UTF8)
        data = np.array([b"A", b"T\xffcell", b"T\xfecell"], dtype="S6")
        space = h5py.h5s.create_simple((3,))
        ds = h5py.h5d.create(f["obs/cell_type"].id, b"categories", tid, space)
        ds.write(h5py.h5s.ALL, h5py.h5s.ALL, data, mtype=tid)
        f["obs/cell_type/categories"].attrs["encoding-type"] = "string-array"
        f["obs/cell_type/categories"].attrs["encoding-version"] = "0.2.0"


def lzf(path):
    a = make(n=20000)
    a.obs["cell_type"] = a.obs["cell_type"].cat.rename_categories(["CD4⁺ T", "Müller glia", "B ☃"])
    a.obs_names = [f"cell-{i}-é" if i % 7 == 0 else f"cell{i}" for i in range(a.n_obs)]
    a.write_h5ad(path, compression="lzf")
    back = anndata.read_h5ad(path)
    with open(path + ".json", "w", encoding="utf-8") as f:
        json.dump({"obs_names": list(back.obs_names), "var_names": list(back.var_names),
                   "categories": list(back.obs["cell_type"].cat.categories),
                   "labels": [str(x) for x in back.obs["cell_type"]]}, f, ensure_ascii=False)


def lzfdeep(path):
    values = [f"s{i}-" + "x" * (i % 13) + ("ü" if i % 5 == 0 else "") for i in range(3000)]
    values[7] = ""
    with h5py.File(path, "w") as f:
        f.create_dataset("a/b/strings", data=values, dtype=h5py.string_dtype(), chunks=(10,), compression="lzf")
    with open(path + ".json", "w", encoding="utf-8") as f:
        json.dump(values, f, ensure_ascii=False)


def smallclass(path):
    make(small_class=True).write_h5ad(path)


if __name__ == "__main__":
    makers = {"clean": clean, "nan": nan, "badindex": badindex, "badcodes": badcodes, "badutf8": badutf8,
              "lzf": lzf, "smallclass": smallclass, "lzfdeep": lzfdeep}
    args = sys.argv[1:]
    for kind, out in zip(args[::2], args[1::2]):
        makers[kind](out)
    json.dump({"ok": True}, sys.stdout)
