"""Reference for the Check panel's "keeps N of M cells": cells with at least MIN_GENES positive values among the
genes of a list (first column of a duplicated name), as scanpy's filter_cells(min_genes) on the aligned matrix.
usage: compat_cells_kept.py DATA.h5ad GENES.txt MIN_GENES  ->  {"kept": k, "total": n}"""
import json
import sys

import anndata
import numpy as np

path, genes_file, min_genes = sys.argv[1], sys.argv[2], int(sys.argv[3])
a = anndata.read_h5ad(path)
reference = set(line.strip() for line in open(genes_file) if line.strip())
seen = set()
cols = []
for j, name in enumerate(a.var_names):
    if name in reference and name not in seen:
        seen.add(name)
        cols.append(j)
x = a.X[:, cols]
positives = np.asarray((x > 0).sum(axis=1)).ravel()
print(json.dumps({"kept": int((positives >= min_genes).sum()), "total": int(a.n_obs)}))
