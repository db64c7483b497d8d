"""CPU throughput of the worker's pre-training step vs a plain PyTorch reference of the same model, in one run.

    /usr/bin/python3 bench/pretrain_cpu.py [--repeats 5] [--batch 8] [--threads N] [--dim 64] [--depth 2]
                                           [--seq 256] [--device cpu|cuda]

The model is the benchmark encoder (transformer structure, log1p values, <cls> pooling, masked-value MSE; d 64,
2 layers, 4 heads, 256 tokens by default; --dim 256 --depth 6 --heads 8 --seq 512 --batch 128 --device cuda is
the benchmark's own configuration) over synthetic cells of 2,000 genes with 150..600 expressed (so some are
sub-sampled and the batches are padded). "ours" is one step of scwb_worker.pretrain (the batch prepared by the
objective: gene sampling and masking, then forward, loss, backward, Adam); the "reference" is the same model written
here as plain tensor code (embedding, value MLP, post-norm attention layers spelled out) over a copy of our
weights, run on the same prepared batch. Token states are checked to agree before timing (dropout off). The first
table times both in this process, one step of each in turn (the machine's load hits both alike); for the second each
implementation runs in its own process so that its peak RSS (getrusage) is its own. tokens/s counts the non-pad
tokens (with <cls>) of a step; "per CPU-second" divides by the process's CPU time (steadier on a shared machine).
"""
import argparse
import json
import math
import os
import resource
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

from pretrain_common import N_GENES, WeightCopy, medians, synthetic_cells, timed_steps  # puts the worker on sys.path
from scwb_worker import pretrain
from scwb_worker.models.encoder import BenchmarkEncoder, EncoderConfig


class RefEncoder(WeightCopy):
    """The transformer benchmark encoder as plain tensor code over a copy of `model`'s weights."""

    def ln(self, x, name):
        return F.layer_norm(x, (x.shape[-1],), self.p(name + ".weight"), self.p(name + ".bias"))

    def lin(self, x, name):
        return x @ self.p(name + ".weight").t() + self.p(name + ".bias")

    def forward(self, ids, values, pad):
        cfg = self.cfg
        b, g = ids.shape
        emb = self.p("gene_emb.weight")
        ge = self.ln(emb[ids], "gene_norm")
        v = self.lin(F.relu(self.lin(values.unsqueeze(-1), "value_enc.linear1")), "value_enc.linear2")
        x = ge + self.ln(v, "value_enc.norm")
        dev = ids.device
        cls = self.ln(emb[torch.full((b, 1), cfg.cls_id, dtype=torch.long, device=dev)], "gene_norm")
        x = torch.cat([cls, x], 1)
        mask = torch.cat([torch.zeros(b, 1, dtype=torch.bool, device=dev), pad], 1)
        bias = torch.zeros(b, 1, 1, g + 1, device=dev).masked_fill(mask[:, None, None, :], float("-inf"))
        h, e = cfg.heads, cfg.dim // cfg.heads
        for i in range(cfg.depth):
            pre = "layers.layers.%d." % i
            qkv = x @ self.p(pre + "self_attn.in_proj_weight").t() + self.p(pre + "self_attn.in_proj_bias")
            q, k, vv = qkv.view(b, g + 1, 3, h, e).permute(2, 0, 3, 1, 4)
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(e) + bias, -1) @ vv
            att = self.lin(att.transpose(1, 2).reshape(b, g + 1, cfg.dim), pre + "self_attn.out_proj")
            x = self.ln(x + att, pre + "norm1")
            x = self.ln(x + self.lin(F.relu(self.lin(x, pre + "linear1")), pre + "linear2"), pre + "norm2")
        x = self.ln(x, "norm")
        genes = x[:, 1:]
        d = self.lin(F.leaky_relu(self.lin(genes, "decoder.fc.0")), "decoder.fc.2").squeeze(-1)
        return d, None, x[:, 0]


def make_objective(args):
    """A synthetic dataset in memory, read as the worker reads cells (log1p values, token ids 0..n-1)."""
    cells = synthetic_cells(max(4 * args.batch, 64), 600)
    tok = pretrain.Tokens(np.arange(N_GENES), N_GENES + 2, N_GENES, N_GENES + 1, None, None)
    cfg = EncoderConfig(n_tokens=tok.n_tokens, pad_id=tok.pad_id, cls_id=tok.cls_id, dim=args.dim, depth=args.depth,
                        heads=args.heads, dropout=0.0, max_seq_len=args.seq)
    obj = pretrain.BenchmarkObjective(cells, tok, cfg, {"maskRatio": 0.4, "weightedSampling": True}, 0)
    return cfg, obj


