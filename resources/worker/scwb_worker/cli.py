"""Command line of the worker: finetune, pretrain, probe, env, estimate, export-onnx, demo-checkpoints, encoder-manifest
(docs/worker.md, docs/worker-benchmark.md)."""
import argparse
import json
import os
import sys

EXIT_BAD_ARGS = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        sys.stderr.write("%s: error: %s\n" % (self.prog, message))
        sys.exit(EXIT_BAD_ARGS)


def _parser():
    ap = _Parser(prog="python -m scwb_worker", description="scWorkbench training worker")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    ft = sub.add_parser("finetune", help="fine-tune one or more run folders, one after another")
    ft.add_argument("--run-dir", action="append", required=True, help="run folder (repeatable)")
    ft.add_argument("--resume", action="store_true", help="continue a cancelled/failed/interrupted run from last.pt")
    ft.add_argument("--nproc", type=int, default=None,
                    help="data-parallel processes (default parameters.finetune.nproc or 1)")
    ft.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None)
    pt = sub.add_parser("pretrain", help="pre-train an encoder (or continue scBERT/scGPT pre-training), one run "
                        "folder after another (docs/worker-benchmark.md)")
    pt.add_argument("--run-dir", action="append", required=True, help="run folder (repeatable)")
    pt.add_argument("--resume", action="store_true", help="continue a cancelled/failed/interrupted run from last.pt")
    pt.add_argument("--nproc", type=int, default=None,
                    help="data-parallel processes (default parameters.pretrain.nproc or 1)")
    pt.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None)
    pr = sub.add_parser("probe", help="linear probe or kNN on frozen encoder embeddings (docs/worker-benchmark.md)")
    pr.add_argument("--run-dir", action="append", required=True, help="run folder (repeatable)")
    pr.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None)
    env = sub.add_parser("env", help="Python, torch, CUDA devices and free memory")
    env.add_argument("--json", action="store_true")
    est = sub.add_parser("estimate", help="estimated peak GPU memory of a run (JSON)")
    est.add_argument("--run-dir", required=True)
    est.add_argument("--probe", action="store_true", help="try batches on the device; report the largest that fits")
    est.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None)
    ex = sub.add_parser("export-onnx", help="export a run's kept classifier to model.onnx + model.onnx.json")
    ex.add_argument("--run-dir", required=True)
    sub.add_parser("demo-checkpoints", help="write the tiny demo checkpoints", add_help=False)
    man = sub.add_parser("encoder-manifest", help="the state-dict manifest (JSON) of a freshly built published "
                         "benchmark encoder at the paper's config (docs/worker-benchmark.md)")
    man.add_argument("--structure", required=True, choices=("transformer", "cnn_base", "cnn_ours", "linear_ours",
                                                            "linear_base"))
    return ap


RUN_COMMANDS = ("finetune", "pretrain", "probe")  # these install their own stop handler (runtime.Stop, launcher)


def main(argv):
    if not argv or argv[0] not in RUN_COMMANDS:
        from . import supervision
        if supervision.release() is not None:  # stopped while Python started: not a run, nothing to cancel
            return EXIT_CANCELLED
    if argv and argv[0] == "demo-checkpoints":
        from .demo import main_demo
        return main_demo(argv[1:])
    args = _parser().parse_args(argv)
    if args.command in ("finetune", "pretrain"):
        return _finetune(args)
    if args.command == "probe":
        return _probe(args)
    if args.command == "env":
        from .envcheck import main_env
        return main_env(args.json)
    if args.command == "export-onnx":
        from .onnx_export import main_export
        return main_export(args.run_dir)
    if args.command == "encoder-manifest":
        return _encoder_manifest(args.structure)
    if args.command == "estimate":
        from .estimate import main_estimate
        return main_estimate(args.run_dir, args.probe, args.device)
    _parser().print_help(sys.stderr)
    return EXIT_BAD_ARGS


def _encoder_manifest(structure):
    """Prints name -> {shape, dtype, kind} of the encoder the README's command builds (60,697-token vocabulary,
    <pad> 60694, <cls> 60695, 6 layers, 256 wide, 8 heads, max sequence 512 or 511 genes after <cls>)."""
    from .models.published import PublishedConfig, PublishedEncoder, default_max_seq_len, manifest
    model = PublishedEncoder(PublishedConfig(structure=structure, max_seq_len=default_max_seq_len(structure)))
    sys.stdout.write(json.dumps(manifest(model), indent=1) + "\n")
    return EXIT_OK


def _finetune_params(run_dir, kind="finetune"):
    try:
        with open(os.path.join(run_dir, "run.json"), "rb") as f:
            rec = json.loads(f.read().decode("utf-8"))
        p = rec.get("parameters", {}).get(kind, {})
        return p if isinstance(p, dict) else {}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}  # the run itself reports the unreadable run.json


def _nproc_of(run_dir, kind="finetune"):
    try:
        return max(1, int(_finetune_params(run_dir, kind).get("nproc") or 1))
    except (TypeError, ValueError):
        return 1


EXIT_OK, EXIT_FAILED, EXIT_CANCELLED = 0, 1, 130


def _finetune(args):
    for d in args.run_dir:
        if not os.path.isdir(d):
            sys.stderr.write("scwb_worker: %s: no such run folder\n" % d)
            return EXIT_BAD_ARGS
    if args.nproc is not None and args.nproc < 1:
        sys.stderr.write("scwb_worker: --nproc must be at least 1\n")
        return EXIT_BAD_ARGS
    in_rank = int(os.environ.get("WORLD_SIZE", "1")) > 1
    worst = EXIT_OK
    for d in args.run_dir:
        nproc = args.nproc if args.nproc is not None else _nproc_of(d, args.command)
        if nproc > 1 and not in_rank:
            from .launcher import launch  # the launcher itself never imports torch
            child = [args.command, "--run-dir", d, "--nproc", str(nproc)]
            if args.resume:
                child.append("--resume")
            if args.device:
                child += ["--device", args.device]
            code = launch(child, nproc, os.path.abspath(d))
        else:
            code = _one(d, args)
        if code == EXIT_CANCELLED:
            return code
        if code != EXIT_OK:
            worst = EXIT_FAILED
    return worst


def _probe(args):
    """Probe run folders one after another in this process (embeddings of the same encoder and dataset are
    computed once)."""
    for d in args.run_dir:
        if not os.path.isdir(d):
            sys.stderr.write("scwb_worker: %s: no such run folder\n" % d)
            return EXIT_BAD_ARGS
    from . import probe
    from .runtime import Stop
    worst = EXIT_OK
    stop = Stop()
    stop.install()
    try:
        for d in args.run_dir:
            code = probe.probe(d, device_arg=args.device, stop=stop)
            if code == EXIT_CANCELLED:
                return code
            if code != EXIT_OK:
                worst = EXIT_FAILED
    finally:
        stop.restore()
    return worst


def _one(run_dir, args):
    import torch

    from . import distributed, train
    from .runtime import Stop

    stop = Stop()
    stop.install()
    try:
        kind = args.command
        device = args.device or _finetune_params(run_dir, kind).get("device") or "auto"
        device_type = "cuda" if (device == "cuda" or (device == "auto" and torch.cuda.is_available())) else "cpu"
        ctx = distributed.from_env(device_type)
        try:
            if kind == "pretrain":
                from . import pretrain
                return pretrain.pretrain(run_dir, resume=args.resume, device_arg=args.device, stop=stop, ctx=ctx)
            return train.finetune(run_dir, resume=args.resume, device_arg=args.device, stop=stop, ctx=ctx)
        finally:
            ctx.close()
    finally:
        stop.restore()
