"""Reference rows of fine-tune runs, drawn with numpy/sklearn as the published code draws them.

stdin JSON: {"dataset", "label", "testSize", "splitSeed", "runs": [{"model": "scbert"|"scgpt", "fraction", "seed",
"stratified", "draw"?}]}. Split: StratifiedShuffleSplit(test_size, random_state=splitSeed). Few-shot: np.random.seed(k) +
np.random.choice (or train_test_split(train, train_size=fraction, stratify) when stratified); draw "stream": scBERT's
few-shot stream, "all": the whole training split. scGPT validation:
train_test_split(train, test_size=0.1, stratify=y[train], random_state=seed).
stdout JSON: {"test": [...], "classes": [...], "runs": [{"train": [...], "validation": [...] | null}]}
"""
import json
import sys

import anndata as ad
import numpy as np
from sklearn.model_selection import StratifiedShuffleSplit, train_test_split


def main():
    req = json.load(sys.stdin)
    a = ad.read_h5ad(req["dataset"], backed="r")
    y = a.obs[req["label"]].astype(str).to_numpy()
    sss = StratifiedShuffleSplit(n_splits=1, test_size=req["testSize"], random_state=req["splitSeed"])
    train, test = next(sss.split(np.zeros(len(y)), y))
    out = {"test": test.tolist(), "classes": sorted(set(y[train]) | set(y[test])), "runs": []}
    for run in req["runs"]:
        f, k = run["fraction"], run["seed"]
        draw = run.get("draw")
        if draw == "all":
            # dist_finetune.py: the whole training split, in split order
            sub = train
        elif draw == "stream":
            # dist_finetune_fewshot.py: one np.random.seed(k), the fractions 1.0, 0.75, 0.5, 0.25, 0.1 in turn
            np.random.seed(k)
            for frac in [1.0, 0.75, 0.5, 0.25, 0.1]:
                sub = np.random.choice(train, round(train.shape[0] * frac), replace=False)
                if frac == f:
                    break
        elif run["stratified"]:
            sub = train if f == 1 else train_test_split(train, train_size=f, stratify=y[train], random_state=k)[0]
        else:
            np.random.seed(k)
            sub = train[np.random.choice(len(train), int(len(train) * f), replace=False)]
        validation = None
        if run["model"] == "scgpt":
            sub, val = train_test_split(sub, test_size=0.1, stratify=y[sub], random_state=k)
            validation = val.tolist()
        out["runs"].append({"train": np.asarray(sub).tolist(), "validation": validation})
    sys.stdout.write(json.dumps(out))


if __name__ == "__main__":
    main()
