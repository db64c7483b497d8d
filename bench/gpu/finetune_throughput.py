"""Fine-tune throughput of the worker's models on a GPU: prints a table (cells/s, peak GPU memory).

    python bench/gpu/finetune_throughput.py                 # CUDA, full sizes (scBERT 16,907 tokens; scGPT 512 d x 12)
    python bench/gpu/finetune_throughput.py --lengths-from DATA.h5ad   # scGPT cell lengths from a real file
    /usr/bin/python3 bench/gpu/finetune_throughput.py --smoke         # tiny sizes on CPU: checks the script works

Rows:
- scBERT full size (dim 200, depth 6, 16,906 genes + 1), published freezing, batch 32, one training step (forward,
  backward, Adam) in fp32 and under bf16 autocast. Published code on one H100: 34.7 cells/s fp32, 42.9 bf16.
- scGPT size (d 512, 12 layers, 8 heads, d_hid 512, 60,697 tokens), classifier, batch 32, bf16 autocast, at maximum
  lengths 1,201 and 3,001: "padded" pads every cell to the maximum (key padding mask; SDPA), "bucketed" sorts the
  cells by length so each batch is padded only to its own longest cell (no mask at all when a batch's cells have
  the same length). Published code, padded bf16 SDPA on one H100: 475 cells/s at 1,201, 159 at 3,001.
Cell lengths (non-zero genes + <cls>, capped at the maximum) come from --lengths-from (an .h5ad: non-zeros per row of
X) or, by default, a seeded log-normal draw (median 800 genes), the same cells for every mode.
"""
import argparse
import math
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "resources", "worker"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from scwb_worker import estimate  # noqa: E402
from scwb_worker.models import (ScBertConfig, ScBertClassifier, freeze_for_finetune, ScGPTConfig,  # noqa: E402
                                ScGPTModel)

PUBLISHED = {("scbert", "fp32"): 34.7, ("scbert", "bf16"): 42.9, ("scgpt", 1201): 475.0, ("scgpt", 3001): 159.0}


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def autocast(device, bf16):
    if not bf16:
        return torch.autocast(device_type=device.type, enabled=False)
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def estimate_gib(kind, cfg, model, batch, seq_len, bf16, device):
    """The worker's analytic peak-memory estimate (python -m scwb_worker estimate) for this row, GiB."""
    est = estimate.estimate_mib(kind, cfg, model, batch, seq_len, bf16, device.type == "cuda")
    return est["peakMiB"] / 1024


def peak_gib(device):
    if device.type != "cuda":
        return float("nan")
    return torch.cuda.max_memory_allocated(device) / 2 ** 30


def reset_peak(device):
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


class Unsupported(Exception):
    pass


def train_steps(model, batches, device, bf16, warmup):
    try:
        return _train_steps(model, batches, device, bf16, warmup)
    except RuntimeError as exc:
        if device.type == "cpu" and bf16:  # torch 1.13's CPU autocast has no fp32 rule for layer_norm
            raise Unsupported(str(exc).splitlines()[0])
        raise


def _train_steps(model, batches, device, bf16, warmup):
    """Seconds for the given batches (after `warmup` untimed ones): forward, loss, backward, Adam step."""
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    model.train()

    def step(inputs, labels):
        opt.zero_grad(set_to_none=True)
        with autocast(device, bf16):
            loss = F.cross_entropy(model(*inputs).float(), labels)
        loss.backward()
        opt.step()

    for inputs, labels in batches[:warmup]:
        step(inputs, labels)
    sync(device)
    reset_peak(device)
    t0 = time.perf_counter()
    for inputs, labels in batches[warmup:]:
        step(inputs, labels)
    sync(device)
    return time.perf_counter() - t0


