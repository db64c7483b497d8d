"""scikit-learn 1.2 reference metrics for test/unit/metrics: reads a JSON list of cases on stdin."""
import json
import sys
import warnings

import numpy as np
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score,
                             precision_recall_fscore_support)

warnings.simplefilter("ignore")


def run(case):
    t, p = np.array(case["y_true"]), np.array(case["y_pred"])
    labels = case.get("labels")
    zd = case.get("zero_division", "warn")
    try:
        prec, rec, f1, sup = precision_recall_fscore_support(t, p, labels=labels, zero_division=zd, average=None)
        out = {"precision": prec.tolist(), "recall": rec.tolist(), "f1": f1.tolist(), "support": sup.tolist(),
               "accuracy": float(accuracy_score(t, p))}
        try:
            out["confusion"] = confusion_matrix(t, p, labels=labels).tolist()
        except ValueError as e:
            out["confusion_error"] = str(e)
        for avg in ("macro", "weighted", "micro"):
            pr, rc, f, _ = precision_recall_fscore_support(t, p, labels=labels, zero_division=zd, average=avg)
            out[avg] = {"precision": float(pr), "recall": float(rc), "f1": float(f)}
            assert float(f1_score(t, p, labels=labels, zero_division=zd, average=avg)) == float(f)
        if labels is None:
            out["balanced_accuracy"] = float(balanced_accuracy_score(t, p))
        return out
    except ValueError as e:
        return {"error": str(e)}


print(json.dumps([run(c) for c in json.load(sys.stdin)]))
