"""`env` and `estimate`: the JSON they print, the analytic memory formula and the probe's search."""
import json

import pytest
import torch

from conftest import make_run
from scwb_worker import envcheck, estimate


def test_env_json_reports_versions_and_what_to_do(capsys):
    assert envcheck.main_env(True) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["torch"] == torch.__version__ and rep["numpy"] and rep["h5py"] and rep["python"].count(".") == 2
    assert rep["ok"] is True and rep["problems"] == []
    assert isinstance(rep["cuda"]["available"], bool) and isinstance(rep["cuda"]["devices"], list)
    for d in rep["cuda"]["devices"]:
        assert set(d) == {"name", "totalMiB", "freeMiB"}
    if not rep["cuda"]["available"]:
        assert "CPU training only" in rep["message"]
    assert envcheck.main_env(False) == 0
    assert capsys.readouterr().out.strip() == rep["message"]


def test_env_names_a_missing_package(monkeypatch):
    real = envcheck._version
    monkeypatch.setattr(envcheck, "_version", lambda m: (None, "ImportError: no h5py") if m == "h5py" else real(m))
    rep = envcheck.collect()
    assert rep["ok"] is False and rep["h5py"] is None
    assert "h5py is not importable" in rep["message"] and "pip install h5py" in rep["message"]


def test_estimate_follows_the_documented_formula(tmp_path, capsys):
    run = make_run(str(tmp_path), model="scbert", batch=8)
    assert estimate.main_estimate(run, False, "cpu") == 0
    out = json.loads(capsys.readouterr().out)
    # tiny config: dim 8, depth 2, heads 2, dim_head 4, nb_features 6, ff_mult 4, 12 genes -> 13 tokens
    per_token = 4 * 8 + 5 * 8 + 2 * 2 * 6 + 2 * 4 * 8
    layers = 1 + 1  # only the last of 2 Performer layers trains (published freezing), plus one transient layer
    assert (out["seqLen"], out["batchPerProcess"], out["device"]) == (13, 8, "cpu")
    c = out["components"]
    assert c["activationsMiB"] == round(8 * 13 * per_token * layers * 4 / 2 ** 20, 1)
    assert c["weightsMiB"] == round(out["params"] * 4 / 2 ** 20, 1)
    assert c["adamMiB"] == round(out["trainable"] * 8 / 2 ** 20, 1) and c["overheadMiB"] == 0
    assert 0 < out["trainable"] < out["params"]
    assert out["probe"] is None and out["fits"] is None


def test_estimate_grows_with_batch_and_probe_needs_cuda(tmp_path, capsys):
    run = make_run(str(tmp_path), model="scgpt", batch=8, extra={"maxSeqLen": 64})
    assert estimate.main_estimate(run, True, "cpu") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["seqLen"] == 64 and out["trainable"] == out["params"]
    assert out["probe"]["largestBatch"] is None and "CUDA" in out["probe"]["message"]
    assert estimate.main_estimate(str(tmp_path / "nowhere"), False, "cpu") == 1
    assert "not a run folder" in json.loads(capsys.readouterr().out)["error"]


@pytest.mark.parametrize("limit_true", [0, 1, 5, 64, 1000, 4096])
def test_search_largest_finds_the_boundary(limit_true):
    asked = []

    def fits(b):
        asked.append(b)
        return b <= limit_true

    assert estimate.search_largest(fits, 4096) == limit_true
    assert len(asked) <= 2 * 13 + 2  # doubling then bisecting, not a scan
