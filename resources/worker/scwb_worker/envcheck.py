"""`python -m scwb_worker env [--json]`: what the worker would run with, and what to do when something is missing.

JSON: {"python", "executable", "torch", "cuda": {"available", "version", "devices": [{"name", "totalMiB", "freeMiB"}]},
"numpy", "h5py", "ok", "problems": [...], "message"}. Versions are null when the package is missing. Exit status 0
when the worker can run (torch, numpy and h5py import), 1 otherwise; the JSON is printed either way."""
import json
import platform
import sys

MIN_TORCH = (1, 13)


def _version(mod):
    try:
        m = __import__(mod)
    except Exception as exc:  # a broken install may raise anything
        return None, "%s: %s" % (type(exc).__name__, exc)
    return getattr(m, "__version__", "unknown"), None


def collect():
    report = {"python": platform.python_version(), "executable": sys.executable, "torch": None,
              "cuda": {"available": False, "version": None, "devices": []}, "numpy": None, "h5py": None}
    problems = []
    for name in ("numpy", "h5py", "torch"):
        v, err = _version(name)
        report[name] = v
        if v is None:
            problems.append("%s is not importable in %s (%s): install it into this Python, e.g. "
                            "`%s -m pip install %s`%s" % (
                                name, sys.executable, err, sys.executable, name,
                                " (Debian: apt-get install python3-%s)" % name if name != "torch" else
                                " (CPU only on Debian: apt-get install python3-torch; for a GPU install the CUDA "
                                "build from pytorch.org)"))
    if report["torch"] is not None:
        import torch
        parts = tuple(int(x) for x in report["torch"].split("+")[0].split(".")[:2] if x.isdigit())
        if parts and parts < MIN_TORCH:
            problems.append("torch %s is older than %d.%d: upgrade torch" % ((report["torch"],) + MIN_TORCH))
        cuda = report["cuda"]
        cuda["version"] = torch.version.cuda
        try:
            cuda["available"] = bool(torch.cuda.is_available())
            if cuda["available"]:
                for i in range(torch.cuda.device_count()):
                    props = torch.cuda.get_device_properties(i)
                    try:
                        free, total = torch.cuda.mem_get_info(i)
                    except Exception:  # older drivers
                        free, total = None, props.total_memory
                    cuda["devices"].append({"name": props.name, "totalMiB": round(total / 2 ** 20),
                                            "freeMiB": None if free is None else round(free / 2 ** 20)})
        except Exception as exc:
            cuda["error"] = "%s: %s" % (type(exc).__name__, exc)
    report["ok"] = not problems
    report["problems"] = problems
    report["message"] = message(report)
    return report


def message(report):
    if report["problems"]:
        return "The training worker cannot run with %s:\n- %s" % (report["executable"], "\n- ".join(report["problems"]))
    cuda = report["cuda"]
    if cuda["available"] and cuda["devices"]:
        devs = ", ".join("%s (%s MiB free of %s)" % (d["name"], d["freeMiB"], d["totalMiB"]) for d in cuda["devices"])
        return "Ready: Python %s, torch %s, CUDA %s: %s." % (report["python"], report["torch"], cuda["version"], devs)
    hint = ("torch %s was built without CUDA: install a CUDA build of torch to train on a GPU" % report["torch"]
            if not cuda["version"] else "torch sees no CUDA device: check the driver (nvidia-smi) and "
                                        "CUDA_VISIBLE_DEVICES")
    return ("Ready for CPU training only (Python %s, torch %s). %s; full-size models are very slow on CPU."
            % (report["python"], report["torch"], hint))


def main_env(as_json):
    report = collect()
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        sys.stdout.write(report["message"] + "\n")
    return 0 if report["ok"] else 1
