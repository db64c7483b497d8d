"""A small Smart-seq-like .h5ad written with anndata, for the input-kind and gene-identifier tests.

  make_smartseq_like.py <out.h5ad> <seed>

Like the full-length plate datasets published as FPKM: 320 cells x 3,000 genes of FPKM values (counts from a
negative binomial per class, divided by gene length and library size), var_names versioned Ensembl ids
(ENSG...NN.V), the gene symbols in the var column "gene_symbols" (from scGPT's vocabulary, some absent from it),
obs "plate_well" (96 wells, first in obs) and "cell_class" (4 classes). Generated, not real data.
Prints {"nObs", "nVars", "symbols", "ensembl"} (symbols and unversioned ids in var order).
"""
import json
import os
import sys

import anndata
import numpy as np
import pandas as pd
import scipy.sparse as sp

VOCAB = os.path.join(os.environ.get("SCWB_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared")),
                     "reference", "scgpt_vocab.json")


def main():
    out, seed = sys.argv[1], int(sys.argv[2])
    rng = np.random.default_rng(seed)
    n_cells, n_genes = 320, 3000
    with open(VOCAB) as f:
        vocab = [g for g in json.load(f) if not g.startswith("<") and g.isupper() and "-" not in g and "." not in g]
    symbols = [str(g) for g in rng.choice(vocab, size=n_genes - 40, replace=False)] + [f"NOVEL{i}" for i in range(40)]
    rng.shuffle(symbols)
    ensembl = [f"ENSG{i:011d}" for i in rng.choice(10 ** 7, size=n_genes, replace=False)]
    versioned = [f"{e}.{v}" for e, v in zip(ensembl, rng.integers(1, 20, size=n_genes))]
    classes = np.array(["alpha", "beta", "delta", "gamma"])
    cls = rng.choice(4, size=n_cells, p=[0.4, 0.3, 0.2, 0.1])
    base = rng.gamma(0.3, 2.0, size=n_genes)
    markers = rng.gamma(2.0, 1.0, size=(4, n_genes)) * (rng.random((4, n_genes)) < 0.05)
    mean = (base[None, :] + markers[cls]) * rng.uniform(0.5, 2.0, size=(n_cells, 1))
    counts = rng.negative_binomial(2, 2 / (2 + mean))
    length_kb = rng.uniform(0.5, 10.0, size=n_genes)
    library = counts.sum(axis=1, keepdims=True) / 1e6
    fpkm = counts / length_kb[None, :] / np.maximum(library, 1e-9)
    a = anndata.AnnData(
        X=sp.csr_matrix(fpkm), dtype=np.float64,
        obs=pd.DataFrame({
            "plate_well": pd.Categorical([f"{r}{c}" for r, c in zip(rng.choice(list("ABCDEFGH"), n_cells), rng.integers(1, 13, n_cells))],
                                         categories=[f"{r}{c}" for r in "ABCDEFGH" for c in range(1, 13)]),
            "cell_class": pd.Categorical(classes[cls], categories=list(classes)),
        }, index=[f"plate1_cell{i}" for i in range(n_cells)]),
        var=pd.DataFrame({"gene_symbols": symbols, "length_kb": length_kb}, index=versioned),
    )
    a.write_h5ad(out)
    print(json.dumps({"nObs": n_cells, "nVars": n_genes, "symbols": symbols, "ensembl": ensembl}))


if __name__ == "__main__":
    main()
