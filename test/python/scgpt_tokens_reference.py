"""Reference for test/unit/annotate/scgpt-tokens: numpy RandomState([k0, k1, k2]) streams and the worker's scGPT
tokens (scwb_worker.tokens.ScGPTTokenizer) of a random matrix with tied values. Prints JSON."""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "resources", "worker"))
from scwb_worker import tokens  # noqa: E402

keys = [[0, 0, 1], [2024, 7, 2], [4294967295, 123456, 1], [5]]
streams = []
for k in keys:
    r = np.random.RandomState(k)
    streams.append({"keys": k, "rand": r.rand(5).tolist(), "permutation": [int(v) for v in r.permutation(12)]})
rng = np.random.RandomState(5)
G = 60
X = np.where(rng.rand(40, G) < 0.6, np.round(rng.gamma(1.0, 3.0, size=(40, G)), 1), 0).astype(np.float32)
X[0] = 0  # an empty cell: <cls> only
ids = list(range(100, 100 + G))
ids[3] = -1
ids[10] = -1
tok = tokens.ScGPTTokenizer(np.array(ids), 7, 8, -2.0, 20, 2024, True, 51)
cells = [tok.cell(X[i], i + 1000) for i in range(len(X))]
json.dump({"streams": streams, "X": X.tolist(), "ids": ids,
           "cells": [[c[0].tolist(), c[1].tolist()] for c in cells]}, sys.stdout)
