"""Reports the Python environment the training worker would run in, as one JSON line on stdout.

Run by scWorkbench (About / Environment panel, `scwb env`). Never fails: a missing torch is reported, not raised.
"""
import json
import platform
import sys


def probe():
    report = {
        "python": platform.python_version(),
        "executable": sys.executable,
        "torch": None,
        "torch_error": None,
    }
    try:
        import torch  # noqa: WPS433 (imported here on purpose: it may be absent)
    except Exception as exc:  # ImportError, or a broken install raising anything else
        report["torch_error"] = "%s: %s" % (type(exc).__name__, exc)
        return report
    cuda = bool(torch.cuda.is_available())
    devices = []
    if cuda:
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            devices.append("%s (%.0f GiB)" % (props.name, props.total_memory / 2 ** 30))
    report["torch"] = {
        "version": torch.__version__,
        "cuda_available": cuda,
        "cuda_version": torch.version.cuda,
        "devices": devices,
    }
    return report


if __name__ == "__main__":
    sys.stdout.write(json.dumps(probe()) + "\n")
