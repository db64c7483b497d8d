"""Pre-training step time of each published benchmark encoder (transformer, cnn_base, cnn_ours, linear_ours,
linear_base) in the worker vs a plain-PyTorch reference of the same model, in one run.

    /usr/bin/python3 bench/pretrain_published.py [--structures transformer,cnn_base,...] [--batch 8] [--repeats 5]
                                                 [--threads N] [--device cpu|cuda] [--vocab 60697] [--json OUT]

The models are at the paper's config (README command: 6 layers, 256 wide, 8 heads, dropout 0.15 — off here so that
the two sides can be compared —, the 60,697-token vocabulary, <cls> + 512 genes for the transformer and <cls> + 511
for the others, MVC on, log1p values, weighted gene sampling). Cells are synthetic: 2,000 genes with 150..900
expressed, so some are sub-sampled and some padded. "ours" is the worker's whole step (`pretrain.step_loss` with
the published objective: the batch is prepared each step — sampling, masking —, then forward, loss, backward, Adam);
the reference is the same model written here as plain tensor code (functional conv/linear/batch-norm/attention over a
copy of our weights) on a batch prepared once, with the same loss and Adam. Outputs are checked to agree (eval mode)
before timing; both sides step in turn in one process so that the machine's load hits them alike. Median of
`--repeats` steps after one warm-up step. The paper's global batch is 128 (`--batch 128`, practical on a GPU).
"""
import argparse
import json
import math

import numpy as np
import torch
import torch.nn.functional as F

from pretrain_common import N_GENES, WeightCopy, medians, synthetic_cells, timed_steps  # puts the worker on sys.path
from scwb_worker import pretrain
from scwb_worker.models.published import STRUCTURES, PublishedConfig, PublishedEncoder, default_max_seq_len
from scwb_worker.published_data import PublishedObjective


class Reference(WeightCopy):
    """A published encoder as plain tensor code over a copy of `model`'s weights (training mode: batch statistics)."""

    def __init__(self, model):
        super().__init__(model)
        self.stats = {k: v.detach().clone() for k, v in model.state_dict().items()
                      if k.endswith("running_mean") or k.endswith("running_var")}

    def to(self, *a, **kw):
        super().to(*a, **kw)
        self.stats = {k: v.to(*a, **kw) for k, v in self.stats.items()}
        return self

    def lin(self, x, name):
        return F.linear(x, self.p(name + ".weight"), self.p(name + ".bias"))

    def mlp(self, x, name):
        x = F.leaky_relu(self.lin(x, name + ".0"), 0.01)
        return self.lin(F.leaky_relu(self.lin(x, name + ".2"), 0.01), name + ".4")

    def bn(self, x, name):  # [B, C, L]
        return F.batch_norm(x, self.stats[name + ".running_mean"], self.stats[name + ".running_var"],
                            self.p(name + ".weight"), self.p(name + ".bias"), self.training, 0.1, 1e-5)

    def attention(self, x, pad, name):
        b, L, d = x.shape
        h = self.cfg.heads
        e = d // h
        qkv = F.linear(x, self.p(name + ".in_proj_weight"), self.p(name + ".in_proj_bias"))
        q, k, v = qkv.view(b, L, 3, h, e).permute(2, 0, 3, 1, 4)
        bias = torch.zeros(b, 1, 1, L, device=x.device).masked_fill(pad[:, None, None, :], float("-inf"))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(e) + bias, -1) @ v
        return self.lin(att.transpose(1, 2).reshape(b, L, d), name + ".out_proj")

    def forward(self, src, values, pad):
        cfg, s = self.cfg, self.cfg.structure
        ge = self.p("embedding.weight")[src]
        vh = F.relu(self.lin(values.clamp(max=512.0).unsqueeze(-1), "value_encoder.0"))
        x = ge + self.lin(vh, "value_encoder.2")
        if s == "cnn_ours":
            key = torch.where(src == cfg.cls_id, torch.full_like(src, -1), src)
            key = torch.where(src == cfg.pad_id, torch.full_like(src, cfg.n_tokens), key)
            x = torch.gather(x, 1, torch.sort(key, dim=1, stable=True)[1].unsqueeze(-1).expand(-1, -1, x.shape[-1]))
        if s in ("cnn_base", "cnn_ours"):
            h = x.transpose(1, 2)
            for i in range(cfg.depth):
                stride = 1 if i % 6 == 0 else 2
                pre = "encoder.layers.%d" % i
                y = F.conv1d(h, self.p(pre + ".conv.weight"), self.p(pre + ".conv.bias"), stride=stride, padding=4)
                h = F.gelu(self.bn(y, pre + ".bn")) + F.max_pool1d(h, stride, stride)
            cell = h.mean(2)
        elif s == "linear_ours":
            h = x
            for i in range(cfg.depth):
                pre = "encoder.layers.%d" % i
                y = F.linear(self.lin(h, pre + ".linear_channel").transpose(1, 2), self.p(pre + ".linear_seq.weight"),
                             self.p(pre + ".linear_seq.bias"))
                y = F.gelu(self.bn(y, pre + ".bn").transpose(1, 2))
                h = y + F.adaptive_avg_pool1d(h.transpose(1, 2), y.shape[1]).transpose(1, 2)
            cell = h[:, 0]
        else:
            h = x
            for i in range(cfg.depth):
                if s == "linear_base":
                    f = self.lin(F.relu(self.lin(h, "encoder.ffns.%d.fc1" % i)), "encoder.ffns.%d.fc2" % i)
                    h = h + F.gelu(F.layer_norm(f, (cfg.dim,), self.p("encoder.layer_norms.%d.weight" % i),
                                                self.p("encoder.layer_norms.%d.bias" % i)))
                else:
                    pre = "encoder.layers.%d" % i
                    nw = lambda n: (self.p(pre + "." + n + ".weight"), self.p(pre + "." + n + ".bias"))  # noqa: E731
                    h = F.layer_norm(h + self.attention(h, pad, pre + ".self_attn"), (cfg.dim,), *nw("norm1"))
                    ff = self.lin(F.relu(self.lin(h, pre + ".linear1")), pre + ".linear2")
                    h = F.layer_norm(h + ff, (cfg.dim,), *nw("norm2"))
            cell = h[:, 0]
            mlm = self.mlp(h, "decoder").squeeze(2)
        mvc = torch.bmm(self.mlp(ge.detach(), "gene2query"), cell.unsqueeze(2)).squeeze(2)
        if s in ("cnn_base", "cnn_ours", "linear_ours"):
            mlm = mvc.detach()
        return mlm, mvc, cell


