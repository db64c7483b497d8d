"""Training on tiny models: the loss goes down, runs are deterministic, SIGTERM mid-epoch then --resume gives the
same result as an uninterrupted run, reference/query and few-shot rules, clear input errors."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from conftest import CLASSES, WORKER_ROOT, make_run, read_events, read_json, run_cli, run_worker
from scwb_worker import protocols, runtime, train
from scwb_worker.runfolder import RunFolder
from test_runfolder import check_event


def _prepared(run):
    folder = RunFolder(run, writable=False)
    rec = folder.read_record()
    p = protocols.resolve(rec["parameters"]["finetune"], rec["fraction"])
    split = folder.read_split()
    runtime.seed_everything(rec["seed"])
    model, cfg, hint, _ = train.build(p, "cpu")
    inp = train.load_inputs(rec, p, split, rec["seed"], hint)
    return p, model, inp


@pytest.mark.parametrize("model_kind", ["scbert", "scgpt"])
def test_a_few_steps_lower_the_loss(tmp_path, model_kind):
    run = make_run(str(tmp_path), model=model_kind, n_cells=48)
    p, model, inp = _prepared(run)
    weights = protocols.loss_weights(p, inp.y_train, inp.dataset_label_counts)
    trainable = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.Adam(trainable, lr=3e-3)
    rows = np.arange(16)
    cells, labels = train._take(inp.train, rows), inp.y_train[rows]
    denom = train.global_denominator(labels, weights)
    model.eval()  # no dropout: the same batch's loss must fall
    losses = []
    for _ in range(25):  # scGPT starts from the published U(-0.1, 0.1) gene embedding: a slower start than N(0, 1)
        loss, _ = train.batch_loss(model, inp.encoder, cells, labels, weights, denom, 1, "cpu", False)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.8 * losses[0], losses
    if model_kind == "scbert":  # the published freezing: only the final norm, last layer and head train
        n_layers = len(model.performer.net.layers)
        frozen = [n for n, q in model.named_parameters() if not q.requires_grad]
        assert frozen and all(not n.startswith("to_out") and not n.startswith("norm.") for n in frozen)
        assert not any(n.startswith("performer.net.layers.%d." % (n_layers - 1)) for n in frozen)


@pytest.mark.parametrize("model_kind", ["scbert", "scgpt"])
def test_forward_is_deterministic(tmp_path, model_kind):
    run = make_run(str(tmp_path), model=model_kind, n_cells=24)
    p1, m1, inp = _prepared(run)
    p2, m2, _ = _prepared(run)
    for (n, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items()):
        assert torch.equal(a, b), n
    m1.eval()
    m2.eval()
    batch = [t for t in inp.encoder.batch(train._take(inp.train, np.arange(8)))]
    with torch.no_grad():
        out1, out1b, out2 = m1(*batch), m1(*batch), m2(*batch)
    assert torch.equal(out1, out1b) and torch.equal(out1, out2)


def _final_state(run):
    return torch.load(os.path.join(run, "checkpoints", "last.pt"), map_location="cpu")


def _assert_same_result(a, b):
    with open(os.path.join(a, "predictions.csv"), "rb") as fa, open(os.path.join(b, "predictions.csv"), "rb") as fb:
        assert fa.read() == fb.read()
    sa, sb = _final_state(a), _final_state(b)
    assert sa["step"] == sb["step"] and sa["epoch"] == sb["epoch"]
    for k, v in sa["model_state_dict"].items():
        assert torch.equal(v, sb["model_state_dict"][k]), k
    ba = torch.load(os.path.join(a, "checkpoints", "best.pt"), map_location="cpu")["model_state_dict"]
    bb = torch.load(os.path.join(b, "checkpoints", "best.pt"), map_location="cpu")["model_state_dict"]
    for k, v in ba.items():
        assert torch.equal(v, bb[k]), k


def test_sigterm_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path):
    kw = dict(model="scbert", n_cells=80, batch=3, epochs=2, extra={"logEvery": 1, "lr": 1e-3})
    whole = make_run(str(tmp_path / "whole"), **kw)
    assert run_cli(["finetune", "--run-dir", whole]) == 0
    cut = make_run(str(tmp_path / "cut"), **kw)
    env = dict(os.environ, PYTHONPATH=WORKER_ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "scwb_worker", "finetune", "--run-dir", cut], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    events_file = os.path.join(cut, "events.jsonl")
    while proc.poll() is None:
        if os.path.exists(events_file) and '"epoch": 2' in open(events_file).read():
            proc.send_signal(signal.SIGTERM)
            break
        time.sleep(0.005)
    out, err = proc.communicate()
    assert proc.returncode == 130, err
    rec = read_json(os.path.join(cut, "run.json"))
    assert rec["status"] == "cancelled" and rec["endedAt"]
    state = _final_state(cut)
    assert state["epoch"] == 2 and 0 < state["batch"] < 20, (state["epoch"], state["batch"])
    assert not os.path.exists(os.path.join(cut, "predictions.csv"))
    res = run_worker(["finetune", "--run-dir", cut, "--resume"])
    assert res.returncode == 0, res.stderr
    _assert_same_result(whole, cut)
    events = read_events(cut)
    for ev in events:
        check_event(ev)
    assert [e["status"] for e in events if e["type"] == "status"] == ["running", "cancelled", "running", "completed"]
    steps = [e["step"] for e in events if e["type"] == "train"]
    assert steps == sorted(steps) and steps[-1] == 40  # 60 training cells in batches of 3, 2 epochs
    assert read_json(os.path.join(cut, "run.json"))["status"] == "completed"
    assert "resuming at epoch 2" in open(os.path.join(cut, "run.log")).read()


def test_scgpt_run_is_deterministic_and_bins_when_there_is_no_binned_layer(tmp_path):
    a = make_run(str(tmp_path / "a"), model="scgpt", epochs=2, extra={"dropout": 0.2})
    b = make_run(str(tmp_path / "b"), model="scgpt", epochs=2, extra={"dropout": 0.2})
    for run in (a, b):
        assert run_cli(["finetune", "--run-dir", run]) == 0
    _assert_same_result(a, b)
    events = read_events(a)
    vals = [e for e in events if e["type"] == "validation"]
    # best validation loss is kept: best is true exactly when the loss is the lowest so far
    lows = [v["loss"] <= min(w["loss"] for w in vals[:i + 1]) for i, v in enumerate(vals)]
    assert [v["best"] for v in vals] == lows


def test_reference_query_split_predicts_the_query_cells(tmp_path):
    run = make_run(str(tmp_path), model="scgpt", epochs=1, query=True)
    assert run_cli(["finetune", "--run-dir", run]) == 0
    lines = open(os.path.join(run, "predictions.csv")).read().splitlines()
    assert len(lines) == 21 and lines[1].startswith("0,q-0,")


def test_scbert_reference_query_validates_on_the_query_when_validation_equals_test(tmp_path):
    run = make_run(str(tmp_path), model="scbert", epochs=1, query=True)
    split = read_json(os.path.join(run, "split.json"))
    split["validation"] = split["test"]
    with open(os.path.join(run, "split.json"), "w") as f:
        json.dump(split, f)
    assert run_cli(["finetune", "--run-dir", run]) == 0
    log = open(os.path.join(run, "run.log")).read()
    assert "validation cells are the query's test cells" in log and "20 validation, 20 test cells" in log
    lines = open(os.path.join(run, "predictions.csv")).read().splitlines()
    assert len(lines) == 21 and lines[1].startswith("0,q-0,")


def test_a_diverging_loss_fails_the_run(tmp_path):
    run = make_run(str(tmp_path), model="scgpt", epochs=1, extra={"lr": 1e30})
    assert run_cli(["finetune", "--run-dir", run]) == 1
    assert "training diverged" in read_json(os.path.join(run, "run.json"))["error"]


def test_few_shot_scbert_keeps_the_best_accuracy_epoch(tmp_path):
    """Published Figure 2 re-evaluates *_best.pth (best validation accuracy) for every fraction, not the last epoch."""
    run = make_run(str(tmp_path), model="scbert", epochs=3, fraction=0.5)
    assert run_cli(["finetune", "--run-dir", run]) == 0
    assert os.path.exists(os.path.join(run, "checkpoints", "best.pt"))
    events = read_events(run)
    accs = [e["accuracy"] for e in events if e["type"] == "validation"]
    best_epoch = int(np.argmax(accs)) + 1  # the first epoch with the highest accuracy
    kept = [e["value"] for e in events if e["type"] == "metric" and e["name"] == "keptEpoch"]
    assert kept == [best_epoch]
    assert "by the epoch-%d model" % best_epoch in open(os.path.join(run, "run.log")).read()
    assert torch.load(os.path.join(run, "checkpoints", "best.pt"))["epoch"] == best_epoch + 1


def test_scbert_needs_the_checkpoint_gene_count(tmp_path):
    run = make_run(str(tmp_path), model="scbert", epochs=1,
                   config={"dim": 8, "depth": 2, "heads": 2, "dim_head": 4, "n_genes": 20, "nb_features": 6})
    assert run_cli(["finetune", "--run-dir", run]) == 1
    err = read_json(os.path.join(run, "run.json"))["error"]
    assert "data.h5ad has 12 genes but the scBERT model expects exactly 20" in err
    assert "Preprocess scBERT" in err


def test_labels_outside_the_classes_are_refused(tmp_path):
    run = make_run(str(tmp_path), model="scgpt", epochs=1, extra={"classes": ["alpha", "beta"]})
    assert run_cli(["finetune", "--run-dir", run]) == 1
    assert "has label 'gamma', which is not among the run's classes" in read_json(os.path.join(run, "run.json"))["error"]


def test_demo_checkpoints_fine_tune_in_one_process(tmp_path):
    """Pretrained weights (published key layout, flash names), scGPT genes mapped through vocab.json and binned
    here (no id_in_vocab, no X_binned), two --run-dir one after another."""
    ck = str(tmp_path / "ck")
    bert = make_run(str(tmp_path / "bert"), model="scbert", epochs=1, extra={
        "checkpoint": os.path.join(ck, "scbert_tiny", "scbert_tiny_pretrain.pth"), "config": None})
    gpt = make_run(str(tmp_path / "gpt"), model="scgpt", epochs=1, var={}, extra={
        "checkpoint": os.path.join(ck, "scGPT_tiny"), "config": None})
    assert run_cli(["demo-checkpoints", ck, "--genes-from", os.path.join(str(tmp_path / "bert"), "data.h5ad")]) == 0
    assert run_cli(["finetune", "--run-dir", bert, "--run-dir", gpt]) == 0
    for run in (bert, gpt):
        assert read_json(os.path.join(run, "run.json"))["status"] == "completed"
    bert_log = open(os.path.join(bert, "run.log")).read()
    assert "loaded" in bert_log and "skipped 2 pre-training-only tensors: to_out.weight, to_out.bias" in bert_log
    assert "renamed transformer_encoder.layers.*.self_attn.Wqkv.weight" in open(os.path.join(gpt, "run.log")).read()


def test_partial_load_fails_the_run_with_the_keys(tmp_path):
    ck = str(tmp_path / "ck")
    run = make_run(str(tmp_path / "gpt"), model="scgpt", epochs=1, extra={
        "checkpoint": os.path.join(ck, "scGPT_tiny"), "config": None})
    assert run_cli(["demo-checkpoints", ck, "--genes-from", os.path.join(str(tmp_path / "gpt"), "data.h5ad")]) == 0
    sd = torch.load(os.path.join(ck, "scGPT_tiny", "best_model.pt"))
    del sd["value_encoder.linear1.weight"]
    torch.save(sd, os.path.join(ck, "scGPT_tiny", "best_model.pt"))
    assert run_cli(["finetune", "--run-dir", run]) == 1
    err = read_json(os.path.join(run, "run.json"))["error"]
    assert "value_encoder.linear1.weight" in err


def test_without_validation_rows_the_last_epoch_is_kept(tmp_path):
    run = make_run(str(tmp_path), model="scgpt", epochs=2)
    split = read_json(os.path.join(run, "split.json"))
    split["validation"] = []
    with open(os.path.join(run, "split.json"), "w") as f:
        json.dump(split, f)
    assert run_cli(["finetune", "--run-dir", run]) == 0
    events = read_events(run)
    for ev in events:
        check_event(ev)
    assert not [e for e in events if e["type"] == "validation"]
    assert not os.path.exists(os.path.join(run, "checkpoints", "best.pt"))
    assert _final_state(run)["epoch"] == 3
    assert len(open(os.path.join(run, "predictions.csv")).read().splitlines()) == 13


def test_rng_states_round_trip_through_a_checkpoint_file(tmp_path):
    """Resume restores Python, numpy and torch streams from last.pt, read by the safe loader (plain values only)."""
    import random
    from scwb_worker import checkpoints
    runtime.seed_everything(5)
    np.random.rand(3), np.random.randn(1), random.random(), torch.rand(2)
    path = str(tmp_path / "x.pt")
    checkpoints.save_checkpoint(path, {"rng": runtime.rng_state(), "best": {"value": 0.5, "epoch": 1}})
    first = (np.random.rand(2), np.random.randn(1), random.random(), torch.rand(2))
    runtime.set_rng_state(checkpoints.load_torch_file(path)["rng"])
    again = (np.random.rand(2), np.random.randn(1), random.random(), torch.rand(2))
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert first[2] == again[2] and torch.equal(first[3], again[3])