def bench_scbert(args, device):
    cfg = (ScBertConfig(dim=16, depth=2, heads=2, dim_head=8, n_genes=200) if args.smoke else ScBertConfig())
    torch.manual_seed(0)
    model = freeze_for_finetune(ScBertClassifier(cfg, 11)).to(device)
    est = {prec: estimate_gib("scbert", cfg, model, args.scbert_batch, cfg.seq_len, prec == "bf16", device)
           for prec in ("fp32", "bf16")}
    if args.compile and hasattr(torch, "compile"):
        model = torch.compile(model)
    g = torch.Generator().manual_seed(1)
    batches = []
    for _ in range(args.warmup + args.steps):
        tokens = torch.randint(0, 6, (args.scbert_batch, cfg.seq_len), generator=g)
        tokens[torch.rand(tokens.shape, generator=g) < 0.85] = 0
        tokens[:, -1] = 0
        batches.append(((tokens.to(device),), torch.randint(0, 11, (args.scbert_batch,), generator=g).to(device)))
    rows = []
    for prec in ("fp32", "bf16"):
        pub = None if args.smoke else PUBLISHED[("scbert", prec)]
        try:
            secs = train_steps(model, batches, device, prec == "bf16", args.warmup)
        except Unsupported as exc:
            rows.append(("scBERT", prec, cfg.seq_len, "n/a here: %s" % exc, float("nan"), float("nan"), est[prec],
                         pub))
            continue
        cells = args.scbert_batch * args.steps
        rows.append(("scBERT", prec, cfg.seq_len, "full sequence", cells / secs, peak_gib(device), est[prec], pub))
    return rows


def cell_lengths(args, n, max_len, rng):
    if args.lengths_from:
        import h5py
        with h5py.File(args.lengths_from, "r") as f:
            X = f["X"]
            if isinstance(X, h5py.Group):
                nnz = np.diff(X["indptr"][()])
                if X.attrs.get("encoding-type", "") in ("csc_matrix", b"csc_matrix"):
                    raise SystemExit("%s: X is CSC; use a CSR or dense file" % args.lengths_from)
            else:
                nnz = np.array([(X[i] != 0).sum() for i in range(min(X.shape[0], 4096))])
        base = rng.choice(nnz, size=n, replace=True)
    else:
        base = np.exp(rng.normal(math.log(800 if not args.smoke else max_len * 0.4), 0.5, size=n)).astype(int)
    return np.clip(base + 1, 2, max_len)  # + <cls>


def scgpt_batches(cfg, lengths, batch, mode, g, device, pad_to):
    """Batches in file order padded to pad_to ("padded"), or sorted by length and padded to each batch's longest
    cell ("bucketed")."""
    order = np.arange(len(lengths)) if mode == "padded" else np.argsort(lengths, kind="stable")
    out = []
    for s in range(0, len(order), batch):
        idx = order[s:s + batch]
        lens = torch.as_tensor(lengths[idx])
        width = pad_to if mode == "padded" else int(lens.max())
        ids = torch.randint(0, cfg.ntoken - 3, (len(idx), width), generator=g)
        ids[:, 0] = cfg.ntoken - 2  # <cls>
        vals = torch.randint(1, 51, (len(idx), width), generator=g).float()
        vals[:, 0] = 0
        pad = torch.arange(width)[None, :] >= lens[:, None]
        ids[pad] = cfg.pad_token_id
        vals[pad] = cfg.pad_value
        mask = pad.to(device) if bool(pad.any()) else None
        out.append(((ids.to(device), vals.to(device), mask), torch.randint(0, 11, (len(idx),), generator=g).to(device)))
    return out


