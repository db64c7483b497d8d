"""Tiny demo checkpoints with the published key layout (docs/worker.md "Demo checkpoints").

`python -m scwb_worker demo-checkpoints OUT_DIR --genes-from DATA.h5ad [--seed N]` writes, over the var names of
DATA.h5ad, random (seeded, deterministic) weights of
- OUT_DIR/scbert_tiny/{scbert_tiny_pretrain.pth, genes.txt}: {"model_state_dict": ...}, dim 16, depth 2, heads 2,
  dim_head 8, one position per gene (+1), gene2vec-like frozen rows with the appended zero row as published;
- OUT_DIR/scGPT_tiny/{best_model.pt, vocab.json, args.json}: d_model 32, 2 layers, 2 heads, d_hid 32, flash-attn
  `Wqkv` names as in the published file, vocab = genes then <pad>, <cls>, <eoc>.
"""
import argparse
import collections
import json
import os
import sys

import torch

from .atomic import write_atomic_text
from .checkpoints import save_checkpoint
from .models.scbert import ScBertConfig, PerformerLM
from .models.scgpt import ScGPTConfig, ScGPTModel

SPECIAL_TOKENS = ("<pad>", "<cls>", "<eoc>")


class DemoError(Exception):
    pass


def _decode(values):
    out = []
    for v in values:
        out.append(v.decode("utf-8") if isinstance(v, bytes) else str(v))
    return out


def read_var_names(path):
    """Gene names (var index) of an .h5ad file, read with h5py: anndata >= 0.7 (`var` group whose `_index`
    attribute names the index dataset) or older files (`var` as a compound dataset with an `index` field)."""
    import h5py
    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise DemoError("%s: cannot open as an .h5ad (HDF5) file (%s)" % (path, exc))
    with fh:
        if "var" not in fh:
            raise DemoError("%s: no 'var' in the file, so no gene names" % (path,))
        var = fh["var"]
        if isinstance(var, h5py.Dataset):
            if var.dtype.names is None or "index" not in var.dtype.names:
                raise DemoError("%s: 'var' is a dataset without an 'index' field" % (path,))
            names = _decode(var["index"][()])
        else:
            idx = var.attrs.get("_index", "_index")
            if isinstance(idx, bytes):
                idx = idx.decode("utf-8")
            if idx not in var or not isinstance(var[idx], h5py.Dataset):
                raise DemoError("%s: var index dataset 'var/%s' not found" % (path, idx))
            names = _decode(var[idx][()])
    if not names:
        raise DemoError("%s: the file has no genes (var is empty)" % (path,))
    return names


def unique_genes(names):
    """Gene names in file order, first occurrence of each (a reference list and a vocabulary need unique names)."""
    return list(collections.OrderedDict.fromkeys(n for n in names if n not in SPECIAL_TOKENS))


def tiny_scbert_config(n_genes):
    return ScBertConfig(dim=16, depth=2, heads=2, dim_head=8, n_genes=n_genes)


def tiny_scgpt_config(n_genes):
    return ScGPTConfig(ntoken=n_genes + len(SPECIAL_TOKENS), d_model=32, nhead=2, d_hid=32, nlayers=2, dropout=0.2,
                       pad_token_id=n_genes, pad_value=-2.0)


def to_flash_names(sd):
    """torch `self_attn.in_proj_{weight,bias}` -> flash-attn 1.x `self_attn.Wqkv.{weight,bias}` (same layout)."""
    out = collections.OrderedDict()
    for k, v in sd.items():
        k = k.replace("self_attn.in_proj_weight", "self_attn.Wqkv.weight").replace(
            "self_attn.in_proj_bias", "self_attn.Wqkv.bias")
        out[k] = v
    return out


DEMO_NOTE = "scWorkbench tiny demo checkpoint: random weights, not a trained model"
#: written into each demo checkpoint folder; src/core/checkpoints/demo-weights.ts looks for it
DEMO_MARKER = "scwb_demo.json"


