"""The fine-tune classifier: its config from the checkpoint and parameters, pretrained weights, freezing."""
import os

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
        cfg = ck.infer_scbert_config(sd) if ckpt else models.ScBertConfig()
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
    Returns (model, cfg, hint for the tokenizer, LoadReport or None)."""
    from . import models
    from . import checkpoints as ck

    cfg, hint, sd = model_config(p)
    del sd
    model = models.build_model(p["model"], cfg, len(p["classes"]))
    report = None
    if p.get("checkpoint") and p["ablation"] != "no-pretraining":
        report = ck.load_pretrained(model, p["checkpoint"], list(p.get("ignoreKeys") or []))
    freeze(model, p)
    return model, cfg, hint, report


def freeze(model, p):
    from . import models
    if p["model"] == "scbert":
        models.freeze_for_finetune(model)
    elif p["ablation"] == "frozen-embeddings":
        models.freeze_embeddings(model)


def attention_path(model):
    """How the classifier computes attention on this torch: scBERT's Performer (FAVOR+ linear attention, every
    version), scGPT's fused scaled_dot_product_attention (torch >= 2) or its explicit softmax (torch 1.13)."""
    layers = getattr(getattr(model, "transformer_encoder", None), "layers", None)
    if layers:
        return "sdpa" if getattr(layers[0].self_attn, "use_sdpa", False) else "softmax"
    return "performer"
