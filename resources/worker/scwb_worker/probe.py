"""`probe`: frozen encoder embeddings -> linear probe or kNN -> predictions.csv (docs/worker-benchmark.md).

Embeddings of a cell do not depend on the run: a benchmark encoder's cell with more genes than it takes keeps a
uniform sample of them drawn with default_rng([0, 0, row]); scGPT cells are tokenised with seed 0. So several
run folders in one process reuse the embeddings of the same (encoder, dataset, value layer, pooling)."""
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from .data import H5ad
from .runfolder import RunFolderError
from .finetune_inputs import _label_indices
from .runtime import RunError, _device, _num, epoch_order

EMBED_BATCH = 64
_CACHE = {}

DEFAULTS = {"method": "linear", "pooling": "cls", "k": 10, "epochs": 50, "lr": 0.005, "batchSize": 64,
            "evalEvery": 5, "select": "best-test", "writeEmbeddings": False, "valueLayer": None, "device": "auto"}


def resolve(params, where="parameters.probe"):
    p = dict(DEFAULTS)
    p.update({k: v for k, v in params.items() if v is not None or k == "valueLayer"})
    enc = p.get("encoder")
    if not isinstance(enc, dict) or enc.get("model") not in ("benchmark", "scbert", "scgpt") or \
            not isinstance(enc.get("path"), str) or not enc["path"]:
        raise RunError("%s.encoder must be {model: benchmark|scbert|scgpt, path: ...}, got %r" % (where, enc))
    if p["method"] not in ("linear", "knn"):
        raise RunError("%s.method must be linear or knn, got %r" % (where, p["method"]))
    if p["pooling"] not in ("cls", "mean"):
        raise RunError("%s.pooling must be cls or mean, got %r" % (where, p["pooling"]))
    if p["select"] not in ("best-test", "last"):
        raise RunError("%s.select must be best-test or last, got %r" % (where, p["select"]))
    for key in ("k", "epochs", "batchSize", "evalEvery"):
        if not isinstance(p[key], int) or isinstance(p[key], bool) or p[key] < 1:
            raise RunError("%s.%s must be a positive integer, got %r" % (where, key, p[key]))
    classes = p.get("classes")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        raise RunError("%s.classes must be the list of class names" % where)
    return p


# ---------------------------------------------------------------------------------------------------------------
# embeddings

@torch.no_grad()
def _benchmark_embeddings(path, ds, rows, pooling, layer, device):
    from .pretrain import BenchmarkObjective, benchmark_from_file, dataset_tokens, read_cells
    model, cfg, obj = benchmark_from_file(path)
    cfg.pooling = pooling
    model.cfg.pooling = pooling
    tok = dataset_tokens(ds.var_names(), obj.get("genes"), obj.get("vocab"), ds.path)
    cells = read_cells(ds, rows, tok, cfg.value_mode, cfg.n_bins, layer, 0)
    batcher = BenchmarkObjective(cells, tok, cfg, {"maskRatio": 0.5, "weightedSampling": False}, 0)
    model.to(device).eval()
    out = np.zeros((len(rows), cfg.dim), dtype=np.float32)
    for s in range(0, len(rows), EMBED_BATCH):
        part = rows[s:s + EMBED_BATCH]
        b = batcher.prepare(part, 0)
        ids, _values, pad = b.inputs
        values = torch.where(pad, torch.full_like(b.target, -2.0), b.target)  # nothing masked
        _genes, cell, _ge = model.encode(ids.to(device), values.to(device), pad.to(device))
        out[s:s + len(part)] = cell.float().cpu().numpy()
    return out


