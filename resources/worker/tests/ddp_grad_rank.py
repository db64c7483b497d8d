"""Run by test_ddp.py as one rank (RANK/WORLD_SIZE/SCWB_DDP_STORE set) or alone: the gradient of one training step
of the run's model on a fixed global batch, saved to OUT (rank 0)."""
import sys

import numpy as np
import torch

from scwb_worker import distributed, protocols, runtime, train
from scwb_worker.runfolder import RunFolder


def main(run, out, n_rows):
    ctx = distributed.from_env("cpu")
    folder = RunFolder(run, writable=False)
    rec = folder.read_record()
    p = protocols.resolve(rec["parameters"]["finetune"], rec["fraction"])
    runtime.seed_everything(rec["seed"])
    model, _cfg, hint, _ = train.build(p, "cpu")
    inp = train.load_inputs(rec, p, folder.read_split(), rec["seed"], hint)
    net = model
    if ctx.active:
        from torch.nn.parallel import DistributedDataParallel as DDP
        net = DDP(model)
    weights = protocols.class_weights(inp.y_train, len(p["classes"]))
    rows = np.arange(n_rows)
    mine = distributed.shard(rows, ctx) if ctx.active else rows
    denom = train.global_denominator(inp.y_train[rows], weights)
    loss, _ = train.batch_loss(net, inp.encoder, train._take(inp.train, mine), inp.y_train[mine], weights, denom,
                               ctx.world, "cpu", False)
    loss.backward()
    if ctx.is_main:
        torch.save({n: q.grad.clone() for n, q in model.named_parameters() if q.grad is not None}, out)
    ctx.barrier()  # rank 0 may still be saving: a peer that tears down first aborts it (gloo, torch 2)
    ctx.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
