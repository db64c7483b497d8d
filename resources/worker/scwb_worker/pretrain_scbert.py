"""scBERT pre-training from scratch as the published dist_pretrain.py does it (clinicalml/sc-foundation-eval), e.g.
the checkpoint the no-gene2vec ablation needs (panglao_full_without_g2v), and Table 3's probe: masked-bin accuracy
on the validation cells vs "always predict the cell's most common bin" (nog2v_explore.ipynb).

Reached through `pretrain` with parameters.pretrain.model = "scbert" and no checkpoint (pretrain.py hands the run
here). Masking: per cell, exactly ceil(0.15 * n) of its n NON-ZERO tokens (n and the product in float32, as the
published torch code computes it), chosen uniformly; 90% of them become the mask token 6, 10% stay unchanged; zeros
(and the appended token) are never masked. Cross-entropy over the masked positions only. Adam (lr 1e-4), an optimizer
step after every 60th batch of an epoch (the batch index restarts each epoch and gradients are zeroed only after a
step, so the partial window at an epoch's end carries into the next epoch's first step: floor(batches / 60) steps
an epoch), gradient norm clipped at 100, the cosine schedule with warm restarts stepped per epoch; fp32 unless
parameters.pretrain.precision says bf16.

Every random draw of a cell's mask comes from numpy.random.default_rng([seed, epoch, row]) (validation cells use
epoch 0, so their masks are the same every epoch), so it does not depend on the batch, the rank or a resumption.
"""
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import distributed, protocols, tokens
from .data import H5ad
from .pretrain_loop import end_epoch, epoch_batches, log_train, resume_from_last, stop_in_epoch
from .runtime import (RunError, _autocast, _num, check_loss, epoch_order, rank_device, rng_state, seed_everything,
                      usable_precision)

MASK_TOKEN = 6
IGNORE = -100
VALIDATION_EPOCH = 0
DEFAULTS = {
    "model": "scbert", "checkpoint": None, "gene2vec": None, "epochs": 100, "batchSize": 3, "gradAcc": 60,
    "lr": 1e-4, "maskProb": 0.15, "replaceProb": 0.9, "gradClip": 100.0, "precision": "fp32", "config": None,
    "valueLayer": None, "device": "auto", "nproc": 1, "logEvery": 10, "schedule": None,
}
# fields of parameters.pretrain that belong to the benchmark encoder and do not apply here
_OTHER = ("structure", "vocab", "valueMode", "nBins", "maxSeqLen", "maskRatio", "mvc", "weightedSampling",
          "pooling", "warmupSteps", "amp")


def wanted(params):
    """Whether a pretrain run is scBERT pre-training from scratch (handled here)."""
    return isinstance(params, dict) and params.get("model") == "scbert" and not params.get("checkpoint")


def resolve(params, where="parameters.pretrain"):
    p = dict(DEFAULTS)
    p.update({k: v for k, v in params.items() if v is not None and k not in _OTHER})
    for key in ("epochs", "batchSize", "gradAcc", "logEvery"):
        if not isinstance(p[key], int) or isinstance(p[key], bool) or p[key] < 1:
            raise RunError("%s.%s must be a positive integer, got %r" % (where, key, p[key]))
    for key in ("maskProb", "replaceProb"):
        if not isinstance(p[key], (int, float)) or not 0.0 < float(p[key]) <= 1.0:
            raise RunError("%s.%s must be in (0, 1], got %r" % (where, key, p[key]))
    if not float(p["lr"]) > 0:
        raise RunError("%s.lr must be positive, got %r" % (where, p["lr"]))
    if p["precision"] not in ("fp32", "bf16"):
        raise RunError("%s.precision must be fp32 (published) or bf16, got %r" % (where, p["precision"]))
    if p["gene2vec"] is not None and not isinstance(p["gene2vec"], str):
        raise RunError("%s.gene2vec must be the path of a gene2vec .npy file" % where)
    return p


# ---------------------------------------------------------------------------------------------------------------
# masking (tested against the published formula)

def n_masked(n_nonzero, prob=0.15):
    """ceil(prob * n) as the published code computes it: a long tensor times a Python float is a float32 product
    (e.g. 20 * 0.15 rounds to exactly 3.0 in float32, so 3 tokens, not 4)."""
    return int(np.ceil(np.float32(n_nonzero) * np.float32(prob)))


