"""Reference for the LR baseline runner: sklearn's split and few-shot subsets, sklearn's metrics on OUR predictions,
and sklearn's own LogisticRegression(l1, C, liblinear) on the same rows.

stdin JSON: {"dataset", "label", "split": {"kind": "stratified", "testSize", "seed"} | {"kind": "reference-query",
"queryPath"}, "C", "runs": [{"dir", "fraction", "seed"}]}
"""
import csv
import hashlib
import json
import sys

import anndata as ad
import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.utils.multiclass import unique_labels


def dense(x):
    return x.toarray() if sp.issparse(x) else np.asarray(x)


def main():
    req = json.load(sys.stdin)
    ref = ad.read_h5ad(req["dataset"])
    y = ref.obs[req["label"]].astype(str).to_numpy()
    X = dense(ref.X)
    split = req["split"]
    out = {"runs": [], "sha256": hashlib.sha256(open(req["dataset"], "rb").read()).hexdigest()}
    if split["kind"] == "stratified":
        sss = StratifiedShuffleSplit(n_splits=1, test_size=split["testSize"], random_state=split["seed"])
        train, test = next(sss.split(X, y))
        Xtrain_src, ytrain_src, Xtest, ytest = X, y, X[test], y[test]
    else:
        q = ad.read_h5ad(split["queryPath"])
        # Query genes placed at the reference's columns by name; reference genes missing from the query stay 0.
        qX = dense(q.X)
        Xtest = np.zeros((q.n_obs, ref.n_vars), dtype=qX.dtype)
        ref_pos = {g: j for j, g in reversed(list(enumerate(ref.var_names)))}
        seen = set()
        for k, g in enumerate(q.var_names):
            if g in seen or g not in ref_pos:
                continue
            seen.add(g)
            Xtest[:, ref_pos[g]] = qX[:, k]
        ytest = q.obs[req["label"]].astype(str).to_numpy()
        train, test = np.arange(ref.n_obs), np.arange(q.n_obs)
        Xtrain_src, ytrain_src = X, y
        matched = len(set(ref.var_names) & set(q.var_names))
        out["alignment"] = {"referenceGenes": int(ref.n_vars), "queryGenes": int(q.n_vars), "matched": matched,
                            "missingInQuery": int(ref.n_vars) - matched}
    out["test"] = [int(i) for i in test]
    for run in req["runs"]:
        np.random.seed(run["seed"])
        idx = np.random.choice(len(train), int(len(train) * run["fraction"]), replace=False)
        sub = train[idx]
        with open(f'{run["dir"]}/predictions.csv', newline="") as fh:
            rows = list(csv.DictReader(fh))
        yt = np.array([r["true_label"] for r in rows])
        yp = np.array([r["predicted_label"] for r in rows])
        labels = unique_labels(yt, yp)
        p, r, f, s = precision_recall_fscore_support(yt, yp, labels=labels, zero_division=0)
        clf = LogisticRegression(penalty="l1", C=req["C"], solver="liblinear")
        clf.fit(Xtrain_src[sub], ytrain_src[sub])
        sk_pred = clf.predict(Xtest)
        out["runs"].append({
            "train": [int(i) for i in sub],
            "predIndex": [int(r["index"]) for r in rows],
            "obsNames": [r["obs_name"] for r in rows],
            "trueLabels": yt.tolist(),
            "ours": {
                "accuracy": accuracy_score(yt, yp),
                "macroF1": f1_score(yt, yp, average="macro", zero_division=0),
                "weightedF1": f1_score(yt, yp, average="weighted", zero_division=0),
                "classes": labels.tolist(),
                "precision": p.tolist(), "recall": r.tolist(), "f1": f.tolist(), "support": s.tolist(),
                "confusion": confusion_matrix(yt, yp, labels=labels).tolist(),
            },
            "sklearn": {"accuracy": accuracy_score(ytest, sk_pred), "macroF1": f1_score(ytest, sk_pred, average="macro")},
        })
    print(json.dumps(out))


main()
