"""Published fine-tuning protocols (../shared/notes/science.md part A) as defaults, and the scBERT lr schedule.

run.json `parameters.finetune` overrides any default it sets (absent or null fields keep the default). The protocol
elements of docs/protocols.md (precision, adamEps, headDropout, keep, classWeights, shuffle, geneEmbInit, gene2vec)
default to the published value of each model; `resolved_protocol` says what a run actually used."""
import math
import numbers

import numpy as np
import torch

ABLATIONS = ("none", "no-pretraining", "no-gene2vec", "frozen-embeddings")
PRECISIONS = ("published", "fp32", "bf16", "fp16")
KEEPS = ("best-accuracy", "best-loss", "last")
CLASS_WEIGHTS = ("dataset", "train", "none")
GENE_EMB_INITS = ("uniform", "normal")
PROTOCOL_KEYS = ("precision", "adamEps", "headDropout", "keep", "classWeights", "shuffle", "geneEmbInit", "gene2vec")

SCBERT_DEFAULTS = {
    "epochs": 10, "batchSize": 32, "lr": 1e-4, "maxSeqLen": None, "logEvery": 10,
    "gradClip": None, "dropout": None,
    # cosine annealing with warm restarts, stepped per epoch
    "schedule": {"firstCycle": 15, "cycleMult": 2.0, "maxLr": 1e-4, "minLr": 1e-6, "warmup": 5, "gamma": 0.9},
    # published protocol elements (clinicalml/sc-foundation-eval scBERT/dist_finetune.py, dist_finetune_fewshot.py)
    "precision": "published",   # fp32
    "adamEps": 1e-8,            # torch's Adam default
    "headDropout": 0.0,         # Identity(dropout=0.)
    "keep": "best-accuracy",    # *_best.pth, also for the few-shot fractions
    "classWeights": "dataset",  # 1 / count over the whole dataset's labels
    "shuffle": True,            # DistributedSampler(shuffle=True)
    "geneEmbInit": None,        # not a scBERT element
    "gene2vec": None,           # no-pretraining: the gene2vec table from the checkpoint unless a .npy is named
}
SCGPT_DEFAULTS = {
    "epochs": 20, "batchSize": 32, "lr": 1e-4, "maxSeqLen": 3001, "logEvery": 10,
    "gradClip": 1.0, "dropout": 0.2, "stepGamma": 0.9, "nBins": 51,
    # published protocol elements (clinicalml/sc-foundation-eval scGPT/scGPT_run_all_celltypeannot_*.py)
    "precision": "published",   # amp=True: fp16 autocast + GradScaler on CUDA, fp32 on CPU
    "adamEps": 1e-4,            # Adam(eps=1e-4 if amp else 1e-8)
    "headDropout": None,        # not a scGPT element (its classifier has no dropout)
    "keep": "best-loss",        # best validation loss model evaluated on the query
    "classWeights": "none",     # plain CrossEntropyLoss()
    "shuffle": False,           # DataLoader(shuffle=False): the split order every epoch
    "geneEmbInit": "uniform",   # without pre-training: init_weights() draws the gene embedding from U(-0.1, 0.1)
    "gene2vec": None,           # not a scGPT element
}


class ProtocolError(Exception):
    pass


