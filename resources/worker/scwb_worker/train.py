"""`finetune`: one run folder from run.json + split.json to predictions.csv (docs/worker.md)."""
import math
import os
import random
import signal
import sys
import time
import traceback

import numpy as np
import torch
import torch.nn.functional as F

from . import distributed, protocols, tokens
from .data import DataError, H5ad, column_map, remap_block
from .runfolder import RunFolder, RunFolderError, iso_now, owner_record, process_start

EXIT_OK, EXIT_FAILED, EXIT_CANCELLED = 0, 1, 130
RESUMABLE = ("cancelled", "failed", "interrupted")


class RunError(Exception):
    """A problem with the run's inputs or settings; its message is the run's error."""


class Stop:
    """Set by SIGINT/SIGTERM: the loop finishes the current step, checkpoints and ends the run as cancelled."""

    def __init__(self):
        self.requested = False
        self.signal = None

    def install(self):
        def handler(signum, _frame):
            self.requested = True
            self.signal = signum

        self._old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}

    def restore(self):
        for s, h in getattr(self, "_old", {}).items():
            signal.signal(s, h)


# ---------------------------------------------------------------------------------------------------------------
# RNG state (so a resumed run continues the same random streams)

def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed & 0xFFFFFFFF)
    torch.manual_seed(seed)


def rng_state():
    """Generator states as tensors and plain Python values only (no numpy objects), so that the checkpoint loads
    with torch.load(weights_only=True) on every torch version."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": random.getstate(), "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state):
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def epoch_order(seed, epoch, n):
    """The training rows' order in an epoch: a permutation derived from (seed, epoch) only."""
    return np.random.RandomState([seed & 0xFFFFFFFF, epoch, 7]).permutation(n)


# ---------------------------------------------------------------------------------------------------------------
# inputs

class Inputs:
    """Encoded cells of the training, validation and test rows, their labels and names."""


def _device(arg):
    if arg in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if arg not in ("cpu", "cuda"):
        raise RunError("device must be cpu, cuda or auto, got %r" % (arg,))
    if arg == "cuda" and not torch.cuda.is_available():
        raise RunError("device 'cuda' was asked for but torch %s sees no CUDA device "
                       "(python -m scwb_worker env)" % torch.__version__)
    return arg



def rank_device(device_arg, p, ctx):
    """(device type, this rank's device, amp) of a training run; sets the CUDA device or the CPU threads."""
    device_type = _device(device_arg or p.get("device"))
    device = "cuda:%d" % ctx.local_rank if device_type == "cuda" else "cpu"
    if device_type == "cuda":
        torch.cuda.set_device(device)
    if device_type == "cpu" and not os.environ.get("OMP_NUM_THREADS"):
        # Debian's torch starts with one thread: use the cores (shared among the ranks) unless the user chose
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // ctx.world))
    return device_type, device, bool(p.get("amp")) and device_type == "cuda"

def _label_indices(labels, rows, classes, path, what):
    pos = {c: i for i, c in enumerate(classes)}
    out = np.empty(len(rows), dtype=np.int64)
    for i, r in enumerate(rows):
        lab = labels[r]
        if lab not in pos:
            raise RunError("%s: row %d (%s) has label %r, which is not among the run's classes (%s)" % (
                path, r, what, lab, ", ".join(classes)))
        out[i] = pos[lab]
    return out


