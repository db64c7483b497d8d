"""`python -m scwb_worker estimate --run-dir DIR [--probe]`: peak GPU memory of a run, per process, as JSON.

The analytic estimate (MiB) adds
  weights    4 bytes x all parameters (fp32 master weights, also under bf16 autocast)
  grads      4 bytes x trainable parameters
  adam       8 bytes x trainable parameters (exp_avg, exp_avg_sq)
  activations  batch x length x (values kept per token and layer) x (layers that keep them) x 2 bytes under bf16
             autocast, else 4. Layers keep activations for the backward pass only from the first trainable layer
             on (scBERT's published freezing trains only the last Performer layer), plus one layer's transient
             working memory. Values per token and layer:
               scBERT: 4 dim + 5 heads x dim_head + 2 heads x nb_features + 2 ff_mult x dim
               scGPT:  9 d_model + 3 d_hid, plus 2 heads x length for the attention weights when torch has no
                       fused scaled_dot_product_attention (torch < 2)
  overhead   512 MiB for the CUDA context and allocator slack (0 on CPU).
`--probe` runs forward + backward + an Adam step at growing batch sizes on the device (doubling, then bisecting)
and reports the largest batch that fits; it needs a CUDA device."""
import json
import math
import os
import sys

import torch

from . import protocols
from .runfolder import RunFolder

CUDA_OVERHEAD_MIB = 512
HAS_SDPA = hasattr(torch.nn.functional, "scaled_dot_product_attention")


def _seq_len(kind, cfg, p):
    return cfg.n_genes + 1 if kind == "scbert" else int(p.get("maxSeqLen") or 3001)


def per_token_values(kind, cfg, seq_len):
    if kind == "scbert":
        inner = cfg.heads * cfg.dim_head
        return 4 * cfg.dim + 5 * inner + 2 * cfg.heads * cfg.features() + 2 * cfg.ff_mult * cfg.dim
    vals = 9 * cfg.d_model + 3 * cfg.d_hid
    if not HAS_SDPA:
        vals += 2 * cfg.nhead * seq_len
    return vals


def saved_layers(kind, cfg, model):
    """Layers that keep activations for backward (from the first trainable one), plus one transient layer."""
    if kind == "scbert":
        layers = list(model.performer.net.layers)
        embeddings_train = model.token_emb.weight.requires_grad
    else:
        layers = list(model.transformer_encoder.layers)
        embeddings_train = any(q.requires_grad for q in model.encoder.parameters())
    if embeddings_train:
        return len(layers) + 1
    for i, layer in enumerate(layers):
        if any(q.requires_grad for q in layer.parameters()):
            return len(layers) - i + 1
    return 1


def estimate_mib(kind, cfg, model, batch, seq_len, amp, cuda):
    n_params = sum(q.numel() for q in model.parameters())
    n_train = sum(q.numel() for q in model.parameters() if q.requires_grad)
    act_bytes = 2 if (amp and cuda) else 4
    mib = 2.0 ** 20
    comp = {
        "weightsMiB": n_params * 4 / mib,
        "gradsMiB": n_train * 4 / mib,
        "adamMiB": n_train * 8 / mib,
        "activationsMiB": batch * seq_len * per_token_values(kind, cfg, seq_len) * saved_layers(kind, cfg, model)
        * act_bytes / mib,
        "overheadMiB": float(CUDA_OVERHEAD_MIB if cuda else 0),
    }
    comp = {k: round(v, 1) for k, v in comp.items()}
    return {"params": n_params, "trainable": n_train, "components": comp, "peakMiB": round(sum(comp.values()), 1)}


def largest_batch_within(kind, cfg, model, seq_len, amp, cuda, budget_mib, limit=1 << 16):
    """The largest batch whose estimate fits in budget_mib (0 if even batch 1 does not)."""
    def fits(b):
        return estimate_mib(kind, cfg, model, b, seq_len, amp, cuda)["peakMiB"] <= budget_mib
    return search_largest(fits, limit)


