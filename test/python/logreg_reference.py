"""scikit-learn reference for the logistic-regression baselines (test/unit/baselines).

Usage:
  logreg_reference.py pbmc OUTDIR           real PBMC 68k reduced file (raw/X, log-normalised), obs['bulk_labels']
  logreg_reference.py synthetic OUTDIR SEED generated hard sparse data
  logreg_reference.py cv OUTDIR             cross-validation scores over a C grid with the folds in OUTDIR/folds.i32

pbmc/synthetic write to OUTDIR the matrix (X_indptr.i32, X_indices.i32, X_data.f32), labels y.i32, the 80/20 split
(train.i32, test.i32) and per fitted model NAME_pred.i32 (test predictions), NAME_coef.f64 (rows x features),
NAME_intercept.f64; stdout is a JSON summary with accuracy, macro-F1 and the objective value of each problem.
"""
import json
import os
import sys

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.utils.class_weight import compute_class_weight
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logreg_data import hard_sparse_counts  # noqa: E402

PBMC = os.path.join(os.environ.get("SCWB_SHARED", "/work/shared"), "data", "h5ad", "scanpy_pbmc68k_reduced_2025.h5ad")


def write(outdir, name, arr, dtype):
    np.ascontiguousarray(arr, dtype=dtype).tofile(os.path.join(outdir, name))


def log_loss_terms(margin, positive):
    # log(1 + exp(-y m)) computed stably
    s = np.where(positive, -margin, margin)
    return np.logaddexp(0, s)


def l1_objectives(clf, X, y, C, class_weight):
    classes = clf.classes_
    coef = clf.coef_
    intercept = clf.intercept_
    if class_weight == "balanced":
        cw = compute_class_weight("balanced", classes=classes, y=y)
        weight = dict(zip(classes, cw))
    else:
        weight = {c: 1.0 for c in classes}
    out = []
    if len(classes) == 2:
        problems = [(classes[1], C * weight[classes[1]], C * weight[classes[0]])]
    else:
        problems = [(k, C * weight[k], C) for k in classes]
    for r, (k, cp, cn) in enumerate(problems):
        m = X @ coef[r] + intercept[r]
        pos = y == k
        loss = np.sum(np.where(pos, cp, cn) * log_loss_terms(m, pos))
        out.append(float(np.abs(coef[r]).sum() + abs(intercept[r]) + loss))
    return out


def multinomial_objective(clf, X, y, C, class_weight):
    z = X @ clf.coef_.T + clf.intercept_
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    idx = np.searchsorted(clf.classes_, y)
    if class_weight == "balanced":
        sw = compute_class_weight("balanced", classes=clf.classes_, y=y)[idx]
    else:
        sw = np.ones(len(y))
    loss = -np.sum(sw * logp[np.arange(len(y)), idx])
    return [float(loss + 0.5 / C * np.sum(clf.coef_ ** 2))]


def fit_models(outdir, X, y, train, test, specs):
    Xtr, ytr, Xte, yte = X[train], y[train], X[test], y[test]
    summary = {}
    for name, kw in specs.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = LogisticRegression(**kw).fit(Xtr, ytr)
        pred = clf.predict(Xte)
        write(outdir, f"{name}_pred.i32", pred, np.int32)
        write(outdir, f"{name}_coef.f64", clf.coef_, np.float64)
        write(outdir, f"{name}_intercept.f64", clf.intercept_, np.float64)
        cw = kw.get("class_weight")
        if kw["penalty"] == "l1":
            obj = l1_objectives(clf, Xtr.astype(np.float64), ytr, kw["C"], cw)
        else:
            obj = multinomial_objective(clf, Xtr.astype(np.float64), ytr, kw["C"], cw)
        summary[name] = {
            "params": {k: v for k, v in kw.items()},
            "classes": clf.classes_.tolist(),
            "accuracy": float(accuracy_score(yte, pred)),
            "macroF1": float(f1_score(yte, pred, average="macro")),
            "objective": obj,
            "nIter": np.atleast_1d(clf.n_iter_).tolist(),
        }
    return summary


def dump_matrix(outdir, X, y, train, test):
    X = sp.csr_matrix(X, dtype=np.float32)
    write(outdir, "X_indptr.i32", X.indptr, np.int32)
    write(outdir, "X_indices.i32", X.indices, np.int32)
    write(outdir, "X_data.f32", X.data, np.float32)
    write(outdir, "y.i32", y, np.int32)
    write(outdir, "train.i32", train, np.int32)
    write(outdir, "test.i32", test, np.int32)
    return X


