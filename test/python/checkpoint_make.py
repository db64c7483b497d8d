"""Writes model files with Debian's torch for the checkpoint reader's tests and prints what torch reports.

usage: checkpoint_make.py OUT_DIR MANIFEST_DIR   (prints JSON {file: [[name, shape, dtype], ...], ...})
  tiny.pth             {"model_state_dict": a small MLP's state dict, "epoch": 3, "best_acc": numpy float64, "note": str}
  params.pt            an OrderedDict of nn.Parameters and tensors of several dtypes, a transposed view, a scalar
  module_prefix.pth    the MLP's state dict with every key prefixed 'module.' (as DataParallel saves it)
  scbert_pretrain.pth, scbert_finetuned.pth, scgpt_flash.pt, scgpt_torch.pt
                       the published key layouts from the manifests, each tensor an expanded zero (names, shapes
                       and dtypes as published; no weights)
  scbert_misshaped.pth the scBERT layout with one key removed, one added and one with a wrong shape
  hostile.pth          a torch.save zip whose pickle calls os.system (it would create OUT_DIR/PWNED)
  truncated.pth        the first half of tiny.pth
  tiny.safetensors     a hand-written safetensors file (header JSON + little-endian data)
  tiny.onnx            torch.onnx.export of a small MLP, opset 17, dynamic batch
  proto4.pth           the MLP's state dict saved with pickle_protocol=4
  worker_scbert_cls.pth, worker_scgpt_cls.pt
                       the bundled worker's tiny scBERT and scGPT classifiers (5 classes), as fine-tuning saves them
  scgpt_folder/        best_model.pt (the worker's tiny scGPT, flash names), vocab.json, args.json
"""
import collections
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

out, manifests = sys.argv[1], sys.argv[2]
report = {}
DT = {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64}


def listing(sd):
    return [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in sd.items()]


def save(name, obj, sd):
    torch.save(obj, os.path.join(out, name))
    back = torch.load(os.path.join(out, name))
    if isinstance(back, dict) and "model_state_dict" in back:
        back = back["model_state_dict"]
    report[name] = listing(back)
    assert listing(back) == listing(sd)


torch.manual_seed(0)
mlp = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.BatchNorm1d(4), nn.Linear(4, 3))
sd = mlp.state_dict()
save("tiny.pth", {"model_state_dict": sd, "epoch": 3, "best_acc": np.float64(0.875), "note": "tiny"}, sd)
params = collections.OrderedDict()
params["w"] = nn.Parameter(torch.randn(2, 3))
params["frozen"] = nn.Parameter(torch.randn(4), requires_grad=False)
params["half"] = torch.randn(3, 2).half()
params["bf16"] = torch.randn(2).bfloat16()
params["ids"] = torch.arange(6, dtype=torch.int64)
params["mask"] = torch.tensor([True, False])
params["f64"] = torch.randn(2, 2, dtype=torch.float64)
params["transposed"] = torch.randn(3, 5).t()
params["scalar"] = torch.tensor(7)
params["i8"] = torch.tensor([1, -2], dtype=torch.int8)
save("params.pt", params, params)
save("module_prefix.pth", collections.OrderedDict(("module." + k, v) for k, v in sd.items()),
     collections.OrderedDict(("module." + k, v) for k, v in sd.items()))


def from_manifest(*files):
    sd = collections.OrderedDict()
    for f in files:
        with open(os.path.join(manifests, f)) as fh:
            for k, v in json.load(fh).items():
                sd[k] = torch.zeros((), dtype=DT[v["dtype"]]).expand(v["shape"]) if v["shape"] else torch.zeros((), dtype=DT[v["dtype"]])
    return sd