def load_inputs(rec, p, split, seed, model_cfg_hint):
    """Reads the rows the run needs and encodes them for the model."""
    ds_path = rec["dataset"]["path"]
    query = rec.get("query") or None
    q_path = query["path"] if query else None
    label_col = rec["labelColumn"]
    classes = p["classes"]
    inp = Inputs()
    # scBERT protocol on a reference/query split: validation equals test, i.e. the query's test cells
    val_from_query = bool(q_path) and split["validation"] == split["test"] and bool(split["test"])
    with H5ad(ds_path) as ds:
        genes = ds.var_names()
        labels = ds.labels(label_col)
        n_obs = len(labels)
        ds_keys = ("train",) + (() if val_from_query else ("validation",)) + (() if q_path else ("test",))
        for key in ds_keys:
            bad = [r for r in split[key] if r >= n_obs]
            if bad:
                raise RunError("split.json: %s row %d is out of range (%s has %d cells)"
                               % (key, bad[0], ds_path, n_obs))
        inp.y_train = _label_indices(labels, split["train"], classes, ds_path, "training")
        if not val_from_query:
            inp.y_val = _label_indices(labels, split["validation"], classes, ds_path, "validation")
        enc = _encoder(ds, genes, p, seed, model_cfg_hint)
        inp.encoder = enc
        val_rows = [] if val_from_query else split["validation"]
        ds_rows = sorted(set(split["train"]) | set(val_rows) | (set() if q_path else set(split["test"])))
        ds_cells = enc.encode(ds, ds_rows, None)
        inp.train = [ds_cells[r] for r in split["train"]] if enc.kind == "scgpt" else ds_cells[split["train"]]
        if not val_from_query:
            inp.val = [ds_cells[r] for r in val_rows] if enc.kind == "scgpt" else ds_cells[val_rows]
        if not q_path:
            inp.test = [ds_cells[r] for r in split["test"]] if enc.kind == "scgpt" else ds_cells[split["test"]]
            names = ds.obs_names()
            inp.test_names = [names[r] for r in split["test"]]
            inp.test_labels = [labels[r] for r in split["test"]]
    if q_path:
        with H5ad(q_path) as q:
            qn = q.n_obs
            bad = [r for r in split["test"] if r >= qn]
            if bad:
                raise RunError("split.json: test row %d is out of range (the query %s has %d cells)"
                               % (bad[0], q_path, qn))
            mapping = column_map(genes, q.var_names(), q_path)
            q_labels = q.labels(label_col)
            q_cells = enc.encode(q, sorted(set(split["test"])), mapping)
            inp.test = [q_cells[r] for r in split["test"]] if enc.kind == "scgpt" else q_cells[split["test"]]
            names = q.obs_names()
            inp.test_names = [names[r] for r in split["test"]]
            inp.test_labels = [q_labels[r] for r in split["test"]]
            if val_from_query:
                inp.val = inp.test
                inp.y_val = _label_indices(q_labels, split["test"], classes, q_path, "validation = test")
    inp.val_from_query = val_from_query
    inp.n_genes = len(genes)
    inp.genes = list(genes)
    return inp


class _ScBertEncoder:
    kind = "scbert"

    def __init__(self, layer):
        self.layer = layer

    def encode(self, h5, rows, mapping):
        """uint8 token matrix indexed by file row (a dict-like: full-size array over the rows asked)."""
        m = h5.matrix(self.layer)
        width = len(mapping) if mapping is not None else m.shape[1]
        out = _RowTable(rows, width)
        rows_arr = np.asarray(rows, dtype=np.int64)
        for pos, block in m.iter_rows(rows_arr):
            if mapping is not None:
                block = remap_block(block, mapping)
            out.data[pos] = tokens.scbert_tokens(block, h5.path)
        return out

    def batch(self, cells):
        return (tokens.scbert_batch(cells),)


class _RowTable:
    """uint8 rows stored densely, looked up by file row numbers (single or a list)."""

    def __init__(self, rows, width):
        self.index = {r: i for i, r in enumerate(rows)}
        self.data = np.zeros((len(rows), width), dtype=np.uint8)

    def __getitem__(self, rows):
        """A view of the given file rows (no copy of the table): indexing it with positions gives token rows."""
        return _Subset(self.data, np.array([self.index[r] for r in rows], dtype=np.int64))


class _Subset:
    def __init__(self, data, positions):
        self.data, self.positions = data, positions

    def __len__(self):
        return len(self.positions)

    def __getitem__(self, idx):
        return self.data[self.positions[np.asarray(idx, dtype=np.int64)]]


