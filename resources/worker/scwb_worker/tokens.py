"""Turning expression rows into model inputs.

scBERT: values clamped to 5 and truncated toward zero (tokens 0..5), one token 0 appended, so a cell is
n_genes + 1 tokens. The dataset must hold exactly the checkpoint's genes (the scBERT recipe's output).

scGPT: the non-zero genes of a cell as (gene token id, value) pairs, <cls> first with value 0; a cell with more
than maxSeqLen tokens keeps <cls> and maxSeqLen - 1 of its genes drawn without replacement (kept in gene order);
batches are padded with <pad> and pad_value, and the padding mask is `gene_ids == <pad>`.
Values come from a binned layer (X_binned) or, when the dataset has none, are binned here per cell into n_bins by
quantiles of its non-zero values (scGPT's rule; ties spread at random). Random draws of a row use
numpy.random.RandomState([seed, row, salt]) so the result does not depend on the order rows are read in."""
import numpy as np
import torch

SCBERT_MAX_TOKEN = 5
SALT_BINNING = 1
SALT_SAMPLING = 2


class TokenError(Exception):
    pass


def scbert_tokens(block, path):
    """float block [k, n_genes] -> uint8 tokens 0..5 (clamped at 5, truncated toward zero)."""
    if not np.isfinite(block).all():
        raise TokenError("%s: the expression values hold NaN or infinity" % path)
    if (block < 0).any():
        raise TokenError("%s: negative expression values; scBERT needs the scBERT recipe's log2-normalised values "
                         "(run Preprocess scBERT)" % path)
    return np.trunc(np.minimum(block, SCBERT_MAX_TOKEN)).astype(np.uint8)


def scbert_batch(tokens_u8):
    """uint8 [B, n_genes] -> long [B, n_genes + 1] with token 0 appended."""
    t = torch.from_numpy(np.ascontiguousarray(tokens_u8)).long()
    return torch.cat([t, torch.zeros(t.shape[0], 1, dtype=torch.long)], dim=1)


def row_rng(seed, row, salt):
    return np.random.RandomState([int(seed) & 0xFFFFFFFF, int(row) & 0xFFFFFFFF, salt])


def bin_values(nonzero, n_bins, rng):
    """Bins of a cell's non-zero values (1 .. n_bins - 1): edges at the quantiles np.linspace(0, 1, n_bins - 1);
    a value on tied edges gets ceil(left + u * (right - left)), u uniform, as scGPT's preprocessing does."""
    x = np.asarray(nonzero, dtype=np.float64)
    if x.size == 0:
        return np.zeros(0, dtype=np.float32)
    edges = np.quantile(x, np.linspace(0, 1, n_bins - 1))
    left = np.digitize(x, edges)
    right = np.digitize(x, edges, right=True)
    u = rng.rand(x.size)
    digits = np.ceil(u * (right - left) + left).astype(np.int64)
    return digits.astype(np.float32)


class ScGPTTokenizer:
    def __init__(self, gene_ids, cls_id, pad_id, pad_value, max_len, seed, bin_here, n_bins=51):
        """gene_ids: token id of each dataset column (-1 = not in the vocabulary, dropped)."""
        self.gene_ids = np.asarray(gene_ids, dtype=np.int64)
        self.keep = np.nonzero(self.gene_ids >= 0)[0]
        self.cls_id = int(cls_id)
        self.pad_id = int(pad_id)
        self.pad_value = float(pad_value)
        self.max_len = int(max_len)
        self.seed = seed
        self.bin_here = bin_here
        self.n_bins = n_bins
        if self.max_len < 2:
            raise TokenError("maxSeqLen must be at least 2 (<cls> and one gene), got %d" % self.max_len)

    def cell(self, values_row, row):
        """One cell -> (ids int64 [L], values float32 [L]) with <cls> first."""
        v = values_row[self.keep]
        nz = np.nonzero(v)[0]
        vals = v[nz].astype(np.float32)
        if not np.isfinite(vals).all():
            raise TokenError("row %d holds NaN or infinite values" % row)
        if self.bin_here:
            vals = bin_values(vals, self.n_bins, row_rng(self.seed, row, SALT_BINNING))
        ids = self.gene_ids[self.keep[nz]]
        if ids.size > self.max_len - 1:
            pick = np.sort(row_rng(self.seed, row, SALT_SAMPLING).choice(ids.size, self.max_len - 1, replace=False))
            ids, vals = ids[pick], vals[pick]
        return (np.concatenate([[self.cls_id], ids]).astype(np.int64),
                np.concatenate([[0.0], vals]).astype(np.float32))

    def batch(self, cells):
        """List of (ids, values) -> gene_ids long [B, L], values float [B, L], padding_mask bool [B, L]."""
        length = max(len(c[0]) for c in cells)
        ids = np.full((len(cells), length), self.pad_id, dtype=np.int64)
        vals = np.full((len(cells), length), self.pad_value, dtype=np.float32)
        for i, (g, v) in enumerate(cells):
            ids[i, :len(g)] = g
            vals[i, :len(v)] = v
        ids_t = torch.from_numpy(ids)
        return ids_t, torch.from_numpy(vals), ids_t.eq(self.pad_id)
