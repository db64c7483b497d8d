"""CPU throughput of the worker's models vs a straightforward PyTorch reference of the same model, in one run.

    /usr/bin/python3 bench/worker_cpu.py [--repeats 5] [--batch 8] [--threads N]

For each model (scBERT: dim 64, depth 2, 4 heads x 32, over 2,000 genes, fine-tune freezing as published;
scGPT: d 128, 2 layers, 4 heads, 1,200 tokens with variable cell lengths and a padding mask) it measures cells/s of
one training step (forward, backward, Adam step) and of inference (eval, no_grad), ours vs the reference, fp32, per
wall-clock second and per CPU-second of the process (steadier on a shared machine).
The references are written here: scBERT as plain tensor code over the same weights (separate q/k/v projections,
FAVOR+ and the head spelled out), scGPT as torch's own nn.TransformerEncoder with the weights copied in. Each
(implementation, model) runs in its own child process so that peak RSS (resource.getrusage) is its own; outputs of
ours and the reference are checked to agree before timing.
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

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from scwb_worker.models import (ScBertConfig, ScBertClassifier, freeze_for_finetune, ScGPTConfig,  # noqa: E402
                                ScGPTModel)

N_CLASSES = 5


# ---------------------------------------------------------------------------------------------- references

class RefScBert(nn.Module):
    """scBERT classifier as plain tensor code over a copy of the given weights."""

    def __init__(self, model):
        super().__init__()
        self.cfg = model.cfg
        sd = model.state_dict()
        self.names = [k for k in sd if not k.endswith("calls_since_last_redraw")]
        trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        self.p = nn.ParameterDict()
        self.keymap = {}
        for i, k in enumerate(self.names):
            t = sd[k].detach().clone().float()
            if k.endswith("projection_matrix"):
                self.register_buffer("proj%d" % i, t)
            else:
                self.p["t%d" % i] = nn.Parameter(t, requires_grad=k in trainable)
            self.keymap[k] = i

    def w(self, k):
        i = self.keymap[k]
        return getattr(self, "proj%d" % i) if k.endswith("projection_matrix") else self.p["t%d" % i]

    def forward(self, tokens):
        c = self.cfg
        b, n = tokens.shape
        x = self.w("token_emb.weight")[tokens] + self.w("pos_emb.emb.weight")[:n].unsqueeze(0)
        for i in range(c.depth):
            pre = "performer.net.layers.%d." % i
            h = F.layer_norm(x, (c.dim,), self.w(pre + "0.norm.weight"), self.w(pre + "0.norm.bias"))
            heads = []
            q = (h @ self.w(pre + "0.fn.to_q.weight").t()).reshape(b, n, c.heads, c.dim_head).permute(0, 2, 1, 3)
            k = (h @ self.w(pre + "0.fn.to_k.weight").t()).reshape(b, n, c.heads, c.dim_head).permute(0, 2, 1, 3)
            v = (h @ self.w(pre + "0.fn.to_v.weight").t()).reshape(b, n, c.heads, c.dim_head).permute(0, 2, 1, 3)
            proj = self.w(pre + "0.fn.fast_attention.projection_matrix")
            m = proj.shape[0]
            norm = c.dim_head ** -0.25
            qd = (q * norm) @ proj.t()
            kd = (k * norm) @ proj.t()
            qdiag = (q ** 2).sum(-1, keepdim=True) / 2 * norm ** 2
            kdiag = (k ** 2).sum(-1, keepdim=True) / 2 * norm ** 2
            qf = (torch.exp(qd - qdiag - qd.max(dim=-1, keepdim=True).values) + 1e-4) / math.sqrt(m)
            kf = (torch.exp(kd - kdiag - kd.max()) + 1e-4) / math.sqrt(m)
            for hh in range(c.heads):  # one head at a time, as a first implementation would
                ksum = kf[:, hh].sum(dim=1)
                d_inv = 1.0 / (qf[:, hh] * ksum.unsqueeze(1)).sum(-1)
                ctx = kf[:, hh].transpose(1, 2) @ v[:, hh]
                heads.append((qf[:, hh] @ ctx) * d_inv.unsqueeze(-1))
            att = torch.stack(heads, dim=1).permute(0, 2, 1, 3).reshape(b, n, c.heads * c.dim_head)
            x = x + att @ self.w(pre + "0.fn.to_out.weight").t() + self.w(pre + "0.fn.to_out.bias")
            h = F.layer_norm(x, (c.dim,), self.w(pre + "1.norm.weight"), self.w(pre + "1.norm.bias"))
            h = F.gelu(h @ self.w(pre + "1.fn.fn.w1.weight").t() + self.w(pre + "1.fn.fn.w1.bias"))
            x = x + h @ self.w(pre + "1.fn.fn.w2.weight").t() + self.w(pre + "1.fn.fn.w2.bias")
        x = F.layer_norm(x, (c.dim,), self.w("norm.weight"), self.w("norm.bias"))
        x = F.relu(F.conv2d(x.unsqueeze(1), self.w("to_out.conv1.weight"), self.w("to_out.conv1.bias"))).reshape(b, -1)
        x = F.dropout(F.relu(F.linear(x, self.w("to_out.fc1.weight"), self.w("to_out.fc1.bias"))), 0.1, self.training)
        x = F.dropout(F.relu(F.linear(x, self.w("to_out.fc2.weight"), self.w("to_out.fc2.bias"))), 0.1, self.training)
        return F.linear(x, self.w("to_out.fc3.weight"), self.w("to_out.fc3.bias"))


class RefScGPT(nn.Module):
    """scGPT classifier on torch's nn.TransformerEncoder, weights copied from ours."""

    def __init__(self, model):
        super().__init__()
        c = model.cfg
        self.emb = nn.Embedding(c.ntoken, c.d_model, padding_idx=c.pad_token_id)
        self.emb_norm = nn.LayerNorm(c.d_model)
        self.v1 = nn.Linear(1, c.d_model)
        self.v2 = nn.Linear(c.d_model, c.d_model)
        self.v_norm = nn.LayerNorm(c.d_model)
        self.drop = nn.Dropout(c.dropout)
        layer = nn.TransformerEncoderLayer(c.d_model, c.nhead, c.d_hid, c.dropout, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, c.nlayers, enable_nested_tensor=False) \
            if "enable_nested_tensor" in nn.TransformerEncoder.__init__.__code__.co_varnames \
            else nn.TransformerEncoder(layer, c.nlayers)
        self.cls = nn.Sequential(nn.Linear(c.d_model, c.d_model), nn.ReLU(), nn.LayerNorm(c.d_model),
                                 nn.Linear(c.d_model, c.d_model), nn.ReLU(), nn.LayerNorm(c.d_model),
                                 nn.Linear(c.d_model, N_CLASSES))
        self.max_value = c.max_value
        sd = model.state_dict()
        mine = {"emb.weight": "encoder.embedding.weight", "emb_norm.weight": "encoder.enc_norm.weight",
                "emb_norm.bias": "encoder.enc_norm.bias", "v1.weight": "value_encoder.linear1.weight",
                "v1.bias": "value_encoder.linear1.bias", "v2.weight": "value_encoder.linear2.weight",
                "v2.bias": "value_encoder.linear2.bias", "v_norm.weight": "value_encoder.norm.weight",
                "v_norm.bias": "value_encoder.norm.bias"}
        for i, j in zip((0, 3, 6), ("_decoder.0", "_decoder.3", "out_layer")):
            mine["cls.%d.weight" % i] = "cls_decoder.%s.weight" % j
            mine["cls.%d.bias" % i] = "cls_decoder.%s.bias" % j
        for i, j in ((2, "_decoder.2"), (5, "_decoder.5")):
            mine["cls.%d.weight" % i] = "cls_decoder.%s.weight" % j
            mine["cls.%d.bias" % i] = "cls_decoder.%s.bias" % j
        for k in self.state_dict():
            if k.startswith("enc.layers."):
                mine[k] = k.replace("enc.layers.", "transformer_encoder.layers.")
        self.load_state_dict({k: sd[v] for k, v in mine.items()})

    def forward(self, ids, values, pad):
        v = torch.clamp(values.unsqueeze(-1), max=self.max_value)
        x = self.emb_norm(self.emb(ids)) + self.drop(self.v_norm(self.v2(F.relu(self.v1(v)))))
        h = self.enc(x, src_key_padding_mask=pad)
        return self.cls(h[:, 0])