def write_demo_checkpoints(out_dir, genes_from, seed=0):
    """Write both tiny checkpoints; returns {name: path} of what was written."""
    genes = unique_genes(read_var_names(genes_from))
    n = len(genes)
    scbert_dir = os.path.join(out_dir, "scbert_tiny")
    scgpt_dir = os.path.join(out_dir, "scGPT_tiny")
    os.makedirs(scbert_dir, exist_ok=True)
    os.makedirs(scgpt_dir, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        bert = PerformerLM(tiny_scbert_config(n))
        with torch.no_grad():
            g2v = torch.randn(n + 1, bert.cfg.dim)
            g2v[-1].zero_()  # the appended token's row is zero in the published embedding
            bert.pos_emb.emb.weight.copy_(g2v)
        torch.manual_seed(seed + 1)
        gpt = ScGPTModel(tiny_scgpt_config(n), n_classes=0)
    written = {}
    p = os.path.join(scbert_dir, "scbert_tiny_pretrain.pth")
    save_checkpoint(p, {"model_state_dict": bert.state_dict(), "epoch": 0})
    written["scbert"] = p
    p = os.path.join(scbert_dir, "genes.txt")
    write_atomic_text(p, "".join(g + "\n" for g in genes))
    written["scbert_genes"] = p

    p = os.path.join(scgpt_dir, "best_model.pt")
    save_checkpoint(p, to_flash_names(gpt.state_dict()))
    written["scgpt"] = p
    vocab = collections.OrderedDict((g, i) for i, g in enumerate(genes))
    for tok in SPECIAL_TOKENS:
        vocab[tok] = len(vocab)
    p = os.path.join(scgpt_dir, "vocab.json")
    write_atomic_text(p, json.dumps(vocab, indent=1) + "\n")
    written["scgpt_vocab"] = p
    cfg = gpt.cfg
    args = collections.OrderedDict([
        ("data_source", os.path.basename(genes_from)), ("embsize", cfg.d_model), ("nheads", cfg.nhead),
        ("d_hid", cfg.d_hid), ("nlayers", cfg.nlayers), ("n_layers_cls", 3), ("dropout", cfg.dropout),
        ("pad_token", "<pad>"), ("pad_value", -2), ("mask_value", -1), ("n_bins", 51),
        ("input_emb_style", "continuous"), ("max_seq_len", 1200), ("fast_transformer", True),
        ("seed", seed), ("note", DEMO_NOTE),
    ])
    p = os.path.join(scgpt_dir, "args.json")
    write_atomic_text(p, json.dumps(args, indent=2) + "\n")
    written["scgpt_args"] = p
    # The marker the workbench reads to label runs on these weights "demo weights (random)".
    for name, folder in (("scbert_marker", scbert_dir), ("scgpt_marker", scgpt_dir)):
        p = os.path.join(folder, DEMO_MARKER)
        write_atomic_text(p, json.dumps({"demo": True, "weights": "random", "seed": seed, "note": DEMO_NOTE}, indent=1) + "\n")
        written[name] = p
    return written


def main_demo(argv):
    """Entry point for `python -m scwb_worker demo-checkpoints ...`; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m scwb_worker demo-checkpoints",
                                     description="Write tiny random scBERT/scGPT checkpoints over a dataset's genes.")
    parser.add_argument("out_dir", help="folder to write scbert_tiny/ and scGPT_tiny/ into")
    parser.add_argument("--genes-from", required=True, help=".h5ad whose var names become the genes/vocabulary")
    parser.add_argument("--seed", type=int, default=0)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 2 if exc.code else 0
    if not os.path.isfile(args.genes_from):
        print("error: %s: file not found" % args.genes_from, file=sys.stderr)
        return 2
    try:
        written = write_demo_checkpoints(args.out_dir, args.genes_from, args.seed)
    except (DemoError, OSError) as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1
    for path in written.values():
        print(path)
    return 0