def search_largest(fits, limit):
    """Largest b in [1, limit] with fits(b), assuming fits is monotone (true up to some b); 0 if fits(1) is false.
    Doubles from 1, then bisects."""
    if not fits(1):
        return 0
    lo, hi = 1, 2
    while hi <= limit and fits(hi):
        lo, hi = hi, hi * 2
    hi = min(hi, limit + 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo


def suggest_batch(model, p, cfg, world, device):
    """Per-process batch that the estimate says fits in 90% of the device's memory (for the OOM message)."""
    try:
        total = torch.cuda.get_device_properties(device).total_memory / 2 ** 20
    except Exception:
        return None
    kind = p["model"]
    return largest_batch_within(kind, cfg, model, _seq_len(kind, cfg, p), bool(p.get("amp")), True, 0.9 * total)


def probe(model, kind, cfg, seq_len, amp, device, limit=4096):
    """Largest batch that runs forward + backward + Adam step on `device` (CUDA), and the peak memory it used."""
    model = model.to(device)
    model.train()
    opt = torch.optim.Adam([q for q in model.parameters() if q.requires_grad], lr=1e-4)
    peaks = {}

    def inputs(b):
        if kind == "scbert":
            return (torch.randint(0, 6, (b, seq_len), device=device),)
        ids = torch.randint(0, cfg.pad_token_id, (b, seq_len), device=device)
        return ids, torch.rand(b, seq_len, device=device) * 50, torch.zeros(b, seq_len, dtype=torch.bool, device=device)

    def fits(b):
        opt.zero_grad(set_to_none=True)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        try:
            x = inputs(b)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                out = model(*x)
            loss = out.float().logsumexp(dim=1).mean()
            loss.backward()
            opt.step()
            torch.cuda.synchronize(device)
            peaks[b] = round(torch.cuda.max_memory_allocated(device) / 2 ** 20, 1)
            return True
        except RuntimeError as exc:
            if "out of memory" not in str(exc).lower():
                raise
            return False
        finally:
            opt.zero_grad(set_to_none=True)
            torch.cuda.empty_cache()

    best = search_largest(fits, limit)
    return {"largestBatch": best, "peakMiB": peaks.get(best), "limit": limit}


def main_estimate(run_dir, do_probe, device_arg):
    from . import models
    from .finetune_model import freeze, model_config
    from .runtime import RunError, _device
    try:
        rec = RunFolder(run_dir, writable=False).read_record()
        params = (rec.get("parameters") or {}).get("finetune")
        if not isinstance(params, dict):
            raise RunError("%s: parameters.finetune is missing" % os.path.join(run_dir, "run.json"))
        p = protocols.resolve(params, float(rec.get("fraction", 1.0)))
        cfg, _hint, _sd = model_config(p)
        del _sd
        model = models.build_model(p["model"], cfg, len(p["classes"]))
        freeze(model, p)
        device_type = _device(device_arg or p.get("device"))
    except Exception as exc:  # every problem as one JSON error line and status 1
        sys.stdout.write(json.dumps({"error": str(exc)}) + "\n")
        return 1
    kind = p["model"]
    cuda = device_type == "cuda"
    nproc = max(1, int(p.get("nproc") or 1))
    batch = max(1, math.ceil(p["batchSize"] / nproc))
    seq_len = _seq_len(kind, cfg, p)
    amp = bool(p.get("amp"))
    out = {"model": kind, "device": device_type, "batchPerProcess": batch, "processes": nproc, "seqLen": seq_len,
           "amp": amp and cuda, "sdpa": HAS_SDPA}
    out.update(estimate_mib(kind, cfg, model, batch, seq_len, amp, cuda))
    if cuda:
        free, total = torch.cuda.mem_get_info(0)
        out["freeMiB"], out["totalMiB"] = round(free / 2 ** 20), round(total / 2 ** 20)
        out["suggestedBatch"] = largest_batch_within(kind, cfg, model, seq_len, amp, cuda, 0.9 * free / 2 ** 20)
        out["fits"] = out["peakMiB"] <= free / 2 ** 20
    else:
        out["freeMiB"] = out["totalMiB"] = out["suggestedBatch"] = out["fits"] = None
    out["probe"] = None
    if do_probe:
        if not cuda:
            out["probe"] = {"largestBatch": None, "message": "--probe needs a CUDA device; this run is on the CPU"}
        else:
            out["probe"] = probe(model, kind, cfg, seq_len, amp and cuda, "cuda:0")
    sys.stdout.write(json.dumps(out) + "\n")
    return 0
