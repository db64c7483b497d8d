"""Multi-process data-parallel training (DDP) without torchrun: the rank side (process group, sharding).

`scwb_worker.launcher.launch(argv, nproc, store_dir)` starts N copies of `python -m scwb_worker <argv>` with RANK,
WORLD_SIZE, LOCAL_RANK and SCWB_DDP_STORE (a `file://` rendezvous file in the run folder) in their environment,
forwards SIGINT/SIGTERM to them and returns rank 0's exit status. The same launcher is used on torch 1.13 and
2.x: no TCP store and no port is opened for the rendezvous (gloo pairs use loopback, GLOO_SOCKET_IFNAME=lo); on
CUDA the backend is nccl and rank r uses cuda:r. Without SCWB_DDP_STORE (a torchrun launch) the env:// rendezvous
of MASTER_ADDR/MASTER_PORT is used.
"""
import os

import torch
import torch.distributed as dist


class Context:
    """Where this process sits: rank, world size, and the process group when N > 1."""

    def __init__(self, rank=0, world=1, local_rank=0):
        self.rank, self.world, self.local_rank = rank, world, local_rank

    @property
    def is_main(self):
        return self.rank == 0

    @property
    def active(self):
        return self.world > 1

    def all_sum(self, values, device):
        """Sums a list of floats over the ranks (identity for one process)."""
        if not self.active:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.tolist()

    def any(self, flag, device):
        if not self.active:
            return bool(flag)
        return self.all_sum([1.0 if flag else 0.0], device)[0] > 0

    def barrier(self):
        if self.active:
            dist.barrier()

    def close(self):
        if self.active and dist.is_initialized():
            dist.destroy_process_group()


def from_env(device_type):
    """The context of a launched rank (RANK/WORLD_SIZE set) with its process group joined, else one process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Context()
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    backend = "nccl" if device_type == "cuda" else "gloo"
    store = os.environ.get("SCWB_DDP_STORE")
    if store:
        dist.init_process_group(backend, init_method="file://" + store, rank=rank, world_size=world)
    else:  # torchrun sets MASTER_ADDR/MASTER_PORT
        dist.init_process_group(backend, rank=rank, world_size=world)
    return Context(rank, world, local)


def shard(batch_rows, ctx):
    """This rank's contiguous share of a global batch (sizes differ by at most one)."""
    n, w, r = len(batch_rows), ctx.world, ctx.rank
    lo = (n * r) // w
    hi = (n * (r + 1)) // w
    return batch_rows[lo:hi]
