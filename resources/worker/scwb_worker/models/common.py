"""Helpers shared by the model kinds."""


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
