"""scBERT: a Performer language model (FAVOR+ linear attention) over expression tokens, and its fine-tune classifier.

Parameter names, shapes and registration order equal the published `panglao_pretrain.pth` state dict (see
../shared/reference/checkpoints/scbert_pretrain_state_dict.json), so published files load strictly. The module
nesting below (`performer.net.layers.<i>.<0|1>.norm/fn...`, `fn.fn.w1` for the chunked feed-forward) exists only to
reproduce those names.
"""
import math
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn
import torch.nn.functional as F


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
    head_dropout: float = 0.0  # published: Identity(dropout=0.)
    head_hidden: int = 512
    head_hidden2: int = 128

    @property
    def seq_len(self):
        """Sequence length: one token per gene plus the appended token."""
        return self.n_genes + 1

    def features(self):
        """Number of FAVOR+ random features (published default: int(dim_head * ln(dim_head)))."""
        if self.nb_features is not None:
            return int(self.nb_features)
        return int(self.dim_head * math.log(self.dim_head))


def orthogonal_gaussian_features(n_rows, n_cols, generator=None, device=None):
    """Random feature matrix [n_rows, n_cols]: stacked blocks of orthonormal rows (QR of Gaussian square matrices),
    each row rescaled to the norm of an independent Gaussian vector, so the rows are orthogonal within a block and
    have chi-distributed lengths like plain Gaussian rows."""
    blocks = []
    remaining = n_rows
    while remaining > 0:
        g = torch.randn(n_cols, n_cols, generator=generator)
        q, _ = torch.linalg.qr(g)
        block = q.t()
        blocks.append(block[:remaining])
        remaining -= block.shape[0]
    mat = torch.cat(blocks, dim=0)
    lengths = torch.randn(n_rows, n_cols, generator=generator).norm(dim=1)
    mat = lengths[:, None] * mat
    return mat if device is None else mat.to(device)


def favor_features(x, projection, is_query, eps=1e-4):
    """Positive softmax-kernel random features of x [B, H, N, D] with projection [M, D] -> [B, H, N, M].

    The stabilising max is taken over the last axis for queries and over the whole tensor for keys (as published:
    this makes a cell's keys depend on the other cells in its batch, by a constant factor that cancels only in
    exact arithmetic)."""
    d = x.shape[-1]
    m = projection.shape[0]
    scale = d ** -0.25
    proj = torch.matmul(x * scale, projection.t().to(x.dtype))
    sq_norm = (x * x).sum(dim=-1, keepdim=True) * (0.5 * scale * scale)
    if is_query:
        stab = proj.amax(dim=-1, keepdim=True)
    elif torch.onnx.is_in_onnx_export():
        stab = proj.max()  # the same value; torch 1.13 exports amax() over all axes as an invalid ReduceMax
    else:
        stab = proj.amax()
    if torch.is_grad_enabled() and (x.requires_grad or projection.requires_grad):
        return (torch.exp(proj - sq_norm - stab) + eps) * (m ** -0.5)
    # no autograd graph (eval, or the frozen layers of a fine-tune): one [B, H, N, M] tensor instead of four
    return proj.sub_(sq_norm).sub_(stab).exp_().add_(eps).mul_(m ** -0.5)


def linear_attention(q_feat, k_feat, v):
    """Non-causal linear attention: out_i = sum_j phi(q_i).phi(k_j) v_j / sum_j phi(q_i).phi(k_j)."""
    k_sum = k_feat.sum(dim=-2)
    denom = torch.einsum("bhnm,bhm->bhn", q_feat, k_sum)
    context = torch.einsum("bhnm,bhne->bhme", k_feat, v)
    out = torch.einsum("bhnm,bhme->bhne", q_feat, context)
    return out / denom.unsqueeze(-1)


