"""Reference for test/unit/baselines/softmax.test.ts: reads JSON {indptr, indices, data, nRows, nCols, W, labels}
from stdin (W feature-major (nCols + 1) x K, intercepts last), prints JSON {loss, grad} of the unregularised
multinomial log-loss sum_i -log softmax(x_i W + b)[y_i] with grad = [X, 1]' (softmax - onehot), feature-major."""
import json
import sys

import numpy as np
import scipy.sparse as sp
from scipy.special import log_softmax, softmax

d = json.load(sys.stdin)
X = sp.csr_matrix((np.asarray(d["data"], dtype=np.float32).astype(np.float64), d["indices"], d["indptr"]),
                  shape=(d["nRows"], d["nCols"]))
X1 = sp.hstack([X, np.ones((d["nRows"], 1))]).tocsr()
W = np.asarray(d["W"], dtype=np.float64).reshape(d["nCols"] + 1, -1)
y = np.asarray(d["labels"])
Z = X1 @ W
loss = -log_softmax(Z, axis=1)[np.arange(len(y)), y].sum()
R = softmax(Z, axis=1)
R[np.arange(len(y)), y] -= 1
print(json.dumps({"loss": float(loss), "grad": (X1.T @ R).ravel().tolist()}))
