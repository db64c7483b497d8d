"""`finetune`: one run folder from run.json + split.json to predictions.csv (docs/worker.md)."""
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import distributed, protocols
from .finetune_inputs import load_inputs
from .finetune_model import attention_path, build
from .lifecycle import execute
from .runtime import (RunError, _autocast, _gpu_mib, check_loss, _is_oom, _num, describe_worker, epoch_order, load_own,
                      load_resume, make_scaler, rank_device, rng_state, seed_everything, usable_precision, worker_facts)


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


def optimizer_step(loss, optimizer, scaler, params, grad_clip):
    """backward + (clip) + step; with a GradScaler (fp16) as the published scGPT loop: scale the loss, unscale
    before clipping, step (skipped when the gradients overflowed), update the scale."""
    if scaler is None:
        loss.backward()
        if grad_clip:
            torch.nn.utils.clip_grad_norm_(params, float(grad_clip))
        optimizer.step()
        return
    scaler.scale(loss).backward()
    if grad_clip:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(params, float(grad_clip))
    scaler.step(optimizer)
    scaler.update()


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


def finetune(run_dir, resume=False, device_arg=None, stop=None, ctx=None):
    """Runs one run folder. Returns EXIT_OK, EXIT_FAILED or EXIT_CANCELLED."""
    return execute(run_dir, _run, resume=resume, device_arg=device_arg, stop=stop, ctx=ctx)


def _run(folder, rec, resume, device_arg, stop, ctx):
    params = (rec.get("parameters") or {}).get("finetune")
    if not isinstance(params, dict):
        raise RunError("%s: parameters.finetune is missing" % folder.file("run.json"))
    fraction = float(rec.get("fraction", 1.0))
    p = protocols.resolve(params, fraction)
    seed = int(rec.get("seed", 0))
    device_type, device, _ = rank_device(device_arg, p, ctx)
    # the autocast precision: "fp32" | "bf16" | "fp16"
    amp, precision_note = usable_precision(protocols.effective_precision(p, device_type), device_type)
    if precision_note and ctx.is_main:
        folder.log(precision_note)
    split = folder.read_split()
    seed_everything(seed)
    model, cfg, hint, report = build(p, device_type)
    if report is not None and ctx.is_main:
        folder.log("\n".join(report.lines()))
    if p["model"] == "scbert" and p["ablation"] == "no-pretraining" and ctx.is_main:
        folder.log("no pre-training: random weights%s" % (
            ", the gene2vec position table from %s" % p["gene2vecSource"] if p["gene2vecSource"] else
            ", a random position table (no checkpoint or gene2vec .npy gives the gene2vec table)"))
    elif p["ablation"] in ("no-pretraining", "frozen-embeddings") and ctx.is_main:
        folder.log("no pre-training: random weights, gene embedding initialised %s%s" % (
            "U(-0.1, 0.1)" if p["geneEmbInit"] == "uniform" else "N(0, 1)",
            ", gene and value embeddings frozen" if p["ablation"] == "frozen-embeddings" else ""))
    folder.log("reading %s" % rec["dataset"]["path"])
    inp = load_inputs(rec, p, split, seed, hint)
    if inp.val_from_query:
        folder.log("validation = test: the validation cells are the query's test cells (split.json)")
    if ctx.any(stop.requested, "cuda:%d" % ctx.local_rank if device_type == "cuda" else "cpu"):
        return "cancelled", "cancelled before training started"
    model.to(device)
    if ctx.is_main:
        facts = worker_facts(device, _autocast(device, amp), attention_path(model), ctx.world)
        folder.update_record(lambda r: {"worker": facts})
        folder.log(describe_worker(facts))
    trainable = [q for q in model.parameters() if q.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=float(p["lr"]), eps=float(p["adamEps"]))
    scheduler = protocols.make_scheduler(p["model"], optimizer, p)
    scaler = make_scaler(amp, device_type)
    weights = protocols.loss_weights(p, inp.y_train, inp.dataset_label_counts)
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
    resolved = protocols.resolved_protocol(p, amp, p.get("gene2vecSource"))
    if ctx.is_main:
        folder.log(protocols.protocol_line(resolved))
        folder.update_record(lambda r: {"resolvedProtocol": resolved})
    total_steps = n_batches * epochs
    start_epoch, start_batch, step = 1, 0, 0
    best = {"value": None, "epoch": None}
    last_path = (folder.checkpoint_path("last.pt") if ctx.is_main
                 else os.path.join(folder.path, "checkpoints", "last.pt"))
    best_path = os.path.join(folder.path, "checkpoints", "best.pt")
    if resume and os.path.exists(last_path):
        state = load_resume(last_path, model, optimizer, scheduler)
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        start_epoch, start_batch, step = int(state["epoch"]), int(state["batch"]), int(state["step"])
        best = dict(state["best"])
        folder.log("resuming at epoch %d, batch %d (step %d)" % (start_epoch, start_batch, step))
    elif resume:
        folder.log("no checkpoints/last.pt: starting from the beginning")
    if resume:  # the events after this one redo the steps past `step` (readers keep the last segment)
        folder.event("resume", step=step, epoch=start_epoch, batch=start_batch)

    from . import checkpoints as ck

    def save(path, epoch, batch):
        ck.save_checkpoint(path, {
            "model_state_dict": model.state_dict(), "optimizer_state_dict": optimizer.state_dict(),
            "scheduler_state_dict": scheduler.state_dict(), "epoch": epoch, "batch": batch, "step": step,
            "best": dict(best), "rng": rng_state(), "scaler": scaler.state_dict() if scaler is not None else None,
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
            # published scGPT: DataLoader(shuffle=False), the split's order every epoch
            order = epoch_order(seed, epoch, n_train) if p["shuffle"] else np.arange(n_train)
            first = start_batch if epoch == start_epoch else 0
            t0, cells_seen, loss_acc, loss_n = time.time(), 0, 0.0, 0
            for bi in range(first, n_batches):
                rows = order[bi * B:(bi + 1) * B]
                mine = distributed.shard(rows, ctx) if ctx.active else rows
                denom = global_denominator(inp.y_train[rows], weights)
                oom_batch = len(mine)
                loss, _ = batch_loss(ddp_model, inp.encoder, _take(inp.train, mine), inp.y_train[mine], weights,
                                     denom, ctx.world, device, amp)
                check_loss(loss, ctx, device, "training", epoch, step + 1)  # all ranks at once
                optimizer.zero_grad(set_to_none=True)
                optimizer_step(loss, optimizer, scaler, trainable, p.get("gradClip"))
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
