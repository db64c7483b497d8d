"""Python side of bench/splits-metrics.ts: the same split, few-shot draws and metrics with sklearn/numpy/scipy."""
import json
import resource
import sys
import time
import warnings

import numpy as np
from scipy import stats
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedShuffleSplit

warnings.simplefilter("ignore")
req = json.load(sys.stdin)
labels = np.array(req["labels"])
pred = np.array(req["pred"])
t0 = time.perf_counter()
for _ in range(req["repeats"]):
    train, test = next(StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=2022).split(np.zeros(len(labels)), labels))
    few = []
    for k in range(3):
        np.random.seed(2021 * k)
        few.append(train[np.random.choice(len(train), int(len(train) * 0.1), replace=False)])
    y_true, y_pred = labels[test], pred[test]
    prfs = precision_recall_fscore_support(y_true, y_pred, zero_division=0)
    macro = f1_score(y_true, y_pred, average="macro")
    cm = confusion_matrix(y_true, y_pred)
    acc = [0.81, 0.82, 0.80, 0.83, 0.79, 0.84, 0.815]
    ci = stats.t.ppf(0.975, len(acc) - 1) * stats.sem(acc)
    welch = stats.ttest_ind(acc, [0.78, 0.79, 0.8, 0.77, 0.76, 0.8, 0.79], equal_var=False)
seconds = (time.perf_counter() - t0) / req["repeats"]
print(json.dumps({"seconds": seconds, "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "check": int(np.sum(train[:1000])) + int(sum(int(f[:100].sum()) for f in few)), "macro": float(macro)}))
