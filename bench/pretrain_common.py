"""What the pre-training benchmarks (pretrain_cpu.py, pretrain_published.py) share: the worker on sys.path, the
synthetic cells, the reference model's copy of our weights, and the timed loop that steps "ours" (the worker's whole
step) and the plain-tensor reference in turn.
"""
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "resources", "worker"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from scwb_worker import distributed, pretrain  # noqa: E402

N_GENES = 2000


def synthetic_cells(n_cells, max_expressed):
    """`n_cells` cells over N_GENES genes with 150..max_expressed-1 expressed, read as the worker reads cells (log1p
    values, gene ids 0..N_GENES-1); seeded, so both sides of a benchmark see the same cells."""
    rng = np.random.RandomState(0)
    cells = pretrain.SparseCells()
    for r in range(n_cells):
        n = rng.randint(150, max_expressed)
        cols = np.sort(rng.choice(N_GENES, n, replace=False))
        raw = rng.poisson(3.0, n).astype(np.float32) + 1
        cells.ids[r], cells.values[r], cells.raw[r] = cols, np.log1p(raw), raw
    return cells


class WeightCopy(nn.Module):
    """Base of a reference model written as plain tensor code: a copy of `model`'s floating-point weights, read by
    their state-dict names with `p`."""

    def __init__(self, model):
        super().__init__()
        self.cfg = model.cfg
        self.w = nn.ParameterDict({k.replace(".", "__"): nn.Parameter(v.detach().clone())
                                   for k, v in model.state_dict().items() if v.is_floating_point()})

    def p(self, name):
        return self.w[name.replace(".", "__")]


def timed_steps(models, obj, batch, rows, lr, ref_loss, device, repeats):
    """Train steps of each model in `models` ({"ours"|"reference": model}, already on `device`), one step of each in
    turn, `repeats` timed rounds after one warm-up round. "ours" is the worker's whole step (`pretrain.step_loss`: the
    batch is prepared every time — sampling, masking —, then forward, loss, backward); the reference runs on the
    batch prepared once, with `ref_loss(out, batch, device)`. Each has its own Adam at `lr`. Returns per model the
    wall seconds, CPU seconds and tokens of each timed step."""
    opts = {k: torch.optim.Adam(m.parameters(), lr=lr) for k, m in models.items()}
    ctx = distributed.Context()
    res = {k: {"wall": [], "cpu": [], "tokens": []} for k in models}
    for r in range(repeats + 1):
        for impl, model in models.items():
            model.train()
            if device == "cuda":
                torch.cuda.synchronize()
            t0, c0 = time.perf_counter(), time.process_time()
            if impl == "ours":
                loss, bt, _ = pretrain.step_loss(model, obj, rows, r + 1, ctx, device, False)
            else:
                bt = batch
                loss = ref_loss(model(*[t.to(device) for t in batch.inputs]), batch, device)
            opts[impl].zero_grad()
            loss.backward()
            opts[impl].step()
            if device == "cuda":
                torch.cuda.synchronize()
            if r:  # the first round warms up
                res[impl]["wall"].append(time.perf_counter() - t0)
                res[impl]["cpu"].append(time.process_time() - c0)
                res[impl]["tokens"].append(bt.n_tokens)
    return res


def medians(res):
    """The median of each measure of `timed_steps`'s result."""
    return {k: {m: statistics.median(v) for m, v in d.items()} for k, d in res.items()}