def resolve(params, fraction):
    """The effective hyper-parameters of a run: published defaults overridden by parameters.finetune.

    `fraction` no longer changes what is kept: the published scBERT few-shot figure re-evaluates the best-validation-
    accuracy checkpoint too (dist_finetune_fewshot.py saves *_best.pth)."""
    del fraction
    model = params.get("model")
    if model not in ("scbert", "scgpt"):
        raise ProtocolError("parameters.finetune.model must be 'scbert' or 'scgpt', got %r" % (model,))
    ablation = params.get("ablation") or "none"
    if ablation not in ABLATIONS:
        raise ProtocolError("parameters.finetune.ablation must be one of %s, got %r" % (", ".join(ABLATIONS), ablation))
    if model == "scbert" and ablation == "frozen-embeddings":
        raise ProtocolError("ablation 'frozen-embeddings' is a scGPT ablation")
    if model == "scgpt" and ablation == "no-gene2vec":
        raise ProtocolError("ablation 'no-gene2vec' is a scBERT ablation")
    base = dict(SCBERT_DEFAULTS if model == "scbert" else SCGPT_DEFAULTS)
    if model == "scgpt" and ablation in ("no-pretraining", "frozen-embeddings") and params.get("epochs") is None:
        base["epochs"] = 30
    for k, v in params.items():
        if v is not None:
            base[k] = v
    # the legacy boolean `amp` counts only when `precision` is absent: true = bf16, false = fp32
    if params.get("precision") is None and params.get("amp") is not None:
        base["precision"] = "bf16" if params["amp"] else "fp32"
    base["model"] = model
    base["ablation"] = ablation
    classes = base.get("classes")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        raise ProtocolError("parameters.finetune.classes must be a non-empty list of class names")
    if len(set(classes)) != len(classes):
        raise ProtocolError("parameters.finetune.classes has duplicate names")
    for key in ("epochs", "batchSize", "logEvery"):
        if not isinstance(base[key], int) or isinstance(base[key], bool) or base[key] < 1:
            raise ProtocolError("parameters.finetune.%s must be a positive integer, got %r" % (key, base[key]))
    _check_protocol(base)
    # what the rest of the worker (estimate, pretrain's rank_device) reads as "reduced precision on CUDA"
    base["amp"] = base["precision"] != "fp32" and not (model == "scbert" and base["precision"] == "published")
    return base


def _choice(p, key, allowed):
    if p[key] not in allowed:
        raise ProtocolError("parameters.finetune.%s must be one of %s, got %r" % (key, ", ".join(allowed), p[key]))


def _number(p, key, low, high, low_open):
    v = p[key]
    if not isinstance(v, numbers.Real) or isinstance(v, bool) or not math.isfinite(v) or v > high or v < low or (
            low_open and v == low):
        raise ProtocolError("parameters.finetune.%s must be a number in %s%s, %s], got %r" % (
            key, "(" if low_open else "[", low, high, v))


def _check_protocol(p):
    model = p["model"]
    _choice(p, "precision", PRECISIONS)
    _number(p, "adamEps", 0.0, 1.0, True)
    _choice(p, "keep", KEEPS)
    _choice(p, "classWeights", CLASS_WEIGHTS)
    if not isinstance(p["shuffle"], bool):
        raise ProtocolError("parameters.finetune.shuffle must be true or false, got %r" % (p["shuffle"],))
    if model == "scbert":
        _number(p, "headDropout", 0.0, 1.0, False)
        if p["headDropout"] >= 1.0:
            raise ProtocolError("parameters.finetune.headDropout must be below 1, got %r" % (p["headDropout"],))
        if p["geneEmbInit"] is not None:
            raise ProtocolError("parameters.finetune.geneEmbInit is a scGPT setting (scBERT has a gene2vec table)")
        if p["gene2vec"] is not None:
            if not isinstance(p["gene2vec"], str) or not p["gene2vec"]:
                raise ProtocolError("parameters.finetune.gene2vec must be the path of a gene2vec .npy file")
            if p["ablation"] != "no-pretraining":
                raise ProtocolError("parameters.finetune.gene2vec is used by the 'no-pretraining' ablation only (the "
                                    "other scBERT runs take the table from the checkpoint or have none)")
    else:
        _choice(p, "geneEmbInit", GENE_EMB_INITS)
        if p["headDropout"] is not None:
            raise ProtocolError("parameters.finetune.headDropout is a scBERT setting (scGPT's classifier has no "
                                "dropout; `dropout` sets the transformer's)")
        if p["gene2vec"] is not None:
            raise ProtocolError("parameters.finetune.gene2vec is a scBERT setting")


def effective_precision(p, device_type):
    """"fp32" | "bf16" | "fp16": what a run on `device_type` computes in. "published" is scBERT's fp32 and scGPT's
    fp16 autocast with a GradScaler on CUDA (fp32 on CPU, as the published script without a GPU)."""
    prec = p["precision"]
    if prec == "published":
        return "fp16" if p["model"] == "scgpt" and device_type == "cuda" else "fp32"
    return prec


def resolved_protocol(p, precision, gene2vec_source=None):
    """The protocol elements the run used, for run.log and run.json `resolvedProtocol` (`precision`: what the run
    computed in, after effective_precision and the device's limits)."""
    return {
        "precision": precision,
        "adamEps": float(p["adamEps"]),
        "headDropout": None if p["headDropout"] is None else float(p["headDropout"]),
        "keep": p["keep"],
        "classWeights": p["classWeights"],
        "shuffle": bool(p["shuffle"]),
        "geneEmbInit": p["geneEmbInit"],
        "gene2vec": gene2vec_source,
    }


