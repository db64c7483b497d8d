"""Inference of the exported classifiers (model.onnx, as the worker writes it) in ONNX Runtime vs torch.

    python bench/gpu/onnx_inference.py            # CUDA: full-size scBERT and scGPT, ONNX Runtime's CUDA provider
    python bench/gpu/onnx_inference.py --smoke    # tiny models on CPU (CPU provider): checks the script works

Each model is exported with the worker's exporter (scwb_worker.onnx_export.export_model: TorchScript exporter,
opset 17, dynamic batch), then the same batches run through torch (fp32, eval, no_grad) and ONNX Runtime; the table
gives cells/s of both and the largest difference of the logits. Without onnxruntime's CUDA provider the CUDA row
says so (never a silent CPU fallback)."""
import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "resources", "worker"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from scwb_worker import onnx_export  # noqa: E402
from scwb_worker.models import ScBertClassifier, ScBertConfig, ScGPTConfig, ScGPTModel  # noqa: E402


def batches_for(kind, cfg, n_batches, batch, max_len, rng):
    out = []
    for _ in range(n_batches):
        if kind == "scbert":
            tok = rng.randint(0, 6, size=(batch, cfg.seq_len)).astype(np.int64)
            tok[rng.rand(*tok.shape) < 0.85] = 0
            tok[:, -1] = 0
            out.append({"tokens": tok})
        else:
            lens = np.clip(np.exp(rng.normal(np.log(max_len * 0.6), 0.4, size=batch)).astype(int), 2, max_len)
            width = int(lens.max())
            ids = rng.randint(0, cfg.ntoken - 3, size=(batch, width)).astype(np.int64)
            ids[:, 0] = cfg.ntoken - 2
            vals = rng.randint(1, 51, size=(batch, width)).astype(np.float32)
            vals[:, 0] = 0
            pad = np.arange(width)[None, :] >= lens[:, None]
            ids[pad] = cfg.pad_token_id
            vals[pad] = cfg.pad_value
            out.append({"gene_ids": ids, "values": vals, "padding_mask": pad})
    return out


def run_torch(model, kind, feeds, device):
    outs = []
    with torch.no_grad():
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for f in feeds:
            args = [torch.from_numpy(f[k]).to(device) for k in (["tokens"] if kind == "scbert"
                                                                 else ["gene_ids", "values", "padding_mask"])]
            outs.append(model(*args).float().cpu().numpy())
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0, outs


def run_ort(path, feeds, provider):
    import onnxruntime as ort
    sess = ort.InferenceSession(path, providers=[provider])
    sess.run(["logits"], feeds[0])  # warm-up (CUDA kernels, graph)
    t0 = time.perf_counter()
    outs = [sess.run(["logits"], f)[0] for f in feeds]
    return time.perf_counter() - t0, outs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--batch", type=int, default=None, help="cells per batch (default 32; smoke 4)")
    ap.add_argument("--batches", type=int, default=None, help="timed batches (default 8; smoke 2)")
    args = ap.parse_args()
    batch = args.batch or (4 if args.smoke else 32)
    n_batches = args.batches or (2 if args.smoke else 8)
    device = torch.device("cpu" if args.smoke else "cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("CUDA is not available (use --smoke to check the script on CPU)")
    try:
        import onnxruntime as ort
    except ImportError:
        raise SystemExit("onnxruntime is not installed in %s" % sys.executable)
    have = ort.get_available_providers()
    provider = "CPUExecutionProvider" if args.smoke else "CUDAExecutionProvider"
    print("onnxruntime %s, providers: %s" % (ort.__version__, ", ".join(have)))
    print("| model | cells per batch | torch fp32 cells/s | ONNX Runtime (%s) cells/s | ORT/torch | max abs diff |"
          % provider.replace("ExecutionProvider", ""))
    print("| --- | --- | --- | --- | --- | --- |")
    rng = np.random.RandomState(0)
    torch.manual_seed(0)
    models = {
        "scbert": ScBertClassifier(ScBertConfig(dim=16, depth=2, heads=2, dim_head=8, n_genes=200)
                                   if args.smoke else ScBertConfig(), 11),
        "scgpt": ScGPTModel(ScGPTConfig(ntoken=503, d_model=32, nhead=2, d_hid=32, nlayers=2, pad_token_id=500)
                            if args.smoke else ScGPTConfig(), 11),
    }
    for kind, model in models.items():
        cfg = model.cfg
        max_len = 151 if args.smoke else 1201
        feeds = batches_for(kind, cfg, n_batches, batch, max_len, rng)
        with tempfile.TemporaryDirectory() as tmp:
            side = {"schemaVersion": 1} if kind == "scbert" else {"scgpt": {"clsId": cfg.ntoken - 2}}
            path = onnx_export.export_model(model, kind, tmp, side)
            model.eval()
            model.to(device)
            run_torch(model, kind, feeds[:1], device)  # warm-up
            t_torch, ref = run_torch(model, kind, feeds, device)
            label = "scBERT" if kind == "scbert" else "scGPT (max length %d, each batch padded to its longest cell)" % max_len
            if provider not in have:
                print("| %s | %d | %.1f | n/a: this onnxruntime has no %s | | |" % (
                    label, batch, batch * n_batches / t_torch, provider))
                continue
            t_ort, got = run_ort(path, feeds, provider)
        diff = max(float(np.abs(a - b).max()) for a, b in zip(got, ref))
        n = batch * n_batches
        print("| %s | %d | %.1f | %.1f | %.2fx | %.1e |" % (label, batch, n / t_torch, n / t_ort, t_torch / t_ort,
                                                            diff))
        model.cpu()


if __name__ == "__main__":
    main()
