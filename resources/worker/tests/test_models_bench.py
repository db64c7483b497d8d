"""The GPU throughput script must keep working where no GPU is: its --smoke mode runs tiny models on CPU."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def test_gpu_throughput_script_smoke_runs_on_cpu():
    script = os.path.join(REPO, "bench", "gpu", "finetune_throughput.py")
    res = subprocess.run([sys.executable, script, "--smoke"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    rows = [line.split("|") for line in res.stdout.splitlines() if line.startswith("| scBERT") or
            line.startswith("| scGPT")]
    assert len(rows) == 6, res.stdout
    modes = [r[4].strip().split(" ")[0] for r in rows if r[1].strip() == "scGPT"]
    assert modes == ["padded", "bucketed", "padded", "bucketed"]
    fp32 = [r for r in rows if r[1].strip() == "scBERT" and r[2].strip() == "fp32"][0]
    assert float(fp32[5]) > 0
    for r in rows:
        if r[1].strip() == "scGPT":
            assert float(r[5]) > 0


def test_published_pretrain_gpu_script_smoke_runs_on_cpu():
    """The GPU step-time script of the published encoders runs (tiny, on CPU) and its two sides agree."""
    script = os.path.join(REPO, "bench", "gpu", "pretrain_published_throughput.py")
    res = subprocess.run([sys.executable, script, "--smoke"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    rows = [line.split("|") for line in res.stdout.splitlines() if line.startswith("| transformer") or
            line.startswith("| cnn_ours")]
    assert [r[1].strip() for r in rows] == ["transformer", "cnn_ours"], res.stdout
    for r in rows:
        assert float(r[3]) > 0 and float(r[4]) > 0
        assert float(r[7]) < 1e-3  # the worker's model and the plain-torch reference compute the same outputs
