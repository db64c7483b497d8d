"""Model definitions of the worker: scBERT (Performer) and scGPT (transformer encoder)."""

from .scbert import ScBertConfig, PerformerLM, ScBertClassifier, freeze_for_finetune
from .scgpt import ScGPTConfig, ScGPTModel, freeze_embeddings
from .common import build_model, param_count

__all__ = [
    "ScBertConfig", "PerformerLM", "ScBertClassifier", "freeze_for_finetune",
    "ScGPTConfig", "ScGPTModel", "freeze_embeddings", "build_model", "param_count",
]
