"""Perturbation prediction with a frozen published benchmark encoder (probe `method: "perturbation"`;
docs/worker-benchmark.md), written from the published description of downstreams_perturbe_pred.py:

- The encoder is frozen in eval mode; its input is the gene embedding alone (the value embedding is left out: the
  values are zeroed), <cls> first, the genes, <pad> (cells as the published probes read them: X as stored, a larger
  cell keeps `maxSeqLen` genes by a weighted draw, fresh at every pass). The prediction is the MVC output; the loss is
  the MSE over every place after <cls> (padding included, its target 0) against the cell's values.
- Stage 1: a control vector c (Linear(1, 256) without bias, torch's default init) is added to the <cls> gene
  embedding and trained on the control cells (`validation` of split.json) for `epochs` epochs, Adam(`lr`), batches
  of `batchSize` in stored order.
- Stage 2: with c fixed, the perturbed gene's token embedding e_g goes through Linear(256, 256) plus a learned bias
  (Linear(1, 256) without bias, its weight used as a vector) and is added to <cls> as well; trained on the perturbed
  training cells (`train`) for `epochs` epochs, Adam(`lr`), shuffled batches.
- Scores on the held-out perturbed cells (`test`): the mean over batches of each batch's MSE with no shift
  (`mseNoShift`), with c only (`mseControlShift`) and with c + the perturbation shift (`mse`, the published score).

Written: perturbation.json `{"mse", "mseNoShift", "mseControlShift", "nControl", "nTrain", "nTest", "perturbations":
{"train": [...], "test": [...]}, "skipped": {label: cells}}` and metric events of the three scores.
"""
import json
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .runtime import RunError, _num

PERTURBATION_FILE = "perturbation.json"
STAGE2_EPOCH_BASE = 100000   # generator keys of the stage-2 and evaluation passes, apart from stage 1's
EVAL_EPOCH_BASE = 200000


class Shifts(nn.Module):
    """The control vector and the perturbation map of the published probe (256-wide: the gene embedding's width)."""

    def __init__(self, width):
        super().__init__()
        self.base = nn.Linear(1, width, bias=False)
        self.trans = nn.Linear(width, width)
        self.trans_bias = nn.Linear(1, width, bias=False)

    def shift(self, model, genes, stage):
        """[B, width] added to the <cls> gene embedding: 0 (stage 0), c (1), c + T(e_g) + b (2)."""
        b = len(genes)
        out = torch.zeros(b, self.base.weight.shape[0], device=genes.device)
        if stage >= 1:
            out = out + self.base.weight.t()
        if stage >= 2:
            out = out + self.trans(model.embedding(genes)) + self.trans_bias.weight.t()
        return out


def predict(model, batch_inputs, genes, shifts, stage):
    """MVC output [B, L] of the frozen encoder on gene embeddings alone, <cls> shifted."""
    src, _values, pad = batch_inputs
    emb = model.embedding(src)
    shift = shifts.shift(model, genes, stage)
    emb = torch.cat([emb[:, :1] + shift.unsqueeze(1), emb[:, 1:]], dim=1)
    if model.emb_trans is not None:
        emb = model.emb_trans(emb)
    return model.encode_inputs(src, emb, emb, pad)[1]


def batch_mse(out, target):
    return F.mse_loss(out[:, 1:], target[:, 1:])


