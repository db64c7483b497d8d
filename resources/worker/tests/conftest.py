"""Shared helpers of the worker tests: tiny .h5ad files written with h5py (anndata >= 0.8 encoding), run folders
as src/core writes them, and a way to run `python -m scwb_worker`."""
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

WORKER_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if WORKER_ROOT not in sys.path:
    sys.path.insert(0, WORKER_ROOT)

STR = h5py.string_dtype("utf-8")


def _enc(node, kind, version):
    node.attrs["encoding-type"] = kind
    node.attrs["encoding-version"] = version


def write_h5ad(path, X, obs_names, var_names, obs=None, var=None, layers=None, x_format="dense"):
    """A minimal AnnData file: X dense / csr / csc, obs and var dataframes (categorical, string or numeric
    columns), and layers (dense)."""
    X = np.asarray(X, dtype=np.float32)
    with h5py.File(path, "w") as f:
        _enc(f, "anndata", "0.1.0")
        _write_matrix(f, "X", X, x_format)
        for name, (frame, index, cols) in {"obs": ("obs", obs_names, obs or {}),
                                            "var": ("var", var_names, var or {})}.items():
            g = f.create_group(frame)
            _enc(g, "dataframe", "0.2.0")
            g.attrs["_index"] = "_index"
            g.attrs["column-order"] = np.array(list(cols.keys()), dtype=object).astype(STR) if cols else np.array([], dtype="S1")
            g.create_dataset("_index", data=np.array(index, dtype=object), dtype=STR)
            for col, values in cols.items():
                values = list(values)
                if values and isinstance(values[0], str):
                    cats = sorted(set(values))
                    cg = g.create_group(col)
                    _enc(cg, "categorical", "0.2.0")
                    cg.attrs["ordered"] = False
                    cg.create_dataset("categories", data=np.array(cats, dtype=object), dtype=STR)
                    cg.create_dataset("codes", data=np.array([cats.index(v) for v in values], dtype=np.int8))
                else:
                    g.create_dataset(col, data=np.asarray(values))
        lg = f.create_group("layers")
        _enc(lg, "dict", "0.1.0")
        for name, m in (layers or {}).items():
            _write_matrix(lg, name, np.asarray(m, dtype=np.float32), "dense")


def _write_matrix(parent, key, X, fmt):
    if fmt == "dense":
        parent.create_dataset(key, data=X)
        return
    g = parent.create_group(key)
    _enc(g, "%s_matrix" % fmt, "0.1.0")
    g.attrs["shape"] = np.array(X.shape, dtype=np.int64)
    M = X if fmt == "csr" else X.T
    indptr, indices, data = [0], [], []
    for row in M:
        nz = np.nonzero(row)[0]
        indices.extend(nz.tolist())
        data.extend(row[nz].tolist())
        indptr.append(len(indices))
    g.create_dataset("data", data=np.array(data, dtype=np.float32))
    g.create_dataset("indices", data=np.array(indices, dtype=np.int32))
    g.create_dataset("indptr", data=np.array(indptr, dtype=np.int64))


