"""scipy references for the CSR block operations of src/core/preprocess/blocks.ts.

Reads JSON from stdin: {"cases": [{"X": {"nRows", "nCols", "indptr", "indices", "data"}, "colMap", "nOut",
"keep", "targetSum", "logBase", "select"}]}. Rows may be unsorted and repeat a column. Prints per case:
  remapped: X @ M (M the 0/1 map matrix; repeated columns and columns mapped together are summed), sorted, zeros removed
  kept: rows `keep` of the remapped matrix, normalize_total(targetSum) + log1p(base) per row (over all columns),
        then the columns `select` (source column -> output, -1 dropped), zeros removed, as float32
"""
import json
import sys

import numpy as np
import scipy.sparse as sp


def csr(m):
    return sp.csr_matrix((np.array(m["data"], dtype=np.float64), np.array(m["indices"]), np.array(m["indptr"])),
                         shape=(m["nRows"], m["nCols"]))


def mapping(col_map, n_out):
    rows = [c for c, o in enumerate(col_map) if o >= 0]
    return sp.csr_matrix((np.ones(len(rows)), (rows, [col_map[c] for c in rows])), shape=(len(col_map), n_out))


def out(X, dtype=float):
    X = sp.csr_matrix(X)
    X.sum_duplicates()
    X.sort_indices()
    X.eliminate_zeros()
    return {"indptr": X.indptr.tolist(), "indices": X.indices.tolist(), "data": [float(dtype(v)) for v in X.data]}


def run(case):
    X = csr(case["X"])
    remapped = sp.csr_matrix(X @ mapping(case["colMap"], case["nOut"]))
    remapped.sum_duplicates()
    kept = remapped[np.array(case["keep"], dtype=bool)].astype(np.float64)
    totals = np.asarray(kept.sum(axis=1)).ravel()
    if case["targetSum"] is not None:
        scale = totals / case["targetSum"]
        scale[totals == 0] = 1
        kept.data = kept.data / np.repeat(scale, np.diff(kept.indptr))
    kept.data = np.log1p(kept.data)
    if case["logBase"] is not None:
        kept.data = kept.data / np.log(case["logBase"])
    select = case["select"]
    if select is not None:
        kept = sp.csr_matrix(kept @ mapping(select, max(select) + 1))
    return {"remapped": out(remapped), "kept": out(kept.astype(np.float32), np.float32)}


print(json.dumps([run(c) for c in json.load(sys.stdin)["cases"]]))
