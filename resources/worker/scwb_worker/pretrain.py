"""`pretrain`: pre-training of the benchmark encoder, and continued pre-training of scBERT and scGPT, on the rows
of an unlabelled .h5ad (docs/worker-benchmark.md). The run folder's life cycle (status, lock, heartbeat, events, signals)
is lifecycle.execute's; the loop mirrors train._run's (global batch split over the ranks, last.pt after each epoch and
on cancel, --resume gives the same result as an uninterrupted run).

Every random draw of a cell in an epoch (the coin of weighted sampling, the gene sub-sample and the masked places,
in this order) comes from one generator, numpy.random.default_rng([seed, epoch, row]), so it does not depend on the
batch, the rank or a resumption.
"""
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import distributed, tokens
from .data import H5ad
from .models.encoder import MASK_VALUE, PAD_VALUE, BenchmarkEncoder, EncoderConfig
from .models import published as pub
from . import published_data, pretrain_scbert
from .pretrain_loop import end_epoch, epoch_batches, log_train, resume_from_last, stop_in_epoch
from .runtime import (RunError, _autocast, check_loss, rank_device, _num, epoch_order, load_own, rng_state,
                      seed_everything)

ENCODER_FILE = "encoder.pt"
ENCODER_FORMAT = "scwb-encoder"
SCWB_TRANSFORMER = "scwb-transformer"
STRUCTURES = pub.STRUCTURES + (SCWB_TRANSFORMER,)
VALIDATION_EPOCH = 0  # the key of the validation cells' (fixed) masks

DEFAULTS = {
    "model": "benchmark", "structure": "transformer", "checkpoint": None, "vocab": None, "valueMode": "log1p",
    "nBins": 51, "maxSeqLen": None, "maskRatio": 0.4, "mvc": None, "weightedSampling": False, "pooling": "cls",
    "epochs": 10, "batchSize": 128, "lr": 0.0002, "warmupSteps": 10000, "config": None, "valueLayer": None,
    "device": "auto", "nproc": 1, "amp": True, "logEvery": 10,
}


def resolve(params, where="parameters.pretrain"):
    p = dict(DEFAULTS)
    p.update({k: v for k, v in params.items() if v is not None or k in ("checkpoint", "vocab", "config",
                                                                         "valueLayer")})
    if p["model"] not in ("benchmark", "scbert", "scgpt"):
        raise RunError("%s.model must be benchmark, scbert or scgpt, got %r" % (where, p["model"]))
    published = p["model"] == "benchmark" and p["structure"] in pub.STRUCTURES
    if p["maxSeqLen"] is None:  # published: genes (--train_maxseq), <cls> on top; scwb-transformer: with <cls>
        p["maxSeqLen"] = pub.default_max_seq_len(p["structure"]) - 1 if published else 512
    if p["mvc"] is None:
        p["mvc"] = published  # the README's command trains with --use_mvc
    for key in ("epochs", "batchSize", "maxSeqLen", "nBins", "logEvery"):
        if not isinstance(p[key], int) or isinstance(p[key], bool) or p[key] < 1:
            raise RunError("%s.%s must be a positive integer, got %r" % (where, key, p[key]))
    if not isinstance(p["warmupSteps"], int) or p["warmupSteps"] < 0:
        raise RunError("%s.warmupSteps must be a non-negative integer, got %r" % (where, p["warmupSteps"]))
    if not (0.0 < float(p["maskRatio"]) < 1.0):
        raise RunError("%s.maskRatio must be between 0 and 1, got %r" % (where, p["maskRatio"]))
    if not float(p["lr"]) > 0:
        raise RunError("%s.lr must be positive, got %r" % (where, p["lr"]))
    if p["model"] == "benchmark":
        if p["structure"] not in STRUCTURES:
            raise RunError("%s.structure must be one of %s, got %r" % (where, ", ".join(STRUCTURES), p["structure"]))
        if p["valueMode"] not in ("log1p", "bins"):
            raise RunError("%s.valueMode must be log1p or bins, got %r" % (where, p["valueMode"]))
        if not published and p["pooling"] == "mean-genes":
            p["pooling"] = "mean"  # the scwb transformer's mean is over the gene tokens
        poolings = pub.POOLINGS if published else ("cls", "mean")
        if p["pooling"] not in poolings:
            raise RunError("%s.pooling must be one of %s, got %r" % (where, ", ".join(poolings), p["pooling"]))
        if not published and p["maxSeqLen"] < 2:
            raise RunError("%s.maxSeqLen must be at least 2 (<cls> and one gene)" % where)
    elif not p.get("checkpoint"):
        raise RunError("%s.checkpoint: continued pre-training of %s needs the published checkpoint (%s)" % (
            where, p["model"], ".pth file" if p["model"] == "scbert" else "scGPT folder"))
    return p