def class_data(n_cells, n_genes, n_classes, seed, scale=5.0):
    """Cells whose class shows as high values on a class-specific block of genes (easy to learn)."""
    rng = np.random.RandomState(seed)
    y = np.arange(n_cells) % n_classes
    rng.shuffle(y)
    X = rng.rand(n_cells, n_genes) * 1.5
    X[rng.rand(n_cells, n_genes) < 0.5] = 0
    block = max(1, n_genes // n_classes)
    for i, c in enumerate(y):
        X[i, c * block:(c + 1) * block] += scale
    return X.astype(np.float32), y


CLASSES = ["alpha", "beta", "gamma"]


def make_run(tmp, model="scbert", n_cells=48, n_genes=12, epochs=2, batch=8, extra=None, config=None, seed=3,
             fraction=1.0, x_format="csr", status="queued", query=False, layers=None, var=None):
    """A run folder + dataset as src/core would write them for a tiny model without a checkpoint."""
    os.makedirs(tmp, exist_ok=True)
    X, y = class_data(n_cells, n_genes, len(CLASSES), seed=11)
    genes = ["G%d" % i for i in range(n_genes)]
    names = ["cell-%d" % i for i in range(n_cells)]
    labels = [CLASSES[c] for c in y]
    ds = os.path.join(tmp, "data.h5ad")
    if model == "scgpt" and var is None:
        var = {"id_in_vocab": list(range(n_genes))}
    write_h5ad(ds, X, names, genes, obs={"cell_type": labels}, var=var, x_format=x_format, layers=layers)
    idx = np.arange(n_cells)
    test = idx[::4].tolist()
    rest = [i for i in idx.tolist() if i not in test]
    val = test if model == "scbert" else rest[::6]
    train = [i for i in rest if i not in val] if model == "scgpt" else rest
    run = os.path.join(tmp, "run")
    os.makedirs(run, exist_ok=True)
    if config is None:
        config = ({"dim": 8, "depth": 2, "heads": 2, "dim_head": 4, "n_genes": n_genes, "nb_features": 6}
                  if model == "scbert" else
                  {"d_model": 16, "nlayers": 2, "nhead": 2, "d_hid": 16, "ntoken": n_genes + 3,
                   "pad_token_id": n_genes})
    ft = {"model": model, "checkpoint": None, "ablation": "none", "ignoreKeys": [], "epochs": epochs,
          "batchSize": batch, "lr": 1e-3, "maxSeqLen": 3001, "classes": CLASSES, "valueLayer": None, "device": "cpu",
          "nproc": 1, "amp": True, "logEvery": 2, "config": config}
    if model == "scgpt":
        ft["dropout"] = 0.0
    ft.update(extra or {})
    rec = {"schemaVersion": 1, "id": "run", "kind": "finetune", "name": "tiny", "note": "", "experiment": "exp",
           "dataset": {"path": ds, "sha256": "0" * 64}, "labelColumn": "cell_type",
           "split": {"kind": "stratified", "testSize": 0.25, "seed": 0}, "seed": seed, "fraction": fraction,
           "stratifiedFewShot": False, "model": {"family": model, "label": model, "variant": ""},
           "parameters": {"finetune": ft, "somethingElse": {"kept": True}}, "codeVersion": "test",
           "createdAt": "2026-12-03T07:00:00.000Z", "startedAt": None, "endedAt": None, "status": status,
           "error": None, "owner": None, "summary": None, "futureField": [1, 2]}
    if query:
        qX, qy = class_data(20, n_genes, len(CLASSES), seed=12)
        qgenes = list(reversed(genes)) + ["EXTRA"]
        qX = np.concatenate([qX[:, ::-1], np.ones((20, 1), dtype=np.float32)], axis=1)
        qpath = os.path.join(tmp, "query.h5ad")
        write_h5ad(qpath, qX, ["q-%d" % i for i in range(20)], qgenes, obs={"cell_type": [CLASSES[c] for c in qy]},
                   var=({"id_in_vocab": list(reversed(range(n_genes))) + [-1]} if model == "scgpt" else None))
        rec["query"] = {"path": qpath, "sha256": "0" * 64}
        rec["split"] = {"kind": "reference-query", "queryPath": qpath}
        test = list(range(20))
        if model == "scbert":
            val = rest[::3]
            train = [i for i in rest if i not in val]
    with open(os.path.join(run, "run.json"), "w") as f:
        json.dump(rec, f, indent=2)
    with open(os.path.join(run, "split.json"), "w") as f:
        json.dump({"schemaVersion": 1, "train": train, "validation": val, "test": test}, f)
    return run


def run_worker(args, env=None, **kw):
    e = dict(os.environ)
    e["PYTHONPATH"] = WORKER_ROOT
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "scwb_worker"] + list(args), env=e, capture_output=True,
                          text=True, **kw)


def run_cli(args):
    """`python -m scwb_worker ARGS` in this process (faster than a subprocess); returns the exit status."""
    from scwb_worker.cli import main
    return main(list(args))


def read_events(run):
    with open(os.path.join(run, "events.jsonl")) as f:
        return [json.loads(line) for line in f]


def read_json(path):
    with open(path) as f:
        return json.load(f)


@pytest.fixture
def tiny_run(tmp_path):
    return lambda **kw: make_run(str(tmp_path), **kw)
