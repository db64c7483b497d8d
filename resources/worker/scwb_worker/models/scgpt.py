"""scGPT: a post-norm transformer encoder over (gene id, value) tokens, with a <cls> classifier head.

Parameter names and shapes equal the published `scGPT_human/best_model.pt` under torch-native attention names
(../shared/reference/checkpoints/scgpt_human_torch_state_dict.json); checkpoints.normalize_state_dict maps the
flash-attn `Wqkv` names onto these.
"""
import math
from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F

HAS_SDPA = hasattr(F, "scaled_dot_product_attention")


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
    nlayers_cls: int = 3


def softmax_attention(q, k, v, key_padding_mask=None, dropout_p=0.0):
    """Reference attention: q, k, v [B, H, L, E]; key_padding_mask [B, L] with True at padded keys.

    Written as torch's own multi-head attention computes it: 3-D batched matmuls, q scaled before the product (L x E
    instead of L x L work) and the padding as an additive -inf bias fused into the product (baddbmm), whose backward
    costs nothing, unlike a masked_fill over the L x L scores."""
    b, h, n, e = q.shape
    q3 = (q * (1.0 / math.sqrt(e))).reshape(b * h, n, e)
    k3t = k.reshape(b * h, n, e).transpose(1, 2)
    if key_padding_mask is not None:
        bias = torch.zeros(b, 1, 1, n, dtype=q.dtype, device=q.device)
        bias.masked_fill_(key_padding_mask[:, None, None, :], float("-inf"))
        scores = torch.baddbmm(bias.expand(b, h, 1, n).reshape(b * h, 1, n), q3, k3t)
    else:
        scores = torch.bmm(q3, k3t)
    weights = torch.softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    return torch.bmm(weights, v.reshape(b * h, n, e)).view(b, h, n, e)