# ---------------------------------------------------------------------------------------------------------------
# sampling and masking (tested statistically)

def sample_genes(raw, k, weighted, rng):
    """Positions of k of the len(raw) expressed genes, without replacement, in increasing order: uniform, or
    drawn one after another with probability proportional to `raw` (the expression) among those left when
    `weighted` (as the k smallest E_i / raw_i with E_i exponential: Efraimidis and Spirakis' one-pass form of
    successive weighted draws). rng: a numpy Generator."""
    n = len(raw)
    if n <= k:
        return np.arange(n)
    if weighted:
        keys = rng.standard_exponential(n) / np.asarray(raw, dtype=np.float64)
        pick = np.argpartition(keys, k - 1)[:k]
    else:
        pick = rng.choice(n, k, replace=False)
    return np.sort(pick)


def mask_positions(n, ratio, rng):
    """Bernoulli(ratio) draw of each of n places (True = masked). rng: a numpy Generator."""
    return rng.random(n) < ratio


def cell_rng(seed, epoch, row):
    """The generator of one cell's draws in one epoch (PCG64 seeded by the SeedSequence of [seed, epoch, row])."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(epoch), int(row) & 0xFFFFFFFF])


# ---------------------------------------------------------------------------------------------------------------
# vocabularies

def read_vocab(path):
    import json
    try:
        with open(path, "r", encoding="utf-8") as fh:
            vocab = json.load(fh)
    except FileNotFoundError:
        raise RunError("%s: vocabulary file not found" % path) from None
    except (OSError, ValueError) as exc:
        raise RunError("%s: not a readable JSON vocabulary (%s)" % (path, exc)) from None
    if not isinstance(vocab, dict) or not vocab or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in vocab.values()):
        raise RunError("%s: expected a JSON object mapping gene names to non-negative integer token ids" % path)
    return vocab


class Tokens:
    """Token ids of a dataset's columns (-1 = not in the vocabulary) and the special ids."""

    def __init__(self, col_ids, n_tokens, pad_id, cls_id, genes, vocab_path):
        self.col_ids, self.n_tokens, self.pad_id, self.cls_id = col_ids, n_tokens, pad_id, cls_id
        self.genes, self.vocab_path = genes, vocab_path


def dataset_tokens(var_names, genes=None, vocab_path=None, ds_path=""):
    """genes (names in token order, specials after them) or a vocab file, or the dataset's own var names."""
    if vocab_path:
        vocab = read_vocab(vocab_path)
        for special in ("<pad>", "<cls>"):
            if special not in vocab:
                raise RunError("%s: the vocabulary has no %s token" % (vocab_path, special))
        ids = np.array([vocab.get(g, -1) for g in var_names], dtype=np.int64)
        tok = Tokens(ids, max(vocab.values()) + 1, int(vocab["<pad>"]), int(vocab["<cls>"]), None, vocab_path)
    else:
        genes = list(var_names) if genes is None else list(genes)
        pos = {}
        for i, g in enumerate(genes):
            pos.setdefault(g, i)
        ids = np.array([pos.get(g, -1) for g in var_names], dtype=np.int64)
        n = len(genes)
        tok = Tokens(ids, n + 2, n, n + 1, genes, None)
    if not (tok.col_ids >= 0).any():
        raise RunError("%s: none of its genes are in the encoder's vocabulary" % ds_path)
    return tok


# ---------------------------------------------------------------------------------------------------------------
# cells

class SparseCells:
    """The expressed genes of the rows read: per row the token ids, the model values and the raw values."""

    def __init__(self):
        self.ids, self.values, self.raw = {}, {}, {}


