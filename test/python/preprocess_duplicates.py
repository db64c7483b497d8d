"""Data with duplicated gene names for the duplicate-gene tests of the recipes, written and read with anndata.

  preprocess_duplicates.py make <dir> <min_genes>
      writes <dir>/dup.h5ad (raw counts, CSR float32, var_names with repeated symbols), <dir>/dup_ids.h5ad (the
      same with unique Ensembl-style ids as var_names and the symbols in var column gene_symbols), <dir>/reference.txt (a
      scBERT-style gene list) and <dir>/vocab.json (a scGPT-style vocabulary); prints what the tests need to know,
      among it the cells built at the min-genes boundary.
  preprocess_duplicates.py var-duplicates <file.h5ad> <var column or ->
      pandas' count of duplicated names (and extra columns, the first five names) in a var column or var_names.
  preprocess_duplicates.py reference <jobs.json>
      [{"recipe", "h5ad", "params"}, ...]: reads each file with anndata and runs preprocess_reference.py's recipe on
      its X and var_names; prints the list of outputs.

Boundary cells (n = min_genes), counted over the reference genes:
  keptBySumOnly   n - 1 genes expressed in their first column, plus a duplicate (later) column of another
                  reference gene whose first column is zero: the script's first-occurrence rule sees n - 1
                  genes and drops the cell, summing sees n and keeps it.
  keptByBoth      n genes expressed in their first column, plus a duplicate column of one of them: kept either
                  way, with different values.
  droppedByBoth   n - 1 genes in their first column, plus a duplicate of one of them: dropped either way.
"""
import json
import os
import sys
import warnings

import anndata
import numpy as np
import pandas as pd
import scipy.sparse as sp

sys.path.insert(0, os.path.dirname(__file__))
import preprocess_data  # noqa: E402
import preprocess_reference  # noqa: E402


def make(outdir, min_genes):
    rng = np.random.default_rng(14)
    with open(preprocess_data.VOCAB) as f:
        full_vocab = json.load(f)
    symbols = sorted(g for g in full_vocab if not g.startswith("<"))
    n_distinct, n_cells = 100, 60
    distinct = list(rng.choice(symbols, size=n_distinct, replace=False))
    # 20 later columns repeat an earlier name (one name three times), interleaved in the column order.
    repeats = distinct[3:22] + [distinct[3]]
    names = list(distinct)
    for g in repeats:
        at = names.index(g) + 1 + int(rng.integers(0, len(names) - names.index(g)))
        names.insert(at, g)
    n_cols = len(names)
    # The reference: 90 distinct names in another order (duplicated ones among them) plus an absent gene.
    reference = list(rng.permutation(distinct[:90])) + ["ABSENT_GENE"]
    in_ref = set(reference)
    first_col = {}
    for c, g in enumerate(names):
        first_col.setdefault(g, c)
    later_cols = [c for c, g in enumerate(names) if first_col[g] != c and g in in_ref]

    counts = np.zeros((n_cells, n_cols), dtype=np.float32)
    # Random cells around the boundary: each entry expressed with probability ~ min_genes / 90.
    p_expr = min_genes / 90
    mask = rng.random((n_cells, n_cols)) < p_expr
    counts[mask] = rng.negative_binomial(2, 0.3, size=mask.sum()) + 1

    ref_first = [first_col[g] for g in reference if g in first_col]

    def boundary_cell(row, n_first, dup_of_expressed):
        counts[row] = 0
        chosen = list(rng.choice(ref_first, size=n_first, replace=False))
        counts[row, chosen] = rng.integers(1, 9, size=n_first)
        if dup_of_expressed:
            col = next(c for c in later_cols if first_col[names[c]] in chosen)
        else:
            col = next(c for c in later_cols if first_col[names[c]] not in chosen)
        counts[row, col] = 5
        # A gene outside the reference, which no rule counts.
        outside = next(c for c, g in enumerate(names) if g not in in_ref)
        counts[row, outside] = 3

    boundary = {"keptBySumOnly": 7, "keptByBoth": 21, "droppedByBoth": 40}
    boundary_cell(boundary["keptBySumOnly"], min_genes - 1, False)
    boundary_cell(boundary["keptByBoth"], min_genes, True)
    boundary_cell(boundary["droppedByBoth"], min_genes - 1, True)

    os.makedirs(outdir, exist_ok=True)
    obs = pd.DataFrame({"batch": pd.Categorical([f"b{i % 2}" for i in range(n_cells)])},
                       index=[f"cell{i}" for i in range(n_cells)])
    var = pd.DataFrame(index=pd.Index(names))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # anndata warns that the var names are not unique: that is the point
        a = anndata.AnnData(X=sp.csr_matrix(counts), obs=obs, var=var)
        a.write_h5ad(os.path.join(outdir, "dup.h5ad"))
        # The same counts with unique Ensembl-style ids as var_names and the symbols in a var column.
        var_ids = pd.DataFrame({"gene_symbols": names}, index=[f"ENSG{i:011d}" for i in range(n_cols)])
        anndata.AnnData(X=sp.csr_matrix(counts), obs=obs, var=var_ids).write_h5ad(os.path.join(outdir, "dup_ids.h5ad"))
    with open(os.path.join(outdir, "reference.txt"), "w") as f:
        f.write("\n".join(reference) + "\n")
    # A vocabulary of most of the data's names (a few left out), with scGPT's ids.
    vocab = {"<pad>": full_vocab.get("<pad>", 0)}
    vocab.update({g: full_vocab[g] for g in distinct[:95]})
    with open(os.path.join(outdir, "vocab.json"), "w") as f:
        json.dump(vocab, f)
    return {"nCells": n_cells, "nCols": n_cols, "names": names, "boundary": boundary,
            "duplicateColumnsInReference": len(later_cols)}


def reference(jobs):
    outs = []
    for job in jobs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = anndata.read_h5ad(job["h5ad"])
        meta = {"varNames": [str(v) for v in a.var_names],
                "obs": {c: a.obs[c].astype(str).tolist() for c in a.obs.columns}}
        X = sp.csr_matrix(a.X)
        out = preprocess_reference.RECIPES[job["recipe"]](X, meta, job["params"])
        outs.append(preprocess_reference.to_json(out))
    return outs


def var_duplicates(path, column):
    """pandas' view of the duplicated names of var_names (column "-") or a var column."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = anndata.read_h5ad(path, backed="r")
    names = pd.Series(a.var_names if column == "-" else a.var[column].astype(str).to_numpy())
    counts = names.value_counts()
    repeated = counts[counts > 1]
    first = names[names.duplicated(keep=False)].drop_duplicates().tolist()[:5]
    return {"names": int(len(repeated)), "extra": int((repeated - 1).sum()), "first": first}


def main():
    if sys.argv[1] == "var-duplicates":
        print(json.dumps(var_duplicates(sys.argv[2], sys.argv[3])))
    elif sys.argv[1] == "make":
        print(json.dumps(make(sys.argv[2], int(sys.argv[3]))))
    elif sys.argv[1] == "reference":
        with open(sys.argv[2]) as f:
            print(json.dumps(reference(json.load(f))))
    else:
        raise SystemExit(f"unknown command {sys.argv[1]}")


if __name__ == "__main__":
    main()
