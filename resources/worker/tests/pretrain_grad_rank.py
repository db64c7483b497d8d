"""Run by test_pretrain.py as one rank (RANK/WORLD_SIZE/SCWB_DDP_STORE set) or alone: the gradient of one
pre-training step of the run's encoder on a fixed global batch, saved to OUT (rank 0)."""
import sys

import numpy as np
import torch

from scwb_worker import distributed, pretrain, runtime
from scwb_worker.runfolder import RunFolder


def main(run, out, n_rows):
    ctx = distributed.from_env("cpu")
    folder = RunFolder(run, writable=False)
    rec = folder.read_record()
    p = pretrain.resolve(rec["parameters"]["pretrain"])
    runtime.seed_everything(rec["seed"])
    model, obj, _extra = pretrain.setup(rec, p, folder.read_split(), rec["seed"])
    net = model
    if ctx.active:
        from torch.nn.parallel import DistributedDataParallel as DDP
        net = DDP(model, find_unused_parameters=True)  # the published models' layer_norm gets no gradient
    rows = np.asarray(folder.read_split()["train"][:n_rows])
    mine = distributed.shard(rows, ctx) if ctx.active else rows
    loss, _batch, _ = pretrain.step_loss(net, obj, mine.tolist(), 1, ctx, "cpu", False)
    loss.backward()
    if ctx.is_main:
        torch.save({n: q.grad.clone() for n, q in model.named_parameters() if q.grad is not None}, out)
    ctx.barrier()  # rank 0 may still be saving: a peer that tears down first aborts it (gloo, torch 2)
    ctx.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