def mlm_loss(out, batch, device):
    """The masked-value MSE of the reference's gene outputs."""
    m = batch.masked.to(device)
    return ((out[0] - batch.target.to(device)) ** 2)[m].sum() / max(batch.n_masked, 1)


def child(impl, args):
    torch.manual_seed(0)
    cfg, obj = make_objective(args)
    ours = BenchmarkEncoder(cfg)
    ref = RefEncoder(ours)
    rows = list(range(args.batch))
    batch = obj.prepare(rows, 1)
    ours.eval()
    with torch.no_grad():
        a, b = ours.encode(*batch.inputs)[1], ref(*batch.inputs)[2]
    diff = float((a - b).abs().max())
    model = ours if impl == "ours" else ref
    del ours, ref
    model.to(args.device)
    med = medians(timed_steps({impl: model}, obj, batch, rows, 1e-4, mlm_loss, args.device, args.repeats))[impl]
    peak_gpu = torch.cuda.max_memory_allocated() / 2 ** 20 if args.device == "cuda" else None
    return {"diff": diff, "step_s": med["wall"], "cpu_s": med["cpu"],
            "tokens": med["tokens"], "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            / 1024.0, "peak_gpu_mib": peak_gpu}


def interleaved(args):
    """Both implementations in this process, one step of each in turn (the machine's load hits both alike):
    medians of wall and CPU seconds per step, and tokens per step."""
    torch.manual_seed(0)
    cfg, obj = make_objective(args)
    ours = BenchmarkEncoder(cfg).to(args.device)
    ref = RefEncoder(ours).to(args.device)
    rows = list(range(args.batch))
    batch = obj.prepare(rows, 1)
    return medians(timed_steps({"ours": ours, "reference": ref}, obj, batch, rows, 1e-4, mlm_loss, args.device,
                               args.repeats))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256, help="maxSeqLen (tokens with <cls>)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--child", choices=("ours", "reference"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        print(json.dumps(child(args.child, args)))
        return
    print("torch %s, %d threads, %s, batch %d, d %d, %d layers, %d heads, maxSeqLen %d, median of %d steps" % (
        torch.__version__, torch.get_num_threads(), args.device, args.batch, args.dim, args.depth, args.heads,
        args.seq, args.repeats))
    res = {}
    for impl in ("ours", "reference"):
        cmd = [sys.executable, os.path.abspath(__file__), "--child", impl]
        for k in ("repeats", "batch", "threads", "dim", "depth", "heads", "seq", "device"):
            cmd += ["--" + k, str(getattr(args, k))]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        res[impl] = json.loads(out.strip().splitlines()[-1])
    inter = interleaved(args)
    oi, ri = inter["ours"], inter["reference"]
    print("| measure | ours | reference | ours/ref |")
    print("| --- | --- | --- | --- |")
    for what, key in (("tokens/s (wall), interleaved in one process", "wall"),
                      ("tokens per CPU-second, interleaved in one process", "cpu")):
        a, b = oi["tokens"] / oi[key], ri["tokens"] / ri[key]
        print("| %s | %.0f | %.0f | %.2fx |" % (what, a, b, a / b))
    print()
    o, r = res["ours"], res["reference"]
    print("| measure | ours | reference | ours/ref |")
    print("| --- | --- | --- | --- |")
    for what, key in (("tokens/s (wall)", "step_s"), ("tokens per CPU-second", "cpu_s")):
        a, b = o["tokens"] / o[key], r["tokens"] / r[key]
        print("| %s | %.0f | %.0f | %.2fx |" % (what, a, b, a / b))
    print("| step time s (wall) | %.3f | %.3f | %.2fx |" % (o["step_s"], r["step_s"], o["step_s"] / r["step_s"]))
    print("| peak RSS MiB | %.0f | %.0f | %.2fx |" % (o["peak_rss_mib"], r["peak_rss_mib"],
                                                       o["peak_rss_mib"] / r["peak_rss_mib"]))
    if o["peak_gpu_mib"] is not None:
        print("| peak GPU MiB | %.0f | %.0f | %.2fx |" % (o["peak_gpu_mib"], r["peak_gpu_mib"],
                                                          o["peak_gpu_mib"] / r["peak_gpu_mib"]))
    print("| max abs difference of the <cls> states (eval) | %.2g | | |" % o["diff"])


if __name__ == "__main__":
    main()
