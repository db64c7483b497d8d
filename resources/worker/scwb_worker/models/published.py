"""The AAAI 2025 benchmark encoders (Qi et al.) as the published code builds them: `transformer`, `cnn_base`,
`cnn_ours`, `linear_ours`, `linear_base` (docs/worker-benchmark.md). Written from the published description and
checked against the state-dict manifests in ../shared/reference/checkpoints (keys, order, shapes, buffers, dtypes).

Shared parts (state-dict order): `embedding` [n_tokens, 256] (the <pad> row is xavier-initialised too; its gradient is
zero), `layer_norm` (in the state dict, never applied), `emb_trans` only when dim != 256, `value_encoder`
Linear(1,d)-ReLU-Linear(d,d) on values clamped at 512 from above, `encoder`, `decoder` (masked-value head, 3 Linear with
LeakyReLU(0.01)) and `gene2query` (the MVC query MLP). No positional encoding, no input norm, no input dropout.

Inputs are whole token rows: `src` [B, L] long with <cls> at place 0, then genes, then <pad>; `values` [B, L] float
(<cls> value 0, masked places -1, padding 0); `pad` [B, L] bool (True at <pad>). forward returns
(masked-value output [B, L], MVC output [B, L], cell embedding [B, d]).
- transformer: post-norm TransformerEncoderLayer(d, heads, feed-forward d, dropout, batch_first) x depth, no final
  norm; the cell embedding is the <cls> output (`cls`), the mean over all L places (`mean`, <cls> and padding
  included, as the published avg-pool) or the mean over the gene places (`mean-genes`).
- cnn_base / cnn_ours: kernel-9 Conv1d + BatchNorm blocks (stride 1 in the first, 2 after) with a max-pool residual
  and GELU, then global average pooling = the cell embedding; padding is convolved like any place. cnn_ours first
  re-orders the places by token id (<cls> first, genes by ascending id, <pad> last). The masked-value output is a
  detached copy of the MVC output, so only the MVC loss trains.
- linear_ours: per layer a channel Linear, a Linear over the places (L -> L//2, the last -> 1), BatchNorm, GELU, plus
  the block input average-pooled to the new length; the single remaining place is the cell embedding. MVC only, as
  for the CNN.
- linear_base: per-token blocks x + GELU(LayerNorm(fc2(ReLU(fc1(x))))); output heads as the transformer's.
"""
from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F

from .common import EncoderConfigBase

STRUCTURES = ("transformer", "cnn_base", "cnn_ours", "linear_ours", "linear_base")
POOLED = ("cnn_base", "cnn_ours", "linear_ours")  # the encoder pools; only the MVC loss trains
POOLINGS = ("cls", "mean", "mean-genes")
VALUE_MODES = ("log1p", "bins")
DICT_SIZE = 256   # the gene embedding width is fixed at 256 in the published model
MAX_VALUE = 512.0
MASK_VALUE = -1.0
PAD_VALUE = 0.0
CLS_VALUE = 0.0
CNN_KERNEL = 9


def default_max_seq_len(structure):
    """Tokens including <cls>: 512 genes + <cls> for the transformer, 511 + <cls> for CNN and linear (the README)."""
    return 513 if structure == "transformer" else 512


@dataclass
class PublishedConfig(EncoderConfigBase):
    n_tokens: int = 60697
    pad_id: int = 60694
    cls_id: int = 60695
    structure: str = "transformer"
    dim: int = 256
    depth: int = 6
    heads: int = 8
    dropout: float = 0.15
    max_seq_len: int = 513  # tokens including <cls> (train_maxseq + 1)
    value_mode: str = "log1p"
    n_bins: int = 51
    pooling: str = "cls"
    mvc: bool = True

    def check(self):
        if self.structure not in STRUCTURES:
            raise ValueError("structure must be one of %s, got %r" % (", ".join(STRUCTURES), self.structure))
        if self.pooling not in POOLINGS:
            raise ValueError("pooling must be one of %s, got %r" % (", ".join(POOLINGS), self.pooling))
        if self.value_mode not in VALUE_MODES:
            raise ValueError("valueMode must be log1p or bins, got %r" % (self.value_mode,))
        if self.structure == "transformer" and self.dim % self.heads:
            raise ValueError("dim %d is not divisible by heads %d" % (self.dim, self.heads))
        if self.max_seq_len < 2 or self.depth < 1:
            raise ValueError("maxSeqLen must be at least 2 and depth at least 1")
        if self.structure in ("cnn_base", "cnn_ours"):
            need = 2 ** max(0, self.depth - 1)
            if self.max_seq_len % need:
                raise ValueError("the %s encoder halves the sequence %d times: maxSeqLen (with <cls>) must be a "
                                 "multiple of %d, got %d (the published setting is 512)" % (
                                     self.structure, self.depth - 1, need, self.max_seq_len))
        if self.structure == "linear_ours" and self.max_seq_len >> (self.depth - 1) < 1:
            raise ValueError("linear_ours: maxSeqLen %d is too short for %d halvings" % (self.max_seq_len,
                                                                                         self.depth - 1))
        if self.structure in POOLED and not self.mvc:
            raise ValueError("%s trains only through the MVC loss (its masked-value output is a detached copy of "
                             "the MVC output): mvc must be true" % self.structure)
        self.check_token_ids()
        return self


