"""The epoch and step bookkeeping both pre-training loops share (pretrain.py: the benchmark encoders;
pretrain_scbert.py: scBERT from scratch): batches per epoch across processes, resuming from checkpoints/last.pt,
the train/progress events, and stopping on a signal in the middle of an epoch or after one (last.pt written,
--resume continues).

`save(epoch, batch)` is the loop's own checkpoint writer (it reads the loop's step and best values when called).
"""
import math
import os
import time

from .runtime import RunError, _gpu_mib, _num, load_resume


def epoch_batches(n_train, batch_size, ctx):
    """Batches per epoch. With several processes every process needs a row of each batch: fewer training rows than
    processes is an error, and a last batch too small to share is dropped."""
    n_batches = math.ceil(n_train / batch_size)
    if ctx.active and n_train < ctx.world:
        raise RunError("%d training cells cannot be shared by %d processes" % (n_train, ctx.world))
    if ctx.active and n_batches > 1 and n_train - (n_batches - 1) * batch_size < ctx.world:
        n_batches -= 1
    return n_batches


def resume_from_last(folder, ctx, resume, model, optimizer, scheduler):
    """(path of checkpoints/last.pt, its state when resuming from it, else None); `model`, `optimizer` and `scheduler`
    are loaded from it when resumed."""
    last_path = (folder.checkpoint_path("last.pt") if ctx.is_main
                 else os.path.join(folder.path, "checkpoints", "last.pt"))
    state = None
    if resume and os.path.exists(last_path):
        state = load_resume(last_path, model, optimizer, scheduler)
        folder.log("resuming at epoch %d, batch %d (step %d)" % (int(state["epoch"]), int(state["batch"]),
                                                                  int(state["step"])))
    elif resume:
        folder.log("no checkpoints/last.pt: starting from the beginning")
    return last_path, state


def log_train(folder, device, epoch, epochs, step, total_steps, loss, lr, cells_seen, t0):
    """The train and progress events and the console line of an optimizer step; `loss` is the mean since the last
    one, `cells_seen` the cells since `t0` (the epoch's start)."""
    elapsed = max(time.time() - t0, 1e-9)
    folder.event("train", epoch=epoch, step=step, loss=_num(loss), lr=lr, cellsPerSec=round(cells_seen / elapsed, 3),
                 gpuMemoryMiB=_gpu_mib(device))
    folder.event("progress", fraction=round(step / total_steps, 6),
                 message="epoch %d/%d, step %d" % (epoch, epochs, step))
    folder.say("epoch %d/%d step %d/%d: loss %.4f, lr %.3g, %.1f cells/s" % (
        epoch, epochs, step, total_steps, loss, lr, cells_seen / elapsed))


def stop_in_epoch(folder, ctx, stop, device, save, epoch, batch, step):
    """After batch `batch` - 1 (not the epoch's last): ("cancelled", message) when a process was asked to stop, with
    last.pt written to continue at `batch`; None to go on."""
    if not ctx.any(stop.requested, device):
        return None
    if ctx.is_main:
        save(epoch, batch)
        folder.log("stopped by signal %s at epoch %d, batch %d: checkpoints/last.pt written; "
                   "--resume continues from there" % (stop.signal or "", epoch, batch))
    return "cancelled", "cancelled at epoch %d, step %d" % (epoch, step)


def end_epoch(folder, ctx, stop, device, save, epoch, epochs):
    """At the end of epoch `epoch`: last.pt written to continue with the next; ("cancelled", message) when a process
    was asked to stop and epochs remain, else None."""
    if ctx.is_main:
        save(epoch + 1, 0)
    ctx.barrier()
    if epoch < epochs and ctx.any(stop.requested, device):
        folder.log("stopped by signal after epoch %d: checkpoints/last.pt written" % epoch)
        return "cancelled", "cancelled after epoch %d" % epoch
    return None
