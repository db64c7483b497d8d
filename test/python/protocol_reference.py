"""References for test/unit/protocols: the published few-shot stream, the published statistics and the hard-cells
metrics, computed with numpy / scipy / sklearn as the published code does (read from stdin as JSON requests)."""
import json
import sys

import numpy as np
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score


def few_shot_stream(req):
    # dist_finetune_fewshot.py: per replicate one np.random.seed, then the fractions in order from one stream
    index_train = np.asarray(req["train"])
    np.random.seed(req["seed"])
    out = {}
    for frac in req["order"]:
        idx = np.random.choice(index_train, round(index_train.shape[0] * frac), replace=False)
        out[repr(frac)] = idx.tolist()
    return out


def published_stats(req):
    a = np.asarray(req["a"], dtype=np.float64)
    b = np.asarray(req["b"], dtype=np.float64)
    t = stats.ttest_ind(a, b)  # equal_var=True: Student's t-test
    welch = stats.ttest_ind(a, b, equal_var=False)
    return {
        "student_p": float(t.pvalue), "student_t": float(t.statistic), "welch_p": float(welch.pvalue),
        "ci_a": float(np.std(a) / np.sqrt(len(a)) * 2.262), "ci_b": float(np.std(b) / np.sqrt(len(b)) * 2.262),
    }


def hard_cells(req):
    # collate_final_results_finetune.ipynb: accuracy over the cells of the two classes, macro-F1 over all cells
    # restricted to the two labels
    y = np.asarray(req["truth"])
    p = np.asarray(req["pred"])
    a, b = req["pair"]
    mask = (y == a) | (y == b)
    return {"accuracy": float(accuracy_score(y[mask], p[mask])),
            "f1": float(f1_score(y, p, average="macro", labels=[a, b]))}


KINDS = {"few_shot_stream": few_shot_stream, "published_stats": published_stats, "hard_cells": hard_cells}

print(json.dumps([KINDS[r["kind"]](r) for r in json.load(sys.stdin)]))