class FastAttention(nn.Module):
    """Holds the FAVOR+ projection matrix as a persistent buffer (it is part of the published state dict)."""

    def __init__(self, dim_head, nb_features):
        super().__init__()
        self.dim_head = dim_head
        self.nb_features = nb_features
        self.register_buffer("projection_matrix", orthogonal_gaussian_features(nb_features, dim_head))

    @torch.no_grad()
    def redraw(self, generator=None):
        new = orthogonal_gaussian_features(self.nb_features, self.dim_head, generator=generator)
        self.projection_matrix.copy_(new.to(self.projection_matrix.device, self.projection_matrix.dtype))

    def forward(self, q, k, v):
        # The exponentials are computed in fp32 even under autocast: bf16 loses the kernel's small differences.
        orig = v.dtype
        with _autocast_off(q):
            q32, k32, v32 = q.float(), k.float(), v.float()
            proj = self.projection_matrix.float()
            out = linear_attention(favor_features(q32, proj, True), favor_features(k32, proj, False), v32)
        return out.to(orig)


class _NullCtx:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _autocast_off(t):
    if hasattr(torch, "autocast") and t.is_cuda:
        return torch.autocast(device_type="cuda", enabled=False)
    if hasattr(torch, "autocast") and _cpu_autocast_on():
        return torch.autocast(device_type="cpu", enabled=False)
    return _NullCtx()


def _cpu_autocast_on():
    try:
        return bool(torch.is_autocast_enabled("cpu"))  # torch 2.4+
    except TypeError:
        return bool(getattr(torch, "is_autocast_cpu_enabled", lambda: False)())


