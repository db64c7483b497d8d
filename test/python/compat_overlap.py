"""Distinct var_names of an .h5ad (read by anndata) that are genes of an scGPT vocab.json (special tokens left out).

usage: compat_overlap.py DATA.h5ad vocab.json  ->  {"n": count}
"""
import json
import sys

import anndata

a = anndata.read_h5ad(sys.argv[1], backed="r")
with open(sys.argv[2]) as fh:
    vocab = {g for g in json.load(fh) if not (g.startswith("<") and g.endswith(">"))}
print(json.dumps({"n": len(set(map(str, a.var_names)) & vocab)}))
