"""The code paths that differ between torch 1.13 (Debian, CI's first worker layer) and torch 2.x (what GPU users run;
the second layer's venv): scaled_dot_product_attention against the explicit-softmax fallback, autocast through
torch.autocast/torch.amp only, the ONNX exporter against ONNX Runtime, and resuming a run folder across the two
torch versions. Each test states what it checks on the torch it runs on; none is skipped on torch 2."""
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from conftest import WORKER_ROOT, make_run, read_events, read_json, run_cli
from scwb_worker import checkpoints, onnx_export
from scwb_worker.models import scgpt as scgpt_mod
from test_models import gpt_batch, tiny_gpt

TORCH2 = int(torch.__version__.split(".")[0]) >= 2
REPO = os.path.dirname(os.path.dirname(WORKER_ROOT))


def test_sdpa_is_used_exactly_when_torch_has_it():
    assert scgpt_mod.HAS_SDPA == TORCH2 == hasattr(torch.nn.functional, "scaled_dot_product_attention")
    assert tiny_gpt().transformer_encoder.layers[0].self_attn.use_sdpa == TORCH2


@pytest.mark.skipif(not TORCH2, reason="torch 1.13 has no scaled_dot_product_attention (the fallback is tested "
                                        "against torch's multi-head attention in test_models.py)")
@pytest.mark.parametrize("masked", [True, False])
def test_sdpa_equals_the_fallback_forward_and_gradients(masked):
    """The fused path (torch 2) and the explicit softmax (torch 1.13) compute the same attention: outputs, input
    gradients and weight gradients, with and without a key-padding mask."""
    model = tiny_gpt()
    attn = model.transformer_encoder.layers[0].self_attn
    attn.train()
    attn.dropout = 0.0
    _, _, pad = gpt_batch()
    torch.manual_seed(12)
    x = torch.randn(3, 9, 16)
    got = {}
    for use_sdpa in (True, False):
        attn.use_sdpa = use_sdpa
        attn.zero_grad()
        xi = x.clone().requires_grad_(True)
        out = attn(xi, pad if masked else None)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        got[use_sdpa] = (out.detach(), xi.grad.clone(), attn.in_proj_weight.grad.clone(), attn.out_proj.weight.grad.clone())
    for a, b in zip(got[True], got[False]):
        assert torch.allclose(a, b, atol=1e-5), (a - b).abs().max()


@pytest.mark.parametrize("model_kind", ["scbert", "scgpt"])
def test_run_json_and_run_log_state_torch_device_dtype_and_attention(tmp_path, model_kind):
    import platform
    # fp32 named: the tests' runs send the legacy amp flag, which means bf16 (and CPU bf16 runs on torch 2)
    run = make_run(str(tmp_path), model=model_kind, n_cells=24, epochs=1, extra={"precision": "fp32"})
    assert run_cli(["finetune", "--run-dir", run]) == 0
    worker = read_json(os.path.join(run, "run.json"))["worker"]
    attention = "performer" if model_kind == "scbert" else ("sdpa" if TORCH2 else "softmax")
    assert worker == {"torch": torch.__version__, "python": platform.python_version(), "device": "cpu", "cuda": None,
                      "dtype": "float32", "attention": attention, "processes": 1}
    with open(os.path.join(run, "run.log")) as f:
        log = f.read()
    assert "worker: torch %s, Python %s, cpu, float32, attention %s" % (
        torch.__version__, platform.python_version(), attention) in log


def test_autocast_goes_through_torch_autocast_only():
    """torch.cuda.amp.autocast/GradScaler are deprecated on torch 2 (warnings, removal announced): the worker and the
    GPU benchmark use torch.autocast / torch.amp only (the fp16 loss scaler falls back to torch.cuda.amp only on
    torch < 2.3, where torch.amp has no GradScaler)."""
    offenders = []
    for base in (os.path.join(WORKER_ROOT, "scwb_worker"), os.path.join(REPO, "bench", "gpu")):
        for root, _, files in os.walk(base):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(root, name)
                    with open(path, encoding="utf-8") as f:
                        for i, line in enumerate(f, 1):
                            # the one allowed use: the loss scaler of torch < 2.3, which has no torch.amp.GradScaler
                            if re.search(r"torch\.cuda\.amp|cuda\.amp\.", line) and "torch < 2.3 only" not in line:
                                offenders.append("%s:%d" % (path, i))
    assert offenders == []
    assert hasattr(torch, "autocast")