def read_cells(ds, rows, tok, value_mode, n_bins, layer, seed, stored=False):
    """The expressed genes of `rows`: log1p of raw counts (or scGPT-style bins); with `stored`, the positive values
    as stored (the published probes' input, X already normalised)."""
    m = ds.matrix(layer)
    out = SparseCells()
    keep = np.nonzero(tok.col_ids >= 0)[0]
    col_ids = tok.col_ids[keep]
    rows_arr = np.asarray(sorted(set(int(r) for r in rows)), dtype=np.int64)
    for pos, block in m.iter_rows(rows_arr):
        block = block[:, keep]
        if not np.isfinite(block).all():
            raise RunError("%s: the expression values hold NaN or infinity" % ds.path)
        if not stored and (block < 0).any():
            raise RunError("%s: negative expression values; pre-training needs raw counts (log1p is applied "
                           "here)%s" % (ds.path, " in layer %s" % layer if layer else ""))
        for i, p in enumerate(pos.tolist()):
            r = int(rows_arr[p])
            nz = np.nonzero(block[i] > 0)[0] if stored else np.nonzero(block[i])[0]
            raw = block[i, nz].astype(np.float32)
            if stored:
                vals = raw
            elif value_mode == "bins":
                vals = tokens.bin_values(raw, n_bins, tokens.row_rng(seed, r, tokens.SALT_BINNING))
            else:
                vals = np.log1p(raw).astype(np.float32)
            out.ids[r], out.values[r], out.raw[r] = col_ids[nz], vals, raw
    return out


class Batch:
    """Model inputs of a batch, the targets and masked places; counts of masked places and of tokens."""

    def __init__(self, inputs, target, masked, n_tokens):
        self.inputs, self.target, self.masked = inputs, target, masked
        self.n_masked = int(masked.sum())
        self.n_tokens = n_tokens


class BenchmarkObjective:
    """Masked-value MSE (+ MVC) of the benchmark encoder."""
    kind = "benchmark"

    def __init__(self, cells, tok, cfg, p, seed):
        self.cells, self.tok, self.cfg = cells, tok, cfg
        self.ratio = float(p["maskRatio"])
        self.weighted = bool(p["weightedSampling"])
        self.seed = seed
        self.max_genes = cfg.max_seq_len - 1

    def cell(self, row, epoch):
        """(ids, values, masked) of the genes a cell contributes in `epoch` (all when <= max_genes)."""
        ids, vals, raw = self.cells.ids[row], self.cells.values[row], self.cells.raw[row]
        rng = cell_rng(self.seed, epoch, row)
        coin = rng.random()
        if len(ids) > self.max_genes:
            pick = sample_genes(raw, self.max_genes, self.weighted and coin < 0.5, rng)
            ids, vals = ids[pick], vals[pick]
        return ids, vals, mask_positions(len(ids), self.ratio, rng)

    def prepare(self, rows, epoch):
        cells = [self.cell(r, epoch) for r in rows]
        length = max(1, max(len(c[0]) for c in cells))
        b = len(rows)
        ids = np.full((b, length), self.tok.pad_id, dtype=np.int64)
        target = np.zeros((b, length), dtype=np.float32)
        masked = np.zeros((b, length), dtype=bool)
        for i, (g, v, m) in enumerate(cells):
            ids[i, :len(g)] = g
            target[i, :len(v)] = v
            masked[i, :len(g)] = m
        pad = ids == self.tok.pad_id
        values = np.where(pad, PAD_VALUE, np.where(masked, MASK_VALUE, target)).astype(np.float32)
        n_tokens = int((~pad).sum()) + b
        return Batch((torch.from_numpy(ids), torch.from_numpy(values), torch.from_numpy(pad)),
                     torch.from_numpy(target), torch.from_numpy(masked), n_tokens)

    def loss_sum(self, out, batch, device):
        expr, mvc, _cell = out
        m = batch.masked.to(device)
        t = batch.target.to(device)
        total = ((expr.float() - t) ** 2)[m].sum()
        if mvc is not None:
            total = total + ((mvc.float() - t) ** 2)[m].sum()
        return total, None


