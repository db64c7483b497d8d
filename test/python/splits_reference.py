"""scikit-learn 1.2 / numpy reference splits for test/unit/splits: reads a JSON list of requests on stdin."""
import json
import sys

import numpy as np
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit, StratifiedShuffleSplit, train_test_split


def ints(a):
    return [int(v) for v in a]


def size(v):
    # JSON numbers lose Python's int/float distinction; the TypeScript side uses (0, 1) = fraction.
    if v is None:
        return None
    return int(v) if float(v).is_integer() else float(v)


def run(req, earlier):
    kind = req["kind"]
    if "train_of" in req:  # the training rows of an earlier request's first split, to keep the JSON small
        req = dict(req, train=earlier[req["train_of"]][0]["train"])
    try:
        if kind == "sss":
            y = np.array(req["labels"])
            cv = StratifiedShuffleSplit(n_splits=req.get("n_splits", 1), test_size=size(req.get("test_size")),
                                        train_size=size(req.get("train_size")), random_state=req["seed"])
            return [{"train": ints(tr), "test": ints(te)} for tr, te in cv.split(np.zeros(len(y)), y)]
        if kind == "ss":
            cv = ShuffleSplit(n_splits=req.get("n_splits", 1), test_size=size(req.get("test_size")),
                              train_size=size(req.get("train_size")), random_state=req["seed"])
            return [{"train": ints(tr), "test": ints(te)} for tr, te in cv.split(np.zeros(req["n"]))]
        if kind == "tts":
            idx = np.arange(req["n"])
            strat = np.array(req["labels"]) if req.get("labels") is not None else None
            tr, te = train_test_split(idx, train_size=size(req.get("train_size")), test_size=size(req.get("test_size")),
                                      stratify=strat, random_state=req["seed"])
            return {"train": ints(tr), "test": ints(te)}
        if kind == "echo":
            return req["value"]
        if kind == "fewshot":
            train = np.array(req["train"])
            np.random.seed(req["seed"])
            idx = np.random.choice(len(train), int(len(train) * req["fraction"]), replace=False)
            return ints(train[idx])
        if kind == "stratified_fewshot":
            train = np.array(req["train"])
            y = np.array(req["labels"] if "labels" in req else earlier[req["labels_of"]])[train]
            sub, _ = train_test_split(train, train_size=req["fraction"], stratify=y, random_state=req["seed"])
            return ints(sub)
        if kind == "gss":
            g = np.array(req["groups"])
            cv = GroupShuffleSplit(n_splits=req.get("n_splits", 1), test_size=size(req.get("test_size")),
                                   random_state=req["seed"])
            return [{"train": ints(tr), "test": ints(te)} for tr, te in cv.split(np.zeros(len(g)), groups=g)]
        if kind == "pipeline":
            # What a user's script does: read the labels (an obs column via anndata, or given), split, then draw
            # the few-shot subset from the training rows.
            if "path" in req:
                import anndata
                obs = anndata.read_h5ad(req["path"], backed="r").obs
                y = obs[req["column"]]
            else:
                obs, y = None, np.array(req["labels"])
            if req.get("group_column"):
                cv = GroupShuffleSplit(n_splits=1, test_size=req["test_size"], random_state=req["seed"])
                tr, te = next(cv.split(np.zeros(len(y)), groups=obs[req["group_column"]]))
            else:
                cv = StratifiedShuffleSplit(n_splits=1, test_size=req["test_size"], random_state=req["seed"])
                tr, te = next(cv.split(np.zeros(len(y)), y))
            out = {"n": len(y), "train": ints(tr), "test": ints(te)}
            if req.get("fraction") is not None:
                if req.get("stratified"):
                    out["fewshot"] = ints(train_test_split(tr, train_size=req["fraction"], stratify=np.asarray(y)[tr],
                                                           random_state=req["fraction_seed"])[0])
                else:
                    np.random.seed(req["fraction_seed"])
                    out["fewshot"] = ints(tr[np.random.choice(len(tr), int(len(tr) * req["fraction"]), replace=False)])
            return out
        raise ValueError(kind)
    except ValueError as e:
        return {"error": str(e)}


results = []
for r in json.load(sys.stdin):
    results.append(run(r, results))
print(json.dumps(results))