def _ort_outputs(path, feeds):
    import onnxruntime as ort
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return sess.run(["logits"], feeds)[0]


@pytest.mark.parametrize("model_kind", ["scbert", "scgpt"])
def test_the_onnx_export_equals_torch_in_onnx_runtime(tmp_path, model_kind):
    """The exporter the project validated (TorchScript; `dynamo=False` where torch >= 2.5 defaults to the new one):
    ONNX Runtime's logits equal the torch model's within 1e-5 on a batch size and (scGPT) length other than the
    export example's. On torch 1.13 (no onnxruntime in Debian's Python) test/unit/annotate does the same with
    onnxruntime-node."""
    if not TORCH2:
        pytest.skip("no onnxruntime in Debian's Python: test/unit/annotate compares onnxruntime-node with torch 1.13")
    assert onnx_export._exporter_choice() == ({"dynamo": False} if "dynamo" in __import__("inspect").signature(
        torch.onnx.export).parameters else {})
    run = make_run(str(tmp_path), model=model_kind, n_cells=24, epochs=1)
    assert run_cli(["finetune", "--run-dir", run]) == 0
    side = read_json(os.path.join(run, "model.onnx.json"))
    from scwb_worker.finetune_model import build
    from scwb_worker import protocols
    rec = read_json(os.path.join(run, "run.json"))
    p = protocols.resolve(rec["parameters"]["finetune"], 1.0)
    model = build(p, "cpu")[0]
    kept = os.path.join(run, "checkpoints", "best.pt")  # the kept model is the one exported
    assert os.path.exists(kept)
    model.load_state_dict(checkpoints.load_torch_file(kept)["model_state_dict"])
    model.eval()
    rng = np.random.RandomState(4)
    if model_kind == "scbert":
        tok = rng.randint(0, 6, size=(5, side["scbert"]["seqLen"])).astype(np.int64)
        with torch.no_grad():
            ref = model(torch.from_numpy(tok)).numpy()
        got = _ort_outputs(os.path.join(run, "model.onnx"), {"tokens": tok})
    else:
        ids = rng.randint(0, 12, size=(5, 7)).astype(np.int64)
        ids[:, 0] = side["scgpt"]["clsId"]
        vals = (rng.rand(5, 7) * 5).astype(np.float32)
        pad = np.zeros((5, 7), dtype=bool)
        pad[1, 5:] = True
        ids[pad] = side["scgpt"]["padId"]
        with torch.no_grad():
            ref = model(torch.from_numpy(ids), torch.from_numpy(vals), torch.from_numpy(pad)).numpy()
        got = _ort_outputs(os.path.join(run, "model.onnx"), {"gene_ids": ids, "values": vals, "padding_mask": pad})
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() <= 1e-5, np.abs(got - ref).max()


# ---------------------------------------------------------------------------------------------------------------
# resume across torch versions

def _other_python():
    """Debian's python (torch 1.13), seen from the torch-2 layer's venv. The cross-version tests run in that layer
    only (both directions there); in the torch-1.13 layer they would repeat the same pairs."""
    assert os.path.exists("/usr/bin/python3"), "Debian's /usr/bin/python3 (torch 1.13) is needed"
    return "/usr/bin/python3"