# ---------------------------------------------------------------------------------------------- workloads

def scbert_models():
    torch.manual_seed(0)
    cfg = ScBertConfig(dim=64, depth=2, heads=4, dim_head=32, n_genes=2000)
    ours = freeze_for_finetune(ScBertClassifier(cfg, N_CLASSES))
    return ours, RefScBert(ours), cfg


def scbert_batch(cfg, batch, seed):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, 6, (batch, cfg.seq_len), generator=g)
    tokens[torch.rand(batch, cfg.seq_len, generator=g) < 0.8] = 0  # mostly unexpressed, as real cells
    tokens[:, -1] = 0
    return (tokens,), torch.randint(0, N_CLASSES, (batch,), generator=g)


def scgpt_models():
    torch.manual_seed(0)
    cfg = ScGPTConfig(ntoken=3000, d_model=128, nhead=4, d_hid=128, nlayers=2, dropout=0.2, pad_token_id=2997)
    ours = ScGPTModel(cfg, N_CLASSES)
    return ours, RefScGPT(ours), cfg


def scgpt_batch(cfg, batch, seed, length=1200):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 2997, (batch, length), generator=g)
    ids[:, 0] = 2998
    vals = torch.randint(1, 51, (batch, length), generator=g).float()
    vals[:, 0] = 0
    lens = torch.randint(length // 3, length + 1, (batch,), generator=g)
    pad = torch.arange(length)[None, :] >= lens[:, None]
    ids[pad] = cfg.pad_token_id
    vals[pad] = cfg.pad_value
    return (ids, vals, pad), torch.randint(0, N_CLASSES, (batch,), generator=g)


def check_agree(ours, ref, inputs):
    ours.eval()
    ref.eval()
    with torch.no_grad():
        a, b = ours(*inputs), ref(*inputs)
    diff = float((a - b).abs().max())
    if diff > 1e-4:
        raise SystemExit("ours and the reference disagree (max |diff| %g)" % diff)
    return diff


def time_one(model, inputs, labels, train, repeats):
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4) if train else None
    model.train(train)
    times, cpu = [], []
    for r in range(repeats + 1):
        t0 = time.perf_counter()
        c0 = time.process_time()
        if train:
            opt.zero_grad()
            loss = F.cross_entropy(model(*inputs), labels)
            loss.backward()
            opt.step()
        else:
            with torch.no_grad():
                model(*inputs)
        if r:  # the first round warms up
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return statistics.median(times), statistics.median(cpu)