class _ScGPTEncoder:
    kind = "scgpt"

    def __init__(self, tok, layer):
        self.tok = tok
        self.layer = layer

    def encode(self, h5, rows, mapping):
        m = h5.matrix(self.layer)
        out = {}
        rows_arr = np.asarray(rows, dtype=np.int64)
        for pos, block in m.iter_rows(rows_arr):
            if mapping is not None:
                block = remap_block(block, mapping)
            for i, p in enumerate(pos.tolist()):
                r = int(rows_arr[p])
                try:
                    out[r] = self.tok.cell(block[i], r)
                except tokens.TokenError as e:
                    raise RunError("%s: %s" % (h5.path, e)) from None
        return out

    def batch(self, cells):
        return self.tok.batch(cells)


def _encoder(ds, genes, p, seed, hint):
    layer = p.get("valueLayer")
    if p["model"] == "scbert":
        n_genes = hint.get("n_genes")
        if n_genes is not None and len(genes) != n_genes:
            raise RunError("%s has %d genes but the scBERT model expects exactly %d: run Preprocess scBERT with the "
                           "checkpoint's gene list (referenceGenes) first" % (ds.path, len(genes), n_genes))
        if layer:
            ds.matrix(layer)  # a clear error now if it is missing
        return _ScBertEncoder(layer)
    # scGPT: token ids of the genes
    bin_here = False
    if not layer:
        if ds.has_layer("X_binned"):
            layer = "X_binned"
        else:
            bin_here = True
    ids = None
    vocab = hint.get("vocab")
    var = ds.f["var"] if "var" in ds.f else None
    if var is not None and not hasattr(var, "dtype") and "id_in_vocab" in var:
        codes, cats = ds.column("var", "id_in_vocab")
        try:
            ids = np.array([int(float(cats[c])) if c >= 0 else -1 for c in codes], dtype=np.int64)
        except ValueError:
            raise RunError("%s: var column 'id_in_vocab' does not hold integers" % ds.path) from None
    elif vocab is not None:
        ids = np.array([vocab[0].get(g, -1) for g in genes], dtype=np.int64)
    if ids is None:
        raise RunError("%s has no var column 'id_in_vocab' and the checkpoint has no vocab.json to map its genes: "
                       "run Preprocess scGPT with the model's vocabulary first" % ds.path)
    if not (ids >= 0).any():
        raise RunError("%s: none of its genes are in the model's vocabulary%s" % (
            ds.path, " (%s)" % vocab[1] if vocab else ""))
    ntoken = hint.get("ntoken")
    if ntoken is not None and ids.max() >= ntoken:
        raise RunError("%s: gene token id %d is outside the model's vocabulary of %d tokens"
                       % (ds.path, int(ids.max()), ntoken))
    if vocab is not None and "<cls>" in vocab[0] and "<pad>" in vocab[0]:
        cls_id, pad_id = int(vocab[0]["<cls>"]), int(vocab[0]["<pad>"])
    else:
        pad_id = int(hint["pad_token_id"])
        cls_id = pad_id + 1
    tok = tokens.ScGPTTokenizer(ids, cls_id, pad_id, hint["pad_value"], p["maxSeqLen"], seed, bin_here,
                                int(p.get("nBins", 51)))
    return _ScGPTEncoder(tok, layer)


# ---------------------------------------------------------------------------------------------------------------
# model

def model_config(p):
    """The model config (from the checkpoint's shapes, then parameters.finetune.config), the tokenizer hint, and
    the checkpoint's normalised state dict (None without a checkpoint)."""
    from . import models
    from . import checkpoints as ck

    kind, ablation, ckpt = p["model"], p["ablation"], p.get("checkpoint")
    overrides = dict(p.get("config") or {})
    hint, meta, sd = {}, {}, None
    if ckpt:
        sd, meta = ck.read_checkpoint(ckpt)
        sd, _notes = ck.normalize_state_dict(sd)
    if kind == "scbert":
        cfg = ck.infer_scbert_config(sd) if ckpt else models.ScBertConfig()
        for k, v in overrides.items():
            if not hasattr(cfg, k):
                raise RunError("parameters.finetune.config: unknown scBERT setting %r" % k)
            setattr(cfg, k, v)
        if ablation == "no-gene2vec":
            cfg.g2v_position_emb = False
        hint["n_genes"] = cfg.n_genes
    else:
        cfg = ck.infer_scgpt_config(sd, meta.get("args"), meta.get("vocab")) if ckpt else models.ScGPTConfig()
        if p.get("dropout") is not None:
            cfg.dropout = float(p["dropout"])
        for k, v in overrides.items():
            if not hasattr(cfg, k):
                raise RunError("parameters.finetune.config: unknown scGPT setting %r" % k)
            setattr(cfg, k, v)
        vocab = meta.get("vocab")
        hint.update(ntoken=cfg.ntoken, pad_token_id=cfg.pad_token_id, pad_value=cfg.pad_value,
                    vocab=(vocab, os.path.join(ckpt, "vocab.json")) if vocab else None)
    return cfg, hint, sd


