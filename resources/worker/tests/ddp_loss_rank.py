"""Run by test_ddp.py as one rank (RANK/WORLD_SIZE/SCWB_DDP_STORE set): rank 1's loss is NaN, rank 0's is finite.
Each rank checks its loss with runtime.check_loss and, if that lets it through, enters DDP's backward() (whose
gradient all-reduce would wait forever for a peer that raised alone). Writes what happened to OUT.rank."""
import json
import sys

import torch

from scwb_worker import distributed, runtime


def main(out):
    ctx = distributed.from_env("cpu")
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    from torch.nn.parallel import DistributedDataParallel as DDP
    net = DDP(model)
    loss = net(torch.ones(2, 3)).sum()
    if ctx.rank == 1:
        loss = loss * float("nan")
    try:
        runtime.check_loss(loss, ctx, "cpu", "training", 2, 5)
        loss.backward()
        result = {"raised": None}
    except runtime.RunError as e:
        result = {"raised": str(e)}
    with open("%s.%d" % (out, ctx.rank), "w") as f:
        json.dump(result, f)
    ctx.barrier()  # as the worker does before it leaves: a peer that tears down first leaves the other hanging
    ctx.close()


if __name__ == "__main__":
    main(sys.argv[1])