def bench_scgpt(args, device):
    if args.smoke:
        cfg = ScGPTConfig(ntoken=503, d_model=32, nhead=2, d_hid=32, nlayers=2, pad_token_id=500)
        lengths_max = (61, 151)
    else:
        cfg = ScGPTConfig()
        lengths_max = (1201, 3001)
    torch.manual_seed(0)
    model = ScGPTModel(cfg, 11).to(device)
    bf16 = not (device.type == "cpu" and not hasattr(F, "scaled_dot_product_attention"))
    est = {n: estimate_gib("scgpt", cfg, model, args.scgpt_batch, n, bf16, device) for n in lengths_max}
    if args.compile and hasattr(torch, "compile"):
        model = torch.compile(model, dynamic=True)
    rows = []
    prec = "bf16" if bf16 else "fp32 (torch 1.13 CPU autocast lacks layer_norm)"
    for max_len in lengths_max:
        rng = np.random.RandomState(2)
        lengths = cell_lengths(args, args.scgpt_cells, max_len, rng)
        for mode in ("padded", "bucketed"):
            g = torch.Generator().manual_seed(3)
            warm = scgpt_batches(cfg, lengths[:args.scgpt_batch * args.warmup], args.scgpt_batch, mode, g, device,
                                 max_len)
            batches = warm + scgpt_batches(cfg, lengths, args.scgpt_batch, mode, g, device, max_len)
            secs = train_steps(model, batches, device, bf16, len(warm))
            pub = PUBLISHED.get(("scgpt", max_len)) if mode == "padded" else None
            rows.append(("scGPT", prec, max_len, "%s (mean length %.0f)" % (mode, lengths.mean()),
                         len(lengths) / secs, peak_gib(device), est[max_len], pub))
    return rows


def main():
    ap = argparse.ArgumentParser(description="Fine-tune throughput table (cells/s) of the worker's models.")
    ap.add_argument("--smoke", action="store_true", help="tiny models on CPU: check that the script runs")
    ap.add_argument("--device", default=None, help="cuda (default) or cpu (default with --smoke)")
    ap.add_argument("--steps", type=int, default=None, help="timed scBERT steps (default 10; smoke 2)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 3; smoke 1)")
    ap.add_argument("--scbert-batch", type=int, default=32)
    ap.add_argument("--scgpt-batch", type=int, default=32)
    ap.add_argument("--scgpt-cells", type=int, default=None, help="cells per scGPT measurement (default 1024)")
    ap.add_argument("--lengths-from", default=None, help=".h5ad whose non-zeros per cell give scGPT lengths")
    ap.add_argument("--tf32", action="store_true", help="allow TF32 matmuls in the fp32 rows")
    ap.add_argument("--compile", action="store_true", help="torch.compile the models (torch >= 2)")
    ap.add_argument("--only", choices=("scbert", "scgpt"), default=None)
    args = ap.parse_args()
    if args.smoke:
        args.steps = args.steps or 2
        args.warmup = 1 if args.warmup is None else args.warmup
        args.scgpt_cells = args.scgpt_cells or 16
        args.scbert_batch = min(args.scbert_batch, 4)
        args.scgpt_batch = min(args.scgpt_batch, 4)
    else:
        args.steps = args.steps or 10
        args.warmup = 3 if args.warmup is None else args.warmup
        args.scgpt_cells = args.scgpt_cells or 1024
    device = torch.device(args.device or ("cpu" if args.smoke else "cuda"))
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("CUDA is not available (use --smoke to check the script on CPU)")
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        torch.backends.cudnn.allow_tf32 = args.tf32
        name = torch.cuda.get_device_name(device)
    else:
        name = "CPU (%d threads)" % torch.get_num_threads()
    print("device: %s; torch %s; SDPA: %s" % (name, torch.__version__,
                                              hasattr(F, "scaled_dot_product_attention")))
    rows = []
    if args.only in (None, "scbert"):
        rows += bench_scbert(args, device)
    if args.only in (None, "scgpt"):
        rows += bench_scgpt(args, device)
    # the estimate is for batches padded to the maximum length: an upper bound for the bucketed rows
    print("| model | precision | max length | batches | cells/s | peak GiB | estimate GiB | estimate/peak | "
          "published cells/s (H100) | ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for model, prec, length, mode, cps, gib, est, pub in rows:
        print("| %s | %s | %d | %s | %.1f | %.2f | %.2f | %s | %s | %s |" % (
            model, prec, length, mode, cps, gib, est, "%.2f" % (est / gib) if gib == gib and gib > 0 else "n/a (CPU)",
            "%.1f" % pub if pub else "", "%.2fx" % (cps / pub) if pub else ""))


if __name__ == "__main__":
    main()
