"""numpy answers for the preprocessing primitives; reads one JSON job from stdin, prints JSON.

{"quantiles": [{"values", "dtype", "nBins"}], "digitize": [{"x", "edges"}],
 "binning": [{"rows": dense float32 rows, "nBins", "seed"}], "loess": [{"x", "y", "span"}]}
"""
import json
import os
import sys

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, os.path.dirname(__file__))
from preprocess_reference import bin_rows, loess_direct  # noqa: E402


def main():
    job = json.load(sys.stdin)
    out = {
        "quantiles": [np.quantile(np.array(q["values"], dtype=q["dtype"]), np.linspace(0, 1, q["nBins"] - 1)).tolist()
                      for q in job.get("quantiles", [])],
        "digitize": [{"left": np.digitize(d["x"], d["edges"]).tolist(),
                      "right": np.digitize(d["x"], d["edges"], right=True).tolist()} for d in job.get("digitize", [])],
        "binning": [bin_rows(sp.csr_matrix(np.array(b["rows"], dtype=np.float32)), b["nBins"], b["seed"]).tolist()
                    for b in job.get("binning", [])],
        "loess": [loess_direct(np.array(l["x"]), np.array(l["y"]), l["span"]).tolist() for l in job.get("loess", [])],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
