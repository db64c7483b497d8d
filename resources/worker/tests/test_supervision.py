"""Stop requests around the worker's start and a launcher that disappears: an early SIGTERM cancels the run (never
fails it), and a worker whose `scwb finetune` was killed with -9 stops with a checkpoint instead of training on."""
import os
import signal
import subprocess
import sys
import time

from conftest import WORKER_ROOT, make_run, read_events, read_json
from scwb_worker import runtime, supervision
from scwb_worker.checkpoints import load_torch_file


def _catches_sigterm(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    except OSError:
        pass
    return False


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_signal_before_the_run_handler_is_kept_for_it():
    old = {s: signal.getsignal(s) for s in supervision.SIGNALS}
    stop = runtime.Stop()
    try:
        supervision.install_early()
        os.kill(os.getpid(), signal.SIGTERM)
        stop.install()
        assert stop.requested and stop.signal == signal.SIGTERM
        assert supervision.take_pending() is None  # taken once
    finally:
        stop.restore()
        for s, h in old.items():
            signal.signal(s, h)


def test_sigterm_while_the_worker_starts_cancels_the_run(tmp_path):
    """SIGTERM as soon as the worker catches it (while torch is still importing): exit 130, status cancelled, no
    training step, no failure (it used to end `failed`: the default handler killed the process)."""
    run = make_run(str(tmp_path), epochs=1)
    proc = subprocess.Popen([sys.executable, "-m", "scwb_worker", "finetune", "--run-dir", run],
                            env=dict(os.environ, PYTHONPATH=WORKER_ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    while proc.poll() is None and not _catches_sigterm(proc.pid):
        time.sleep(0.002)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate()
    assert proc.returncode == 130, err.decode()
    rec = read_json(os.path.join(run, "run.json"))
    assert rec["status"] == "cancelled" and rec["error"] is None and rec["endedAt"]
    events = read_events(run)
    assert [(e["status"], e.get("message")) for e in events if e["type"] == "status"] == [
        ("cancelled", "cancelled before the run started")]
    assert not [e for e in events if e["type"] == "train"]


def test_sigterm_stops_a_command_that_is_not_a_run():
    """`env` (like estimate, export-onnx, encoder-manifest) has no stop handler of its own: a SIGTERM while it starts
    must end it (killed by the signal, or exit 130 when it came before the default handling was back), never be
    recorded and ignored while the command runs to the end (exit 0 with its report)."""
    proc = subprocess.Popen([sys.executable, "-m", "scwb_worker", "env", "--json"],
                            env=dict(os.environ, PYTHONPATH=WORKER_ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    while proc.poll() is None and not _catches_sigterm(proc.pid):
        time.sleep(0.002)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate()
    assert proc.returncode in (-signal.SIGTERM, 130), (proc.returncode, err.decode())
    assert out == b""


def test_a_non_run_command_gets_default_signal_handling_back(capsys):
    """An early SIGTERM before a non-run command ends it as cancelled (130, no report); without one, SIGTERM and
    SIGINT are back to Python's defaults (terminate, KeyboardInterrupt)."""
    from scwb_worker import cli
    old = {s: signal.getsignal(s) for s in supervision.SIGNALS}
    try:
        supervision.install_early()
        os.kill(os.getpid(), signal.SIGTERM)
        assert cli.main(["env", "--json"]) == cli.EXIT_CANCELLED
        assert capsys.readouterr().out == ""
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        supervision.install_early()
        assert supervision.release() is None
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        supervision.take_pending()
        for s, h in old.items():
            signal.signal(s, h)


PARENT = """
import os, subprocess, sys
child = subprocess.Popen([sys.executable, "-m", "scwb_worker", "finetune", "--run-dir", sys.argv[1]] + sys.argv[3:],
                         env=dict(os.environ, SCWB_PARENT_PID=str(os.getpid())), stdout=subprocess.DEVNULL,
                         stderr=open(sys.argv[2], "w"), start_new_session=True)
print(child.pid, flush=True)
child.wait()
"""


def test_a_worker_whose_launcher_is_killed_stops_with_a_checkpoint(tmp_path):
    """`scwb finetune` starts the worker in its own process group with SCWB_PARENT_PID; kill -9 of that parent
    used to leave the worker training unsupervised to the end. Now it stops at the next step, writes last.pt and
    ends cancelled, resumable."""
    run = make_run(str(tmp_path), model="scbert", n_cells=80, batch=3, epochs=30, extra={"logEvery": 1})
    err_file = str(tmp_path / "worker.err")
    parent = subprocess.Popen([sys.executable, "-c", PARENT, run, err_file], env=dict(os.environ, PYTHONPATH=WORKER_ROOT),
                              stdout=subprocess.PIPE)
    worker = int(parent.stdout.readline())
    events_file = os.path.join(run, "events.jsonl")
    while not (os.path.exists(events_file) and '"type": "train"' in open(events_file).read()):
        assert _alive(worker), open(err_file).read()
        time.sleep(0.01)
    parent.kill()
    parent.wait()
    while _alive(worker):
        time.sleep(0.05)
    rec = read_json(os.path.join(run, "run.json"))
    assert rec["status"] == "cancelled", (rec["status"], rec["error"], open(err_file).read())
    state = load_torch_file(os.path.join(run, "checkpoints", "last.pt"))
    assert 0 < state["step"] < 600  # 20 batches x 30 epochs: it stopped long before the end
    assert "is gone: stopping with a checkpoint" in open(err_file).read()
    assert not os.path.exists(os.path.join(run, "predictions.csv"))


def test_a_data_parallel_run_whose_launcher_parent_is_killed_stops_with_a_checkpoint(tmp_path):
    """--nproc 2: `scwb finetune` killed with -9 -> the launcher sees its parent gone and forwards SIGTERM to the
    ranks; rank 0 checkpoints and the run ends cancelled, every process gone."""
    run = make_run(str(tmp_path), model="scgpt", n_cells=64, epochs=40, batch=4, extra={"logEvery": 1})
    err_file = str(tmp_path / "launcher.err")
    parent = subprocess.Popen([sys.executable, "-c", PARENT, run, err_file, "--nproc", "2"],
                              env=dict(os.environ, PYTHONPATH=WORKER_ROOT, GLOO_SOCKET_IFNAME="lo"),
                              stdout=subprocess.PIPE)
    launcher = int(parent.stdout.readline())
    events_file = os.path.join(run, "events.jsonl")
    while not (os.path.exists(events_file) and '"type": "train"' in open(events_file).read()):
        assert _alive(launcher), open(err_file).read()
        time.sleep(0.01)
    parent.kill()
    parent.wait()
    while _alive(launcher):
        time.sleep(0.05)
    rec = read_json(os.path.join(run, "run.json"))
    assert rec["status"] == "cancelled", (rec["status"], rec["error"], open(err_file).read())
    state = load_torch_file(os.path.join(run, "checkpoints", "last.pt"))
    assert 0 < state["step"] < 400
    assert "is gone: stopping with a checkpoint" in open(err_file).read()


def test_no_parent_to_watch_without_the_variable():
    assert supervision.watch_parent({}) is None
    assert supervision.watch_parent({"SCWB_PARENT_PID": "x"}) is None