def build(p, device_type):
    """The classifier with its config, pretrained weights (unless the ablation says no), and freezing.
    Returns (model, cfg, hint for the tokenizer, LoadReport or None)."""
    from . import models
    from . import checkpoints as ck

    cfg, hint, sd = model_config(p)
    del sd
    model = models.build_model(p["model"], cfg, len(p["classes"]))
    report = None
    if p.get("checkpoint") and p["ablation"] != "no-pretraining":
        report = ck.load_pretrained(model, p["checkpoint"], list(p.get("ignoreKeys") or []))
    freeze(model, p)
    return model, cfg, hint, report


def freeze(model, p):
    from . import models
    if p["model"] == "scbert":
        models.freeze_for_finetune(model)
    elif p["ablation"] == "frozen-embeddings":
        models.freeze_embeddings(model)


def load_own(path):
    """A checkpoint this worker wrote (last.pt/best.pt with optimizer and RNG states), read without running pickled
    code (scwb_worker.checkpoints.load_torch_file)."""
    from . import checkpoints as ck
    return ck.load_torch_file(path)


# ---------------------------------------------------------------------------------------------------------------
# one step, shared by the loop and the DDP test


def load_resume(path, model, optimizer, scheduler):
    """Restores a run's last.pt into the model, optimizer, scheduler and random generators; returns the checkpoint."""
    state = load_own(path)
    model.load_state_dict(state["model_state_dict"])
    optimizer.load_state_dict(state["optimizer_state_dict"])
    scheduler.load_state_dict(state["scheduler_state_dict"])
    set_rng_state(state["rng"])
    return state

def batch_loss(model, enc, cells, labels, weights, denom, world, device, amp):
    """Loss of this rank's share of a global batch, scaled so that DDP's gradient average equals the gradient of
    the (weighted) mean loss over the whole global batch: sum_i w_i * ce_i / denom * world, where denom is
    the sum of the weights over the whole global batch."""
    inputs = [t.to(device) for t in enc.batch(cells)]
    y = torch.as_tensor(labels, dtype=torch.long, device=device)
    with _autocast(device, amp):
        logits = model(*inputs)
    per = F.cross_entropy(logits.float(), y, reduction="none")
    w = weights.to(device)[y] if weights is not None else torch.ones_like(per)
    return (per * w).sum() / denom * world, logits


class _autocast:
    def __init__(self, device, amp):
        self.on = amp and device.startswith("cuda")
        self.ctx = torch.autocast("cuda", dtype=torch.bfloat16) if self.on else None

    def __enter__(self):
        if self.ctx is not None:
            self.ctx.__enter__()

    def __exit__(self, *exc):
        if self.ctx is not None:
            return self.ctx.__exit__(*exc)
        return False


def global_denominator(labels, weights):
    if weights is None:
        return float(len(labels))
    return float(weights[torch.as_tensor(labels, dtype=torch.long)].sum())


@torch.no_grad()
def evaluate(model, enc, cells, labels, weights, batch_size, device, amp, ctx):
    """(weighted mean CE loss, accuracy) over the rows, sharded over the ranks."""
    model.eval()
    n = len(labels)
    idx = np.arange(n)
    mine = distributed.shard(idx, ctx) if ctx.active else idx
    loss_sum = w_sum = correct = 0.0
    for s in range(0, len(mine), batch_size):
        b = mine[s:s + batch_size]
        bc = _take(cells, b)
        lab = labels[b]
        loss, logits = batch_loss(model, enc, bc, lab, weights, 1.0, 1, device, amp)
        loss_sum += float(loss)
        w_sum += global_denominator(lab, weights)
        correct += float((logits.argmax(dim=1).cpu() == torch.as_tensor(lab)).sum())
    loss_sum, w_sum, correct = ctx.all_sum([loss_sum, w_sum, correct], device)
    model.train()
    return (loss_sum / w_sum if w_sum > 0 else float("nan")), (correct / n if n else float("nan"))