def run_perturbation(folder, rec, p, split, ds, device, stop, seed):
    """The probe body of method perturbation; returns ("completed" | "cancelled", message)."""
    from .atomic import write_atomic_text
    from .models.published import PublishedConfig
    from .pretrain import benchmark_from_file, dataset_tokens, read_cells
    from .published_data import PublishedCells

    enc = p["encoder"]
    if enc["model"] != "benchmark":
        raise RunError("perturbation prediction takes a published benchmark encoder (encoder.pt), not %s" % enc["model"])
    model, cfg, obj = benchmark_from_file(enc["path"])
    if not isinstance(cfg, PublishedConfig):
        raise RunError("%s: perturbation prediction needs a published structure (transformer, cnn_base, cnn_ours, "
                       "linear_ours, linear_base), not %s" % (enc["path"], cfg.structure))
    control = p.get("control")
    if not isinstance(control, str) or not control:
        raise RunError("parameters.probe.control must name the control cells' label (e.g. 'ctrl')")
    labels = ds.labels(rec["labelColumn"])
    tok = dataset_tokens(ds.var_names(), obj.get("genes"), obj.get("vocab"), ds.path)
    gene_token = dict(zip(ds.var_names(), tok.col_ids.tolist()))
    if obj.get("vocab"):
        from .pretrain import read_vocab
        gene_token.update({g: int(i) for g, i in read_vocab(obj["vocab"]).items()})
    ctrl_rows = [r for r in split["validation"] if labels[r] == control]
    if len(ctrl_rows) != len(split["validation"]):
        raise RunError("split.json: every validation row must be a control cell (%r)" % control)
    skipped = {}

    def perturbed(rows):
        keep, genes = [], []
        for r in rows:
            lab = labels[r]
            tid = gene_token.get(lab, -1)
            if lab == control or tid is None or tid < 0:
                skipped[str(lab)] = skipped.get(str(lab), 0) + 1
                continue
            keep.append(r)
            genes.append(tid)
        return keep, np.asarray(genes, dtype=np.int64)

    train_rows, train_genes = perturbed(split["train"])
    test_rows, test_genes = perturbed(split["test"])
    if not ctrl_rows or not train_rows or not test_rows:
        raise RunError("%s: perturbation prediction needs control cells (%d), perturbed training cells (%d) and "
                       "perturbed test cells (%d) whose perturbed gene is in the encoder's vocabulary" % (
                           ds.path, len(ctrl_rows), len(train_rows), len(test_rows)))
    if skipped:
        folder.log("left out (perturbed gene not in the encoder's vocabulary): %s" % ", ".join(
            "%s (%d)" % kv for kv in sorted(skipped.items())))
    all_rows = sorted(set(ctrl_rows) | set(train_rows) | set(test_rows))
    cells = read_cells(ds, all_rows, tok, "log1p", cfg.n_bins, p.get("valueLayer"), 0, stored=True)
    for r in all_rows:
        if len(cells.ids[r]) == 0:
            raise RunError("%s: cell %d has no expressed gene of the encoder's vocabulary" % (ds.path, r))
    batcher = PublishedCells(cells, tok, cfg, 0.0, p.get("geneSampling", "weighted") == "weighted", False, seed)
    model.to(device).eval()
    for q in model.parameters():
        q.requires_grad_(False)
    torch.manual_seed(seed)
    shifts = Shifts(model.embedding.weight.shape[1]).to(device)
    B, epochs, lr = p["batchSize"], p["epochs"], float(p["lr"])
    gene_of = dict(zip(train_rows, train_genes.tolist()))
    gene_of.update(zip(test_rows, test_genes.tolist()))
    for r in ctrl_rows:
        gene_of[r] = tok.pad_id

    def batches(rows, epoch):
        for s in range(0, len(rows), B):
            part = list(rows[s:s + B])
            b = batcher.prepare(part, epoch)
            genes = torch.tensor([gene_of[r] for r in part], dtype=torch.long, device=device)
            yield [t.to(device) for t in b.inputs], b.target.to(device), genes

    def train(rows, params, stage, epoch_base, shuffle):
        opt = torch.optim.Adam(params, lr=lr)
        for epoch in range(1, epochs + 1):
            t_epoch = time.time()
            order = (np.random.RandomState([seed & 0xFFFFFFFF, stage, epoch]).permutation(len(rows)) if shuffle
                     else np.arange(len(rows)))
            total = n = 0.0
            for inputs, target, genes in batches([rows[i] for i in order], epoch_base + epoch):
                loss = batch_mse(predict(model, inputs, genes, shifts, stage), target)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss)
                n += 1
            folder.event("train", epoch=(stage - 1) * epochs + epoch, step=int((stage - 1) * epochs + epoch),
                         loss=_num(total / max(n, 1)), lr=lr,
                         cellsPerSec=round(len(rows) / max(time.time() - t_epoch, 1e-9), 3), gpuMemoryMiB=None)
            folder.event("progress", fraction=round(((stage - 1) * epochs + epoch) / (2 * epochs), 6),
                         message="stage %d, epoch %d/%d" % (stage, epoch, epochs))
            if stop is not None and stop.requested:
                return False
        return True

    @torch.no_grad()
    def evaluate(stage, key):
        total = n = 0.0
        for inputs, target, genes in batches(test_rows, EVAL_EPOCH_BASE + key):
            total += float(batch_mse(predict(model, inputs, genes, shifts, stage), target))
            n += 1
        return total / n

    t0 = time.time()
    folder.log("perturbation prediction with %s (%s): %d control, %d training and %d test cells" % (
        enc["path"], cfg.structure, len(ctrl_rows), len(train_rows), len(test_rows)))
    if not train(ctrl_rows, list(shifts.base.parameters()), 1, 0, False):
        return "cancelled", "cancelled in stage 1"
    no_shift, control_shift = evaluate(0, 0), evaluate(1, 1)
    if not train(train_rows, list(shifts.trans.parameters()) + list(shifts.trans_bias.parameters()), 2,
                 STAGE2_EPOCH_BASE, True):
        return "cancelled", "cancelled in stage 2"
    final = evaluate(2, 2)
    out = {"mse": final, "mseNoShift": no_shift, "mseControlShift": control_shift, "nControl": len(ctrl_rows),
           "nTrain": len(train_rows), "nTest": len(test_rows),
           "perturbations": {"train": sorted({str(labels[r]) for r in train_rows}),
                             "test": sorted({str(labels[r]) for r in test_rows})},
           "skipped": skipped}
    write_atomic_text(folder.file(PERTURBATION_FILE), json.dumps(out, indent=2) + "\n")
    for name in ("mse", "mseNoShift", "mseControlShift"):
        folder.event("metric", name=name, value=_num(out[name]))
    folder.event("metric", name="trainSeconds", value=round(time.time() - t0, 3))
    folder.event("progress", fraction=1.0, message="perturbation.json written")
    folder.log("test MSE %.5f (no shift %.5f, control shift %.5f)" % (final, no_shift, control_shift))
    return "completed", None