@torch.no_grad()
def _scbert_embeddings(path, ds, rows, pooling, layer, device):
    """scBERT has no <cls>: `cls` takes the state of the appended token, `mean` the mean over the genes."""
    from . import checkpoints as ck, tokens
    from .models.scbert import PerformerLM
    sd, meta = ck.read_checkpoint(path)
    sd, _ = ck.normalize_state_dict(sd)
    cfg = ck.infer_scbert_config(sd, meta.get("nGenes"))  # nGenes: a model pre-trained without gene2vec
    if ds.matrix(layer).shape[1] != cfg.n_genes:
        raise RunError("%s has %d genes but the scBERT checkpoint expects exactly %d: run Preprocess scBERT with the "
                       "checkpoint's gene list first" % (ds.path, ds.matrix(layer).shape[1], cfg.n_genes))
    model = PerformerLM(cfg)
    ck.load_pretrained(model, path)
    model.to(device).eval()
    out = np.zeros((len(rows), cfg.dim), dtype=np.float32)
    rows_arr = np.asarray(rows, dtype=np.int64)
    toks = np.zeros((len(rows), cfg.n_genes), dtype=np.uint8)
    for pos, block in ds.matrix(layer).iter_rows(rows_arr):
        toks[pos] = tokens.scbert_tokens(block, ds.path)
    for s in range(0, len(rows), EMBED_BATCH):
        h = model.embed(tokens.scbert_batch(toks[s:s + EMBED_BATCH]).to(device)).float()
        cell = h[:, -1] if pooling == "cls" else h[:, :-1].mean(1)
        out[s:s + len(cell)] = cell.cpu().numpy()
    return out


@torch.no_grad()
def _scgpt_embeddings(path, ds, rows, pooling, layer, device):
    from . import checkpoints as ck
    from .models.scgpt import ScGPTModel
    from .finetune_inputs import _encoder
    sd, meta = ck.read_checkpoint(path)
    sd, _ = ck.normalize_state_dict(sd)
    cfg = ck.infer_scgpt_config(sd, meta.get("args"), meta.get("vocab"))
    model = ScGPTModel(cfg, n_classes=0)
    ck.load_pretrained(model, path)
    model.to(device).eval()
    vocab = meta.get("vocab")
    hint = {"ntoken": cfg.ntoken, "pad_token_id": cfg.pad_token_id, "pad_value": cfg.pad_value,
            "vocab": (vocab, os.path.join(path, "vocab.json")) if vocab else None}
    enc = _encoder(ds, ds.var_names(), {"model": "scgpt", "valueLayer": layer, "maxSeqLen": 1200, "nBins": 51}, 0,
                   hint)
    cells = enc.encode(ds, rows, None)
    out = np.zeros((len(rows), cfg.d_model), dtype=np.float32)
    for s in range(0, len(rows), EMBED_BATCH):
        ids, vals, pad = enc.batch([cells[r] for r in rows[s:s + EMBED_BATCH]])
        h = model.encode(ids.to(device), vals.to(device), pad.to(device)).float()
        if pooling == "cls":
            cell = h[:, 0]
        else:
            keep = (~pad.to(device)).float().unsqueeze(-1)
            keep[:, 0] = 0.0
            cell = (h * keep).sum(1) / keep.sum(1).clamp(min=1.0)
        out[s:s + len(cell)] = cell.cpu().numpy()
    return out


def embeddings(model_kind, path, ds, rows, pooling, layer, device):
    """float32 [len(rows), d] cell embeddings of `rows` of the open dataset, reused within the process."""
    key = (model_kind, os.path.abspath(path), os.path.abspath(ds.path), layer, pooling)
    try:
        key_stat = tuple(os.stat(q).st_mtime_ns for q in (path, ds.path))
    except OSError:
        key_stat = None
    cached = _CACHE.get(key)
    if cached is not None and cached[0] == key_stat:
        have = cached[1]
        if all(r in have for r in rows):
            return np.stack([have[r] for r in rows]) if rows else np.zeros((0, cached[2]), np.float32), True
    fn = {"benchmark": _benchmark_embeddings, "scbert": _scbert_embeddings, "scgpt": _scgpt_embeddings}[model_kind]
    from .checkpoints import CheckpointError
    try:
        emb = fn(path, ds, list(rows), pooling, layer, device)
    except CheckpointError as exc:
        raise RunError(str(exc)) from None
    have = cached[1] if cached is not None and cached[0] == key_stat else {}
    have.update({r: emb[i] for i, r in enumerate(rows)})
    _CACHE.clear()  # one encoder/dataset at a time: the memory of the last one only
    _CACHE[key] = (key_stat, have, emb.shape[1])
    return emb, False


# ---------------------------------------------------------------------------------------------------------------
# probes

