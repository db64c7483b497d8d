"""ONNX export at the end of a run and `export-onnx --run-dir`: model.onnx + model.onnx.json; an export failure is
logged and the run still completes. (onnxruntime is not in Debian's Python: the TS test
test/unit/annotate compares onnxruntime-node's outputs with torch's.)"""
import json
import os

import pytest

from conftest import CLASSES, make_run, read_json, run_cli


def _sidecar(run):
    return read_json(os.path.join(run, "model.onnx.json"))


@pytest.mark.parametrize("model_kind", ["scbert", "scgpt"])
def test_a_completed_run_has_model_onnx_and_its_sidecar(tmp_path, model_kind):
    run = make_run(str(tmp_path), model=model_kind, n_cells=24, epochs=1)
    assert run_cli(["finetune", "--run-dir", run]) == 0
    assert read_json(os.path.join(run, "run.json"))["status"] == "completed"
    onnx = os.path.join(run, "model.onnx")
    with open(onnx, "rb") as f:
        head = f.read()
    assert len(head) > 1000 and b"logits" in head
    side = _sidecar(run)
    assert side["model"] == model_kind and side["classes"] == CLASSES and side["opset"] == 17
    assert side["genes"] == ["G%d" % i for i in range(12)] and side["outputs"] == ["logits"]
    if model_kind == "scbert":
        assert side["inputs"] == ["tokens"]
        assert side["scbert"] == {"maxToken": 5, "appendZero": True, "nGenes": 12, "seqLen": 13}
    else:
        assert side["inputs"] == ["gene_ids", "values", "padding_mask"]
        assert side["scgpt"]["geneIds"] == list(range(12)) and side["scgpt"]["padId"] == 12
        assert side["scgpt"]["binHere"] is True and side["scgpt"]["maxSeqLen"] == 3001
    with open(os.path.join(run, "run.log")) as f:
        assert "model.onnx written (opset 17" in f.read()
    assert not [n for n in os.listdir(run) if n.endswith(".tmp")]
    # export-onnx rewrites the same model from the kept checkpoint
    os.unlink(onnx)
    os.unlink(os.path.join(run, "model.onnx.json"))
    assert run_cli(["export-onnx", "--run-dir", run]) == 0
    assert os.path.getsize(onnx) > 1000 and _sidecar(run) == side


def test_an_export_failure_is_logged_and_the_run_still_completes(tmp_path, monkeypatch):
    from scwb_worker import onnx_export

    def broken(*_a, **_k):
        raise RuntimeError("exporter exploded")
    monkeypatch.setattr(onnx_export, "export_model", broken)
    run = make_run(str(tmp_path), model="scbert", n_cells=24, epochs=1)
    assert run_cli(["finetune", "--run-dir", run]) == 0
    assert read_json(os.path.join(run, "run.json"))["status"] == "completed"
    assert os.path.exists(os.path.join(run, "predictions.csv"))
    assert not os.path.exists(os.path.join(run, "model.onnx"))
    with open(os.path.join(run, "run.log")) as f:
        assert "ONNX export failed (the run is not affected): RuntimeError: exporter exploded" in f.read()


def test_export_onnx_of_a_run_without_checkpoints_fails_clearly(tmp_path, capsys):
    run = make_run(str(tmp_path), model="scbert", n_cells=24, epochs=1)
    assert run_cli(["export-onnx", "--run-dir", run]) == 1
    err = capsys.readouterr().err
    assert "no checkpoints/best.pt or last.pt" in err and run in err
