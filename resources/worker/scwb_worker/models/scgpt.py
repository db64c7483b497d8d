"""scGPT: transformer encoder over (gene, value) tokens with a classification head. (skeleton, in progress)"""
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class ScGPTConfig:
    ntoken: int = 60697
    d_model: int = 512
    nhead: int = 8
    d_hid: int = 512
    nlayers: int = 12
    dropout: float = 0.2
    pad_token_id: int = 60694
    pad_value: float = -2.0
    max_value: float = 512.0


class ScGPTModel(nn.Module):
    def __init__(self, cfg, n_classes=0):
        super().__init__()
        raise NotImplementedError("ScGPTModel: in progress")


def freeze_embeddings(model):
    raise NotImplementedError
