"""scBERT: Performer language model (FAVOR+ attention) and its fine-tune classifier. (skeleton, in progress)"""
import math
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn


@dataclass
class ScBertConfig:
    num_tokens: int = 7
    dim: int = 200
    depth: int = 6
    heads: int = 10
    dim_head: int = 64
    ff_mult: int = 4
    n_genes: int = 16906
    nb_features: Optional[int] = None
    g2v_position_emb: bool = True
    emb_dropout: float = 0.0
    ff_dropout: float = 0.0
    attn_dropout: float = 0.0
    feature_redraw_interval: int = 1000
    head_dropout: float = 0.1

    def features(self):
        return self.nb_features if self.nb_features is not None else int(self.dim_head * math.log(self.dim_head))


class PerformerLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        raise NotImplementedError("PerformerLM: in progress")


class ScBertClassifier(nn.Module):
    def __init__(self, cfg, n_classes):
        super().__init__()
        raise NotImplementedError("ScBertClassifier: in progress")


def freeze_for_finetune(model):
    raise NotImplementedError