class ScBertObjective:
    """scBERT's masked-bin prediction with the published masking (pretrain_scbert.mask_batch, as dist_pretrain.py):
    per cell exactly ceil(0.15 n) of its n non-zero tokens, 90% of them replaced by the mask token 6 and 10% left
    unchanged; zeros and the appended token 0 never. Cross-entropy on the chosen places. `maskRatio` does not
    apply."""
    kind = "scbert"

    def __init__(self, cells, seed):
        self.cells, self.seed = cells, seed  # cells: row -> uint8 tokens [n_genes]

    def prepare(self, rows, epoch):
        t = [pretrain_scbert.with_appended_zero(self.cells[r]) for r in rows]
        inp, labels = pretrain_scbert.mask_batch(t, rows, self.seed, epoch, pretrain_scbert.DEFAULTS["maskProb"],
                                                 pretrain_scbert.DEFAULTS["replaceProb"])
        target = torch.as_tensor(np.stack(t).astype(np.int64))
        return Batch((inp,), target, labels != pretrain_scbert.IGNORE, int(inp.numel()))

    def loss_sum(self, out, batch, device):
        m = batch.masked.to(device)
        logits = out.float()[m]
        y = batch.target.to(device)[m]
        total = F.cross_entropy(logits, y, reduction="sum")
        correct = float((logits.detach().argmax(-1) == y).sum()) if logits.shape[0] else 0.0
        return total, correct


class ScGPTObjective:
    """scGPT's masked-value MSE (GEP): masked values become -1, the expression decoder predicts them."""
    kind = "scgpt"

    def __init__(self, cells, tok, ratio, seed):
        self.cells, self.tok, self.ratio, self.seed = cells, tok, float(ratio), seed  # row -> (ids, values)

    def prepare(self, rows, epoch):
        ids, vals, pad = self.tok.batch([self.cells[r] for r in rows])
        masked = np.zeros(tuple(ids.shape), dtype=bool)
        for i, r in enumerate(rows):
            n = len(self.cells[r][0]) - 1  # genes after <cls>
            masked[i, 1:n + 1] = mask_positions(n, self.ratio, cell_rng(self.seed, epoch, r))
        masked_t = torch.from_numpy(masked)
        inp = vals.masked_fill(masked_t, MASK_VALUE)
        return Batch((ids, inp, pad), vals, masked_t, int((~pad).sum()))

    def loss_sum(self, out, batch, device):
        m = batch.masked.to(device)
        return ((out.float() - batch.target.to(device)) ** 2)[m].sum(), None


def step_loss(net, obj, rows, epoch, ctx, device, amp):
    """This rank's loss on its share `rows` of a global batch, scaled so that DDP's gradient average equals the
    gradient of the mean loss over every masked place of the global batch. Returns (loss, batch, correct)."""
    batch = obj.prepare(rows, epoch)
    n_global = ctx.all_sum([float(batch.n_masked)], device)[0] if ctx.active else float(batch.n_masked)
    with _autocast(device, amp):
        out = net(*[t.to(device) for t in batch.inputs])
    total, correct = obj.loss_sum(out, batch, device)
    return total / max(n_global, 1.0) * ctx.world, batch, correct


@torch.no_grad()
def validate(model, obj, rows, batch_size, device, amp, ctx):
    """(mean loss over the masked places, accuracy of masked tokens or None) of the validation rows."""
    model.eval()
    rows = np.asarray(rows, dtype=np.int64)
    mine = distributed.shard(rows, ctx) if ctx.active else rows
    loss_sum = n = correct = 0.0
    per_batch = hasattr(obj, "validation_mse")  # published: the mean of the batches' MSEs
    for s in range(0, len(mine), batch_size):
        batch = obj.prepare(mine[s:s + batch_size].tolist(), VALIDATION_EPOCH)
        with _autocast(device, amp):
            out = model(*[t.to(device) for t in batch.inputs])
        if per_batch:
            mse = obj.validation_mse(out, batch, device)
            if mse is not None:
                loss_sum += mse
                n += 1
            continue
        total, c = obj.loss_sum(out, batch, device)
        loss_sum += float(total)
        n += batch.n_masked
        correct += c or 0.0
    loss_sum, n, correct = ctx.all_sum([loss_sum, n, correct], device)
    model.train()
    loss = loss_sum / n if n else float("nan")
    acc = (correct / n if n else None) if obj.kind == "scbert" else None
    return loss, acc


# ---------------------------------------------------------------------------------------------------------------
# models