def split(y, seed):
    sss = StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=seed)
    train, test = next(sss.split(np.zeros(len(y)), y))
    return np.sort(train), np.sort(test)


def run_pbmc(outdir):
    import h5py
    with h5py.File(PBMC, "r") as f:
        g = f["raw/X"]
        shape = (f["obs/bulk_labels/codes"].shape[0], f["raw/var/index"].shape[0])
        X = sp.csr_matrix((g["data"][:], g["indices"][:], g["indptr"][:]), shape=shape, dtype=np.float32)
        y = f["obs/bulk_labels/codes"][:].astype(np.int32)
        n_classes = len(f["obs/bulk_labels/categories"])
    train, test = split(y, 0)
    X = dump_matrix(outdir, X, y, train, test)
    specs = {
        "l1": dict(penalty="l1", C=0.1, solver="liblinear"),
        "l2": dict(penalty="l2", C=0.1, solver="lbfgs", multi_class="multinomial", max_iter=1000),
    }
    out = {"nRows": X.shape[0], "nCols": X.shape[1], "nClasses": int(n_classes)}
    out["models"] = fit_models(outdir, X, y, train, test, specs)
    return out


def run_synthetic(outdir, seed):
    props = np.array([0.35, 0.25, 0.18, 0.12, 0.07, 0.03])
    X, y = hard_sparse_counts(2000, 400, props, density=0.08, seed=seed)
    train, test = split(y, seed)
    X = dump_matrix(outdir, X, y, train, test)
    specs = {
        "l1": dict(penalty="l1", C=0.1, solver="liblinear"),
        "l1_balanced": dict(penalty="l1", C=0.1, solver="liblinear", class_weight="balanced"),
        "l2": dict(penalty="l2", C=0.05, solver="lbfgs", multi_class="multinomial", max_iter=1000),
        "l2_balanced": dict(penalty="l2", C=0.05, solver="lbfgs", multi_class="multinomial", max_iter=1000,
                            class_weight="balanced"),
    }
    # a two-class problem: liblinear fits a single weight vector
    sub = np.where(y < 2)[0]
    Xb, yb = X[sub], y[sub]
    tb, eb = split(yb, seed)
    out = {"nRows": X.shape[0], "nCols": X.shape[1], "nClasses": len(props)}
    out["models"] = fit_models(outdir, X, y, train, test, specs)
    bdir = os.path.join(outdir, "binary")
    os.makedirs(bdir, exist_ok=True)
    dump_matrix(bdir, Xb, yb, tb, eb)
    out["binary"] = fit_models(bdir, Xb, yb, tb, eb, {"l1": dict(penalty="l1", C=0.1, solver="liblinear")})
    return out


def run_cv(outdir):
    indptr = np.fromfile(os.path.join(outdir, "X_indptr.i32"), dtype=np.int32)
    indices = np.fromfile(os.path.join(outdir, "X_indices.i32"), dtype=np.int32)
    data = np.fromfile(os.path.join(outdir, "X_data.f32"), dtype=np.float32)
    y = np.fromfile(os.path.join(outdir, "y.i32"), dtype=np.int32)
    folds = np.fromfile(os.path.join(outdir, "folds.i32"), dtype=np.int32)
    cfg = json.load(open(os.path.join(outdir, "cv.json")))
    X = sp.csr_matrix((data, indices, indptr), shape=(len(y), cfg["nCols"]))
    from sklearn.model_selection import GridSearchCV, PredefinedSplit
    gs = GridSearchCV(LogisticRegression(penalty="l1", solver="liblinear"), {"C": cfg["grid"]},
                      cv=PredefinedSplit(folds), scoring="accuracy")
    gs.fit(X, y)
    return {"bestC": gs.best_params_["C"], "meanAccuracy": gs.cv_results_["mean_test_score"].tolist()}


def main():
    mode, outdir = sys.argv[1], sys.argv[2]
    if mode == "pbmc":
        out = run_pbmc(outdir)
    elif mode == "synthetic":
        out = run_synthetic(outdir, int(sys.argv[3]))
    elif mode == "cv":
        out = run_cv(outdir)
    else:
        raise SystemExit(f"unknown mode {mode}")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