def protocol_line(resolved):
    """One run.log line: `protocol: precision=fp32, adamEps=1e-08, ...`."""
    return "protocol: " + ", ".join("%s=%s" % (k, _show(resolved[k])) for k in PROTOCOL_KEYS)


def _show(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def class_weights(train_labels, n_classes):
    """Cross-entropy weights 1 / (count of the class among the training rows), scaled so that the weights of the
    training rows sum to the number of training rows (w_c = N / (K * n_c), K = classes present, as sklearn's
    'balanced'); classes without training rows get weight 0. With mean reduction only the ratios matter."""
    counts = np.bincount(np.asarray(train_labels, dtype=np.int64), minlength=n_classes).astype(np.float64)
    return _inverse_counts(counts)


def _inverse_counts(counts):
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    w = np.zeros(len(counts), dtype=np.float64)
    w[present] = counts.sum() / (present.sum() * counts[present])
    return torch.tensor(w, dtype=torch.float32)


def loss_weights(p, train_labels, dataset_counts):
    """The run's cross-entropy class weights (None = unweighted): "dataset" = proportional to 1 / count over the
    whole dataset's labels (published scBERT: class_weight = 1/x over np.unique of all cells' labels), "train" =
    over the training rows, "none"."""
    mode = p["classWeights"]
    if mode == "none":
        return None
    if mode == "train":
        return class_weights(train_labels, len(p["classes"]))
    return _inverse_counts(dataset_counts)


class CosineWarmRestarts:
    """Cosine annealing with linear warm-up and warm restarts, stepped once per epoch.

    With t the epoch index (0 for the first epoch) and, for cycle c (c = 0, 1, ...), length L_c (L_0 = firstCycle,
    L_{c+1} = floor((L_c - warmup) * cycleMult) + warmup), s the position in the current cycle and
    peak_c = maxLr * gamma^c:
        s < warmup:  lr = minLr + (peak_c - minLr) * s / warmup
        otherwise:   lr = minLr + (peak_c - minLr) * (1 + cos(pi * (s - warmup) / (L_c - warmup))) / 2
    (the published scBERT fine-tune schedule: the first epoch runs at minLr)."""

    def __init__(self, optimizer, first_cycle=15, cycle_mult=2.0, max_lr=1e-4, min_lr=1e-6, warmup=5, gamma=0.9):
        if first_cycle <= warmup:
            raise ProtocolError("schedule.firstCycle must be larger than schedule.warmup")
        self.optimizer = optimizer
        self.first_cycle, self.cycle_mult, self.warmup = int(first_cycle), float(cycle_mult), int(warmup)
        self.max_lr, self.min_lr, self.gamma = float(max_lr), float(min_lr), float(gamma)
        self.epoch = 0
        self._apply()

    def lr_at(self, t):
        length, s, cycle = self.first_cycle, t, 0
        while s >= length:
            s -= length
            cycle += 1
            length = int((length - self.warmup) * self.cycle_mult) + self.warmup
        peak = self.max_lr * self.gamma ** cycle
        if s < self.warmup:
            return self.min_lr + (peak - self.min_lr) * s / self.warmup
        phase = math.pi * (s - self.warmup) / (length - self.warmup)
        return self.min_lr + (peak - self.min_lr) * (1 + math.cos(phase)) / 2

    def _apply(self):
        lr = self.lr_at(self.epoch)
        for g in self.optimizer.param_groups:
            g["lr"] = lr

    def step(self):
        self.epoch += 1
        self._apply()

    def get_last_lr(self):
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self):
        return {"epoch": self.epoch}

    def load_state_dict(self, state):
        self.epoch = int(state["epoch"])
        self._apply()


def make_scheduler(kind, optimizer, p):
    if kind == "scbert":
        s = dict(SCBERT_DEFAULTS["schedule"])
        s["maxLr"] = float(p["lr"])  # the peak follows the run's lr unless the schedule names its own
        s.update(p.get("schedule") or {})
        return CosineWarmRestarts(optimizer, s["firstCycle"], s["cycleMult"], s["maxLr"], s["minLr"], s["warmup"],
                                  s["gamma"])
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=float(p.get("stepGamma", 0.9)))
