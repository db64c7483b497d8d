"""References for the embedding plot (src/core/embedding).

  embedding_reference.py npy DIR          writes .npy files with numpy (versions, dtypes, refused layouts) into DIR and
                                          prints JSON {name: {"file", "shape", "values"}} of what each holds
  embedding_reference.py clusters DIR N D K SEED [H5AD]
                                          writes DIR/embeddings.npy (float32, N cells in K well-separated Gaussian
                                          clusters in D dimensions) and embeddings.json; with H5AD also a dataset
                                          whose obs has the cluster as 'cell_type' (categorical), a numeric
                                          'n_counts' and a string 'donor'; prints JSON {"labels": [...]}
  embedding_reference.py trust            reads JSON {"X": path of .npy, "rows": [...], "Y": [[x, y], ...],
                                          "k": int} on stdin; prints sklearn's trustworthiness of Y for X[rows]
"""
import io
import json
import os
import sys

import numpy as np


def write_npy(path, arr, version=None):
    with open(path, "wb") as f:
        np.lib.format.write_array(f, arr, version=version, allow_pickle=False)


def npy(out_dir):
    rs = np.random.RandomState(7)
    a32 = rs.randn(5, 3).astype("<f4")
    a64 = rs.randn(4, 6).astype("<f8")
    out = {}

    def put(name, arr, version=None, values=None):
        path = os.path.join(out_dir, name + ".npy")
        write_npy(path, arr, version)
        out[name] = {"file": path, "shape": list(arr.shape), "values": None if values is None else [float(v) for v in values.ravel()]}

    put("f4_v1", a32, (1, 0), a32)
    put("f8_v1", a64, (1, 0), a64)
    put("f4_v2", a32, (2, 0), a32)
    put("f4_v3", a32, (3, 0), a32)
    put("f8_v3", a64, (3, 0), a64)
    put("empty_rows", np.zeros((0, 4), dtype="<f4"), (1, 0), np.zeros((0, 4), dtype="<f4"))
    put("fortran", np.asfortranarray(a32), (1, 0))
    put("big_endian", a32.astype(">f4"), (1, 0))
    put("int32", (a32 * 10).astype("<i4"), (1, 0))
    put("float16", a32.astype("<f2"), (1, 0))
    put("three_d", rs.randn(2, 3, 4).astype("<f4"), (1, 0))
    put("one_d", rs.randn(7).astype("<f4"), (1, 0))
    put("structured", np.zeros(3, dtype=[("a", "<f4"), ("b", "<f4")]), (1, 0))
    # A file cut short by a crash mid-write, and one with bytes after the data.
    buf = io.BytesIO()
    np.lib.format.write_array(buf, a32, version=(1, 0))
    data = buf.getvalue()
    for name, blob in (("truncated", data[:-5]), ("trailing", data + b"\x00\x00\x00\x00"), ("header_cut", data[:30])):
        path = os.path.join(out_dir, name + ".npy")
        with open(path, "wb") as f:
            f.write(blob)
        out[name] = {"file": path, "shape": list(a32.shape), "values": None}
    print(json.dumps(out))


def clusters(out_dir, n, d, k, seed, h5ad=None):
    rs = np.random.RandomState(seed)
    centers = rs.randn(k, d) * 10.0
    labels = rs.randint(0, k, size=n)
    x = (centers[labels] + rs.randn(n, d)).astype("<f4")
    write_npy(os.path.join(out_dir, "embeddings.npy"), x, (1, 0))
    with open(os.path.join(out_dir, "embeddings.json"), "w") as f:
        json.dump({"rows": n, "dim": d, "dataset": h5ad, "pooling": "mean"}, f)
    if h5ad:
        import anndata
        import pandas as pd
        obs = pd.DataFrame({
            "cell_type": pd.Categorical([f"type_{c}" for c in labels], categories=[f"type_{c}" for c in range(k)]),
            "n_counts": (rs.rand(n) * 1000).round(1),
            "donor": [f"d{i % 3}" for i in range(n)],
        }, index=[f"cell{i}" for i in range(n)])
        ad = anndata.AnnData(X=np.zeros((n, 2), dtype="float32"), obs=obs)
        ad.write_h5ad(h5ad)
    print(json.dumps({"labels": [int(v) for v in labels]}))


def trust():
    from sklearn.manifold import trustworthiness
    req = json.load(sys.stdin)
    x = np.load(req["X"])[np.asarray(req["rows"], dtype=int)]
    y = np.asarray(req["Y"], dtype=float)
    print(json.dumps({"trustworthiness": float(trustworthiness(x, y, n_neighbors=req["k"]))}))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "npy":
        npy(sys.argv[2])
    elif cmd == "clusters":
        clusters(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7] if len(sys.argv) > 7 else None)
    elif cmd == "trust":
        trust()
    else:
        raise SystemExit(f"unknown command {cmd}")