def mask_cell(tok, rng, mask_prob=0.15, replace_prob=0.9):
    """(input tokens, labels) of one cell's token row: `labels` holds the original token at the masked places and
    IGNORE elsewhere. Only non-zero tokens (other than the mask token) are candidates."""
    tok = np.asarray(tok, dtype=np.int64)
    candidates = np.flatnonzero((tok != 0) & (tok != MASK_TOKEN))
    k = n_masked(len(candidates), mask_prob)
    chosen = rng.choice(candidates, size=k, replace=False) if k else np.zeros(0, dtype=np.int64)
    replace = rng.random(k) < replace_prob
    inp = tok.copy()
    inp[chosen[replace]] = MASK_TOKEN
    labels = np.full(tok.shape, IGNORE, dtype=np.int64)
    labels[chosen] = tok[chosen]
    return inp, labels


def with_appended_zero(tok):
    """A cell's n_genes tokens with token 0 appended: the model's input is n_genes + 1 long, as in the published
    SCDataset (and as fine-tuning feeds it, tokens.scbert_batch); mask_cell never masks the appended 0."""
    tok = np.asarray(tok)
    return np.concatenate([tok, np.zeros(1, dtype=tok.dtype)])


def steps_after(batch_index, grad_acc):
    """Whether the optimizer steps after batch `batch_index` (0-based, restarting each epoch): published
    dist_pretrain.py steps when the 1-based index is a multiple of GRADIENT_ACCUMULATION."""
    return (batch_index + 1) % grad_acc == 0


def steps_per_epoch(n_batches, grad_acc):
    return n_batches // grad_acc


def mask_batch(cells, rows, seed, epoch, mask_prob, replace_prob):
    """Token matrix [B, L] -> (inputs, labels) LongTensors; cell i's draws from default_rng([seed, epoch, row_i])."""
    ins, labs = [], []
    for tok, row in zip(cells, rows):
        rng = np.random.default_rng([seed & 0xFFFFFFFF, int(epoch), int(row)])
        a, b = mask_cell(tok, rng, mask_prob, replace_prob)
        ins.append(a)
        labs.append(b)
    return torch.as_tensor(np.stack(ins)), torch.as_tensor(np.stack(labs))


def table3_counts(original, inputs, logits):
    """Table 3's numbers for a batch (nog2v_explore.ipynb): over the positions replaced by the mask token, how many
    the model's argmax gets right, and how many "the cell's most common bin" (over its non-zero tokens; the
    smallest bin among ties) gets right. Returns (correct, baseline_correct, positions)."""
    original = np.asarray(original, dtype=np.int64)
    inputs = inputs.cpu().numpy()
    pred = logits.argmax(dim=-1).cpu().numpy()
    correct = base = total = 0
    for i in range(original.shape[0]):
        at = inputs[i] == MASK_TOKEN
        if not at.any():
            continue
        nz = original[i][inputs[i] != 0]
        common = int(np.bincount(nz, minlength=MASK_TOKEN + 1).argmax())
        truth = original[i][at]
        correct += int((pred[i][at] == truth).sum())
        base += int((truth == common).sum())
        total += int(at.sum())
    return correct, base, total


# ---------------------------------------------------------------------------------------------------------------
# the run