def make_objective(structure, args):
    cells = synthetic_cells(max(2 * args.batch, 16), 900)
    n_tok = max(args.vocab, N_GENES + 2)
    tok = pretrain.Tokens(np.arange(N_GENES), n_tok, n_tok - 3, n_tok - 2, None, None)
    cfg = PublishedConfig(n_tokens=n_tok, pad_id=tok.pad_id, cls_id=tok.cls_id, structure=structure, dropout=0.0,
                          max_seq_len=default_max_seq_len(structure), mvc=True)
    p = {"maskRatio": 0.4, "weightedSampling": True}
    return cfg, PublishedObjective(cells, tok, cfg, p, 0)


def ref_loss(out, batch, device):
    m = batch.masked.to(device)
    t = batch.target.to(device)
    return (((out[0] - t) ** 2)[m].sum() + ((out[1] - t) ** 2)[m].sum()) / max(batch.n_masked, 1)


def bench_structure(structure, args):
    torch.manual_seed(0)
    cfg, obj = make_objective(structure, args)
    ours = PublishedEncoder(cfg)
    ref = Reference(ours)
    rows = list(range(args.batch))
    batch = obj.prepare(rows, 1)
    ours.eval()
    ref.eval()
    with torch.no_grad():
        a, b = ours(*batch.inputs), ref(*batch.inputs)
    keep = ~batch.inputs[2]  # torch's eval fast path zeros the transformer's padded outputs: compare the rest
    diff = max(float((a[0] - b[0])[keep].abs().max()), float((a[1] - b[1]).abs().max()),
               float((a[2] - b[2]).abs().max()))
    ours.to(args.device)
    ref.to(args.device)
    med = medians(timed_steps({"ours": ours, "reference": ref}, obj, batch, rows, 2e-4, ref_loss, args.device,
                              args.repeats))
    return {"structure": structure, "places": cfg.max_seq_len, "diff": diff, "ours_s": med["ours"]["wall"],
            "ref_s": med["reference"]["wall"], "ours_cpu_s": med["ours"]["cpu"], "ref_cpu_s": med["reference"]["cpu"],
            "tokens": med["ours"]["tokens"]}


def run(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--structures", default=",".join(STRUCTURES))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--vocab", type=int, default=60697, help="tokens (the paper's vocabulary: 60,697)")
    ap.add_argument("--json", help="also write the rows to this JSON file")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print("torch %s, %d threads, %s, batch %d, vocabulary %d, 6 layers x 256, median of %d steps" % (
        torch.__version__, torch.get_num_threads(), args.device, args.batch, args.vocab, args.repeats))
    print("| structure | places | ours s/step | reference s/step | ours/ref (wall) | ours/ref (CPU) | max abs diff |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    rows = []
    for s in args.structures.split(","):
        r = bench_structure(s.strip(), args)
        rows.append(r)
        print("| %s | %d | %.3f | %.3f | %.2fx | %.2fx | %.1g |" % (
            r["structure"], r["places"], r["ours_s"], r["ref_s"], r["ours_s"] / r["ref_s"],
            r["ours_cpu_s"] / r["ref_cpu_s"], r["diff"]), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return rows


if __name__ == "__main__":
    run()
