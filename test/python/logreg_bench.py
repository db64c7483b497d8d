"""Reference side of bench/logreg.ts.

  logreg_bench.py generate DIR ROWS COLS SEED   writes Zheng68K-like hard data: X_indptr.i32, X_indices.i32,
                                                X_data.f32 (log-normalised CSR), y.i32, train.i32, test.i32 (80/20
                                                StratifiedShuffleSplit) and meta.json
  logreg_bench.py fit DIR l1|l2 [MAX_ITER]      fits scikit-learn on the train rows (L1: liblinear C=0.1 OvR;
                                                L2: lbfgs multinomial C=0.1) and prints JSON: seconds (load excluded),
                                                CPU seconds, accuracy, macro-F1, peak RSS (MiB), and writes DIR/sk_<model>_pred.i32
"""
import json
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# Zheng68K's 11 cell types, largest first (CD8+ cytotoxic 30.3% ... Th2 0.1%), rounded
ZHENG_PROPORTIONS = [0.303, 0.214, 0.120, 0.117, 0.087, 0.063, 0.053, 0.027, 0.010, 0.005, 0.001]


def generate(d, rows, cols, seed):
    from logreg_data import hard_sparse_counts
    from sklearn.model_selection import StratifiedShuffleSplit
    os.makedirs(d, exist_ok=True)
    t = time.time()
    X, y = hard_sparse_counts(rows, cols, ZHENG_PROPORTIONS, density=0.05, seed=seed, chunk=500)
    sss = StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=2022)
    train, test = next(sss.split(np.zeros(rows), y))
    for name, arr, dt in [("X_indptr.i32", X.indptr, np.int32), ("X_indices.i32", X.indices, np.int32),
                          ("X_data.f32", X.data, np.float32), ("y.i32", y, np.int32),
                          ("train.i32", np.sort(train), np.int32), ("test.i32", np.sort(test), np.int32)]:
        tmp = os.path.join(d, name + ".tmp")
        np.ascontiguousarray(arr, dtype=dt).tofile(tmp)
        os.replace(tmp, os.path.join(d, name))
    meta = {"rows": rows, "cols": cols, "nnz": int(X.nnz), "density": X.nnz / rows / cols,
            "classCounts": np.bincount(y).tolist(), "seed": seed, "seconds": time.time() - t}
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f)
    print(json.dumps(meta))


def fit(d, model, max_iter):
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    meta = json.load(open(os.path.join(d, "meta.json")))
    indptr = np.fromfile(os.path.join(d, "X_indptr.i32"), dtype=np.int32)
    X = sp.csr_matrix((np.fromfile(os.path.join(d, "X_data.f32"), dtype=np.float32),
                       np.fromfile(os.path.join(d, "X_indices.i32"), dtype=np.int32), indptr),
                      shape=(meta["rows"], meta["cols"]))
    y = np.fromfile(os.path.join(d, "y.i32"), dtype=np.int32)
    train = np.fromfile(os.path.join(d, "train.i32"), dtype=np.int32)
    test = np.fromfile(os.path.join(d, "test.i32"), dtype=np.int32)
    Xtr, Xte = X[train], X[test]
    del X
    if model == "l1":
        clf = LogisticRegression(penalty="l1", C=0.1, solver="liblinear", max_iter=max_iter)
    else:
        clf = LogisticRegression(penalty="l2", C=0.1, solver="lbfgs", multi_class="multinomial", max_iter=max_iter)
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    warnings.simplefilter("ignore", ConvergenceWarning)
    t = time.time()
    cpu = time.process_time()
    clf.fit(Xtr, y[train])
    seconds = time.time() - t
    cpu_seconds = time.process_time() - cpu
    pred = clf.predict(Xte)
    pred.astype(np.int32).tofile(os.path.join(d, f"sk_{model}_pred.i32"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"model": model, "seconds": seconds, "cpuSeconds": cpu_seconds, "accuracy": float(accuracy_score(y[test], pred)),
                      "macroF1": float(f1_score(y[test], pred, average="macro")), "peakMiB": peak,
                      "nIter": np.atleast_1d(clf.n_iter_).tolist()}))


if __name__ == "__main__":
    if sys.argv[1] == "generate":
        generate(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    elif sys.argv[1] == "fit":
        fit(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 100)
    else:
        raise SystemExit("usage: logreg_bench.py generate|fit ...")
