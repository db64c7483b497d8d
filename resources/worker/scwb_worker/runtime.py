"""Plumbing shared by the worker's training sub-commands (finetune, pretrain, probe): errors, stop requests,
random streams, devices and autocast, reading our own checkpoints."""
import math
import os
import random
import signal

import numpy as np
import torch

EXIT_OK, EXIT_FAILED, EXIT_CANCELLED = 0, 1, 130
RESUMABLE = ("cancelled", "failed", "interrupted")


class RunError(Exception):
    """A problem with the run's inputs or settings; its message is the run's error."""


def check_loss(loss, ctx, device, what, epoch, step):
    """Raises RunError on EVERY rank when the loss of any rank is NaN or infinite; call it before backward(). A rank
    that raised alone would leave the others waiting forever in DDP's gradient all-reduce. One all-reduce carries
    the flag and the loss, so all ranks raise the same message (a NaN or infinity on one rank makes the sum so)."""
    bad = not bool(torch.isfinite(loss.detach()).all())
    value = float(loss.detach().float().sum())
    if ctx.active:
        flags, total = ctx.all_sum([1.0 if bad else 0.0, value], device)
        bad, value = flags > 0, total / ctx.world
    if bad:
        raise RunError("the %s loss is %s at epoch %d, step %d: training diverged (try a lower learning rate)" % (
            what, value, epoch, step))


class Stop:
    """Set by SIGINT/SIGTERM: the loop finishes the current step, checkpoints and ends the run as cancelled."""

    def __init__(self):
        self.requested = False
        self.signal = None

    def install(self):
        def handler(signum, _frame):
            self.requested = True
            self.signal = signum

        self._old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        from . import supervision
        early = supervision.take_pending()  # a signal during start-up (python, torch import) still stops the run
        if early is not None:
            self.requested, self.signal = True, early

    def restore(self):
        for s, h in getattr(self, "_old", {}).items():
            signal.signal(s, h)


# ---------------------------------------------------------------------------------------------------------------
# RNG state (so a resumed run continues the same random streams)

def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed & 0xFFFFFFFF)
    torch.manual_seed(seed)


def rng_state():
    """Generator states as tensors and plain Python values only (no numpy objects), so that the checkpoint reads
    the same with the worker's pickle-free reader on every torch version."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": random.getstate(), "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state):
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def epoch_order(seed, epoch, n):
    """The training rows' order in an epoch: a permutation derived from (seed, epoch) only."""
    return np.random.RandomState([seed & 0xFFFFFFFF, epoch, 7]).permutation(n)


# ---------------------------------------------------------------------------------------------------------------


def _device(arg):
    if arg in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if arg not in ("cpu", "cuda"):
        raise RunError("device must be cpu, cuda or auto, got %r" % (arg,))
    if arg == "cuda" and not torch.cuda.is_available():
        raise RunError("device 'cuda' was asked for but torch %s sees no CUDA device "
                       "(python -m scwb_worker env)" % torch.__version__)
    return arg



def rank_device(device_arg, p, ctx):
    """(device type, this rank's device, amp) of a training run; sets the CUDA device or the CPU threads."""
    device_type = _device(device_arg or p.get("device"))
    device = "cuda:%d" % ctx.local_rank if device_type == "cuda" else "cpu"
    if device_type == "cuda":
        torch.cuda.set_device(device)
    if device_type == "cpu" and not os.environ.get("OMP_NUM_THREADS"):
        # Debian's torch starts with one thread: use the cores (shared among the ranks) unless the user chose
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // ctx.world))
    return device_type, device, bool(p.get("amp")) and device_type == "cuda"


def load_own(path):
    """A checkpoint this worker wrote (last.pt/best.pt with optimizer and RNG states), read without running pickled
    code (scwb_worker.checkpoints.load_torch_file)."""
    from . import checkpoints as ck
    return ck.load_torch_file(path)


def load_resume(path, model, optimizer, scheduler):
    """Restores a run's last.pt into the model, optimizer, scheduler and random generators; returns the checkpoint."""
    state = load_own(path)
    model.load_state_dict(state["model_state_dict"])
    optimizer.load_state_dict(state["optimizer_state_dict"])
    scheduler.load_state_dict(state["scheduler_state_dict"])
    set_rng_state(state["rng"])
    return state


