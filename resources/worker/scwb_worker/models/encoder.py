"""The scwb transformer (structure "scwb-transformer"; docs/worker-benchmark.md): scWorkbench's own encoder in the
style of the AAAI 2025 benchmark, kept beside the published structures (models/published.py): gene embedding +
LayerNorm, value embedding (MLP + LayerNorm, or a bin embedding), embedding dropout, a post-norm transformer
with a 4 x dim feed-forward, a final LayerNorm, a masked-value head and an optional MVC head (<W sigmoid(Q g), c>).

Inputs are the genes of a cell only (the model adds the <cls> token itself, first):
  gene_ids [B, G] long (pad id at padded places), values [B, G] float (log1p values, or bin indices as floats for
  `bins`; masked places hold MASK_VALUE, padded places PAD_VALUE), pad [B, G] bool (True = padding).
forward returns (expression predictions [B, G], MVC predictions [B, G] or None, cell embedding [B, dim]).
"""
from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F

from .common import EncoderConfigBase

STRUCTURES = ("scwb-transformer",)
POOLINGS = ("cls", "mean")
VALUE_MODES = ("log1p", "bins")
MASK_VALUE = -1.0
PAD_VALUE = -2.0


@dataclass
class EncoderConfig(EncoderConfigBase):
    n_tokens: int = 60697
    pad_id: int = 60694
    cls_id: int = 60695
    structure: str = "scwb-transformer"
    dim: int = 256
    depth: int = 6
    heads: int = 8
    dropout: float = 0.15
    d_hid: int = 0          # feed-forward width; 0 means 4 * dim
    kernel: int = 3         # unused (the former CNN's kernel; kept so that older encoder.pt configs load)
    value_mode: str = "log1p"
    n_bins: int = 51
    max_seq_len: int = 512  # tokens including <cls>
    pooling: str = "cls"
    mvc: bool = False

    def check(self):
        if self.structure not in STRUCTURES:
            raise ValueError("structure must be one of %s, got %r" % (", ".join(STRUCTURES), self.structure))
        if self.pooling not in POOLINGS:
            raise ValueError("pooling must be cls or mean, got %r" % (self.pooling,))
        if self.value_mode not in VALUE_MODES:
            raise ValueError("valueMode must be log1p or bins, got %r" % (self.value_mode,))
        if self.dim % self.heads:
            raise ValueError("dim %d is not divisible by heads %d" % (self.dim, self.heads))
        if self.max_seq_len < 2:
            raise ValueError("maxSeqLen must be at least 2 (<cls> and one gene), got %d" % self.max_seq_len)
        self.check_token_ids()
        return self

    @property
    def hidden(self):
        return self.d_hid or 4 * self.dim


class ValueEncoder(nn.Module):
    """log1p: Linear(1, d) - ReLU - Linear(d, d) - LayerNorm; bins: an embedding of n_bins + 2 rows (the bins, then
    the mask and padding rows)."""

    def __init__(self, cfg):
        super().__init__()
        self.mode = cfg.value_mode
        self.n_bins = cfg.n_bins
        if self.mode == "bins":
            self.embedding = nn.Embedding(cfg.n_bins + 2, cfg.dim)
        else:
            self.linear1 = nn.Linear(1, cfg.dim)
            self.linear2 = nn.Linear(cfg.dim, cfg.dim)
        self.norm = nn.LayerNorm(cfg.dim)

    def forward(self, values):
        if self.mode == "bins":
            idx = values.round().long().clamp(0, self.n_bins - 1)
            idx = torch.where(values == MASK_VALUE, torch.full_like(idx, self.n_bins), idx)
            idx = torch.where(values == PAD_VALUE, torch.full_like(idx, self.n_bins + 1), idx)
            return self.norm(self.embedding(idx))
        x = values.unsqueeze(-1).to(self.linear1.weight.dtype)
        return self.norm(self.linear2(F.relu(self.linear1(x))))


def _transformer_layers(cfg):
    kw = dict(d_model=cfg.dim, nhead=cfg.heads, dim_feedforward=cfg.hidden, dropout=cfg.dropout)
    try:
        layer = nn.TransformerEncoderLayer(batch_first=True, **kw)
        batch_first = True
    except TypeError:  # torch < 1.9
        layer = nn.TransformerEncoderLayer(**kw)
        batch_first = False
    try:
        stack = nn.TransformerEncoder(layer, cfg.depth, enable_nested_tensor=False)
    except TypeError:
        stack = nn.TransformerEncoder(layer, cfg.depth)
    return stack, batch_first


class ExprDecoder(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(dim, dim), nn.LeakyReLU(), nn.Linear(dim, 1))

    def forward(self, x):
        return self.fc(x).squeeze(-1)


class MVCDecoder(nn.Module):
    """Expression of each gene from the cell embedding: <W sigmoid(Q gene_emb), cell_emb>."""

    def __init__(self, dim):
        super().__init__()
        self.gene2query = nn.Linear(dim, dim)
        self.W = nn.Linear(dim, dim, bias=False)

    def forward(self, cell_emb, gene_embs):
        query = torch.sigmoid(self.gene2query(gene_embs))
        return torch.bmm(self.W(query), cell_emb.unsqueeze(2)).squeeze(2)


class BenchmarkEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg.check()
        self.gene_emb = nn.Embedding(cfg.n_tokens, cfg.dim, padding_idx=cfg.pad_id)
        self.gene_norm = nn.LayerNorm(cfg.dim)
        self.value_enc = ValueEncoder(cfg)
        self.emb_dropout = nn.Dropout(cfg.dropout)
        self.layers, self._batch_first = _transformer_layers(cfg)
        self.norm = nn.LayerNorm(cfg.dim)
        self.decoder = ExprDecoder(cfg.dim)
        self.mvc_decoder = MVCDecoder(cfg.dim) if cfg.mvc else None

    def genes_embedding(self, gene_ids):
        return self.gene_norm(self.gene_emb(gene_ids))

    def encode(self, gene_ids, values, pad):
        """(gene token states [B, G, d], cell embedding [B, d], gene embeddings [B, G, d])."""
        cfg = self.cfg
        b, g = gene_ids.shape
        if g + 1 > cfg.max_seq_len:
            raise ValueError("%d genes and <cls> exceed maxSeqLen %d" % (g, cfg.max_seq_len))
        ge = self.genes_embedding(gene_ids)
        x = self.emb_dropout(ge + self.value_enc(values))
        cls = self.genes_embedding(torch.full((b, 1), cfg.cls_id, dtype=torch.long, device=gene_ids.device))
        no_pad = torch.zeros(b, 1, dtype=torch.bool, device=pad.device)
        x = torch.cat([cls.to(x.dtype), x], dim=1)
        mask = torch.cat([no_pad, pad], dim=1)
        if self._batch_first:
            x = self.layers(x, src_key_padding_mask=mask)
        else:
            x = self.layers(x.transpose(0, 1), src_key_padding_mask=mask).transpose(0, 1)
        x = self.norm(x)
        cls_out, genes = x[:, 0], x[:, 1:]
        if cfg.pooling == "cls":
            cell = cls_out
        else:
            keep = (~pad).unsqueeze(-1).to(genes.dtype)
            cell = (genes * keep).sum(1) / keep.sum(1).clamp(min=1.0)
        return genes, cell, ge

    def forward(self, gene_ids, values, pad):
        genes, cell, ge = self.encode(gene_ids, values, pad)
        expr = self.decoder(genes)
        mvc = self.mvc_decoder(cell, ge) if self.mvc_decoder is not None else None
        return expr, mvc, cell