class MultiheadSelfAttention(nn.Module):
    """Self-attention with nn.MultiheadAttention's parameter layout (in_proj_weight = [q; k; v] rows, out_proj).

    Uses F.scaled_dot_product_attention when torch has it (fused kernels, bf16 under autocast; without a mask the
    flash kernel), else an explicit softmax."""

    def __init__(self, d_model, nhead, dropout):
        super().__init__()
        if d_model % nhead:
            raise ValueError("d_model %d is not divisible by nhead %d" % (d_model, nhead))
        self.d_model = d_model
        self.nhead = nhead
        self.dropout = dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        self.use_sdpa = HAS_SDPA
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.in_proj_bias)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x, key_padding_mask=None):
        b, n, d = x.shape
        h = self.nhead
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias).view(b, n, 3, h, d // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        p = self.dropout if self.training else 0.0
        if self.use_sdpa:
            mask = None if key_padding_mask is None else ~key_padding_mask[:, None, None, :]
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        else:
            out = softmax_attention(q, k, v, key_padding_mask, p)
        out = out.transpose(1, 2).reshape(b, n, d)
        return self.out_proj(out)


class EncoderLayer(nn.Module):
    """Post-norm transformer layer (as torch's TransformerEncoderLayer with norm_first=False, ReLU)."""

    def __init__(self, d_model, nhead, d_hid, dropout):
        super().__init__()
        self.self_attn = MultiheadSelfAttention(d_model, nhead, dropout)
        self.linear1 = nn.Linear(d_model, d_hid)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(d_hid, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x, key_padding_mask=None):
        x = self.norm1(x + self.dropout1(self.self_attn(x, key_padding_mask)))
        x = self.norm2(x + self.dropout2(self.linear2(self.dropout(F.relu(self.linear1(x))))))
        return x


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layers = nn.ModuleList(
            [EncoderLayer(cfg.d_model, cfg.nhead, cfg.d_hid, cfg.dropout) for _ in range(cfg.nlayers)])

    def forward(self, x, key_padding_mask=None):
        for layer in self.layers:
            x = layer(x, key_padding_mask)
        return x


class GeneEncoder(nn.Module):
    def __init__(self, ntoken, d_model, padding_idx):
        super().__init__()
        self.embedding = nn.Embedding(ntoken, d_model, padding_idx=padding_idx)
        self.enc_norm = nn.LayerNorm(d_model)

    def forward(self, ids):
        return self.enc_norm(self.embedding(ids))


class ContinuousValueEncoder(nn.Module):
    """Value -> d_model: Linear(1, d), ReLU, Linear(d, d), LayerNorm, dropout; values clamped at max_value."""

    def __init__(self, d_model, dropout, max_value):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear1 = nn.Linear(1, d_model)
        self.activation = nn.ReLU()
        self.linear2 = nn.Linear(d_model, d_model)
        self.norm = nn.LayerNorm(d_model)
        self.max_value = max_value

    def forward(self, values):
        x = torch.clamp(values.unsqueeze(-1), max=self.max_value)
        x = self.norm(self.linear2(self.activation(self.linear1(x))))
        return self.dropout(x)


class ExprDecoder(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(d_model, d_model), nn.LeakyReLU(), nn.Linear(d_model, d_model),
                                nn.LeakyReLU(), nn.Linear(d_model, 1))

    def forward(self, x):
        return self.fc(x).squeeze(-1)


class MVCDecoder(nn.Module):
    """Masked-value prediction from the cell embedding: <sigmoid(gene2query(gene emb)) W, cell emb>."""

    def __init__(self, d_model):
        super().__init__()
        self.gene2query = nn.Linear(d_model, d_model)
        self.W = nn.Linear(d_model, d_model, bias=False)

    def forward(self, cell_emb, gene_embs):
        query = torch.sigmoid(self.gene2query(gene_embs))
        return torch.bmm(self.W(query), cell_emb.unsqueeze(2)).squeeze(2)


class ClsDecoder(nn.Module):
    def __init__(self, d_model, n_classes, nlayers=3):
        super().__init__()
        blocks = []
        for _ in range(nlayers - 1):
            blocks += [nn.Linear(d_model, d_model), nn.ReLU(), nn.LayerNorm(d_model)]
        self._decoder = nn.ModuleList(blocks)
        self.out_layer = nn.Linear(d_model, n_classes)

    def forward(self, x):
        for m in self._decoder:
            x = m(x)
        return self.out_layer(x)


class ScGPTModel(nn.Module):
    """n_classes == 0: the pre-training model (published key set, incl. flag_encoder, decoder, mvc_decoder);
    n_classes > 0: the classifier (encoder + value encoder + transformer + cls_decoder).

    forward(gene_ids [B, L] long, values [B, L] float, padding_mask [B, L] bool, True = pad) -> logits [B, C] from
    the <cls> position 0 (classifier), or per-gene expression predictions [B, L] (pre-training model)."""

    def __init__(self, cfg, n_classes=0):
        super().__init__()
        self.cfg = cfg
        self.n_classes = n_classes
        self.encoder = GeneEncoder(cfg.ntoken, cfg.d_model, cfg.pad_token_id)
        if n_classes == 0:
            self.flag_encoder = nn.Embedding(2, cfg.d_model)
        self.value_encoder = ContinuousValueEncoder(cfg.d_model, cfg.dropout, cfg.max_value)
        self.transformer_encoder = Encoder(cfg)
        if n_classes == 0:
            self.decoder = ExprDecoder(cfg.d_model)
            self.mvc_decoder = MVCDecoder(cfg.d_model)
        else:
            self.cls_decoder = ClsDecoder(cfg.d_model, n_classes, cfg.nlayers_cls)

    def encode(self, gene_ids, values, padding_mask=None):
        """Token states [B, L, d_model]. padding_mask None means no padding (e.g. length-bucketed batches)."""
        if gene_ids.shape != values.shape:
            raise ValueError("gene_ids %s and values %s differ in shape" % (tuple(gene_ids.shape), tuple(values.shape)))
        x = self.encoder(gene_ids) + self.value_encoder(values.to(self.value_encoder.linear1.weight.dtype))
        return self.transformer_encoder(x, padding_mask)

    def forward(self, gene_ids, values, padding_mask=None):
        h = self.encode(gene_ids, values, padding_mask)
        if self.n_classes == 0:
            return self.decoder(h)
        return self.cls_decoder(h[:, 0, :])


def freeze_embeddings(model):
    """"frozen-embeddings" ablation: gene embedding (+ its norm) and value encoder are not trained."""
    for module in (model.encoder, model.value_encoder):
        for p in module.parameters():
            p.requires_grad_(False)
    return model