def child(which, impl, batch, repeats):
    if which == "scbert":
        ours, ref, cfg = scbert_models()
        inputs, labels = scbert_batch(cfg, batch, 1)
    else:
        ours, ref, cfg = scgpt_models()
        inputs, labels = scgpt_batch(cfg, batch, 1)
    diff = check_agree(ours, ref, inputs)
    model = ours if impl == "ours" else ref
    del ours, ref  # only the measured model stays alive (both are built in every child: same baseline RSS)
    train_s, train_cpu = time_one(model, inputs, labels, True, repeats)
    infer_s, infer_cpu = time_one(model, inputs, labels, False, repeats)
    return {"diff": diff, "train_s": train_s, "train_cpu": train_cpu, "infer_s": infer_s, "infer_cpu": infer_cpu,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--only", choices=("scbert", "scgpt"), default=None)
    ap.add_argument("--child", nargs=2, metavar=("MODEL", "IMPL"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.batch, args.repeats)))
        return
    print("torch %s, %d threads, batch %d, median of %d steps" % (torch.__version__, torch.get_num_threads(),
                                                                  args.batch, args.repeats))
    rows = []
    for which in ((args.only,) if args.only else ("scbert", "scgpt")):
        res = {}
        for impl in ("ours", "reference"):
            cmd = [sys.executable, os.path.abspath(__file__), "--child", which, impl, "--batch", str(args.batch),
                   "--repeats", str(args.repeats), "--threads", str(args.threads)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            res[impl] = json.loads(out.strip().splitlines()[-1])
        o, r = res["ours"], res["reference"]
        for what, key in (("training step", "train_s"), ("inference", "infer_s"),
                          ("training step, per CPU-second:", "train_cpu"), ("inference, per CPU-second:", "infer_cpu")):
            rows.append((which, what, args.batch / o[key], args.batch / r[key], r[key] / o[key]))
        rows.append((which, "peak RSS MiB", o["peak_rss_mib"], r["peak_rss_mib"], o["peak_rss_mib"] / r["peak_rss_mib"]))
        rows.append((which, "max |ours - ref| (eval logits)", o["diff"], r["diff"], float("nan")))
    print("| model | measure | ours | reference | ours/ref speed (RSS: ours/ref) |")
    print("| --- | --- | --- | --- | --- |")
    for which, what, a, b, ratio in rows:
        if what.startswith("max"):
            print("| %s | %s | %.2g | | |" % (which, what, a))
        elif what.startswith("peak"):
            print("| %s | %s | %.0f | %.0f | %.2fx |" % (which, what, a, b, ratio))
        else:
            print("| %s | %s cells/s | %.1f | %.1f | %.2fx |" % (which, what, a, b, ratio))


if __name__ == "__main__":
    main()
