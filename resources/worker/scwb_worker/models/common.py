"""Helpers shared by the model kinds."""
from dataclasses import asdict, fields


def build_model(kind, cfg, n_classes):
    """Build a classifier of the given kind ('scbert' or 'scgpt') from its config."""
    if kind == "scbert":
        from .scbert import ScBertClassifier
        return ScBertClassifier(cfg, n_classes)
    if kind == "scgpt":
        from .scgpt import ScGPTModel
        return ScGPTModel(cfg, n_classes=n_classes)
    raise ValueError("unknown model kind %r (expected 'scbert' or 'scgpt')" % (kind,))


def param_count(model, trainable_only=False):
    """Number of parameters (all, or only those with requires_grad)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


class EncoderConfigBase:
    """What the pre-training encoders' config dataclasses (models/encoder.py, models/published.py) share: the token ids
    check and the dict form saved beside the weights (from_dict refuses settings the class does not know)."""

    def check_token_ids(self):
        if not (0 <= self.pad_id < self.n_tokens and 0 <= self.cls_id < self.n_tokens):
            raise ValueError("pad id %d / cls id %d outside the %d tokens" % (self.pad_id, self.cls_id, self.n_tokens))

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError("unknown encoder setting(s): %s" % ", ".join(unknown))
        return cls(**d)