def run(folder, rec, resume, device_arg, stop, ctx):
    """The body of a `pretrain` run folder for scBERT from scratch (lifecycle.execute calls it via pretrain.py)."""
    from . import checkpoints as ck
    from .atomic import write_atomic
    from .finetune_model import _gene2vec_table
    from .models.scbert import PerformerLM, ScBertConfig

    p = resolve(rec["parameters"]["pretrain"])
    seed = int(rec.get("seed", 0))
    device_type, device, _ = rank_device(device_arg, p, ctx)
    precision, note = usable_precision(p["precision"], device_type)
    if note and ctx.is_main:
        folder.log(note)
    split = folder.read_split()
    seed_everything(seed)
    ds_path = rec["dataset"]["path"]
    folder.log("reading %s" % ds_path)
    train_rows = np.asarray(split["train"], dtype=np.int64)
    val_rows = np.asarray(split["validation"], dtype=np.int64)
    with H5ad(ds_path) as ds:
        n_obs = ds.n_obs
        for key, rows in (("train", train_rows), ("validation", val_rows)):
            if len(rows) and int(rows.max()) >= n_obs:
                raise RunError("split.json: %s row %d is out of range (%s has %d cells)" % (
                    key, int(rows.max()), ds_path, n_obs))
        n_genes = len(ds.var_names())
        cells = {}
        m = ds.matrix(p.get("valueLayer"))
        wanted_rows = np.asarray(sorted(set(train_rows.tolist()) | set(val_rows.tolist())), dtype=np.int64)
        for pos, block in m.iter_rows(wanted_rows):
            t = tokens.scbert_tokens(block, ds.path)
            for i, q in enumerate(pos.tolist()):
                cells[int(wanted_rows[q])] = with_appended_zero(t[i])
    cfg = ScBertConfig(n_genes=n_genes, g2v_position_emb=bool(p["gene2vec"]))
    for k, v in dict(p.get("config") or {}).items():
        if not hasattr(cfg, k) or k in ("n_genes", "g2v_position_emb"):
            raise RunError("parameters.pretrain.config: unknown or fixed scBERT setting %r (n_genes is the "
                           "dataset's gene count; gene2vec is parameters.pretrain.gene2vec)" % k)
        setattr(cfg, k, v)
    model = PerformerLM(cfg)
    if p["gene2vec"]:
        table, _src = _gene2vec_table({"gene2vec": p["gene2vec"], "checkpoint": None}, cfg, None)
        with torch.no_grad():
            model.pos_emb.emb.weight.copy_(table)
    if ctx.any(stop.requested, device):
        return "cancelled", "cancelled before training started"
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=float(p["lr"]))
    scheduler = protocols.make_scheduler("scbert", optimizer, p)  # `schedule` overrides the published cycle
    net = model
    if ctx.active:
        from torch.nn.parallel import DistributedDataParallel as DDP
        net = DDP(model, device_ids=[ctx.local_rank] if device_type == "cuda" else None)

    B, G, epochs, log_every = p["batchSize"], p["gradAcc"], p["epochs"], p["logEvery"]
    n_train = len(train_rows)
    if n_train == 0:
        raise RunError("split.json has no training rows")
    n_batches = epoch_batches(n_train, B, ctx)
    n_steps_epoch = steps_per_epoch(n_batches, G)
    if n_steps_epoch == 0:
        raise RunError("parameters.pretrain.gradAcc (%d) is more than the %d batches of an epoch: no optimizer step "
                       "would ever be taken (a step every gradAcc batches of an epoch, as published); lower gradAcc "
                       "or batchSize" % (G, n_batches))
    total_steps = n_steps_epoch * epochs
    start_epoch, start_batch, step = 1, 0, 0
    best = {"value": None, "epoch": None}
    last_path, state = resume_from_last(folder, ctx, resume, model, optimizer, scheduler)
    if state is not None:
        start_epoch, start_batch, step = int(state["epoch"]), int(state["batch"]), int(state["step"])
        best = dict(state["best"])
        carried = state.get("carriedGrads") or {}
        for name, prm in model.named_parameters():  # the partial window an epoch's end carried over
            if name in carried:
                prm.grad = carried[name].to(device=prm.device, dtype=prm.dtype)

    def payload():
        return {"format": "scwb-encoder", "version": 1, "model": "scbert", "structure": None,
                "config": dict(vars(cfg)), "pooling": None, "valueMode": None, "nBins": None, "maxSeqLen": None,
                "genes": None, "vocab": None, "nGenes": int(cfg.n_genes), "gene2vec": bool(p["gene2vec"]),
                "model_state_dict": model.state_dict()}

    def save(epoch, batch):
        ck.save_checkpoint(last_path, {
            "model_state_dict": model.state_dict(), "optimizer_state_dict": optimizer.state_dict(),
            "scheduler_state_dict": scheduler.state_dict(), "epoch": epoch, "batch": batch, "step": step,
            "best": dict(best), "rng": rng_state(), "scaler": None, "model": "scbert", "classes": [],
            "config": dict(vars(cfg)), "nGenes": int(cfg.n_genes),
            # gradients of a partial accumulation window (at an epoch's end), carried into the next step
            "carriedGrads": {n: q.grad.detach().clone() for n, q in model.named_parameters() if q.grad is not None}})

    folder.log("pre-training scBERT from scratch (%s) on %s: %d training, %d validation cells, %d genes, %d epochs "
               "of %d batches of %d, an optimizer step every %d batches, %s%s" % (
                   "gene2vec %s" % p["gene2vec"] if p["gene2vec"] else "no gene2vec", device, n_train,
                   len(val_rows), n_genes, epochs, n_batches, B, G, precision,
                   ", %d processes" % ctx.world if ctx.active else ""))
    net.train()
    for epoch in range(start_epoch, epochs + 1):
        order = train_rows[epoch_order(seed, epoch, n_train)]
        first = start_batch if epoch == start_epoch else 0
        t0, cells_seen, loss_acc, loss_n = time.time(), 0, 0.0, 0
        # no zero_grad here: as published, the gradients of an epoch's last partial window carry into the next epoch
        for bi in range(first, n_batches):
            rows = order[bi * B:(bi + 1) * B]
            mine = distributed.shard(rows, ctx) if ctx.active else rows
            inputs, labels = mask_batch([cells[int(r)] for r in mine], mine, seed, epoch, p["maskProb"],
                                        p["replaceProb"])
            inputs, labels = inputs.to(device), labels.to(device)
            with _autocast(device, precision):
                logits = net(inputs)
            # the mean over the masked places of the whole global batch (each rank's sum over the global count, x
            # world for DDP's gradient average), so several processes train as one on the same batch
            n_lab = float((labels != IGNORE).sum())
            if ctx.active:
                n_lab = ctx.all_sum([n_lab], device)[0]
            loss = F.cross_entropy(logits.float().transpose(1, 2), labels, ignore_index=IGNORE,
                                   reduction="sum") / max(n_lab, 1.0) * ctx.world
            check_loss(loss, ctx, device, "pre-training", epoch, step + 1)  # all ranks at once
            (loss / G).backward()
            cells_seen += len(rows)
            loss_acc += ctx.all_sum([float(loss) / ctx.world], device)[0] if ctx.active else float(loss)
            loss_n += 1
            if not steps_after(bi, G):
                continue
            # an optimizer step after every gradAcc-th batch of the epoch, never on the partial window at its end
            torch.nn.utils.clip_grad_norm_(model.parameters(), float(p["gradClip"]))
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            last_of_epoch = bi + 1 == n_steps_epoch * G
            if step % log_every == 0 or last_of_epoch:
                log_train(folder, device, epoch, epochs, step, total_steps, loss_acc / loss_n,
                          float(optimizer.param_groups[0]["lr"]), cells_seen, t0)
                loss_acc, loss_n = 0.0, 0
            stopped = (None if bi == n_batches - 1
                       else stop_in_epoch(folder, ctx, stop, device, save, epoch, bi + 1, step))
            if stopped:
                return stopped
        scheduler.step()
        if len(val_rows):
            val_loss, acc, base = validate(model, cells, val_rows, seed, p, B, device, precision, ctx)
            improved = best["value"] is None or (acc is not None and acc > best["value"])
            if improved:
                best = {"value": acc, "epoch": epoch}
            if ctx.is_main:
                folder.event("validation", epoch=epoch, step=step, loss=_num(val_loss), accuracy=acc,
                             best=bool(improved))
                folder.event("metric", name="maskedBinAccuracy", value=acc, step=step)
                folder.event("metric", name="mostCommonBinAccuracy", value=base, step=step)
                folder.log("epoch %d: validation loss %.5f, masked-bin accuracy %s vs the cell's most common bin %s"
                           % (epoch, val_loss, _pct(acc), _pct(base)))
        stopped = end_epoch(folder, ctx, stop, device, save, epoch, epochs)
        if stopped:
            return stopped

    if ctx.is_main:
        write_atomic(folder.file("encoder.pt"), lambda fh: torch.save(payload(), fh))
        folder.event("progress", fraction=1.0, message="encoder.pt written")
        folder.log("encoder.pt written: the scBERT language model (%s), a checkpoint for fine-tuning%s" % (
            "with gene2vec" if p["gene2vec"] else "without gene2vec",
            "" if p["gene2vec"] else " (the no-gene2vec ablation)"))
    ctx.barrier()
    return "completed", None


