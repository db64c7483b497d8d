"""Generated single-cell-like classification data that logistic regression cannot separate.

Counts are drawn per cell as a multinomial over genes (total count from a log-normal library size); each cell's
gene profile is a mix of its own class's profile and a sister class's (same lineage), with a random share, so
classes overlap. Class profiles = gene baseline x lineage markers x weaker class markers. Values are then
normalised to 1e4 counts per cell and log1p'd, like scBERT's preprocessing. Class sizes follow `proportions`
exactly (rounded), which makes rare classes rare.
"""
import numpy as np
import scipy.sparse as sp


def exact_labels(n, proportions, rng):
    props = np.asarray(proportions, dtype=np.float64)
    props = props / props.sum()
    counts = np.maximum(1, np.floor(props * n).astype(int))
    counts[0] += n - counts.sum()
    y = np.repeat(np.arange(len(props)), counts)
    rng.shuffle(y)
    return y.astype(np.int32)


def class_profiles(p, k, rng, lineage_effect, class_effect):
    base = rng.lognormal(0.0, 1.2, p)
    n_lineage = max(2, k // 3)
    lineage_of = np.arange(k) % n_lineage
    lineage_fc = rng.normal(0.0, lineage_effect, (n_lineage, p)) * (rng.random((n_lineage, p)) < 0.04)
    class_fc = rng.normal(0.0, class_effect, (k, p)) * (rng.random((k, p)) < 0.03)
    mu = base[None, :] * np.exp(lineage_fc[lineage_of] + class_fc)
    mu /= mu.sum(axis=1, keepdims=True)
    # sister class: the next class of the same lineage (itself if alone)
    sister = np.arange(k)
    for c in range(k):
        same = np.where(lineage_of == lineage_of[c])[0]
        sister[c] = same[(np.searchsorted(same, c) + 1) % len(same)]
    return mu, sister


def library_scale(mu, target_distinct):
    """Total count at which a cell of average profile expresses about target_distinct genes."""
    avg = mu.mean(axis=0)
    lo, hi = 1.0, 1e8
    for _ in range(60):
        mid = np.sqrt(lo * hi)
        if np.sum(1.0 - np.exp(-mid * avg)) < target_distinct:
            lo = mid
        else:
            hi = mid
    return lo


def hard_sparse_counts(n, p, proportions, density=0.05, seed=0, lineage_effect=1.0, class_effect=0.8,
                       mix_beta=(1.0, 3.0), chunk=1000):
    """(float32 CSR n x p of log1p(normalised counts), int32 labels)."""
    rng = np.random.default_rng(seed)
    k = len(proportions)
    y = exact_labels(n, proportions, rng)
    mu, sister = class_profiles(p, k, rng, lineage_effect, class_effect)
    scale = library_scale(mu, density * p)
    lib = np.maximum(1, np.round(scale * rng.lognormal(0.0, 0.35, n))).astype(np.int64)
    indptr = [np.zeros(1, dtype=np.int64)]
    indices, data = [], []
    offset = 0
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        m = e - s
        share = rng.beta(mix_beta[0], mix_beta[1], m)
        yc = y[s:e]
        prof = (1.0 - share)[:, None] * mu[yc] + share[:, None] * mu[sister[yc]]
        cdf = np.cumsum(prof, axis=1)
        cdf /= cdf[:, -1:]
        cdf += np.arange(m)[:, None]
        flat = cdf.ravel()
        libc = lib[s:e]
        rows = np.repeat(np.arange(m), libc)
        u = rng.random(rows.size) + rows
        pos = np.minimum(np.searchsorted(flat, u, side="right"), m * p - 1)
        uniq, counts = np.unique(pos, return_counts=True)
        r = uniq // p
        c = (uniq % p).astype(np.int32)
        row_nnz = np.bincount(r, minlength=m)
        vals = np.log1p(counts / libc[r] * 1e4).astype(np.float32)
        indices.append(c)
        data.append(vals)
        indptr.append(offset + np.cumsum(row_nnz))
        offset += len(uniq)
    X = sp.csr_matrix((np.concatenate(data), np.concatenate(indices), np.concatenate(indptr)), shape=(n, p))
    return X, y
