"""Reference numbers for the results table: numpy mean/std, scipy Student-t CI, Welch's t-test; sklearn for
summed confusion matrices.

stdin JSON: {"groups": [[...], ...], "welch": [[i, j], ...], "confusion": [{"true": [...], "pred": [...]}, ...]}
"""
import json
import sys

import numpy as np
from scipy import stats
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.utils.multiclass import unique_labels


def main():
    req = json.load(sys.stdin)
    out = {"groups": [], "welch": [], "confusion": None}
    for g in req["groups"]:
        a = np.asarray(g, dtype=float)
        m = float(np.mean(a))
        if len(a) > 1:
            sd = float(np.std(a, ddof=1))
            lo, hi = stats.t.interval(0.95, len(a) - 1, loc=m, scale=stats.sem(a))
        else:
            sd, lo, hi = None, None, None
        out["groups"].append({"mean": m, "std": sd, "low": lo, "high": hi})
    for i, j in req["welch"]:
        out["welch"].append(float(stats.ttest_ind(req["groups"][i], req["groups"][j], equal_var=False).pvalue))
    if req.get("confusion"):
        yt = np.concatenate([np.array(c["true"]) for c in req["confusion"]])
        yp = np.concatenate([np.array(c["pred"]) for c in req["confusion"]])
        labels = unique_labels(yt, yp)
        cm = confusion_matrix(yt, yp, labels=labels)
        with np.errstate(invalid="ignore", divide="ignore"):
            norm = np.nan_to_num(cm / cm.sum(axis=1, keepdims=True))
        p, r, f, s = precision_recall_fscore_support(yt, yp, labels=labels, zero_division=0)
        out["confusion"] = {"classes": labels.tolist(), "counts": cm.tolist(), "normalized": norm.tolist(),
                            "f1": f.tolist(), "precision": p.tolist(), "recall": r.tolist(), "support": s.tolist()}
    print(json.dumps(out))


main()
