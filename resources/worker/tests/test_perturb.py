"""Perturbation prediction (probe method perturbation, docs/worker-benchmark.md): the shifted <cls> forward equals a
plain-torch reference written from the published description, and a run trains both stages and writes
perturbation.json and its metric events."""
import json
import os

import numpy as np
import torch

from conftest import read_events, read_json, run_cli, write_h5ad
from pretrain_helpers import make_pretrain_run, make_probe_run
from scwb_worker import perturb
from scwb_worker.models.published import PublishedConfig, PublishedEncoder
from test_runfolder import check_event


def test_shifted_cls_forward_equals_the_published_description():
    torch.manual_seed(0)
    model = PublishedEncoder(PublishedConfig(n_tokens=30, pad_id=27, cls_id=28, structure="linear_base", depth=2,
                                             max_seq_len=8)).eval()
    shifts = perturb.Shifts(256)
    for q in shifts.parameters():
        torch.nn.init.normal_(q)
    src = torch.tensor([[28, 3, 5, 9, 27, 27, 27, 27], [28, 1, 2, 4, 6, 8, 10, 12]])
    pad = src.eq(27)
    genes = torch.tensor([5, 11])
    with torch.no_grad():
        got = perturb.predict(model, (src, torch.zeros(2, 8), pad), genes, shifts, 2)
        emb = model.embedding(src).clone()
        e_g = model.embedding(genes)
        emb[:, 0] += shifts.base.weight[:, 0] + e_g @ shifts.trans.weight.t() + shifts.trans.bias + \
            shifts.trans_bias.weight[:, 0]
        h = model.encoder(emb)  # the gene embedding alone: no value embedding
        ref = torch.bmm(model.gene2query(emb), h[:, 0].unsqueeze(2)).squeeze(2)
        assert torch.allclose(got, ref, atol=1e-5)
        # stage 1: the control vector only; stage 0: nothing added
        only_c = perturb.predict(model, (src, torch.zeros(2, 8), pad), genes, shifts, 1)
        emb1 = model.embedding(src).clone()
        emb1[:, 0] += shifts.base.weight[:, 0]
        h1 = model.encoder(emb1)
        assert torch.allclose(only_c, torch.bmm(model.gene2query(emb1), h1[:, 0].unsqueeze(2)).squeeze(2), atol=1e-5)
        target = torch.rand(2, 8)
        assert torch.allclose(perturb.batch_mse(got, target), ((got[:, 1:] - target[:, 1:]) ** 2).mean())


def test_perturbation_run_writes_the_three_scores(tmp_path):
    rng = np.random.RandomState(0)
    n, g = 90, 24
    X = (rng.rand(n, g) < 0.5) * rng.rand(n, g).astype(np.float32) * 3
    labels = ["ctrl"] * 30 + ["G3"] * 20 + ["G7"] * 20 + ["G11"] * 15 + ["NOTAGENE"] * 5
    for i, lab in enumerate(labels):
        if lab.startswith("G"):
            X[i, int(lab[1:])] = 4.0  # the perturbed gene is up
    ds = str(tmp_path / "perturb.h5ad")
    write_h5ad(ds, X, ["c%d" % i for i in range(n)], ["G%d" % i for i in range(g)], obs={"perturbation": labels})
    pre = make_pretrain_run(str(tmp_path / "pre"), ds=ds, n_cells=n, epochs=1)
    assert run_cli(["pretrain", "--run-dir", pre]) == 0
    enc = os.path.join(pre, "encoder.pt")
    perturbed = [i for i in range(n) if labels[i] != "ctrl"]
    train, test = perturbed[::2], perturbed[1::2]
    run = make_probe_run(str(tmp_path), enc, ds, train, test, name="pert", method="perturbation", control="ctrl",
                         epochs=3, batchSize=16, classes=None)
    with open(os.path.join(run, "run.json")) as f:
        rec = json.load(f)
    rec["labelColumn"] = "perturbation"
    with open(os.path.join(run, "run.json"), "w") as f:
        json.dump(rec, f)
    with open(os.path.join(run, "split.json")) as f:
        split = json.load(f)
    split["validation"] = list(range(30))
    with open(os.path.join(run, "split.json"), "w") as f:
        json.dump(split, f)
    assert run_cli(["probe", "--run-dir", run]) == 0, open(os.path.join(run, "run.log")).read()
    out = read_json(os.path.join(run, "perturbation.json"))
    assert set(out) == {"mse", "mseNoShift", "mseControlShift", "nControl", "nTrain", "nTest", "perturbations",
                        "skipped"}
    assert (out["nControl"], out["nTrain"] + out["nTest"]) == (30, 55) and out["skipped"] == {"NOTAGENE": 5}
    assert out["perturbations"]["test"] == ["G11", "G3", "G7"]
    assert all(np.isfinite(out[k]) and out[k] > 0 for k in ("mse", "mseNoShift", "mseControlShift"))
    events = read_events(run)
    for ev in events:
        check_event(ev)
    metrics = {e["name"]: e["value"] for e in events if e["type"] == "metric"}
    assert metrics["mse"] == out["mse"] and metrics["mseNoShift"] == out["mseNoShift"]
    assert len([e for e in events if e["type"] == "train"]) == 6  # two stages of 3 epochs
    # not a published encoder: a clear error
    bad = make_probe_run(str(tmp_path), enc, ds, train, test, name="bad", method="perturbation", control=None,
                         classes=None)
    assert run_cli(["probe", "--run-dir", bad]) == 1
    assert "control" in read_json(os.path.join(bad, "run.json"))["error"]