@torch.no_grad()
def predict(model, enc, cells, batch_size, device, amp):
    model.eval()
    out = []
    n = len(cells)
    for s in range(0, n, batch_size):
        b = np.arange(s, min(n, s + batch_size))
        inputs = [t.to(device) for t in enc.batch(_take(cells, b))]
        with _autocast(device, amp):
            logits = model(*inputs)
        out.extend(logits.float().argmax(dim=1).cpu().tolist())
    return out


def _take(cells, idx):
    if isinstance(cells, list):
        return [cells[i] for i in idx]
    return cells[idx]


def _gpu_mib(device):
    if device.startswith("cuda"):
        return round(torch.cuda.max_memory_allocated(device) / 2 ** 20, 1)
    return None


def _is_oom(exc):
    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom is not None and isinstance(exc, oom)) or "out of memory" in str(exc).lower()


# ---------------------------------------------------------------------------------------------------------------
# the run

def _check_can_start(rec, resume, path):
    status = rec.get("status")
    if status == "completed":
        raise RunError("%s: the run has already completed" % path)
    if status == "running":
        owner = rec.get("owner") or {}
        if _owner_alive(owner):
            raise RunError("%s: the run is already running (pid %s)" % (path, owner.get("pid")))
    if resume and status not in RESUMABLE + ("running",):
        raise RunError("%s: --resume needs a cancelled, failed or interrupted run; its status is %r" % (path, status))


def _owner_alive(owner):
    import socket
    pid = owner.get("pid")
    if not isinstance(pid, int) or owner.get("hostname") != socket.gethostname():
        return False
    start = process_start(pid)
    return start is not None and start == owner.get("processStart")


def finetune(run_dir, resume=False, device_arg=None, stop=None, ctx=None):
    """Runs one run folder. Returns EXIT_OK, EXIT_FAILED or EXIT_CANCELLED."""
    return execute(run_dir, _run, resume=resume, device_arg=device_arg, stop=stop, ctx=ctx)


