"""The run folder contract of docs/worker.md: events.jsonl lines, run.json transitions and locking, atomic writes,
appends that refuse symlinks, predictions.csv quoting."""
import json
import os
import re
import time

import pytest

from conftest import read_events, read_json, run_cli, run_worker
from scwb_worker import runfolder
from scwb_worker.runfolder import RunFolder, RunFolderError

TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
NUM = (int, float)
STATUSES = {"queued", "running", "completed", "failed", "cancelled", "interrupted"}


def _is_num(v):
    return isinstance(v, NUM) and not isinstance(v, bool)


def check_event(ev):
    """Every field and type of one events.jsonl line as docs/worker.md lists them (nothing else allowed)."""
    assert isinstance(ev.get("time"), str) and TIME_RE.match(ev["time"]), ev
    t = ev["type"]
    if t == "status":
        assert set(ev) <= {"type", "time", "status", "message"}, ev
        assert ev["status"] in STATUSES
        assert "message" not in ev or isinstance(ev["message"], str)
    elif t == "progress":
        assert set(ev) <= {"type", "time", "fraction", "message"}, ev
        assert _is_num(ev["fraction"]) and 0 <= ev["fraction"] <= 1
        assert "message" not in ev or isinstance(ev["message"], str)
    elif t == "train":
        assert set(ev) == {"type", "time", "epoch", "step", "loss", "lr", "cellsPerSec", "gpuMemoryMiB"}, ev
        assert isinstance(ev["epoch"], int) and ev["epoch"] >= 1
        assert isinstance(ev["step"], int) and ev["step"] >= 1
        assert _is_num(ev["loss"]) and _is_num(ev["lr"]) and _is_num(ev["cellsPerSec"]) and ev["cellsPerSec"] > 0
        assert ev["gpuMemoryMiB"] is None or _is_num(ev["gpuMemoryMiB"])
    elif t == "validation":
        assert set(ev) == {"type", "time", "epoch", "step", "loss", "accuracy", "best"}, ev
        assert isinstance(ev["epoch"], int) and isinstance(ev["step"], int)
        assert _is_num(ev["loss"]) and _is_num(ev["accuracy"]) and 0 <= ev["accuracy"] <= 1
        assert isinstance(ev["best"], bool)
    elif t == "resume":
        assert set(ev) == {"type", "time", "step", "epoch", "batch"}, ev
        assert isinstance(ev["step"], int) and ev["step"] >= 0 and isinstance(ev["epoch"], int) and ev["epoch"] >= 1
        assert isinstance(ev["batch"], int) and ev["batch"] >= 0
    elif t == "metric":
        assert set(ev) <= {"type", "time", "name", "value", "step"}, ev
        assert isinstance(ev["name"], str) and _is_num(ev["value"])
        assert "step" not in ev or _is_num(ev["step"])
    else:
        raise AssertionError("unknown event type %r" % t)


def test_completed_run_writes_the_documented_files(tiny_run):
    run = tiny_run(model="scbert", epochs=2, batch=8)
    assert run_cli(["finetune", "--run-dir", run]) == 0
    events = read_events(run)
    for ev in events:
        check_event(ev)
    assert [e["status"] for e in events if e["type"] == "status"] == ["running", "completed"]
    trains = [e for e in events if e["type"] == "train"]
    # logEvery 2 with 5 batches an epoch: steps 2, 4, 5 (end of epoch 1), 6, 8, 10
    assert [(e["epoch"], e["step"]) for e in trains] == [(1, 2), (1, 4), (1, 5), (2, 6), (2, 8), (2, 10)]
    vals = [e for e in events if e["type"] == "validation"]
    assert [(e["epoch"], e["step"]) for e in vals] == [(1, 5), (2, 10)]
    assert vals[0]["best"] is True
    metrics = {e["name"]: e["value"] for e in events if e["type"] == "metric"}
    assert metrics["keptEpoch"] in (1, 2) and metrics["trainSeconds"] > 0
    assert metrics["keptEpoch"] == max(v["epoch"] for v in vals if v["best"])
    progress = [e["fraction"] for e in events if e["type"] == "progress"]
    assert progress == sorted(progress) and progress[-1] == 1.0
    rec = read_json(os.path.join(run, "run.json"))
    assert rec["status"] == "completed" and rec["error"] is None
    assert TIME_RE.match(rec["startedAt"]) and TIME_RE.match(rec["endedAt"])
    assert rec["owner"]["pid"] > 0 and isinstance(rec["owner"]["hostname"], str)
    assert rec["owner"]["processStart"] is None or rec["owner"]["processStart"].isdigit()
    # unknown fields are kept intact
    assert rec["futureField"] == [1, 2] and rec["parameters"]["somethingElse"] == {"kept": True}
    # lock released, no temp files
    names = set(os.listdir(run)) | {"checkpoints/" + n for n in os.listdir(os.path.join(run, "checkpoints"))}
    assert names == {"run.json", "split.json", "events.jsonl", "run.log", "heartbeat", "predictions.csv",
                     "model.onnx", "model.onnx.json", "checkpoints", "checkpoints/last.pt", "checkpoints/best.pt"}
    with open(os.path.join(run, "run.log")) as f:
        lines = f.read().splitlines()
    assert lines and all(TIME_RE.match(line.split(" ", 1)[0]) for line in lines)
    with open(os.path.join(run, "predictions.csv"), newline="") as f:
        rows = f.read().split("\n")
    assert rows[0] == "index,obs_name,true_label,predicted_label"
    split = read_json(os.path.join(run, "split.json"))
    body = [r.split(",") for r in rows[1:] if r]
    assert [int(r[0]) for r in body] == split["test"]
    assert [r[1] for r in body] == ["cell-%d" % i for i in split["test"]]
    assert all(r[3] in ("alpha", "beta", "gamma") for r in body)


