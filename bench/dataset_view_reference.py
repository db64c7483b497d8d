"""Reference for bench/dataset-view.ts: what a notebook does to look at a dataset, with Debian's anndata/scipy.

usage: dataset_view_reference.py FILE COLUMN
  summary: anndata.read_h5ad(FILE, backed='r') (obs, var, X's shape; X stays on disk)
  stats:   counts per cell, genes per cell and 50-bin histograms of both, and the composition of obs[COLUMN],
           from the full X read with anndata (what `adata.X.sum(1)` etc. need).
Prints {"summary_s", "stats_s", "max_rss_mib", "cells"} as JSON.
"""
import json
import resource
import sys
import time
import warnings

warnings.simplefilter("ignore")
import anndata  # noqa: E402
import numpy as np  # noqa: E402


def main(path, column):
    t0 = time.perf_counter()
    backed = anndata.read_h5ad(path, backed="r")
    shape = backed.shape
    _ = backed.obs.columns, backed.var.columns
    summary_s = time.perf_counter() - t0
    backed.file.close()
    t1 = time.perf_counter()
    adata = anndata.read_h5ad(path)
    x = adata.X
    totals = np.asarray(x.sum(axis=1)).ravel()
    genes = np.diff(x.indptr)
    np.histogram(totals, bins=50)
    np.histogram(genes, bins=50)
    adata.obs[column].value_counts()
    stats_s = time.perf_counter() - t1
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"summary_s": summary_s, "stats_s": stats_s, "max_rss_mib": rss, "cells": int(shape[0])}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