def _torch_version(python):
    out = subprocess.run([python, "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _cut(python, run):
    """Runs the worker with `python` and SIGTERMs it in epoch 2: a cancelled run with a mid-epoch last.pt."""
    env = dict(os.environ, PYTHONPATH=WORKER_ROOT)
    proc = subprocess.Popen([python, "-m", "scwb_worker", "finetune", "--run-dir", run], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    events_file = os.path.join(run, "events.jsonl")
    while proc.poll() is None:
        if os.path.exists(events_file) and '"epoch": 2' in open(events_file).read():
            proc.send_signal(signal.SIGTERM)
            break
        time.sleep(0.005)
    _, err = proc.communicate()
    assert proc.returncode == 130, err.decode()


def _resume(python, run):
    env = dict(os.environ, PYTHONPATH=WORKER_ROOT)
    res = subprocess.run([python, "-m", "scwb_worker", "finetune", "--run-dir", run, "--resume"], env=env,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


@pytest.mark.skipif(not TORCH2, reason="runs in the torch-2 layer, in both directions (scripts/test.sh)")
@pytest.mark.parametrize("direction", ["this-then-other", "other-then-this"])
def test_a_run_cut_on_one_torch_resumes_on_the_other(tmp_path, direction):
    """A run folder started on torch 1.13 resumes on torch 2.x and the reverse: last.pt (model, Adam and scheduler
    states, RNG states) is read by the other version's worker and the run ends as an uninterrupted run on one
    version does (same predictions, weights equal to float precision)."""
    this, other = sys.executable, _other_python()
    assert _torch_version(this) != _torch_version(other)
    first, second = (this, other) if direction == "this-then-other" else (other, this)
    kw = dict(model="scbert", n_cells=80, batch=3, epochs=2, extra={"logEvery": 1})
    whole = make_run(str(tmp_path / "whole"), **kw)
    assert run_cli(["finetune", "--run-dir", whole]) == 0
    cut = make_run(str(tmp_path / "cut"), **kw)
    _cut(first, cut)
    state = checkpoints.load_torch_file(os.path.join(cut, "checkpoints", "last.pt"))
    assert state["epoch"] == 2 and 0 < state["batch"] < 20
    _resume(second, cut)
    rec = read_json(os.path.join(cut, "run.json"))
    assert rec["status"] == "completed"
    resumes = [e for e in read_events(cut) if e["type"] == "resume"]
    assert [e["step"] for e in resumes] == [int(state["step"])]
    a = checkpoints.load_torch_file(os.path.join(whole, "checkpoints", "best.pt"))["model_state_dict"]
    b = checkpoints.load_torch_file(os.path.join(cut, "checkpoints", "best.pt"))["model_state_dict"]
    assert set(a) == set(b)
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-4), k
    with open(os.path.join(whole, "predictions.csv")) as f, open(os.path.join(cut, "predictions.csv")) as g:
        assert f.read() == g.read()


@pytest.mark.skipif(not TORCH2, reason="torchrun crashes on Debian's torch 1.13 with Python 3.11 (platform notes); "
                                        "the worker's own launcher is tested on both versions in test_ddp.py")
def test_torchrun_with_two_cpu_processes_gives_the_one_process_gradient(tmp_path):
    """torch 2's torchrun (env:// rendezvous, gloo) over the worker's rank code: the gradient of 2 processes on
    shards of 5 and 6 cells equals one process on the 11 cells."""
    import ddp_grad_rank
    run = make_run(str(tmp_path), model="scgpt", n_cells=48)
    one, two = str(tmp_path / "one.pt"), str(tmp_path / "two.pt")
    assert "WORLD_SIZE" not in os.environ
    ddp_grad_rank.main(run, one, 11)
    env = dict(os.environ, PYTHONPATH=WORKER_ROOT, GLOO_SOCKET_IFNAME="lo")
    env.pop("SCWB_DDP_STORE", None)
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ddp_grad_rank.py")
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          script, run, two, "11"], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    g1, g2 = checkpoints.load_torch_file(one), checkpoints.load_torch_file(two)
    assert set(g1) == set(g2) and len(g1) > 5
    for name, g in g1.items():
        assert torch.allclose(g, g2[name], rtol=1e-4, atol=1e-6), name