class _ConvBN(nn.Module):
    def __init__(self, dim, stride):
        super().__init__()
        self.conv = nn.Conv1d(dim, dim, kernel_size=CNN_KERNEL, padding=CNN_KERNEL // 2, stride=stride)
        self.bn = nn.BatchNorm1d(dim)

    def forward(self, x):
        return self.bn(self.conv(x))


class CNNEncoder(nn.Module):
    """[B, L, d] -> [B, d]: strided Conv1d+BN blocks with a max-pool residual, GELU, dropout, global average pool."""

    def __init__(self, dim, depth, dropout):
        super().__init__()
        strides = [1 if i % 6 == 0 else 2 for i in range(depth)]
        self.layers = nn.ModuleList([_ConvBN(dim, s) for s in strides])
        self.drops = nn.ModuleList([nn.Dropout(dropout) for _ in strides])
        self.strides = strides

    def forward(self, x):
        h = x.transpose(1, 2)
        for layer, drop, s in zip(self.layers, self.drops, self.strides):
            skip = F.max_pool1d(h, s, s) if s > 1 else h
            h = drop(F.gelu(layer(h))) + skip
        return h.mean(2)


class _LinearMix(nn.Module):
    def __init__(self, dim, length_in, length_out):
        super().__init__()
        self.linear_channel = nn.Linear(dim, dim)
        self.linear_seq = nn.Linear(length_in, length_out)
        self.bn = nn.BatchNorm1d(dim)

    def forward(self, x):  # [B, L, d] -> [B, L', d]
        h = self.linear_seq(self.linear_channel(x).transpose(1, 2))
        return self.bn(h).transpose(1, 2)


class LinearOursEncoder(nn.Module):
    """[B, L, d] -> [B, d]: channel Linear, place-mixing Linear halving the places (the last to 1), BN, GELU, plus the
    block input average-pooled to the new length. No dropout is applied (as published)."""

    def __init__(self, dim, depth, length):
        super().__init__()
        layers = []
        for i in range(depth):
            out = 1 if i == depth - 1 else length // 2
            layers.append(_LinearMix(dim, length, out))
            length = out
        self.layers = nn.ModuleList(layers)

    def forward(self, x):
        for layer in self.layers:
            h = F.gelu(layer(x))
            x = h + F.adaptive_avg_pool1d(x.transpose(1, 2), h.shape[1]).transpose(1, 2)
        return x.squeeze(1)


class _FFN(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc1 = nn.Linear(dim, dim)
        self.fc2 = nn.Linear(dim, dim)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


class LinearBaseEncoder(nn.Module):
    """[B, L, d] -> [B, L, d], per token: x + GELU(LayerNorm(FFN(x))). Nothing mixes the places."""

    def __init__(self, dim, depth):
        super().__init__()
        self.ffns = nn.ModuleList([_FFN(dim) for _ in range(depth)])
        self.layer_norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(depth)])

    def forward(self, x):
        for ffn, norm in zip(self.ffns, self.layer_norms):
            x = x + F.gelu(norm(ffn(x)))
        return x


def _mlp(dim, out):
    return nn.Sequential(nn.Linear(dim, dim), nn.LeakyReLU(0.01), nn.Linear(dim, dim), nn.LeakyReLU(0.01),
                         nn.Linear(dim, out))


class PublishedEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg.check()
        d = cfg.dim
        self.embedding = nn.Embedding(cfg.n_tokens, DICT_SIZE, padding_idx=cfg.pad_id)
        self.layer_norm = nn.LayerNorm(d)  # in the published state dict, never applied
        self.emb_trans = nn.Linear(DICT_SIZE, d) if d != DICT_SIZE else None
        self.value_encoder = nn.Sequential(nn.Linear(1, d), nn.ReLU(), nn.Linear(d, d))
        s = cfg.structure
        if s == "transformer":
            layer = nn.TransformerEncoderLayer(d, cfg.heads, d, cfg.dropout, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, cfg.depth)
        elif s in ("cnn_base", "cnn_ours"):
            self.encoder = CNNEncoder(d, cfg.depth, cfg.dropout)
        elif s == "linear_ours":
            self.encoder = LinearOursEncoder(d, cfg.depth, cfg.max_seq_len)
        else:
            self.encoder = LinearBaseEncoder(d, cfg.depth)
        self.decoder = _mlp(d, 1)
        self.gene2query = _mlp(d, d)
        self._init_weights()

    def _init_weights(self):
        nn.init.xavier_uniform_(self.embedding.weight)
        for module in (self.value_encoder, self.decoder, self.gene2query):
            for layer in module:
                if isinstance(layer, nn.Linear):
                    nn.init.xavier_uniform_(layer.weight)
                    nn.init.zeros_(layer.bias)
        nn.init.ones_(self.layer_norm.weight)
        nn.init.zeros_(self.layer_norm.bias)

    def order_key(self, src):
        """cnn_ours' place order: <cls> first, genes by ascending token id, <pad> last."""
        cfg = self.cfg
        key = torch.where(src == cfg.cls_id, torch.full_like(src, -1), src)
        return torch.where(src == cfg.pad_id, torch.full_like(src, cfg.n_tokens), key)

    def _pool(self, h, pad):
        p = self.cfg.pooling
        if p == "cls":
            return h[:, 0]
        if p == "mean":
            return h.mean(1)
        keep = (~pad).to(h.dtype).unsqueeze(-1)
        keep[:, 0] = 0.0
        return (h * keep).sum(1) / keep.sum(1).clamp(min=1.0)

    def forward(self, src, values, pad):
        cfg = self.cfg
        if src.shape[1] > cfg.max_seq_len or (cfg.structure != "transformer" and cfg.structure != "linear_base"
                                              and src.shape[1] != cfg.max_seq_len):
            raise ValueError("the %s encoder takes %s %d places (with <cls>), got %d" % (
                cfg.structure, "at most" if cfg.structure in ("transformer", "linear_base") else "exactly",
                cfg.max_seq_len, src.shape[1]))
        gene_emb = self.embedding(src)
        if self.emb_trans is not None:
            gene_emb = self.emb_trans(gene_emb)
        x = gene_emb + self.value_encoder(values.unsqueeze(-1).to(gene_emb.dtype).clamp(max=MAX_VALUE))
        return self.encode_inputs(src, gene_emb, x, pad)

    def encode_inputs(self, src, gene_emb, x, pad):
        """(masked-value output, MVC output, cell embedding) of the input sum `x` [B, L, d] (gene embedding +
        value embedding in `forward`; the perturbation probe feeds the gene embedding alone)."""
        cfg = self.cfg
        s = cfg.structure
        if s == "cnn_ours":
            order = torch.sort(self.order_key(src), dim=1, stable=True)[1]
            x = torch.gather(x, 1, order.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
        query = self.gene2query(gene_emb.detach())
        if s in POOLED:
            cell = self.encoder(x)
            mvc = torch.bmm(query, cell.unsqueeze(2)).squeeze(2)
            return mvc.detach(), mvc, cell
        h = self.encoder(x, src_key_padding_mask=pad) if s == "transformer" else self.encoder(x)
        if h.shape[1] < x.shape[1]:  # torch 1.13's eval fast path drops the padding every row has; 2.x keeps zeros
            h = F.pad(h, (0, 0, 0, x.shape[1] - h.shape[1]))
        mlm = self.decoder(h).squeeze(2)
        cell = self._pool(h, pad)
        return mlm, torch.bmm(query, cell.unsqueeze(2)).squeeze(2), cell

    def embed(self, src, values, pad):
        return self.forward(src, values, pad)[2]


def manifest(model):
    """The state dict's layout in the flat format of ../shared/reference/checkpoints: name -> {shape, dtype, kind}
    (plus "requires_grad": false for a frozen parameter), in state-dict order."""
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    out = OrderedDict()
    for k, v in model.state_dict().items():
        entry = {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", ""),
                 "kind": "parameter" if k in params else "buffer"}
        if k in params and not params[k].requires_grad:
            entry["requires_grad"] = False
        assert k in params or k in buffers, k
        out[k] = entry
    return out
