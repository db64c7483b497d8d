"""Stop requests that arrive before a run's own handler is up, and a worker whose launcher is gone (imports no
torch: installed first thing by `python -m scwb_worker`).

- A SIGTERM/SIGINT in the first second (while Python starts and torch imports) is recorded, not fatal: the run then
  ends as cancelled, never as failed (runtime.Stop.install and the launcher pick it up). Every other command
  (env, estimate, export-onnx, ...) gets the default handling back first thing (`release`), so a SIGTERM or
  Ctrl-C stops it; one recorded before that ends it with exit 130.
- `SCWB_PARENT_PID` (set by `scwb finetune`, which starts the worker in its own process group): when that process is
  gone (killed with -9, its terminal closed), the worker gets the SIGTERM its parent would have forwarded, so it
  stops at the next step with a checkpoint instead of training unsupervised.
"""
import os
import signal
import sys
import threading

PARENT_POLL_S = 0.5
SIGNALS = (signal.SIGINT, signal.SIGTERM)

pending = []  # signals received before a run's handler was installed


def _early(signum, _frame):
    pending.append(signum)


def install_early():
    """Records SIGINT/SIGTERM until a run installs its own handler (runtime.Stop, launcher.launch)."""
    for s in SIGNALS:
        signal.signal(s, _early)


def release():
    """For a command that is not a run (env, estimate, export-onnx, ...): a stop request ends it as usual again.
    Puts the default SIGTERM/SIGINT handling back where the early handler is still installed and returns the first
    signal already recorded (the caller then exits as cancelled), or None."""
    defaults = {signal.SIGTERM: signal.SIG_DFL, signal.SIGINT: signal.default_int_handler}
    for s, h in defaults.items():
        if signal.getsignal(s) is _early:
            signal.signal(s, h)
    return take_pending()


def take_pending():
    """The first signal received before the run's handler, or None; forgets them."""
    first = pending[0] if pending else None
    del pending[:]
    return first


def watch_parent(env=None):
    """When SCWB_PARENT_PID names our parent, a daemon thread sends us SIGTERM once the parent is gone (we are
    re-parented). Returns the thread, or None when there is nothing to watch."""
    env = os.environ if env is None else env
    try:
        expected = int(env.get("SCWB_PARENT_PID", ""))
    except ValueError:
        return None
    if expected <= 1:
        return None

    def watch():  # a parent already gone before this started counts too (re-parented: getppid() differs)
        while os.getppid() == expected:
            threading.Event().wait(PARENT_POLL_S)
        try:
            sys.stderr.write("scwb_worker: the process that started the worker (pid %d) is gone: stopping with a "
                             "checkpoint (--resume continues)\n" % expected)
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.kill(os.getpid(), signal.SIGTERM)

    t = threading.Thread(target=watch, name="scwb-parent-watch", daemon=True)
    t.start()
    return t
