"""The run folder's life cycle around a training body (finetune, pretrain, probe)."""
import os
import sys
import traceback

import torch

from . import distributed, protocols, tokens
from .data import DataError
from .runfolder import RunFolder, RunFolderError, iso_now, owner_record, process_start
from .runtime import EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, RESUMABLE, RunError, Stop


def _check_can_start(rec, resume, path):
    status = rec.get("status")
    if status == "completed":
        raise RunError("%s: the run has already completed" % path)
    if status == "running":
        owner = rec.get("owner") or {}
        if _owner_alive(owner):
            raise RunError("%s: the run is already running (pid %s)" % (path, owner.get("pid")))
    if resume and status not in RESUMABLE + ("running",):
        raise RunError("%s: --resume needs a cancelled, failed or interrupted run; its status is %r" % (path, status))


def _owner_alive(owner):
    import socket
    pid = owner.get("pid")
    if not isinstance(pid, int) or owner.get("hostname") != socket.gethostname():
        return False
    start = process_start(pid)
    return start is not None and start == owner.get("processStart")


def execute(run_dir, body, resume=False, device_arg=None, stop=None, ctx=None):
    """The run folder's life cycle around `body(folder, rec, resume, device_arg, stop, ctx)` -> (result, message):
    refusing a completed or live run, status running/completed/failed/cancelled under the lock, heartbeat, status
    events and run.log (shared by finetune, pretrain and probe). Returns EXIT_OK, EXIT_FAILED or EXIT_CANCELLED."""
    ctx = ctx or distributed.Context()
    stop = stop or Stop()
    folder = RunFolder(run_dir, writable=ctx.is_main)
    started = False
    if ctx.is_main:
        # a run that is completed or running elsewhere is refused without touching its files
        try:
            _check_can_start(folder.read_record(), resume, folder.file("run.json"))
        except (RunError, RunFolderError) as exc:
            sys.stderr.write("scwb_worker: %s\n" % exc)
            return EXIT_FAILED
    if ctx.is_main and not ctx.active and stop.requested:
        # SIGTERM/SIGINT while the worker was starting (supervision.install_early): nothing ran, the run is cancelled
        try:
            folder.update_record(lambda r: {"status": "cancelled", "endedAt": iso_now(), "error": None})
            folder.event("status", status="cancelled", message="cancelled before the run started")
        except (RunFolderError, OSError) as exc:
            sys.stderr.write("scwb_worker: %s\n" % exc)
        folder.close()
        return EXIT_CANCELLED
    try:
        rec = folder.read_record()
        owner = owner_record()
        if ctx.is_main:
            folder.update_record(lambda r: {"status": "running", "owner": owner, "startedAt": iso_now(),
                                            "endedAt": None, "error": None})
            started = True
            folder.start_heartbeat()
            folder.event("status", status="running", message="resumed" if resume else "started")
            folder.log("%s %s (pid %d, torch %s)" % ("resuming" if resume else "starting", run_dir, owner["pid"],
                                                     torch.__version__))
        result, message = body(folder, rec, resume, device_arg, stop, ctx)
    except BaseException as exc:  # noqa: B902 - every failure must end as status failed with the log kept
        if isinstance(exc, KeyboardInterrupt):
            result, message = "cancelled", "cancelled"
        else:
            result = "failed"
            message = str(exc) if isinstance(exc, (RunError, DataError, RunFolderError, protocols.ProtocolError,
                                                    tokens.TokenError)) else "%s: %s" % (type(exc).__name__, exc)
            if type(exc).__name__ in ("PartialLoadError", "CheckpointError", "DemoError"):
                message = str(exc)
            if ctx.is_main and os.path.isdir(folder.path):
                try:
                    folder.log("failed: %s\n%s" % (message, traceback.format_exc()), echo=False)
                except Exception:  # the log itself may be the problem (a symlink): still record the status
                    pass
            sys.stderr.write("scwb_worker: %s: run failed: %s\n" % (run_dir, message))
        if not started and ctx.is_main and result == "failed":
            # nothing was started: still record why, unless run.json itself is unreadable
            try:
                folder.update_record(lambda r: {"status": "failed", "error": message, "endedAt": iso_now()})
                folder.event("status", status="failed", message=message)
            except Exception:
                pass
            folder.close()
            return EXIT_FAILED
    if ctx.is_main and started:
        try:
            fields = {"status": result, "endedAt": iso_now(), "error": message if result == "failed" else None}
            folder.update_record(lambda r: fields)
            try:
                folder.event("status", status=result, **({"message": message} if message else {}))
                folder.log("%s%s" % (result, ": " + message if message and result != "completed" else ""))
            except RunFolderError as exc:  # e.g. a symlinked events.jsonl: run.json already says why
                sys.stderr.write("scwb_worker: %s\n" % exc)
        finally:
            folder.close()
    else:
        folder.close()
    return {"completed": EXIT_OK, "failed": EXIT_FAILED, "cancelled": EXIT_CANCELLED}[result]