class _autocast:
    """Autocast for a forward pass. `amp` is a precision ("fp32", "bf16", "fp16") or, for the callers that still
    pass a boolean, True = bf16 on CUDA only. bf16 runs on CPU too where torch's CPU autocast has it; fp16 needs
    CUDA (torch's CPU autocast has no fp16 before 2.x, and the loss scaler is a CUDA one)."""

    def __init__(self, device, amp):
        cuda = device.startswith("cuda")
        if isinstance(amp, bool) or amp is None:
            amp = "bf16" if amp and cuda else "fp32"
        self.on = amp in ("bf16", "fp16")
        self.ctx = None
        if self.on:
            dtype = torch.bfloat16 if amp == "bf16" else torch.float16
            self.ctx = torch.autocast("cuda" if cuda else "cpu", dtype=dtype)

    def __enter__(self):
        if self.ctx is not None:
            self.ctx.__enter__()

    def __exit__(self, *exc):
        if self.ctx is not None:
            return self.ctx.__exit__(*exc)
        return False


def usable_precision(precision, device_type):
    """(the precision a run computes in, a note for run.log or None). fp16 needs CUDA (RunError saying what to
    choose); bf16 on CPU falls back to fp32 where torch's CPU autocast cannot run the models (torch 1.13: its
    LayerNorm refuses bf16 inputs with fp32 weights), and the note says so."""
    if precision == "fp16" and device_type != "cuda":
        raise RunError("precision fp16 needs a CUDA device (fp16 autocast with a loss scaler); on CPU choose fp32 "
                       "(the published scGPT protocol without a GPU) or bf16")
    if precision == "bf16" and device_type == "cpu" and not cpu_bf16_autocast():
        return "fp32", ("bf16 autocast on CPU is not usable with torch %s: computing in fp32 (recorded as the run's "
                        "precision)" % torch.__version__)
    return precision, None


_CPU_BF16 = []


def cpu_bf16_autocast():
    """Whether torch's CPU autocast runs a Linear + LayerNorm in bf16 (checked once)."""
    if not _CPU_BF16:
        try:
            lin, norm = torch.nn.Linear(4, 4), torch.nn.LayerNorm(4)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = norm(lin(torch.ones(2, 4)))
            _CPU_BF16.append(bool(torch.isfinite(out.float()).all()))
        except (RuntimeError, TypeError, AttributeError):
            _CPU_BF16.append(False)
    return _CPU_BF16[0]


def make_scaler(precision, device_type):
    """The loss scaler of a run: a GradScaler for fp16 (as scGPT's published amp=True), None for fp32 and bf16
    (bf16 has fp32's exponent range and needs no loss scaling). torch.amp.GradScaler where torch has it (2.3+),
    else the CUDA scaler of older torch (1.13), the only one it has."""
    if precision != "fp16":
        return None
    amp_mod = getattr(torch, "amp", None)
    if amp_mod is not None and hasattr(amp_mod, "GradScaler"):
        return amp_mod.GradScaler(device_type)
    return torch.cuda.amp.GradScaler(enabled=device_type == "cuda")  # torch < 2.3 only: no torch.amp.GradScaler


def worker_facts(device, autocast, attention, world=1):
    """What a run was computed with (run.json `worker`, and run.log): torch and Python versions, the device (with
    the GPU's name), the compute dtype (autocast's, else float32), the attention path and the processes."""
    import platform
    ctx = getattr(autocast, "ctx", None)
    dtype = getattr(ctx, "fast_dtype", None) if getattr(autocast, "on", False) and ctx is not None else None
    name = device
    if device.startswith("cuda"):
        name = "%s (%s)" % (device, torch.cuda.get_device_name(device))
    return {"torch": torch.__version__, "python": platform.python_version(), "device": name,
            "cuda": torch.version.cuda if device.startswith("cuda") else None,
            "dtype": str(dtype or torch.float32).replace("torch.", ""), "attention": attention,
            "processes": int(world)}


def describe_worker(facts):
    """The run.log line of worker_facts."""
    return "worker: torch %s, Python %s, %s%s, %s, attention %s%s" % (
        facts["torch"], facts["python"], facts["device"], " (CUDA %s)" % facts["cuda"] if facts["cuda"] else "",
        facts["dtype"], facts["attention"], ", %d processes" % facts["processes"] if facts["processes"] > 1 else "")


def _gpu_mib(device):
    if device.startswith("cuda"):
        return round(torch.cuda.max_memory_allocated(device) / 2 ** 20, 1)
    return None


def _is_oom(exc):
    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom is not None and isinstance(exc, oom)) or "out of memory" in str(exc).lower()


# ---------------------------------------------------------------------------------------------------------------


def _num(v):
    v = float(v)
    return v if math.isfinite(v) else None
