"""Command line of the worker: finetune, env, estimate, export-onnx, demo-checkpoints (docs/worker.md)."""
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
    env = sub.add_parser("env", help="Python, torch, CUDA devices and free memory")
    env.add_argument("--json", action="store_true")
    est = sub.add_parser("estimate", help="estimated peak GPU memory of a run (JSON)")
    est.add_argument("--run-dir", required=True)
    est.add_argument("--probe", action="store_true", help="try batches on the device; report the largest that fits")
    est.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None)
    ex = sub.add_parser("export-onnx", help="export a run's kept classifier to model.onnx + model.onnx.json")
    ex.add_argument("--run-dir", required=True)
    sub.add_parser("demo-checkpoints", help="write the tiny demo checkpoints", add_help=False)
    return ap


def main(argv):
    if argv and argv[0] == "demo-checkpoints":
        from .demo import main_demo
        return main_demo(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "finetune":
        return _finetune(args)
    if args.command == "env":
        from .envcheck import main_env
        return main_env(args.json)
    if args.command == "export-onnx":
        from .onnx_export import main_export
        return main_export(args.run_dir)
    if args.command == "estimate":
        from .estimate import main_estimate
        return main_estimate(args.run_dir, args.probe, args.device)
    _parser().print_help(sys.stderr)
    return EXIT_BAD_ARGS


def _finetune_params(run_dir):
    try:
        with open(os.path.join(run_dir, "run.json"), "rb") as f:
            rec = json.loads(f.read().decode("utf-8"))
        p = rec.get("parameters", {}).get("finetune", {})
        return p if isinstance(p, dict) else {}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}  # the run itself reports the unreadable run.json


def _nproc_of(run_dir):
    try:
        return max(1, int(_finetune_params(run_dir).get("nproc") or 1))
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
        nproc = args.nproc if args.nproc is not None else _nproc_of(d)
        if nproc > 1 and not in_rank:
            from .launcher import launch  # the launcher itself never imports torch
            child = ["finetune", "--run-dir", d, "--nproc", str(nproc)]
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


def _one(run_dir, args):
    import torch

    from . import distributed, train

    stop = train.Stop()
    stop.install()
    try:
        device = args.device or _finetune_params(run_dir).get("device") or "auto"
        device_type = "cuda" if (device == "cuda" or (device == "auto" and torch.cuda.is_available())) else "cpu"
        ctx = distributed.from_env(device_type)
        try:
            return train.finetune(run_dir, resume=args.resume, device_arg=args.device, stop=stop, ctx=ctx)
        finally:
            ctx.close()
    finally:
        stop.restore()