def _pct(v):
    return "n/a" if v is None else "%.4f" % v


@torch.no_grad()
def validate(model, cells, rows, seed, p, batch_size, device, precision, ctx):
    """(masked-token loss, Table 3 masked-bin accuracy, most-common-bin accuracy) over the validation cells, with
    the same masks every epoch; accuracies None when nothing was masked."""
    model.eval()
    mine = distributed.shard(rows, ctx) if ctx.active else rows
    loss_sum = n_lab = correct = base = total = 0.0
    for s in range(0, len(mine), batch_size):
        b = mine[s:s + batch_size]
        orig = np.stack([cells[int(r)] for r in b])
        inputs, labels = mask_batch(orig, b, seed, VALIDATION_EPOCH, p["maskProb"], p["replaceProb"])
        inputs, labels = inputs.to(device), labels.to(device)
        with _autocast(device, precision):
            logits = model(inputs)
        loss_sum += float(F.cross_entropy(logits.float().transpose(1, 2), labels, ignore_index=IGNORE,
                                          reduction="sum"))
        n_lab += float((labels != IGNORE).sum())
        c, bc, t = table3_counts(orig, inputs, logits.float())
        correct, base, total = correct + c, base + bc, total + t
    if ctx.active:
        loss_sum, n_lab, correct, base, total = ctx.all_sum([loss_sum, n_lab, correct, base, total], device)
    model.train()
    loss = loss_sum / n_lab if n_lab else float("nan")
    return loss, (correct / total if total else None), (base / total if total else None)