@pytest.mark.parametrize("name", ["events.jsonl", "run.log"])
def test_appends_refuse_a_symlink(tiny_run, tmp_path, name):
    run = tiny_run(model="scbert", epochs=1)
    target = tmp_path / "elsewhere.txt"
    target.write_text("")
    os.symlink(str(target), os.path.join(run, name))
    res = run_worker(["finetune", "--run-dir", run])
    assert res.returncode == 1
    assert "Traceback" not in res.stderr and "symbolic link" in res.stderr
    assert target.read_text() == ""  # nothing written through the link
    rec = read_json(os.path.join(run, "run.json"))
    assert rec["status"] == "failed"
    assert "symbolic link" in rec["error"] and name in rec["error"]
    assert not os.path.exists(os.path.join(run, ".lock"))


def test_failure_records_the_error_and_keeps_the_traceback(tiny_run):
    run = tiny_run(model="scbert", epochs=1)
    rec = read_json(os.path.join(run, "run.json"))
    rec["labelColumn"] = "no_such_column"
    with open(os.path.join(run, "run.json"), "w") as f:
        json.dump(rec, f)
    assert run_cli(["finetune", "--run-dir", run]) == 1
    rec = read_json(os.path.join(run, "run.json"))
    assert rec["status"] == "failed" and rec["endedAt"]
    assert "data.h5ad" in rec["error"] and "no_such_column" in rec["error"]
    log = open(os.path.join(run, "run.log")).read()
    assert "Traceback (most recent call last)" in log
    events = read_events(run)
    for ev in events:
        check_event(ev)
    assert [e["status"] for e in events if e["type"] == "status"] == ["running", "failed"]
    assert not os.path.exists(os.path.join(run, ".lock"))


def test_a_completed_or_running_run_is_refused_untouched(tiny_run, capsys):
    run = tiny_run(model="scbert", epochs=1, status="completed")
    before = open(os.path.join(run, "run.json")).read()
    assert run_cli(["finetune", "--run-dir", run]) == 1
    assert "the run has already completed" in capsys.readouterr().err
    assert open(os.path.join(run, "run.json")).read() == before
    assert sorted(os.listdir(run)) == ["run.json", "split.json"]
    rec = json.loads(before)
    rec["status"] = "running"
    rec["owner"] = runfolder.owner_record()  # this very process: alive
    with open(os.path.join(run, "run.json"), "w") as f:
        json.dump(rec, f)
    assert run_cli(["finetune", "--run-dir", run]) == 1
    assert "already running (pid %d)" % os.getpid() in capsys.readouterr().err
    assert read_json(os.path.join(run, "run.json"))["status"] == "running"


def test_resume_needs_a_stopped_run(tiny_run, capsys):
    run = tiny_run(model="scbert", epochs=1, status="queued")
    assert run_cli(["finetune", "--run-dir", run, "--resume"]) == 1
    assert "--resume needs a cancelled, failed or interrupted run" in capsys.readouterr().err


def test_heartbeat_is_touched_by_a_thread(tmp_path):
    folder = RunFolder(str(tmp_path))
    folder.start_heartbeat(every=0.05)
    hb = tmp_path / "heartbeat"
    first = os.stat(str(hb)).st_mtime_ns
    deadline = time.time() + 5
    while os.stat(str(hb)).st_mtime_ns == first and time.time() < deadline:
        time.sleep(0.02)
    folder.close()
    assert os.stat(str(hb)).st_mtime_ns > first


def test_bad_arguments_exit_2(tmp_path):
    assert run_worker(["finetune"]).returncode == 2
    assert run_cli(["finetune", "--run-dir", str(tmp_path / "missing")]) == 2
    with pytest.raises(SystemExit) as exc:
        run_cli(["nonsense"])
    assert exc.value.code == 2


def test_update_record_waits_for_the_lock_and_takes_over_a_stale_one(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"id": "r", "status": "queued", "x": {"y": 1}}))
    folder = RunFolder(str(run))
    lock = run / ".lock"
    lock.mkdir()
    old = time.time() - 60
    os.utime(str(lock), (old, old))
    rec = folder.update_record(lambda r: {"status": "running"})
    assert rec == {"id": "r", "status": "running", "x": {"y": 1}}
    assert not lock.exists()
    assert sorted(os.listdir(str(run))) == ["run.json"]


def test_predictions_quoting_and_atomic_json(tmp_path):
    folder = RunFolder(str(tmp_path))
    folder.write_predictions([(0, 'a,b', 'say "hi"', "line\nbreak"), (5, "plain", "x", "y")])
    text = (tmp_path / "predictions.csv").read_bytes().decode()
    assert text == ('index,obs_name,true_label,predicted_label\n0,"a,b","say ""hi""","line\nbreak"\n'
                    '5,plain,x,y\n')
    runfolder.write_atomic_json(str(tmp_path / "x.json"), {"a": 1})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 1}
    assert sorted(os.listdir(str(tmp_path))) == ["predictions.csv", "x.json"]


def test_split_json_errors_name_the_file(tmp_path):
    (tmp_path / "split.json").write_text(json.dumps({"train": [0, -1], "validation": [], "test": []}))
    with pytest.raises(RunFolderError, match="split.json: field 'train'"):
        RunFolder(str(tmp_path)).read_split()
    (tmp_path / "split.json").write_text("{nope")
    with pytest.raises(RunFolderError, match="split.json: not valid JSON"):
        RunFolder(str(tmp_path)).read_split()


def test_process_start_is_field_22():
    start = runfolder.process_start(os.getpid())
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    assert start == fields[19]