def read_encoder_file(path):
    """A benchmark encoder.pt -> (dict). Raises RunError naming the file."""
    from .checkpoints import CheckpointError
    try:
        obj = load_own(path)
    except CheckpointError as exc:
        raise RunError(str(exc)) from None
    if not isinstance(obj, dict) or obj.get("format") != ENCODER_FORMAT:
        raise RunError("%s: not a scWorkbench encoder (expected format %r; scBERT/scGPT checkpoints use model "
                       "scbert/scgpt)" % (path, ENCODER_FORMAT))
    return obj


def benchmark_from_file(path):
    """(model with the weights of encoder.pt, its PublishedConfig or EncoderConfig, the file's dict)."""
    obj = read_encoder_file(path)
    try:
        conf = dict(obj["config"])
        if obj.get("version", 1) == 1:  # written before the published structures: the scwb transformer
            if conf.get("structure") != "transformer":
                raise ValueError("its %r structure is no longer offered (pre-train a published cnn_base, cnn_ours, "
                                 "linear_ours or linear_base encoder instead)" % conf.get("structure"))
            conf["structure"] = SCWB_TRANSFORMER
        if conf.get("structure") in pub.STRUCTURES:
            cfg = pub.PublishedConfig.from_dict(conf)
            model = pub.PublishedEncoder(cfg)
        else:
            cfg = EncoderConfig.from_dict(conf)
            model = BenchmarkEncoder(cfg)
        model.load_state_dict(obj["model_state_dict"])
    except (KeyError, ValueError, RuntimeError, TypeError) as exc:
        raise RunError("%s: the encoder cannot be rebuilt from its config and weights (%s)" % (path, exc)) from None
    return model, cfg, obj


def _benchmark_setup(rec, p, split, seed, ds):
    rows = sorted(set(split["train"]) | set(split["validation"]))
    var = ds.var_names()
    if p.get("checkpoint"):
        model, cfg, obj = benchmark_from_file(p["checkpoint"])
        cfg.dropout = float((p.get("config") or {}).get("dropout", cfg.dropout))
        tok = dataset_tokens(var, obj.get("genes"), obj.get("vocab"), ds.path)
        if tok.n_tokens != cfg.n_tokens:
            raise RunError("%s: its vocabulary has %d tokens but the encoder was built for %d" % (
                p["checkpoint"], tok.n_tokens, cfg.n_tokens))
        sd = model.state_dict()
        model = type(model)(cfg)
        model.load_state_dict(sd)
    elif p["structure"] in pub.STRUCTURES:
        tok = dataset_tokens(var, None, p.get("vocab"), ds.path)
        conf = dict(p.get("config") or {})
        bad = sorted(set(conf) - {"dim", "depth", "heads", "dropout"})
        if bad:
            raise RunError("parameters.pretrain.config: unknown setting(s) %s" % ", ".join(bad))
        try:
            cfg = pub.PublishedConfig(n_tokens=tok.n_tokens, pad_id=tok.pad_id, cls_id=tok.cls_id,
                                      structure=p["structure"], value_mode=p["valueMode"], n_bins=p["nBins"],
                                      max_seq_len=p["maxSeqLen"] + 1, pooling=p["pooling"], mvc=bool(p["mvc"]),
                                      **conf)
            model = pub.PublishedEncoder(cfg)
        except ValueError as exc:
            raise RunError("parameters.pretrain: %s" % exc) from None
    else:
        tok = dataset_tokens(var, None, p.get("vocab"), ds.path)
        conf = dict(p.get("config") or {})
        bad = sorted(set(conf) - {"dim", "depth", "heads", "dropout", "d_hid", "kernel"})
        if bad:
            raise RunError("parameters.pretrain.config: unknown setting(s) %s" % ", ".join(bad))
        try:
            cfg = EncoderConfig(n_tokens=tok.n_tokens, pad_id=tok.pad_id, cls_id=tok.cls_id,
                                structure=SCWB_TRANSFORMER, value_mode=p["valueMode"], n_bins=p["nBins"],
                                max_seq_len=p["maxSeqLen"], pooling=p["pooling"], mvc=bool(p["mvc"]), **conf)
            model = BenchmarkEncoder(cfg)
        except ValueError as exc:
            raise RunError("parameters.pretrain: %s" % exc) from None
    if isinstance(cfg, pub.PublishedConfig):  # log1p of the counts; bin mode bins each sampled row later
        cells = read_cells(ds, rows, tok, "log1p", cfg.n_bins, p.get("valueLayer"), seed)
        return model, published_data.PublishedObjective(cells, tok, cfg, p, seed), {"cfg": cfg, "tok": tok}
    cells = read_cells(ds, rows, tok, cfg.value_mode, cfg.n_bins, p.get("valueLayer"), seed)
    return model, BenchmarkObjective(cells, tok, cfg, p, seed), {"cfg": cfg, "tok": tok}