def execute(run_dir, body, resume=False, device_arg=None, stop=None, ctx=None):
    """The run folder's life cycle around `body(folder, rec, resume, device_arg, stop, ctx)` -> (result, message):
    refusing a completed or live run, status running/completed/failed/cancelled under the lock, heartbeat, status
    events and run.log (shared by finetune, pretrain and probe). Returns EXIT_OK, EXIT_FAILED or EXIT_CANCELLED."""
    ctx = ctx or distributed.Context()
    stop = stop or Stop()
    folder = RunFolder(run_dir, writable=ctx.is_main)
    started = False
    if ctx.is_main:
        # a run that is completed or running elsewhere is refused without touching its files
        try:
            _check_can_start(folder.read_record(), resume, folder.file("run.json"))
        except (RunError, RunFolderError) as exc:
            sys.stderr.write("scwb_worker: %s\n" % exc)
            return EXIT_FAILED
    try:
        rec = folder.read_record()
        owner = owner_record()
        if ctx.is_main:
            folder.update_record(lambda r: {"status": "running", "owner": owner, "startedAt": iso_now(),
                                            "endedAt": None, "error": None})
            started = True
            folder.start_heartbeat()
            folder.event("status", status="running", message="resumed" if resume else "started")
            folder.log("%s %s (pid %d, torch %s)" % ("resuming" if resume else "starting", run_dir, owner["pid"],
                                                     torch.__version__))
        result, message = body(folder, rec, resume, device_arg, stop, ctx)
    except BaseException as exc:  # noqa: B902 - every failure must end as status failed with the log kept
        if isinstance(exc, KeyboardInterrupt):
            result, message = "cancelled", "cancelled"
        else:
            result = "failed"
            message = str(exc) if isinstance(exc, (RunError, DataError, RunFolderError, protocols.ProtocolError,
                                                    tokens.TokenError)) else "%s: %s" % (type(exc).__name__, exc)
            if type(exc).__name__ in ("PartialLoadError", "CheckpointError", "DemoError"):
                message = str(exc)
            if ctx.is_main and os.path.isdir(folder.path):
                try:
                    folder.log("failed: %s\n%s" % (message, traceback.format_exc()), echo=False)
                except Exception:  # the log itself may be the problem (a symlink): still record the status
                    pass
            sys.stderr.write("scwb_worker: %s: run failed: %s\n" % (run_dir, message))
        if not started and ctx.is_main and result == "failed":
            # nothing was started: still record why, unless run.json itself is unreadable
            try:
                folder.update_record(lambda r: {"status": "failed", "error": message, "endedAt": iso_now()})
                folder.event("status", status="failed", message=message)
            except Exception:
                pass
            folder.close()
            return EXIT_FAILED
    if ctx.is_main and started:
        try:
            fields = {"status": result, "endedAt": iso_now(), "error": message if result == "failed" else None}
            folder.update_record(lambda r: fields)
            try:
                folder.event("status", status=result, **({"message": message} if message else {}))
                folder.log("%s%s" % (result, ": " + message if message and result != "completed" else ""))
            except RunFolderError as exc:  # e.g. a symlinked events.jsonl: run.json already says why
                sys.stderr.write("scwb_worker: %s\n" % exc)
        finally:
            folder.close()
    else:
        folder.close()
    return {"completed": EXIT_OK, "failed": EXIT_FAILED, "cancelled": EXIT_CANCELLED}[result]