class SelfAttention(nn.Module):
    def __init__(self, dim, heads, dim_head, nb_features, dropout):
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.dim_head = dim_head
        self.fast_attention = FastAttention(dim_head, nb_features)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_k = nn.Linear(dim, inner, bias=False)
        self.to_v = nn.Linear(dim, inner, bias=False)
        self.to_out = nn.Linear(inner, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        b, n, _ = x.shape
        # one GEMM for q, k and v (the weights stay three parameters, as in the published file)
        w = torch.cat([self.to_q.weight, self.to_k.weight, self.to_v.weight], dim=0)
        qkv = F.linear(x, w).view(b, n, 3, self.heads, self.dim_head).permute(2, 0, 3, 1, 4)
        out = self.fast_attention(qkv[0], qkv[1], qkv[2])
        out = out.transpose(1, 2).reshape(b, n, self.heads * self.dim_head)
        return self.dropout(self.to_out(out))


class FeedForward(nn.Module):
    def __init__(self, dim, mult, dropout):
        super().__init__()
        self.w1 = nn.Linear(dim, dim * mult)
        self.act = nn.GELU()
        self.dropout = nn.Dropout(dropout)
        self.w2 = nn.Linear(dim * mult, dim)

    def forward(self, x):
        return self.w2(self.dropout(self.act(self.w1(x))))


class Passthrough(nn.Module):
    """Wraps the feed-forward as `fn.fn` (the published code chunks it along the sequence; chunking changes nothing
    in the result, so this wrapper only keeps the parameter names)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class PreNorm(nn.Module):
    def __init__(self, dim, fn):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x):
        return self.fn(self.norm(x))


class ResidualStack(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.layers = layers

    def forward(self, x):
        for attn, ff in self.layers:
            x = x + attn(x)
            x = x + ff(x)
        return x


class Performer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        nb = cfg.features()
        layers = nn.ModuleList()
        for _ in range(cfg.depth):
            layers.append(nn.ModuleList([
                PreNorm(cfg.dim, SelfAttention(cfg.dim, cfg.heads, cfg.dim_head, nb, cfg.attn_dropout)),
                PreNorm(cfg.dim, Passthrough(FeedForward(cfg.dim, cfg.ff_mult, cfg.ff_dropout))),
            ]))
        self.feature_redraw_interval = cfg.feature_redraw_interval
        # registered before `net` so the state dict order matches the published file
        self.register_buffer("calls_since_last_redraw", torch.tensor(0, dtype=torch.long))
        self.net = ResidualStack(layers)

    def fast_attentions(self):
        return [m for m in self.modules() if isinstance(m, FastAttention)]

    @torch.no_grad()
    def maybe_redraw(self):
        """Training forwards only: redraw every projection once `feature_redraw_interval` forwards have passed."""
        if not self.training or not self.feature_redraw_interval:
            return
        if int(self.calls_since_last_redraw) >= self.feature_redraw_interval:
            for fa in self.fast_attentions():
                fa.redraw()
            self.calls_since_last_redraw.zero_()
            return
        self.calls_since_last_redraw += 1

    def forward(self, x):
        self.maybe_redraw()
        return self.net(x)


class Gene2VecEmbedding(nn.Module):
    """Frozen per-position embedding (gene2vec rows + one row for the appended token), stored as a parameter
    with requires_grad=False as in the published file."""

    def __init__(self, n_positions, dim):
        super().__init__()
        self.emb = nn.Embedding(n_positions, dim)
        self.emb.weight.requires_grad_(False)

    def forward(self, n, device):
        return self.emb(torch.arange(n, device=device))


class PerformerLM(nn.Module):
    """scBERT language model: tokens [B, n_genes + 1] (values 0..num_tokens-1) -> logits [B, L, num_tokens]."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.token_emb = nn.Embedding(cfg.num_tokens, cfg.dim)
        if cfg.g2v_position_emb:
            self.pos_emb = Gene2VecEmbedding(cfg.seq_len, cfg.dim)
        else:
            self.pos_emb = None
        self.dropout = nn.Dropout(cfg.emb_dropout)
        self.performer = Performer(cfg)
        self.norm = nn.LayerNorm(cfg.dim)
        self.to_out = self._make_head()

    def _make_head(self):
        return nn.Linear(self.cfg.dim, self.cfg.num_tokens)

    def embed(self, tokens):
        """Token + position embeddings, through the Performer and the final norm: [B, L, dim]."""
        if tokens.dim() != 2:
            raise ValueError("scBERT expects tokens of shape [batch, %d], got %s" % (self.cfg.seq_len, tuple(tokens.shape)))
        n = tokens.shape[1]
        if self.pos_emb is not None and n > self.cfg.seq_len:
            raise ValueError("scBERT sequence of %d tokens is longer than n_genes + 1 = %d" % (n, self.cfg.seq_len))
        x = self.token_emb(tokens)
        if self.pos_emb is not None:
            x = x + self.pos_emb(n, tokens.device).to(x.dtype)
        x = self.dropout(x)
        x = self.performer(x)
        return self.norm(x)

    def forward(self, tokens):
        return self.to_out(self.embed(tokens))


class ScBertHead(nn.Module):
    """Fine-tune head: a 1 x dim convolution collapses each position to one number, then an MLP over positions."""

    def __init__(self, cfg, n_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 1, (1, cfg.dim))
        self.act = nn.ReLU()
        self.fc1 = nn.Linear(cfg.seq_len, cfg.head_hidden)
        self.act1 = nn.ReLU()
        self.dropout1 = nn.Dropout(cfg.head_dropout)
        self.fc2 = nn.Linear(cfg.head_hidden, cfg.head_hidden2)
        self.act2 = nn.ReLU()
        self.dropout2 = nn.Dropout(cfg.head_dropout)
        self.fc3 = nn.Linear(cfg.head_hidden2, n_classes)

    def forward(self, x):
        b = x.shape[0]
        x = self.act(self.conv1(x.unsqueeze(1))).reshape(b, -1)
        x = self.dropout1(self.act1(self.fc1(x)))
        x = self.dropout2(self.act2(self.fc2(x)))
        return self.fc3(x)


class ScBertClassifier(PerformerLM):
    """PerformerLM whose `to_out` is the fine-tune head: tokens [B, n_genes + 1] -> logits [B, n_classes]."""

    def __init__(self, cfg, n_classes):
        if n_classes < 1:
            raise ValueError("n_classes must be >= 1, got %r" % (n_classes,))
        self.n_classes = n_classes
        super().__init__(cfg)

    def _make_head(self):
        return ScBertHead(self.cfg, self.n_classes)

    def forward(self, tokens):
        if tokens.shape[1] != self.cfg.seq_len:
            raise ValueError("scBERT classifier expects %d tokens per cell (n_genes + 1), got %d"
                             % (self.cfg.seq_len, tokens.shape[1]))
        return self.to_out(self.embed(tokens))


def freeze_for_finetune(model):
    """Published fine-tune protocol: only the final norm, the last Performer layer and the head train."""
    for p in model.parameters():
        p.requires_grad_(False)
    last = model.performer.net.layers[len(model.performer.net.layers) - 1]
    for module in (model.norm, last, model.to_out):
        for p in module.parameters():
            p.requires_grad_(True)
    return model