def _published_setup(rec, p, split, seed, ds):
    from . import checkpoints as ck
    from .models.scbert import PerformerLM
    from .models.scgpt import ScGPTModel
    from .finetune_inputs import _encoder

    rows = sorted(set(split["train"]) | set(split["validation"]))
    sd, meta = ck.read_checkpoint(p["checkpoint"])
    sd, _ = ck.normalize_state_dict(sd)
    overrides = dict(p.get("config") or {})
    if p["model"] == "scbert":
        cfg = ck.infer_scbert_config(sd)
        for k, v in overrides.items():
            if not hasattr(cfg, k):
                raise RunError("parameters.pretrain.config: unknown scBERT setting %r" % k)
            setattr(cfg, k, v)
        genes = ds.var_names()
        if len(genes) != cfg.n_genes:
            raise RunError("%s has %d genes but the scBERT checkpoint expects exactly %d: run Preprocess scBERT with "
                           "the checkpoint's gene list (referenceGenes) first" % (ds.path, len(genes), cfg.n_genes))
        model = PerformerLM(cfg)
        report = ck.load_pretrained(model, p["checkpoint"])
        cells = {}
        m = ds.matrix(p.get("valueLayer"))
        rows_arr = np.asarray(rows, dtype=np.int64)
        for pos, block in m.iter_rows(rows_arr):
            t = tokens.scbert_tokens(block, ds.path)
            for i, q in enumerate(pos.tolist()):
                cells[int(rows_arr[q])] = t[i]
        return model, ScBertObjective(cells, seed), {"cfg": cfg, "report": report}
    cfg = ck.infer_scgpt_config(sd, meta.get("args"), meta.get("vocab"))
    for k, v in overrides.items():
        if not hasattr(cfg, k):
            raise RunError("parameters.pretrain.config: unknown scGPT setting %r" % k)
        setattr(cfg, k, v)
    model = ScGPTModel(cfg, n_classes=0)
    report = ck.load_pretrained(model, p["checkpoint"])
    for module in (model.flag_encoder, model.mvc_decoder):  # not part of the GEP objective
        for q in module.parameters():
            q.requires_grad_(False)
    vocab = meta.get("vocab")
    hint = {"ntoken": cfg.ntoken, "pad_token_id": cfg.pad_token_id, "pad_value": cfg.pad_value,
            "vocab": (vocab, os.path.join(p["checkpoint"], "vocab.json")) if vocab else None}
    enc = _encoder(ds, ds.var_names(), dict(p, model="scgpt"), seed, hint)
    cells = enc.encode(ds, rows, None)
    return model, ScGPTObjective(cells, enc.tok, p["maskRatio"], seed), {"cfg": cfg, "report": report}


def encoder_payload(p, model, extra, state_dict=None, epoch=None):
    sd = model.state_dict() if state_dict is None else state_dict
    if p["model"] == "benchmark":
        cfg, tok = extra["cfg"], extra["tok"]
        published = isinstance(cfg, pub.PublishedConfig)
        return {"format": ENCODER_FORMAT, "version": 2, "model": "benchmark", "structure": cfg.structure,
                "config": cfg.to_dict(), "pooling": cfg.pooling, "valueMode": cfg.value_mode, "nBins": cfg.n_bins,
                "maxSeqLen": cfg.max_seq_len - 1 if published else cfg.max_seq_len, "genes": tok.genes,
                "vocab": tok.vocab_path, "epoch": epoch, "model_state_dict": sd}
    return {"format": ENCODER_FORMAT, "version": 1, "model": p["model"], "structure": None,
            "config": dict(vars(extra["cfg"])), "pooling": None, "valueMode": None, "nBins": p["nBins"],
            "maxSeqLen": p["maxSeqLen"], "genes": None, "vocab": None, "epoch": epoch, "model_state_dict": sd}