def _run(folder, rec, resume, device_arg, stop, ctx):
    params = (rec.get("parameters") or {}).get("finetune")
    if not isinstance(params, dict):
        raise RunError("%s: parameters.finetune is missing" % folder.file("run.json"))
    fraction = float(rec.get("fraction", 1.0))
    p = protocols.resolve(params, fraction)
    seed = int(rec.get("seed", 0))
    device_type, device, amp = rank_device(device_arg, p, ctx)
    split = folder.read_split()
    seed_everything(seed)
    model, cfg, hint, report = build(p, device_type)
    if report is not None and ctx.is_main:
        folder.log("\n".join(report.lines()))
    folder.log("reading %s" % rec["dataset"]["path"])
    inp = load_inputs(rec, p, split, seed, hint)
    if inp.val_from_query:
        folder.log("validation = test: the validation cells are the query's test cells (split.json)")
    if ctx.any(stop.requested, "cuda:%d" % ctx.local_rank if device_type == "cuda" else "cpu"):
        return "cancelled", "cancelled before training started"
    model.to(device)
    trainable = [q for q in model.parameters() if q.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=float(p["lr"]))
    scheduler = protocols.make_scheduler(p["model"], optimizer, p)
    weights = protocols.class_weights(inp.y_train, len(p["classes"])) if p["model"] == "scbert" else None
    ddp_model = model
    if ctx.active:
        from torch.nn.parallel import DistributedDataParallel as DDP
        ddp_model = DDP(model, device_ids=[ctx.local_rank] if device_type == "cuda" else None)

    B, epochs, log_every = p["batchSize"], p["epochs"], p["logEvery"]
    n_train = len(inp.y_train)
    n_batches = math.ceil(n_train / B)
    if ctx.active and n_train < ctx.world:
        raise RunError("%d training cells cannot be shared by %d processes" % (n_train, ctx.world))
    if ctx.active and n_batches > 1 and n_train - (n_batches - 1) * B < ctx.world:
        n_batches -= 1  # a final batch with fewer cells than processes is skipped
    if not len(inp.y_val) and p["keep"] != "last":
        p["keep"] = "last"
        folder.log("no validation rows in split.json: the last epoch's model is kept")
    total_steps = n_batches * epochs
    start_epoch, start_batch, step = 1, 0, 0
    best = {"value": None, "epoch": None}
    last_path = (folder.checkpoint_path("last.pt") if ctx.is_main
                 else os.path.join(folder.path, "checkpoints", "last.pt"))
    best_path = os.path.join(folder.path, "checkpoints", "best.pt")
    if resume and os.path.exists(last_path):
        state = load_resume(last_path, model, optimizer, scheduler)
        start_epoch, start_batch, step = int(state["epoch"]), int(state["batch"]), int(state["step"])
        best = dict(state["best"])
        folder.log("resuming at epoch %d, batch %d (step %d)" % (start_epoch, start_batch, step))
    elif resume:
        folder.log("no checkpoints/last.pt: starting from the beginning")

    from . import checkpoints as ck

    def save(path, epoch, batch):
        ck.save_checkpoint(path, {
            "model_state_dict": model.state_dict(), "optimizer_state_dict": optimizer.state_dict(),
            "scheduler_state_dict": scheduler.state_dict(), "epoch": epoch, "batch": batch, "step": step,
            "best": dict(best), "rng": rng_state(), "scaler": None,
            "model": p["model"], "classes": list(p["classes"]), "config": dict(vars(cfg)),
        })

    folder.log("training %s (%s) on %s%s: %d training, %d validation, %d test cells, %d epochs of %d batches%s" % (
        p["model"], p["ablation"], device, " (%d threads)" % torch.get_num_threads() if device == "cpu" else "",
        n_train, len(inp.y_val), len(inp.test_names), epochs, n_batches,
        ", %d processes" % ctx.world if ctx.active else ""))
    ddp_model.train()
    oom_batch = None
    t_start = time.time()  # of this process (a resumed run counts from its resumption)
    try:
        for epoch in range(start_epoch, epochs + 1):
            order = epoch_order(seed, epoch, n_train)
            first = start_batch if epoch == start_epoch else 0
            t0, cells_seen, loss_acc, loss_n = time.time(), 0, 0.0, 0
            for bi in range(first, n_batches):
                rows = order[bi * B:(bi + 1) * B]
                mine = distributed.shard(rows, ctx) if ctx.active else rows
                denom = global_denominator(inp.y_train[rows], weights)
                oom_batch = len(mine)
                loss, _ = batch_loss(ddp_model, inp.encoder, _take(inp.train, mine), inp.y_train[mine], weights,
                                     denom, ctx.world, device, amp)
                if not torch.isfinite(loss.detach()).all():
                    raise RunError("the training loss is %s at epoch %d, step %d: training diverged (try a lower "
                                   "learning rate)" % (float(loss), epoch, step + 1))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if p.get("gradClip"):
                    torch.nn.utils.clip_grad_norm_(trainable, float(p["gradClip"]))
                optimizer.step()
                step += 1
                cells_seen += len(rows)
                loss_acc += ctx.all_sum([float(loss) / ctx.world], device)[0] if ctx.active else float(loss)
                loss_n += 1
                end_of_epoch = bi == n_batches - 1
                if step % log_every == 0 or end_of_epoch:
                    elapsed = max(time.time() - t0, 1e-9)
                    folder.event("train", epoch=epoch, step=step, loss=_num(loss_acc / loss_n),
                                 lr=float(optimizer.param_groups[0]["lr"]), cellsPerSec=round(cells_seen / elapsed, 3),
                                 gpuMemoryMiB=_gpu_mib(device))
                    folder.event("progress", fraction=round(step / total_steps, 6),
                                 message="epoch %d/%d, step %d" % (epoch, epochs, step))
                    folder.say("epoch %d/%d step %d/%d: loss %.4f, lr %.3g, %.1f cells/s" % (
                        epoch, epochs, step, total_steps, loss_acc / loss_n, optimizer.param_groups[0]["lr"],
                        cells_seen / elapsed))
                    loss_acc, loss_n = 0.0, 0
                if not end_of_epoch and ctx.any(stop.requested, device):
                    if ctx.is_main:
                        save(last_path, epoch, bi + 1)
                        folder.log("stopped by signal %s at epoch %d, batch %d: checkpoints/last.pt written; "
                                   "--resume continues from there" % (stop.signal or "", epoch, bi + 1))
                    return "cancelled", "cancelled at epoch %d, step %d" % (epoch, step)
            oom_batch = None
            if not len(inp.y_val):
                scheduler.step()
                if ctx.is_main:
                    save(last_path, epoch + 1, 0)
                ctx.barrier()
                if epoch < epochs and ctx.any(stop.requested, device):
                    return "cancelled", "cancelled after epoch %d" % epoch
                continue
            val_loss, val_acc = evaluate(ddp_model.module if ctx.active else model, inp.encoder, inp.val, inp.y_val,
                                         weights, B, device, amp, ctx)
            if p["keep"] == "best-loss":
                improved = best["value"] is None or (not math.isnan(val_loss) and val_loss < best["value"])
                value = val_loss
            elif p["keep"] == "best-accuracy":
                improved = best["value"] is None or (not math.isnan(val_acc) and val_acc > best["value"])
                value = val_acc
            else:
                improved, value = True, val_acc
            if improved:
                best = {"value": _num(value), "epoch": epoch}
            scheduler.step()
            if ctx.is_main:
                folder.event("validation", epoch=epoch, step=step, loss=_num(val_loss), accuracy=_num(val_acc),
                             best=bool(improved))
                folder.log("epoch %d: validation loss %.5f, accuracy %.4f%s" % (
                    epoch, val_loss, val_acc, " (kept)" if improved else ""))
                if improved and p["keep"] != "last":
                    save(best_path, epoch + 1, 0)
                save(last_path, epoch + 1, 0)
            ctx.barrier()
            if epoch < epochs and ctx.any(stop.requested, device):
                folder.log("stopped by signal after epoch %d: checkpoints/last.pt written" % epoch)
                return "cancelled", "cancelled after epoch %d" % epoch
    except RuntimeError as exc:
        if device_type == "cuda" and _is_oom(exc):
            from . import estimate
            hint_batch = estimate.suggest_batch(model, p, cfg, ctx.world, device)
            raise RunError("CUDA out of memory at batch %s per GPU: %s. The memory estimate suggests batch %s "
                           "(python -m scwb_worker estimate --run-dir %s --probe finds the largest that fits)" % (
                               oom_batch, str(exc).splitlines()[0], hint_batch, folder.path)) from None
        raise

    # predictions of the kept model (rank 0)
    if ctx.is_main:
        if p["keep"] != "last" and os.path.exists(best_path):
            model.load_state_dict(load_own(best_path)["model_state_dict"])
        pred = predict(model, inp.encoder, inp.test, B, device, amp)
        classes = p["classes"]
        folder.write_predictions([(split["test"][i], inp.test_names[i], inp.test_labels[i], classes[k])
                                  for i, k in enumerate(pred)])
        folder.event("progress", fraction=1.0, message="predictions written")
        if p["keep"] != "last" and best.get("epoch") is not None:
            folder.event("metric", name="keptEpoch", value=int(best["epoch"]), step=step)
        folder.event("metric", name="trainSeconds", value=round(time.time() - t_start, 3), step=step)
        folder.log("predictions.csv written (%d cells) by the %s model" % (
            len(pred), "last-epoch" if p["keep"] == "last" else "epoch-%s" % best.get("epoch")))
        _export_onnx(folder, rec, p, model, inp, cfg)
    ctx.barrier()
    return "completed", None


def _export_onnx(folder, rec, p, model, inp, cfg):
    """model.onnx + model.onnx.json of the kept model; a failure is logged, never fatal to the run."""
    try:
        from . import onnx_export
        onnx_export.export_model(model, p["model"], folder.path,
                                 onnx_export.sidecar_for(p, rec, inp.encoder, inp.genes, cfg))
        folder.log("model.onnx written (opset %d, dynamic batch) with model.onnx.json" % onnx_export.OPSET)
    except Exception as exc:  # noqa: BLE001 - the export is optional
        folder.log("ONNX export failed (the run is not affected): %s: %s" % (type(exc).__name__, exc))
    finally:
        model.train(False)


def _num(v):
    v = float(v)
    return v if math.isfinite(v) else None
