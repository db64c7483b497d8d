"""Reference for test/unit/annotate and bench/annotate.ts, with Debian's torch 1.13 (CPU).

  make DIR [N_CELLS [KIND]] trains a tiny scBERT (or scGPT) run with the worker (model.onnx + model.onnx.json in DIR/run) and
                           writes DIR/query.h5ad: the model's genes in another order, one extra gene, one missing,
                           values above 5, CSR, a label column with a missing label and one unknown class.
  torch RUN DATA BATCH     the kept model of RUN in torch over DATA tokenised as the worker does, in batches of BATCH
                           rows in file order: {"probabilities": [[...]], "predicted": [...], "cellsPerSec": C}
  read OUT                 OUT read back with anndata: obs column, obsm, X, var names
Prints JSON."""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "..", "..", "resources", "worker")
sys.path.insert(0, WORKER)
sys.path.insert(0, os.path.join(WORKER, "tests"))

import numpy as np  # noqa: E402


def make(folder, n_cells, kind="scbert"):
    from conftest import CLASSES, class_data, make_run, write_h5ad
    from scwb_worker.cli import main
    # scGPT: maxSeqLen 6 so that cells with more genes keep a seeded sample of them; values binned per cell
    run = make_run(folder, model=kind, n_cells=48, n_genes=12, epochs=2,
                   extra={"maxSeqLen": 6} if kind == "scgpt" else None)
    import contextlib
    with contextlib.redirect_stdout(sys.stderr):  # the worker's progress lines
        rc = main(["finetune", "--run-dir", run])
    assert rc == 0, rc
    X, y = class_data(n_cells, 12, len(CLASSES), seed=21, scale=7.0)
    genes = ["G%d" % i for i in range(12)]
    order = [5, 3, 11, 0, 1, 2, 4, 6, 8, 9, 10]  # G7 missing
    qX = np.concatenate([X[:, order], np.full((n_cells, 1), 3.0, dtype=np.float32)], axis=1)
    qgenes = [genes[i] for i in order] + ["EXTRA"]
    labels = [CLASSES[c] for c in y]
    labels[1] = "delta"  # a class the model does not know
    write_h5ad(os.path.join(folder, "query.h5ad"), qX, ["q%d" % i for i in range(n_cells)], qgenes,
               obs={"cell_type": labels, "n_counts": list(range(n_cells))}, x_format="csr")
    return {"run": run, "query": os.path.join(folder, "query.h5ad"), "classes": CLASSES}


def torch_probs(run, data, batch):
    import torch
    from scwb_worker import data as wdata, models, onnx_export, protocols, tokens
    from scwb_worker.finetune_model import model_config
    from scwb_worker.runtime import load_own
    with open(os.path.join(run, "run.json")) as f:
        rec = json.load(f)
    with open(os.path.join(run, "model.onnx.json")) as f:
        side = json.load(f)
    p = protocols.resolve(rec["parameters"]["finetune"], rec["fraction"])
    best = os.path.join(run, "checkpoints", "best.pt")
    state = load_own(best if os.path.exists(best) else os.path.join(run, "checkpoints", "last.pt"))
    cfg, _hint, _ = model_config(p)
    kind = side["model"]
    model = models.build_model(kind, cfg, len(p["classes"]))
    model.load_state_dict(state["model_state_dict"])
    model.eval()
    with wdata.H5ad(data) as h:
        mapping = wdata.column_map(side["genes"], h.var_names(), data)
        m = h.matrix(side["scgpt"]["layer"] if kind == "scgpt" else side.get("valueLayer"))
        rows = np.arange(m.shape[0])
        blocks = [wdata.remap_block(b, mapping) for _pos, b in m.iter_rows(rows)]
    X = np.concatenate(blocks)
    probs, pred = [], []
    t0 = time.perf_counter()
    with torch.no_grad():
        for s in range(0, X.shape[0], batch):
            if kind == "scgpt":
                g = side["scgpt"]
                tk = tokens.ScGPTTokenizer(np.array(g["geneIds"]), g["clsId"], g["padId"], g["padValue"], g["maxSeqLen"],
                                           g["seed"], g["binHere"], g["nBins"])
                cells = [tk.cell(X[r], r) for r in range(s, min(s + batch, X.shape[0]))]
                logits = model(*tk.batch(cells)).float()
            else:
                tok = torch.from_numpy(onnx_export.scbert_reference_tokens(X[s:s + batch]))
                logits = model(tok).float()
            probs.append(torch.softmax(logits.double(), dim=1).numpy())
            pred.extend(logits.argmax(dim=1).tolist())
    secs = time.perf_counter() - t0
    P = np.concatenate(probs)
    return {"probabilities": P.tolist(), "predicted": pred, "cellsPerSec": X.shape[0] / secs,
            "threads": torch.get_num_threads()}


def read(out):
    import anndata
    a = anndata.read_h5ad(out)
    X = a.X.toarray() if hasattr(a.X, "toarray") else np.asarray(a.X)
    col = a.obs["scwb_predicted"] if "scwb_predicted" in a.obs else None
    return {"nObs": int(a.n_obs), "varNames": list(map(str, a.var_names)), "obsNames": list(map(str, a.obs_names)),
            "predicted": None if col is None else [str(v) for v in col],
            "categories": None if col is None else [str(c) for c in col.cat.categories],
            "probabilities": np.asarray(a.obsm["scwb_probabilities"]).tolist() if "scwb_probabilities" in a.obsm else None,
            "X": X.tolist(),
            "obsColumns": list(map(str, a.obs.columns)), "nCounts": [int(v) for v in a.obs["n_counts"]]}


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        out = make(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 40, sys.argv[4] if len(sys.argv) > 4 else "scbert")
    elif cmd == "torch":
        if len(sys.argv) > 5:
            import torch
            torch.set_num_threads(int(sys.argv[5]))
        out = torch_probs(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == "read":
        out = read(sys.argv[2])
    else:
        raise SystemExit("unknown command %s" % cmd)
    sys.stdout.write(json.dumps(out))