def knn_predict(train_x, train_y, test_x, k, n_classes):
    """Majority vote of the k nearest training cells (Euclidean); a tie goes to the smallest class index."""
    train_x = torch.as_tensor(np.asarray(train_x, dtype=np.float64))
    test_x = torch.as_tensor(np.asarray(test_x, dtype=np.float64))
    train_y = np.asarray(train_y, dtype=np.int64)
    k = min(k, len(train_y))
    out = np.empty(len(test_x), dtype=np.int64)
    for s in range(0, len(test_x), 1024):
        d = torch.cdist(test_x[s:s + 1024], train_x)
        order = np.argsort(d.numpy(), axis=1, kind="stable")[:, :k]
        votes = np.zeros((len(order), n_classes), dtype=np.int64)
        for j in range(k):
            np.add.at(votes, (np.arange(len(order)), train_y[order[:, j]]), 1)
        out[s:s + len(order)] = votes.argmax(1)  # argmax takes the first (smallest) index among ties
    return out


def linear_probe(train_x, train_y, test_x, test_y, n_classes, epochs, lr, batch_size, eval_every, select, seed,
                 device="cpu", on_epoch=None):
    """One Linear(d, C) layer trained with cross-entropy and Adam(lr) on mini-batches in the order
    runtime.epoch_order(seed, epoch, n) (weights initialised after torch.manual_seed(seed)). Test accuracy is checked
    every `eval_every` epochs and after the last; select 'best-test' keeps the weights of the first best check,
    'last' the last epoch's. Returns (test predictions, kept epoch, best test accuracy or None)."""
    x = torch.as_tensor(np.asarray(train_x, dtype=np.float32), device=device)
    y = torch.as_tensor(np.asarray(train_y, dtype=np.int64), device=device)
    tx = torch.as_tensor(np.asarray(test_x, dtype=np.float32), device=device)
    ty = torch.as_tensor(np.asarray(test_y, dtype=np.int64), device=device)
    torch.manual_seed(seed)
    layer = torch.nn.Linear(x.shape[1], n_classes).to(device)
    opt = torch.optim.Adam(layer.parameters(), lr=lr)
    n = len(y)
    best_acc, best_state, best_epoch = None, None, None
    for epoch in range(1, epochs + 1):
        order = torch.as_tensor(epoch_order(seed, epoch, n), device=device)
        loss_sum = 0.0
        for s in range(0, n, batch_size):
            idx = order[s:s + batch_size]
            loss = F.cross_entropy(layer(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += float(loss) * len(idx)
        if on_epoch is not None:
            on_epoch(epoch, loss_sum / n)
        if select == "best-test" and (epoch % eval_every == 0 or epoch == epochs) and len(ty):
            with torch.no_grad():
                acc = float((layer(tx).argmax(1) == ty).float().mean())
            if best_acc is None or acc > best_acc:
                best_acc, best_epoch = acc, epoch
                best_state = {k: v.clone() for k, v in layer.state_dict().items()}
    if select == "best-test" and best_state is not None:
        layer.load_state_dict(best_state)
    else:
        best_epoch = epochs
    with torch.no_grad():
        pred = layer(tx).argmax(1).cpu().numpy() if len(tx) else np.zeros(0, dtype=np.int64)
    return pred, best_epoch, best_acc


# ---------------------------------------------------------------------------------------------------------------
# the run

def probe(run_dir, device_arg=None, stop=None, ctx=None):
    from .lifecycle import execute
    return execute(run_dir, _run, resume=False, device_arg=device_arg, stop=stop, ctx=ctx)


def _write_embeddings(folder, emb, ds_path, pooling):
    from .atomic import write_atomic, write_atomic_text
    arr = np.ascontiguousarray(emb, dtype="<f4")
    write_atomic(folder.file("embeddings.npy"), lambda fh: np.save(fh, arr, allow_pickle=False))
    write_atomic_text(folder.file("embeddings.json"), json.dumps(
        {"rows": int(arr.shape[0]), "dim": int(arr.shape[1]), "dataset": ds_path, "pooling": pooling}, indent=2) + "\n")


def _run(folder, rec, resume, device_arg, stop, ctx):
    params = (rec.get("parameters") or {}).get("probe")
    if not isinstance(params, dict):
        raise RunError("%s: parameters.probe is missing" % folder.file("run.json"))
    p = resolve(params)
    seed = int(rec.get("seed", 0))
    device = _device(device_arg or p.get("device"))
    split = folder.read_split()
    ds_path = rec["dataset"]["path"]
    label_col = rec.get("labelColumn")
    if not label_col:
        raise RunError("%s: labelColumn is missing (the probe's labels)" % folder.file("run.json"))
    enc = p["encoder"]
    classes = p["classes"]
    t0 = time.time()
    with H5ad(ds_path) as ds:
        n_obs = ds.n_obs
        for key in ("train", "test"):
            bad = [r for r in split[key] if r >= n_obs]
            if bad:
                raise RunError("split.json: %s row %d is out of range (%s has %d cells)" % (key, bad[0], ds_path,
                                                                                            n_obs))
        if not split["test"]:
            raise RunFolderError("%s: 'test' is empty" % folder.file("split.json"))
        labels = ds.labels(label_col)
        names = ds.obs_names()
        y_train = _label_indices(labels, split["train"], classes, ds_path, "training")
        y_test = _label_indices(labels, split["test"], classes, ds_path, "test")
        rows = list(range(n_obs)) if p["writeEmbeddings"] else sorted(set(split["train"]) | set(split["test"]))
        folder.log("embedding %d cells of %s with the frozen %s encoder %s (%s pooling)" % (
            len(rows), ds_path, enc["model"], enc["path"], p["pooling"]))
        emb, reused = embeddings(enc["model"], enc["path"], ds, rows, p["pooling"], p.get("valueLayer"), device)
    embed_s = time.time() - t0
    if reused:
        folder.log("embeddings reused from the previous run of this process")
    if stop is not None and stop.requested:
        return "cancelled", "cancelled after the embeddings"
    pos = {r: i for i, r in enumerate(rows)}
    x_train = emb[[pos[r] for r in split["train"]]]
    x_test = emb[[pos[r] for r in split["test"]]]
    if p["writeEmbeddings"]:
        _write_embeddings(folder, emb, ds_path, p["pooling"])
        folder.log("embeddings.npy written (%d x %d)" % emb.shape)
    t1 = time.time()
    if p["method"] == "knn":
        pred = knn_predict(x_train, y_train, x_test, p["k"], len(classes))
        folder.log("kNN (k = %d) of %d test cells over %d training cells" % (p["k"], len(pred), len(y_train)))
    else:
        state = {"t": time.time()}

        def on_epoch(epoch, loss):
            now = time.time()
            folder.event("train", epoch=epoch, step=epoch * ((len(y_train) + p["batchSize"] - 1) // p["batchSize"]),
                         loss=_num(loss), lr=float(p["lr"]),
                         cellsPerSec=round(len(y_train) / max(now - state["t"], 1e-9), 3), gpuMemoryMiB=None)
            folder.event("progress", fraction=round(epoch / p["epochs"], 6), message="epoch %d/%d" % (
                epoch, p["epochs"]))
            state["t"] = now
            if stop is not None and stop.requested:
                raise KeyboardInterrupt

        pred, kept, best = linear_probe(x_train, y_train, x_test, y_test, len(classes), p["epochs"], float(p["lr"]),
                                        p["batchSize"], p["evalEvery"], p["select"], seed, device, on_epoch)
        folder.event("metric", name="keptEpoch", value=int(kept))
        folder.log("linear probe: %d epochs, kept epoch %d%s" % (
            p["epochs"], kept, " (test accuracy %.4f)" % best if best is not None else ""))
    folder.write_predictions([(split["test"][i], names[r], labels[r], classes[int(k)])
                              for i, (r, k) in enumerate(zip(split["test"], pred))])
    folder.event("progress", fraction=1.0, message="predictions written")
    folder.event("metric", name="embedSeconds", value=round(embed_s, 3))
    folder.event("metric", name="trainSeconds", value=round(time.time() - t1, 3))
    folder.log("predictions.csv written (%d cells)" % len(pred))
    return "completed", None
