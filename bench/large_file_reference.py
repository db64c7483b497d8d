"""Reference for bench/large-file.ts: the number of stored values and the total of X, read by h5py in slices.

usage: large_file_reference.py FILE   -> {"sum", "nnz", "seconds", "max_rss_mib"}
(The file itself is made by test/python/host_make_large.py.)
"""
import json
import resource
import sys
import time

import h5py
import numpy as np


def totals(path):
    t0 = time.perf_counter()
    total = 0.0
    with h5py.File(path, "r") as f:
        d = f["X/data"]
        n = d.shape[0]
        step = 1 << 26
        for a in range(0, n, step):
            total += float(np.sum(d[a:a + step], dtype=np.float64))
    secs = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"sum": total, "nnz": n, "seconds": secs, "max_rss_mib": rss}))


if __name__ == "__main__":
    totals(sys.argv[1])
