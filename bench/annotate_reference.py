"""Reference side of bench/annotate.ts (Debian's torch 1.13, CPU).

  make DIR CELLS GENES   a random scBERT classifier (dim 32, depth 2, 4 heads of 8, 32 random features, 11 classes)
                         over GENES genes, exported by the worker's exporter (DIR/model.onnx + model.onnx.json,
                         weights in DIR/model.pt), and DIR/data.h5ad: CELLS cells, CSR, log-normalised-like values
  torch DIR BATCH        the same model in torch over data.h5ad, tokenised as the worker does, in batches of BATCH:
                         {"cellsPerSec", "seconds", "threads", "probabilities" (first 64 cells)}
Prints JSON."""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKER = os.path.join(ROOT, "resources", "worker")
sys.path.insert(0, WORKER)
sys.path.insert(0, os.path.join(WORKER, "tests"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

CLASSES = ["type %d" % k for k in range(11)]


def _cfg(n_genes):
    from scwb_worker import models
    cfg = models.ScBertConfig()
    for k, v in dict(dim=32, depth=2, heads=4, dim_head=8, n_genes=n_genes, nb_features=32).items():
        setattr(cfg, k, v)
    return cfg


def make(folder, cells, genes):
    from conftest import write_h5ad
    from scwb_worker import models, onnx_export
    os.makedirs(folder, exist_ok=True)
    torch.manual_seed(0)
    cfg = _cfg(genes)
    model = models.build_model("scbert", cfg, len(CLASSES)).eval()
    torch.save(model.state_dict(), os.path.join(folder, "model.pt"))
    names = ["g%d" % i for i in range(genes)]
    sidecar = {"schemaVersion": 1, "model": "scbert", "classes": CLASSES, "labelColumn": "cell_type", "runId": "bench",
               "dataset": None, "valueLayer": None, "genes": names,
               "scbert": {"maxToken": 5, "appendZero": True, "nGenes": genes, "seqLen": genes + 1}}
    onnx_export.export_model(model, "scbert", folder, sidecar)
    rng = np.random.RandomState(1)
    X = np.where(rng.rand(cells, genes) < 0.1, np.log2(1 + rng.gamma(2.0, 8.0, size=(cells, genes))), 0).astype(np.float32)
    y = rng.randint(0, len(CLASSES), size=cells)
    write_h5ad(os.path.join(folder, "data.h5ad"), X, ["c%d" % i for i in range(cells)], names,
               obs={"cell_type": [CLASSES[k] for k in y]}, x_format="csr")
    return {"model": os.path.join(folder, "model.onnx"), "data": os.path.join(folder, "data.h5ad")}


def bench_torch(folder, batch):
    from scwb_worker import data as wdata, models, onnx_export
    with open(os.path.join(folder, "model.onnx.json")) as f:
        genes = json.load(f)["genes"]
    model = models.build_model("scbert", _cfg(len(genes)), len(CLASSES))
    model.load_state_dict(torch.load(os.path.join(folder, "model.pt")))
    model.eval()
    torch.set_num_threads(os.cpu_count() or 1)  # Debian's torch starts with one thread; the worker uses the cores
    path = os.path.join(folder, "data.h5ad")
    with wdata.H5ad(path) as h:
        m = h.matrix()
        X = np.concatenate([b for _p, b in m.iter_rows(np.arange(m.shape[0]))])
    probs = []
    t0 = time.perf_counter()
    with torch.no_grad():
        for s in range(0, X.shape[0], batch):
            tok = torch.from_numpy(onnx_export.scbert_reference_tokens(X[s:s + batch]))
            p = torch.softmax(model(tok).double(), dim=1)
            if len(probs) * batch < 64:
                probs.append(p.numpy())
    secs = time.perf_counter() - t0
    return {"cellsPerSec": X.shape[0] / secs, "seconds": secs, "threads": torch.get_num_threads(),
            "probabilities": np.concatenate(probs)[:64].tolist()}


if __name__ == "__main__":
    if sys.argv[1] == "make":
        out = make(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        out = bench_torch(sys.argv[2], int(sys.argv[3]))
    sys.stdout.write(json.dumps(out))
