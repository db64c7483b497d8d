"""The fine-tune classifier: its config from the checkpoint and parameters, pretrained weights, freezing."""
import os

import torch

from .runtime import RunError


def model_config(p):
    """The model config (from the checkpoint's shapes, then parameters.finetune.config), the tokenizer hint, and
    the checkpoint's normalised state dict (None without a checkpoint)."""
    from . import models
    from . import checkpoints as ck

    kind, ablation, ckpt = p["model"], p["ablation"], p.get("checkpoint")
    overrides = dict(p.get("config") or {})
    hint, meta, sd = {}, {}, None
    if ckpt:
        sd, meta = ck.read_checkpoint(ckpt)
        sd, _notes = ck.normalize_state_dict(sd)
    if kind == "scbert":
        cfg = ck.infer_scbert_config(sd, meta.get("nGenes")) if ckpt else models.ScBertConfig()
        for k, v in overrides.items():
            if not hasattr(cfg, k):
                raise RunError("parameters.finetune.config: unknown scBERT setting %r" % k)
            setattr(cfg, k, v)
        if ablation == "no-gene2vec":
            cfg.g2v_position_emb = False
        hint["n_genes"] = cfg.n_genes
    else:
        cfg = ck.infer_scgpt_config(sd, meta.get("args"), meta.get("vocab")) if ckpt else models.ScGPTConfig()
        if p.get("dropout") is not None:
            cfg.dropout = float(p["dropout"])
        for k, v in overrides.items():
            if not hasattr(cfg, k):
                raise RunError("parameters.finetune.config: unknown scGPT setting %r" % k)
            setattr(cfg, k, v)
        vocab = meta.get("vocab")
        hint.update(ntoken=cfg.ntoken, pad_token_id=cfg.pad_token_id, pad_value=cfg.pad_value,
                    vocab=(vocab, os.path.join(ckpt, "vocab.json")) if vocab else None)
    return cfg, hint, sd


def build(p, device_type):
    """The classifier with its config, pretrained weights (unless the ablation says no), and freezing.
    Returns (model, cfg, hint for the tokenizer, LoadReport or None). Sets p["gene2vecSource"]: the file the scBERT
    no-pretraining ablation took its gene2vec table from (None otherwise)."""
    from . import models
    from . import checkpoints as ck

    cfg, hint, sd = model_config(p)
    kind, ablation, ckpt = p["model"], p["ablation"], p.get("checkpoint")
    if kind == "scbert":
        cfg.head_dropout = float(p.get("headDropout") or 0.0)
        if ablation == "no-gene2vec" and sd is not None and "pos_emb.emb.weight" in sd:
            raise RunError(
                "%s was pre-trained WITH gene2vec (it holds the position table pos_emb.emb.weight): the no-gene2vec "
                "ablation needs a checkpoint pre-trained without gene2vec (published: panglao_full_without_g2v); "
                "dropping the table from this one is a different experiment. Pre-train one from scratch without "
                "gene2vec (Pre-train Encoder..., scBERT, \"From scratch, no gene2vec\"; or scwb pretrain DATASET.h5ad "
                "--model scbert) and name its encoder.pt here" % ckpt)
    p["gene2vecSource"] = None
    pos_table = None
    if kind == "scbert" and ablation == "no-pretraining" and cfg.g2v_position_emb:
        pos_table, p["gene2vecSource"] = _gene2vec_table(p, cfg, sd)
    del sd
    model = models.build_model(kind, cfg, len(p["classes"]))
    report = None
    pretrained = bool(ckpt) and ablation not in ("no-pretraining", "frozen-embeddings")
    if pretrained:
        report = ck.load_pretrained(model, ckpt, list(p.get("ignoreKeys") or []))
    elif kind == "scgpt" and p.get("geneEmbInit") == "uniform":
        # published scGPT without pre-training: TransformerModel.init_weights() draws the whole gene embedding
        # (its <pad> row included) from U(-0.1, 0.1); nn.Embedding's own init is N(0, 1)
        with torch.no_grad():
            model.encoder.embedding.weight.uniform_(-0.1, 0.1)
    if pos_table is not None:
        with torch.no_grad():
            model.pos_emb.emb.weight.copy_(pos_table)
    freeze(model, p)
    return model, cfg, hint, report


def _gene2vec_table(p, cfg, sd):
    """The scBERT no-pretraining ablation's position table (published dist_finetune_nopretraining.py: the real
    gene2vec table, everything else random): from parameters.finetune.gene2vec (a [n_genes, dim] .npy, to which
    the appended token's zero row is added as published), else pos_emb.emb.weight of the checkpoint."""
    import numpy as np
    path = p.get("gene2vec")
    want = (cfg.seq_len, cfg.dim)
    if path:
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise RunError("%s: not a readable .npy array (%s)" % (path, exc)) from None
        if arr.ndim != 2 or tuple(arr.shape) != (cfg.n_genes, cfg.dim) or not np.issubdtype(arr.dtype, np.floating):
            raise RunError("%s: a gene2vec table must be a float array of shape [%d genes, %d] (the model's genes "
                           "and dim), got %s %s" % (path, cfg.n_genes, cfg.dim, arr.dtype, list(arr.shape)))
        if not np.isfinite(arr).all():
            raise RunError("%s: the gene2vec table holds NaN or infinite values" % path)
        table = np.concatenate([arr, np.zeros((1, arr.shape[1]), dtype=arr.dtype)], axis=0)
        return torch.as_tensor(table, dtype=torch.float32), path
    if sd is not None and "pos_emb.emb.weight" in sd:
        t = sd["pos_emb.emb.weight"]
        if tuple(t.shape) != want:
            raise RunError("%s: pos_emb.emb.weight has shape %s, the model needs %s" % (
                p.get("checkpoint"), list(t.shape), list(want)))
        return t.detach().to(torch.float32).clone(), p.get("checkpoint")
    if p.get("checkpoint"):
        raise RunError("%s has no gene2vec table (pos_emb.emb.weight): the no-pretraining ablation keeps the real "
                       "gene2vec table; name a gene2vec .npy in parameters.finetune.gene2vec" % p["checkpoint"])
    return None, None


def freeze(model, p):
    from . import models
    if p["model"] == "scbert":
        models.freeze_for_finetune(model)
    elif p["ablation"] == "frozen-embeddings":
        models.freeze_embeddings(model)
