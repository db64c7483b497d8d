"""Cells, bins, masks, losses and the learning-rate schedule of the published AAAI 2025 benchmark encoders
(models/published.py; docs/worker-benchmark.md), written from the published description:

- A cell is the list of its expressed genes in stored order. With at least `max_genes` genes, `max_genes` are drawn:
  with weighted sampling, half of the time (a coin) torch.multinomial without replacement with weights
  value - min(value) + 1e-5, else a random permutation; the kept genes stay in draw order. With fewer, the row is
  padded with <pad> and value 0 to `max_genes` places.
- Bin mode bins the sampled, padded row (padding zeros included): edges = torch.quantile(row, linspace(0, 1,
  n_bins - 1)), bin = ceil(u * (right - left) + left) with left/right = bucketize(row, edges, right=False/True) - 1
  and u uniform (random ties); an all-zero row is all bin 0. Bin numbers are fed as continuous values.
- Masking: each gene place (not padding) is hidden with probability mask_ratio and holds -1; <cls> (value 0) is put
  first. The loss is the MSE over the hidden places of the masked-value output plus, with MVC, of the MVC output.
- Validation (best_model.pt): the mean over batches of each batch's MSE on the hidden places; in bin mode the
  predicted bins are truncated to integers, clamped to 0..n_bins-2 and replaced by the centres of the cell's
  n_bins-quantile bins (un-binning) and compared with the values before binning.
- Warm-up: before the s-th optimizer step (0-based) of the first epoch lr = base x s / warmup while s <= warmup;
  the lr is then left as it is, so later epochs keep the last value set: factor min(s, n1 - 1, warmup) / warmup.

Every random draw of a cell in an epoch (coin, sample, bins, mask, in this order) comes from one torch.Generator
seeded from (seed, epoch, row), so it does not depend on the batch, the rank or a resumption.
"""
import numpy as np
import torch

from .models.published import CLS_VALUE, MASK_VALUE, PAD_VALUE

WEIGHT_EPS = 1e-5


def cell_generator(seed, epoch, row):
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(epoch), int(row) & 0xFFFFFFFF]).generate_state(2)
    return torch.Generator().manual_seed((int(state[0]) << 31) ^ int(state[1]))


def sampling_weights(values):
    """The published multinomial weights of a cell's genes: value - min + 1e-5."""
    return values - values.min() + WEIGHT_EPS


def sample_places(values, k, weighted, coin, gen):
    """Indices, in draw order, of the k genes a cell with at least k genes keeps (None when it has fewer). `coin`:
    weighted sampling only on half of the draws (pre-training); without it always (the downstream probes)."""
    n = len(values)
    if n < k:
        return None
    if weighted and (not coin or float(torch.rand(1, generator=gen)) < 0.5):
        return torch.multinomial(sampling_weights(values), k, replacement=False, generator=gen)
    return torch.randperm(n, generator=gen)[:k]


def bin_row(row, n_bins, gen):
    """Quantile bins of one padded row (float tensor) with random ties; float bin numbers."""
    if bool(torch.all(row == 0)):
        return torch.zeros_like(row)
    edges = torch.quantile(row, torch.linspace(0, 1, n_bins - 1, dtype=row.dtype))
    left = torch.bucketize(row, edges, right=False) - 1
    right = torch.bucketize(row, edges, right=True) - 1
    u = torch.rand(row.shape, generator=gen, dtype=row.dtype)
    return torch.ceil(u * (right - left) + left).to(row.dtype)


def unbin_row(pred, original, n_bins):
    """Predicted bins of one row -> values: centres of the row's n_bins-quantile bins (its padding zeros included)."""
    edges = torch.quantile(original, torch.linspace(0, 1, n_bins, dtype=original.dtype))
    centres = (edges[:-1] + edges[1:]) / 2
    idx = pred.long().clamp(0, len(centres) - 1)
    return centres[idx]


def lr_factor(step, warmup, first_epoch_batches):
    """The published warm-up: the lr factor before optimizer step `step` (0-based over the run)."""
    if warmup <= 0:
        return 1.0
    return min(step, max(first_epoch_batches - 1, 0), warmup) / warmup


