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
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "resources", "worker"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from scwb_worker import distributed, pretrain  # noqa: E402
from scwb_worker.models.encoder import BenchmarkEncoder, EncoderConfig  # noqa: E402

N_GENES = 2000


class RefEncoder(nn.Module):
    """The transformer benchmark encoder as plain tensor code over a copy of `model`'s weights."""

    def __init__(self, model):
        super().__init__()
        self.cfg = model.cfg
        self.w = nn.ParameterDict({k.replace(".", "__"): nn.Parameter(v.detach().clone())
                                   for k, v in model.state_dict().items()})

    def p(self, name):
        return self.w[name.replace(".", "__")]

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
    rng = np.random.RandomState(0)
    cells = pretrain.SparseCells()
    for r in range(max(4 * args.batch, 64)):
        n = rng.randint(150, 600)
        cols = np.sort(rng.choice(N_GENES, n, replace=False))
        raw = rng.poisson(3.0, n).astype(np.float32) + 1
        cells.ids[r], cells.values[r], cells.raw[r] = cols, np.log1p(raw), raw
    tok = pretrain.Tokens(np.arange(N_GENES), N_GENES + 2, N_GENES, N_GENES + 1, None, None)
    cfg = EncoderConfig(n_tokens=tok.n_tokens, pad_id=tok.pad_id, cls_id=tok.cls_id, dim=args.dim, depth=args.depth,
                        heads=args.heads, dropout=0.0, max_seq_len=args.seq)
    obj = pretrain.BenchmarkObjective(cells, tok, cfg, {"maskRatio": 0.4, "weightedSampling": True}, 0)
    return cfg, obj


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
    model.to(args.device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    ctx = distributed.Context()
    times, cpu, tokens = [], [], []
    for r in range(args.repeats + 1):
        if args.device == "cuda":
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        if impl == "ours":  # the worker's whole step: the batch is prepared (sampling, masking) every time
            loss, bt, _ = pretrain.step_loss(model, obj, rows, r + 1, ctx, args.device, False)
        else:
            bt = batch
            out = model(*[t.to(args.device) for t in batch.inputs])
            m = batch.masked.to(args.device)
            loss = ((out[0] - batch.target.to(args.device)) ** 2)[m].sum() / max(batch.n_masked, 1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if args.device == "cuda":
            torch.cuda.synchronize()
        if r:  # the first round warms up
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            tokens.append(bt.n_tokens)
    peak_gpu = torch.cuda.max_memory_allocated() / 2 ** 20 if args.device == "cuda" else None
    return {"diff": diff, "step_s": statistics.median(times), "cpu_s": statistics.median(cpu),
            "tokens": statistics.median(tokens), "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
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
    opts = {"ours": torch.optim.Adam(ours.parameters(), lr=1e-4), "reference": torch.optim.Adam(ref.parameters(),
                                                                                               lr=1e-4)}
    ctx = distributed.Context()
    res = {k: {"wall": [], "cpu": [], "tokens": []} for k in opts}
    for r in range(args.repeats + 1):
        for impl in ("ours", "reference"):
            model = ours if impl == "ours" else ref
            model.train()
            if args.device == "cuda":
                torch.cuda.synchronize()
            t0, c0 = time.perf_counter(), time.process_time()
            if impl == "ours":
                loss, bt, _ = pretrain.step_loss(model, obj, rows, r + 1, ctx, args.device, False)
            else:
                bt = batch
                out = model(*[t.to(args.device) for t in batch.inputs])
                m = batch.masked.to(args.device)
                loss = ((out[0] - batch.target.to(args.device)) ** 2)[m].sum() / max(batch.n_masked, 1)
            opts[impl].zero_grad()
            loss.backward()
            opts[impl].step()
            if args.device == "cuda":
                torch.cuda.synchronize()
            if r:
                res[impl]["wall"].append(time.perf_counter() - t0)
                res[impl]["cpu"].append(time.process_time() - c0)
                res[impl]["tokens"].append(bt.n_tokens)
    return {k: {m: statistics.median(v) for m, v in d.items()} for k, d in res.items()}


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
