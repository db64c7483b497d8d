"""Two-process DDP on CPU (gloo, file:// rendezvous): the same gradient as one process on the whole batch, and a
whole `--nproc 2` run."""
import json
import os
import signal
import subprocess
import sys
import time

import torch

from conftest import WORKER_ROOT, make_run, read_events, read_json, run_worker
from test_runfolder import check_event
import ddp_grad_rank

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ddp_grad_rank.py")
LOSS_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ddp_loss_rank.py")


def _env(extra=None):
    env = dict(os.environ, PYTHONPATH=WORKER_ROOT, GLOO_SOCKET_IFNAME="lo")
    env.update(extra or {})
    return env


def test_two_process_gradient_equals_one_process_on_the_whole_batch(tmp_path):
    run = make_run(str(tmp_path), model="scgpt", n_cells=48)
    one = str(tmp_path / "one.pt")
    two = str(tmp_path / "two.pt")
    # 11 cells: shards of 5 and 6, so the weighted-mean scaling must hold for unequal shares
    assert "WORLD_SIZE" not in os.environ
    ddp_grad_rank.main(run, one, 11)  # one process, in this one
    store = str(tmp_path / "ddp-store")
    procs = [subprocess.Popen([sys.executable, SCRIPT, run, two, "11"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=_env({"RANK": str(r), "WORLD_SIZE": "2", "LOCAL_RANK": str(r),
                                        "SCWB_DDP_STORE": store}))
             for r in range(2)]
    for p in procs:
        _, err = p.communicate()
        assert p.returncode == 0, err.decode()
    g1, g2 = torch.load(one), torch.load(two)
    assert set(g1) == set(g2) and len(g1) > 5
    for name, g in g1.items():
        assert torch.allclose(g, g2[name], rtol=1e-4, atol=1e-6), name


def test_a_non_finite_loss_on_one_rank_fails_every_rank_before_backward(tmp_path):
    """Rank 1's loss is NaN, rank 0's is finite: both ranks raise the same RunError before backward(). (Checked per
    rank, rank 0 went on into backward() and waited in the gradient all-reduce for rank 1, which had raised: the
    run hung until gloo's 30-minute timeout.)"""
    out = str(tmp_path / "result")
    store = str(tmp_path / "ddp-store")
    procs = [subprocess.Popen([sys.executable, LOSS_SCRIPT, out], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=_env({"RANK": str(r), "WORLD_SIZE": "2", "LOCAL_RANK": str(r),
                                        "SCWB_DDP_STORE": store}))
             for r in range(2)]
    errs = [p.communicate()[1].decode() for p in procs]
    results = []
    for r in range(2):  # (the exit status is gloo's teardown, not under test here)
        assert os.path.exists("%s.%d" % (out, r)), errs
        with open("%s.%d" % (out, r)) as f:
            results.append(json.load(f)["raised"])
    assert results[0] == results[1] == "the training loss is nan at epoch 2, step 5: training diverged (try a lower " \
        "learning rate)"


def test_nproc_2_run_stops_on_sigterm_and_resumes(tmp_path):
    """The launcher forwards SIGTERM; both ranks stop after the same step, rank 0 checkpoints; --resume with two
    processes completes the run."""
    run = make_run(str(tmp_path), model="scgpt", n_cells=64, epochs=2, batch=4, extra={"logEvery": 1})
    proc = subprocess.Popen([sys.executable, "-m", "scwb_worker", "finetune", "--run-dir", run, "--nproc", "2"],
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    events_file = os.path.join(run, "events.jsonl")
    while proc.poll() is None:
        if os.path.exists(events_file) and '"epoch": 2' in open(events_file).read():
            proc.send_signal(signal.SIGTERM)
            break
        time.sleep(0.005)
    _, err = proc.communicate()
    assert proc.returncode == 130, err.decode()
    assert read_json(os.path.join(run, "run.json"))["status"] == "cancelled"
    state = torch.load(os.path.join(run, "checkpoints", "last.pt"))
    assert state["epoch"] == 2 and state["batch"] > 0
    res = run_worker(["finetune", "--run-dir", run, "--nproc", "2", "--resume"], env={"GLOO_SOCKET_IFNAME": "lo"})
    assert res.returncode == 0, res.stderr
    rec = read_json(os.path.join(run, "run.json"))
    assert rec["status"] == "completed"
    events = read_events(run)
    for ev in events:
        check_event(ev)
    assert [e["status"] for e in events if e["type"] == "status"] == ["running", "cancelled", "running", "completed"]
    steps = [e["step"] for e in events if e["type"] == "train"]
    assert steps == sorted(steps) and steps[-1] == 2 * 10  # 40 training cells in batches of 4
    assert len(open(os.path.join(run, "predictions.csv")).read().splitlines()) == 17
    assert "2 processes" in open(os.path.join(run, "run.log")).read()
    assert not [n for n in os.listdir(run) if n.startswith(".")]  # no store file, lock or temp left
