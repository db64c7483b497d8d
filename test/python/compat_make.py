"""Model files and datasets for the "Check dataset against model" tests, written by Debian's torch and anndata.

usage: compat_make.py OUT SIM.h5ad

SIM.h5ad is a simulated raw-count dataset (symbols as var_names, Ensembl-style ids in var 'gene_ids', labels in
obs 'cell_type'). Writes under OUT:
- ckpt/scbert_tiny/, ckpt/scGPT_tiny/: the worker's demo checkpoints over SIM's genes;
- ensembl.h5ad: SIM with Ensembl ids as var_names and the symbols in var 'gene_symbols' (anndata);
- run/checkpoints/best.pt + run/run.json: a fine-tune run's scBERT classifier checkpoint whose classes are SIM's
  cell types but the last, plus "Unicorn cell";
- model.onnx + model.onnx.json: an exported classifier (torch.onnx.export of a tiny model) with the same classes
  and genes;
- encoder.pt: a benchmark encoder ("format": "scwb-encoder") over the first half of SIM's genes, valueMode log1p;
- hostile.pth: a checkpoint whose pickle would run os.system (creating OUT/PWNED) if it were executed.
Prints JSON: {"cellTypes": [...], "classes": [...], "genes": n, "typeCounts": {type: cells}}.
"""
import json
import os
import subprocess
import sys

import anndata
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "..", "..", "resources", "worker")
sys.path.insert(0, WORKER)

from scwb_worker.demo import tiny_scbert_config  # noqa: E402
from scwb_worker.models.common import build_model  # noqa: E402

out, sim = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
subprocess.run([sys.executable, "-m", "scwb_worker", "demo-checkpoints", os.path.join(out, "ckpt"), "--genes-from", sim],
               check=True, env=dict(os.environ, PYTHONPATH=WORKER), stdout=subprocess.DEVNULL)

a = anndata.read_h5ad(sim)
genes = [str(g) for g in a.var_names]
types = [str(t) for t in a.obs["cell_type"].cat.categories]

e = a.copy()
e.var["gene_symbols"] = list(a.var_names)
e.var_names = list(a.var["gene_ids"])
del e.var["gene_ids"]
e.write_h5ad(os.path.join(out, "ensembl.h5ad"))

classes = types[:-1] + ["Unicorn cell"]
torch.manual_seed(0)
model = build_model("scbert", tiny_scbert_config(len(genes)), len(classes))
run = os.path.join(out, "run")
os.makedirs(os.path.join(run, "checkpoints"), exist_ok=True)
torch.save({"model_state_dict": model.state_dict(), "epoch": 2, "model": "scbert", "classes": classes,
            "config": {"dim": 16, "depth": 2, "n_genes": len(genes)}, "best": {"value": 0.5, "epoch": 1}},
           os.path.join(run, "checkpoints", "best.pt"))
with open(os.path.join(run, "run.json"), "w") as fh:
    json.dump({"schemaVersion": 1, "id": "compat-run", "kind": "finetune", "labelColumn": "cell_type",
               "dataset": {"path": os.path.abspath(sim)},
               "parameters": {"finetune": {"model": "scbert", "checkpoint": None, "classes": classes, "valueLayer": None}}}, fh)

head = torch.nn.Linear(len(genes) + 1, len(classes))
torch.onnx.export(head, torch.zeros(2, len(genes) + 1), os.path.join(out, "model.onnx"), input_names=["tokens"],
                  output_names=["logits"], dynamic_axes={"tokens": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17)
with open(os.path.join(out, "model.onnx.json"), "w") as fh:
    json.dump({"schemaVersion": 1, "model": "scbert", "classes": classes, "labelColumn": "cell_type", "runId": "compat-run",
               "dataset": os.path.abspath(sim), "valueLayer": None, "genes": genes, "inputs": ["tokens"], "outputs": ["logits"],
               "opset": 17, "scbert": {"maxToken": 5, "appendZero": True, "nGenes": len(genes), "seqLen": len(genes) + 1}}, fh)

half = genes[: len(genes) // 2]
torch.save({"format": "scwb-encoder", "version": 1, "model": "benchmark", "structure": "transformer",
            "config": {"dim": 8, "depth": 1}, "pooling": "cls", "valueMode": "log1p", "nBins": 51, "maxSeqLen": 512,
            "genes": half, "vocab": None,
            "model_state_dict": {"gene_emb.weight": torch.zeros(len(half) + 3, 8), "value_mlp.0.weight": torch.zeros(8, 1)}},
           os.path.join(out, "encoder.pt"))



class Hostile:
    def __reduce__(self):
        return (os.system, ("touch " + os.path.join(out, "PWNED"),))


torch.save({"model_state_dict": model.state_dict(), "model": "scbert", "classes": classes, "extra": Hostile()},
           os.path.join(out, "hostile.pth"))

counts = {t: int((a.obs["cell_type"] == t).sum()) for t in types}
print(json.dumps({"cellTypes": types, "classes": classes, "genes": len(genes), "typeCounts": counts}))