def warmup_scheduler(optimizer, warmup, first_epoch_batches):
    w, n1 = int(warmup), int(first_epoch_batches)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, w, n1))


class PublishedBatch:
    def __init__(self, inputs, target, masked, original):
        self.inputs, self.target, self.masked, self.original = inputs, target, masked, original
        self.n_masked = int(masked.sum())
        self.n_tokens = int((~inputs[2]).sum())


class PublishedCells:
    """Token rows of the published encoders from a SparseCells (ids, values in stored order)."""

    def __init__(self, cells, tok, cfg, ratio, weighted, coin, seed):
        self.cells, self.tok, self.cfg = cells, tok, cfg
        self.ratio, self.weighted, self.coin, self.seed = float(ratio), bool(weighted), bool(coin), seed
        self.max_genes = cfg.max_seq_len - 1

    def cell(self, row, epoch):
        """(ids [k], values before binning [k], model values [k], masked [k]) of one cell, k = max_genes."""
        k, cfg = self.max_genes, self.cfg
        ids = torch.from_numpy(np.asarray(self.cells.ids[row], dtype=np.int64))
        vals = torch.from_numpy(np.asarray(self.cells.values[row], dtype=np.float32))
        gen = cell_generator(self.seed, epoch, row)
        pick = sample_places(vals, k, self.weighted, self.coin, gen)
        if pick is not None:
            ids, vals = ids[pick], vals[pick]
        n = len(ids)
        if n < k:
            ids = torch.cat([ids, torch.full((k - n,), self.tok.pad_id, dtype=torch.long)])
            vals = torch.cat([vals, torch.full((k - n,), PAD_VALUE, dtype=torch.float32)])
        model_vals = bin_row(vals, cfg.n_bins, gen) if cfg.value_mode == "bins" else vals
        masked = torch.zeros(k, dtype=torch.bool)
        if self.ratio > 0:
            masked[:n] = torch.rand(n, generator=gen) < self.ratio
        return ids, vals, model_vals, masked

    def prepare(self, rows, epoch):
        parts = [self.cell(r, epoch) for r in rows]
        b = len(rows)
        first_id = torch.full((b, 1), self.tok.cls_id, dtype=torch.long)
        first_val = torch.full((b, 1), CLS_VALUE, dtype=torch.float32)
        src = torch.cat([first_id, torch.stack([p[0] for p in parts])], 1)
        original = torch.cat([first_val, torch.stack([p[1] for p in parts])], 1)
        target = torch.cat([first_val, torch.stack([p[2] for p in parts])], 1)
        masked = torch.cat([torch.zeros(b, 1, dtype=torch.bool), torch.stack([p[3] for p in parts])], 1)
        values = torch.where(masked, torch.full_like(target, MASK_VALUE), target)
        return PublishedBatch((src, values, src.eq(self.tok.pad_id)), target, masked, original)


class PublishedObjective(PublishedCells):
    kind = "published"

    def __init__(self, cells, tok, cfg, p, seed):
        super().__init__(cells, tok, cfg, p["maskRatio"], p["weightedSampling"], True, seed)

    def loss_sum(self, out, batch, device):
        mlm, mvc, _cell = out
        m = batch.masked.to(device)
        t = batch.target.to(device)
        total = ((mlm.float() - t) ** 2)[m].sum()
        if self.cfg.mvc:
            total = total + ((mvc.float() - t) ** 2)[m].sum()
        return total, None

    def validation_mse(self, out, batch, device):
        """This batch's MSE of the masked-value output on the hidden places (un-binned in bin mode)."""
        mlm = out[0].float().cpu()
        m = batch.masked
        if not bool(m.any()):
            return None
        if self.cfg.value_mode == "bins":
            pred = torch.stack([unbin_row(mlm[i, 1:], batch.original[i, 1:], self.cfg.n_bins)
                                for i in range(len(mlm))])
            return float(((pred - batch.original[:, 1:]) ** 2)[m[:, 1:]].mean())
        return float(((mlm - batch.target) ** 2)[m].mean())
