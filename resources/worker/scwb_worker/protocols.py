"""Published fine-tuning protocols (../shared/notes/science.md part A) as defaults, and the scBERT lr schedule.

run.json `parameters.finetune` overrides any default it sets (absent or null fields keep the default)."""
import math

import numpy as np
import torch

ABLATIONS = ("none", "no-pretraining", "no-gene2vec", "frozen-embeddings")

SCBERT_DEFAULTS = {
    "epochs": 10, "batchSize": 32, "lr": 1e-4, "maxSeqLen": None, "amp": False, "logEvery": 10,
    "gradClip": None, "dropout": None,
    # cosine annealing with warm restarts, stepped per epoch
    "schedule": {"firstCycle": 15, "cycleMult": 2.0, "maxLr": 1e-4, "minLr": 1e-6, "warmup": 5, "gamma": 0.9},
}
SCGPT_DEFAULTS = {
    "epochs": 20, "batchSize": 32, "lr": 1e-4, "maxSeqLen": 3001, "amp": True, "logEvery": 10,
    "gradClip": 1.0, "dropout": 0.2, "stepGamma": 0.9, "nBins": 51,
}


class ProtocolError(Exception):
    pass


def resolve(params, fraction):
    """The effective hyper-parameters of a run: published defaults overridden by parameters.finetune."""
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
    # scBERT: best validation accuracy kept, except few-shot runs (fraction < 1) keep the last epoch, as published
    if model == "scbert":
        base["keep"] = "last" if fraction < 1 else "best-accuracy"
    else:
        base["keep"] = "best-loss"
    return base


def class_weights(train_labels, n_classes):
    """Cross-entropy weights 1 / (count of the class among the training rows), scaled so that the weights of the
    training rows sum to the number of training rows (w_c = N / (K * n_c), K = classes present, as sklearn's
    'balanced'); classes without training rows get weight 0. With mean reduction only the ratios matter."""
    counts = np.bincount(np.asarray(train_labels, dtype=np.int64), minlength=n_classes).astype(np.float64)
    present = counts > 0
    w = np.zeros(n_classes, dtype=np.float64)
    w[present] = counts.sum() / (present.sum() * counts[present])
    return torch.tensor(w, dtype=torch.float32)


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
