"""ONNX export of a run's kept fine-tuned classifier: `model.onnx` (opset 17, dynamic batch) and `model.onnx.json`
(what the annotator needs to tokenise a dataset exactly as the worker does). docs/worker.md "ONNX export"."""
import json
import os
import warnings

import numpy as np
import torch

from . import protocols, tokens
from .atomic import write_atomic_bytes

ONNX_FILE = "model.onnx"
SIDECAR_FILE = "model.onnx.json"
OPSET = 17


class ExportError(Exception):
    pass


def _exporter_choice():
    """torch >= 2.5 has a `dynamo` switch (dynamo=True, the default from 2.9, needs onnxscript): keep the TorchScript
    exporter, which torch 1.13 uses too, so both give the same graph for the same opset and dynamic axes."""
    import inspect
    try:
        return {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    except (TypeError, ValueError):
        return {}


def _wrap_scgpt(model):
    class _ScGPTForExport(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, gene_ids, values, padding_mask):
            return self.inner(gene_ids, values, padding_mask)

    return _ScGPTForExport(model)


def export_model(model, kind, run_dir, sidecar):
    """Writes run_dir/model.onnx and run_dir/model.onnx.json (atomically; the sidecar after the model)."""
    model = model.cpu().float().eval()
    if kind == "scbert":
        seq = int(model.cfg.seq_len)
        example = (torch.zeros(2, seq, dtype=torch.long),)
        names = ["tokens"]
        axes = {"tokens": {0: "batch"}, "logits": {0: "batch"}}
        net = model
    else:
        ids = torch.full((2, 4), int(sidecar["scgpt"]["clsId"]), dtype=torch.long)
        vals = torch.zeros(2, 4, dtype=torch.float32)
        mask = torch.zeros(2, 4, dtype=torch.bool)
        example = (ids, vals, mask)
        names = ["gene_ids", "values", "padding_mask"]
        axes = {n: {0: "batch", 1: "length"} for n in names}
        axes["logits"] = {0: "batch"}
        net = _wrap_scgpt(model)
    tmp = os.path.join(run_dir, ".%s.%d.tmp" % (ONNX_FILE, os.getpid()))
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about shape checks that are constant per model
            torch.onnx.export(net, example, tmp, input_names=names, output_names=["logits"], dynamic_axes=axes,
                              opset_version=OPSET, do_constant_folding=True, **_exporter_choice())
        os.replace(tmp, os.path.join(run_dir, ONNX_FILE))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    sidecar = dict(sidecar, opset=OPSET, inputs=names, outputs=["logits"])
    write_atomic_bytes(os.path.join(run_dir, SIDECAR_FILE),
                       (json.dumps(sidecar, indent=2) + "\n").encode("utf-8"))
    return os.path.join(run_dir, ONNX_FILE)


def sidecar_for(p, rec, encoder, genes, cfg):
    """The tokenisation facts of a run: classes, model kind, the dataset's genes and (scGPT) their token ids."""
    out = {"schemaVersion": 1, "model": p["model"], "classes": list(p["classes"]), "labelColumn": rec.get("labelColumn"),
           "runId": rec.get("id"), "dataset": (rec.get("dataset") or {}).get("path"),
           "valueLayer": p.get("valueLayer"), "genes": list(genes)}
    if p["model"] == "scbert":
        out["scbert"] = {"maxToken": tokens.SCBERT_MAX_TOKEN, "appendZero": True, "nGenes": int(cfg.n_genes),
                         "seqLen": int(cfg.seq_len)}
    else:
        tok = encoder.tok
        out["scgpt"] = {"geneIds": [int(i) for i in tok.gene_ids.tolist()], "clsId": tok.cls_id, "padId": tok.pad_id,
                        "padValue": tok.pad_value, "maxSeqLen": tok.max_len, "seed": int(tok.seed),
                        "binHere": bool(tok.bin_here), "nBins": int(tok.n_bins), "layer": encoder.layer}
    return out


def export_run(run_dir):
    """`export-onnx --run-dir DIR`: the kept model of a completed run (best.pt when the protocol keeps the best
    epoch and it exists, else last.pt)."""
    from .finetune_inputs import _encoder
    from .finetune_model import model_config
    from .runtime import load_own
    from .data import H5ad

    with open(os.path.join(run_dir, "run.json"), "rb") as f:
        rec = json.loads(f.read().decode("utf-8"))
    params = (rec.get("parameters") or {}).get("finetune")
    if not isinstance(params, dict):
        raise ExportError("%s: parameters.finetune is missing" % os.path.join(run_dir, "run.json"))
    p = protocols.resolve(params, float(rec.get("fraction", 1.0)))
    best = os.path.join(run_dir, "checkpoints", "best.pt")
    last = os.path.join(run_dir, "checkpoints", "last.pt")
    path = best if p["keep"] != "last" and os.path.exists(best) else last
    if not os.path.exists(path):
        raise ExportError("%s: no checkpoints/best.pt or last.pt: the run has not trained a model" % run_dir)
    state = load_own(path)
    cfg, hint, sd = model_config(p)
    del sd
    from . import models
    model = models.build_model(p["model"], cfg, len(p["classes"]))
    model.load_state_dict(state["model_state_dict"])
    with H5ad(rec["dataset"]["path"]) as ds:
        genes = ds.var_names()
        enc = _encoder(ds, genes, p, int(rec.get("seed", 0)), hint)
    return export_model(model, p["model"], run_dir, sidecar_for(p, rec, enc, genes, cfg))


def main_export(run_dir):
    import sys
    try:
        out = export_run(run_dir)
    except Exception as e:  # noqa: BLE001 - every failure is reported with the run folder
        sys.stderr.write("scwb_worker export-onnx: %s: %s\n" % (run_dir, e))
        return 1
    sys.stdout.write(out + "\n")
    return 0


def scbert_reference_tokens(block):
    """The worker's scBERT tokens of a float block, as int64 [k, n + 1] (used by tests and the bench)."""
    t = tokens.scbert_tokens(np.asarray(block, dtype=np.float32), "<block>")
    return tokens.scbert_batch(t).numpy()