def setup(rec, p, split, seed):
    """(model, objective, extra) of a run: the data of its train and validation rows read."""
    ds_path = rec["dataset"]["path"]
    with H5ad(ds_path) as ds:
        n_obs = ds.n_obs
        for key in ("train", "validation"):
            bad = [r for r in split[key] if r >= n_obs]
            if bad:
                raise RunError("split.json: %s row %d is out of range (%s has %d cells)" % (key, bad[0], ds_path,
                                                                                            n_obs))
        if p.get("valueLayer"):
            ds.matrix(p["valueLayer"])
        if p["model"] == "benchmark":
            return _benchmark_setup(rec, p, split, seed, ds)
        return _published_setup(rec, p, split, seed, ds)


def warmup_scheduler(optimizer, warmup):
    """lr * min(1, (step + 1) / warmup) before optimizer step `step` (0-based), then constant."""
    w = max(0, int(warmup))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0 if w == 0 else min(1.0, (s + 1) / w))


# ---------------------------------------------------------------------------------------------------------------
# the run

def pretrain(run_dir, resume=False, device_arg=None, stop=None, ctx=None):
    from .lifecycle import execute
    return execute(run_dir, _run, resume=resume, device_arg=device_arg, stop=stop, ctx=ctx)


def _run(folder, rec, resume, device_arg, stop, ctx):
    from . import checkpoints as ck
    from .atomic import write_atomic

    params = (rec.get("parameters") or {}).get("pretrain")
    if not isinstance(params, dict):
        raise RunError("%s: parameters.pretrain is missing" % folder.file("run.json"))
    if pretrain_scbert.wanted(params):  # scBERT from scratch, as published (its own module)
        return pretrain_scbert.run(folder, rec, resume, device_arg, stop, ctx)
    p = resolve(params)
    seed = int(rec.get("seed", 0))
    device_type, device, amp = rank_device(device_arg, p, ctx)
    split = folder.read_split()
    seed_everything(seed)
    folder.log("reading %s" % rec["dataset"]["path"])
    model, obj, extra = setup(rec, p, split, seed)
    published = isinstance(extra.get("cfg"), pub.PublishedConfig)
    if published:
        amp = False  # the published pre-training runs in fp32
    if extra.get("report") is not None:
        folder.log("\n".join(extra["report"].lines()))
    if ctx.any(stop.requested, device):
        return "cancelled", "cancelled before training started"
    model.to(device)
    trainable = [q for q in model.parameters() if q.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=float(p["lr"]))
    net = model
    if ctx.active:
        from torch.nn.parallel import DistributedDataParallel as DDP
        # the published models hold parameters no loss reaches (layer_norm; the decoder of cnn/linear_ours)
        net = DDP(model, device_ids=[ctx.local_rank] if device_type == "cuda" else None,
                  find_unused_parameters=published)

    train_rows = np.asarray(split["train"], dtype=np.int64)
    val_rows = list(split["validation"])
    B, epochs, log_every = p["batchSize"], p["epochs"], p["logEvery"]
    n_train = len(train_rows)
    n_batches = epoch_batches(n_train, B, ctx)
    total_steps = n_batches * epochs
    if published:  # warm-up in the first epoch only, then the lr stays where it is
        scheduler = published_data.warmup_scheduler(optimizer, p["warmupSteps"], n_batches)
    else:
        scheduler = warmup_scheduler(optimizer, p["warmupSteps"])
    start_epoch, start_batch, step = 1, 0, 0
    best = {"value": None, "epoch": None}
    best_state = None  # published: the weights of the lowest validation MSE (best_model.pt)
    tokens_done, seconds_done = 0.0, 0.0
    last_path, state = resume_from_last(folder, ctx, resume, model, optimizer, scheduler)
    if state is not None:
        start_epoch, start_batch, step = int(state["epoch"]), int(state["batch"]), int(state["step"])
        best = dict(state["best"])
        best_state = state.get("best_state_dict")
        tokens_done, seconds_done = float(state.get("tokens", 0.0)), float(state.get("seconds", 0.0))
    if resume:  # the events after this one redo the steps past `step` (readers keep the last segment)
        folder.event("resume", step=step, epoch=start_epoch, batch=start_batch)
    t_start = time.time()
    tokens_seen = 0.0

    def save(epoch, batch):
        ck.save_checkpoint(last_path, {
            "model_state_dict": model.state_dict(), "optimizer_state_dict": optimizer.state_dict(),
            "scheduler_state_dict": scheduler.state_dict(), "epoch": epoch, "batch": batch, "step": step,
            "best": dict(best), "rng": rng_state(), "scaler": None, "model": p["model"], "classes": [],
            "config": encoder_payload(p, model, extra)["config"], "tokens": tokens_done + tokens_seen,
            "seconds": seconds_done + time.time() - t_start, "best_state_dict": best_state,
        })

    folder.log("pre-training %s%s on %s%s: %d training, %d validation cells, %d epochs of %d batches%s" % (
        p["model"], " (%s)" % p["structure"] if p["model"] == "benchmark" else "", device,
        " (%d threads)" % torch.get_num_threads() if device == "cpu" else "", n_train, len(val_rows), epochs,
        n_batches, ", %d processes" % ctx.world if ctx.active else ""))
    net.train()
    for epoch in range(start_epoch, epochs + 1):
        order = train_rows[epoch_order(seed, epoch, n_train)]
        first = start_batch if epoch == start_epoch else 0
        t0, cells_seen, loss_acc, loss_n = time.time(), 0, 0.0, 0
        for bi in range(first, n_batches):
            rows = order[bi * B:(bi + 1) * B]
            mine = distributed.shard(rows, ctx) if ctx.active else rows
            loss, batch, _ = step_loss(net, obj, mine.tolist(), epoch, ctx, device, amp)
            check_loss(loss, ctx, device, "pre-training", epoch, step + 1)  # all ranks at once
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            lr_used = float(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
            step += 1
            cells_seen += len(rows)
            toks = ctx.all_sum([float(batch.n_tokens)], device)[0] if ctx.active else float(batch.n_tokens)
            tokens_seen += toks
            loss_acc += ctx.all_sum([float(loss) / ctx.world], device)[0] if ctx.active else float(loss)
            loss_n += 1
            end_of_epoch = bi == n_batches - 1
            if step % log_every == 0 or end_of_epoch:
                log_train(folder, device, epoch, epochs, step, total_steps, loss_acc / loss_n, lr_used, cells_seen, t0)
                loss_acc, loss_n = 0.0, 0
            stopped = None if end_of_epoch else stop_in_epoch(folder, ctx, stop, device, save, epoch, bi + 1, step)
            if stopped:
                return stopped
        if val_rows:
            val_loss, val_acc = validate(model, obj, val_rows, B, device, amp, ctx)
            improved = best["value"] is None or (not math.isnan(val_loss) and val_loss < best["value"])
            if improved:
                best = {"value": _num(val_loss), "epoch": epoch}
                if published:
                    best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            folder.event("validation", epoch=epoch, step=step, loss=_num(val_loss),
                         accuracy=None if val_acc is None else _num(val_acc), best=bool(improved))
            folder.log("epoch %d: validation loss %.5f%s" % (
                epoch, val_loss, "" if val_acc is None else ", masked-token accuracy %.4f" % val_acc))
        stopped = end_epoch(folder, ctx, stop, device, save, epoch, epochs)
        if stopped:
            return stopped

    if ctx.is_main:
        if published and best_state is not None:
            payload = encoder_payload(p, model, extra, best_state, best["epoch"])
            folder.log("encoder.pt holds epoch %d, the lowest validation MSE (%.5f)" % (best["epoch"], best["value"]))
        else:
            payload = encoder_payload(p, model, extra, epoch=epochs)
        write_atomic(folder.file(ENCODER_FILE), lambda fh: torch.save(payload, fh))
        seconds = seconds_done + time.time() - t_start
        tokens_all = tokens_done + tokens_seen
        folder.event("progress", fraction=1.0, message="encoder.pt written")
        folder.event("metric", name="trainSeconds", value=round(seconds, 3), step=step)
        folder.event("metric", name="tokensPerSec", value=round(tokens_all / max(seconds, 1e-9), 3), step=step)
        folder.log("encoder.pt written (%d steps, %.0f tokens/s)" % (step, tokens_all / max(seconds, 1e-9)))
    ctx.barrier()
    return "completed", None
