"""Run folders of `pretrain` and `probe` runs as src/core writes them (docs/worker-benchmark.md), over tiny datasets."""
import json
import os

import numpy as np

from conftest import CLASSES, class_data, write_h5ad


class StopAfter:
    """A runtime.Stop whose `requested` turns true at its n-th reading (the pre-training loops read it after each
    optimizer step and at the end of each epoch; the run reads it twice before training)."""

    def __init__(self, n):
        self.n, self.reads, self.signal = n, 0, 15

    @property
    def requested(self):
        self.reads += 1
        return self.reads > self.n


def count_data(n_cells, n_genes, seed, n_classes=3):
    """Integer counts with a class-specific block of high genes; about half the entries zero."""
    X, y = class_data(n_cells, n_genes, n_classes, seed=seed)
    return np.round(X * 3).astype(np.float32), y


def write_dataset(path, n_cells=64, n_genes=24, seed=5, x_format="csr"):
    X, y = count_data(n_cells, n_genes, seed)
    write_h5ad(path, X, ["cell-%d" % i for i in range(n_cells)], ["G%d" % i for i in range(n_genes)],
               obs={"cell_type": [CLASSES[c] for c in y]}, x_format=x_format)
    return X, y


def _record(kind, ds, params, seed, split):
    return {"schemaVersion": 1, "id": "run", "kind": kind, "name": "tiny", "note": "", "experiment": "exp",
            "dataset": {"path": ds, "sha256": "0" * 64}, "labelColumn": "cell_type" if kind == "probe" else None,
            "split": split, "seed": seed, "fraction": 1.0, "stratifiedFewShot": False,
            "model": {"family": params.get("model", "benchmark"), "label": "x", "variant": ""},
            "parameters": {kind: params}, "codeVersion": "test", "createdAt": "2026-12-03T07:00:00.000Z",
            "startedAt": None, "endedAt": None, "status": "queued", "error": None, "owner": None, "summary": None}


def _write(run, rec, split):
    os.makedirs(run, exist_ok=True)
    with open(os.path.join(run, "run.json"), "w") as f:
        json.dump(rec, f, indent=2)
    with open(os.path.join(run, "split.json"), "w") as f:
        json.dump(dict({"schemaVersion": 1}, **split), f)
    return run


TINY = {"dim": 16, "depth": 2, "heads": 2, "dropout": 0.0}


def make_pretrain_run(tmp, name="run", ds=None, n_cells=64, n_genes=24, seed=3, val_every=8, **params):
    """A pretrain run folder; `params` override parameters.pretrain (a tiny CPU config by default)."""
    os.makedirs(tmp, exist_ok=True)
    if ds is None:
        ds = os.path.join(tmp, "data.h5ad")
        if not os.path.exists(ds):
            write_dataset(ds, n_cells, n_genes)
    p = {"model": "benchmark", "structure": "transformer", "checkpoint": None, "vocab": None, "valueMode": "log1p",
         "nBins": 51, "maxSeqLen": 17, "maskRatio": 0.4, "mvc": None, "weightedSampling": False, "pooling": "cls",
         "epochs": 2, "batchSize": 8, "lr": 0.003, "warmupSteps": 3, "config": dict(TINY), "valueLayer": None,
         "device": "cpu", "nproc": 1, "amp": True, "logEvery": 2}
    p.update(params)
    rows = list(range(n_cells))
    val = rows[::val_every] if val_every else []
    train = [r for r in rows if r not in val]
    split = {"train": train, "validation": val, "test": []}
    return _write(os.path.join(tmp, name), _record("pretrain", ds, p, seed, {"kind": "random", "seed": 0}), split)


def make_probe_run(tmp, encoder, ds, train, test, name="probe", seed=3, model="benchmark", **params):
    p = {"encoder": {"model": model, "path": encoder}, "method": "linear", "classes": list(CLASSES),
         "pooling": "cls", "k": 10, "epochs": 50, "lr": 0.005, "batchSize": 64, "evalEvery": 5,
         "select": "best-test", "writeEmbeddings": False, "valueLayer": None, "device": "cpu"}
    p.update(params)
    split = {"train": list(train), "validation": [], "test": list(test)}
    return _write(os.path.join(tmp, name), _record("probe", ds, p, seed, {"kind": "random", "seed": 0}), split)
