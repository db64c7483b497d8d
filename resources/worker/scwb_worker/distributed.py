"""Multi-process data-parallel training (DDP) without torchrun.

`launch(argv, nproc)` starts N copies of `python -m scwb_worker <argv>` with RANK, WORLD_SIZE, LOCAL_RANK and
SCWB_DDP_STORE (a `file://` rendezvous file in the run folder) in their environment, forwards SIGINT/SIGTERM to
them, and returns the first non-zero exit status (or 0). The same launcher is used on torch 1.13 and 2.x: no TCP
store and no port is opened for the rendezvous (gloo pairs use loopback, GLOO_SOCKET_IFNAME=lo); on CUDA the
backend is nccl and rank r uses cuda:r.
"""
import os
import signal
import subprocess
import sys
import time

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


def launch(argv, nproc, store_dir):
    """Runs N ranks of `python -m scwb_worker argv` and waits for them. Returns the exit status."""
    store = os.path.join(store_dir, ".ddp-store-%d-%d" % (os.getpid(), int(time.time() * 1000)))
    if os.path.exists(store):
        os.unlink(store)
    procs = []
    forwarded = []

    def forward(signum, _frame):
        forwarded.append(signum)
        for p in procs:
            if p.poll() is None:
                try:
                    p.send_signal(signum)
                except OSError:
                    pass

    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for rank in range(nproc):
            env = dict(os.environ)
            env.update({"RANK": str(rank), "WORLD_SIZE": str(nproc), "LOCAL_RANK": str(rank),
                        "SCWB_DDP_STORE": store, "GLOO_SOCKET_IFNAME": env.get("GLOO_SOCKET_IFNAME", "lo"),
                        "MASTER_ADDR": "127.0.0.1"})
            procs.append(subprocess.Popen([sys.executable, "-m", "scwb_worker"] + list(argv), env=env))
        codes = [None] * nproc
        while any(c is None for c in codes):
            for i, p in enumerate(procs):
                if codes[i] is None:
                    codes[i] = p.poll()
                    if codes[i] is not None and codes[i] != 0 and codes[i] != 130:
                        # a rank died: the others would wait forever in a collective
                        for q in procs:
                            if q.poll() is None:
                                q.terminate()
            time.sleep(0.1)
        for c in codes:
            if c not in (0, None):
                return c if c > 0 else 1
        return 0
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if os.path.exists(store):
            os.unlink(store)