pre = from_manifest("scbert_pretrain_state_dict.json")
save("scbert_pretrain.pth", {"model_state_dict": pre, "epoch": 10}, pre)
ft = collections.OrderedDict((k, v) for k, v in pre.items() if k not in ("to_out.weight", "to_out.bias"))
ft.update(from_manifest("scbert_finetune_head.json"))
save("scbert_finetuned.pth", {"model_state_dict": ft}, ft)
flash = from_manifest("scgpt_human_flash_state_dict.json")
save("scgpt_flash.pt", flash, flash)
tnames = from_manifest("scgpt_human_torch_state_dict.json")
save("scgpt_torch.pt", tnames, tnames)
bad = collections.OrderedDict(pre)
del bad["norm.bias"]
bad["extra.weight"] = torch.zeros(3)
bad["performer.net.layers.1.0.fn.to_q.weight"] = torch.zeros(640, 201).expand(640, 201)
save("scbert_misshaped.pth", {"model_state_dict": bad}, bad)


class Hostile:
    def __reduce__(self):
        return (os.system, ("touch " + os.path.join(out, "PWNED"),))


torch.save({"model_state_dict": sd, "x": Hostile()}, os.path.join(out, "hostile.pth"))
with open(os.path.join(out, "tiny.pth"), "rb") as fh:
    data = fh.read()
with open(os.path.join(out, "truncated.pth"), "wb") as fh:
    fh.write(data[: len(data) // 2])

# safetensors: 8-byte little-endian header length, JSON header, then the data
tensors = [("a.weight", "F32", [2, 3], np.arange(6, dtype="<f4")), ("b.ids", "I64", [4], np.arange(4, dtype="<i8")),
           ("c.half", "F16", [1, 2], np.ones(2, dtype="<f2"))]
header, blob = {"__metadata__": {"format": "pt"}}, b""
for name, dt, shape, arr in tensors:
    header[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(blob), len(blob) + arr.nbytes]}
    blob += arr.tobytes()
hj = json.dumps(header).encode()
with open(os.path.join(out, "tiny.safetensors"), "wb") as fh:
    fh.write(struct.pack("<Q", len(hj)) + hj + blob)
report["tiny.safetensors"] = [[n, s, {"F32": "float32", "I64": "int64", "F16": "float16"}[d]] for n, d, s, _ in tensors]

mlp.eval()
torch.onnx.export(mlp, torch.randn(2, 5), os.path.join(out, "tiny.onnx"), input_names=["x"], output_names=["logits"],
                  dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17)
report["tiny.onnx"] = listing(sd)
torch.save(sd, os.path.join(out, "proto4.pth"), pickle_protocol=4)
report["proto4.pth"] = listing(torch.load(os.path.join(out, "proto4.pth")))

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "resources", "worker"))
from scwb_worker.demo import tiny_scbert_config, tiny_scgpt_config, to_flash_names  # noqa: E402
from scwb_worker.models.scbert import ScBertClassifier  # noqa: E402
from scwb_worker.models.scgpt import ScGPTModel  # noqa: E402

bert = ScBertClassifier(tiny_scbert_config(30), 5)
save("worker_scbert_cls.pth", {"model_state_dict": bert.state_dict(), "epoch": 1}, bert.state_dict())
gpt = ScGPTModel(tiny_scgpt_config(30), n_classes=5)
save("worker_scgpt_cls.pt", gpt.state_dict(), gpt.state_dict())
folder = os.path.join(out, "scgpt_folder")
os.makedirs(folder)
pre = to_flash_names(ScGPTModel(tiny_scgpt_config(30), n_classes=0).state_dict())
save(os.path.join("scgpt_folder", "best_model.pt"), pre, pre)
vocab = {"G%d" % i: i for i in range(30)}
for tok in ("<pad>", "<cls>", "<eoc>"):
    vocab[tok] = len(vocab)
with open(os.path.join(folder, "vocab.json"), "w") as fh:
    json.dump(vocab, fh)
with open(os.path.join(folder, "args.json"), "w") as fh:
    json.dump({"embsize": 32, "nlayers": 2, "pad_token": "<pad>"}, fh)
print(json.dumps(report))
