"""The `--nproc N` launcher (imports no torch, so it starts fast): N ranks of `python -m scwb_worker ...` that
meet through a `file://` store in the run folder; see scwb_worker.distributed for the rank side."""
import os
import signal
import subprocess
import sys
import time

GRACE_S = 30.0


def launch(argv, nproc, store_dir):
    """Runs N ranks of `python -m scwb_worker argv` and waits for them. Returns the exit status."""
    store = os.path.join(store_dir, ".ddp-store-%d-%d" % (os.getpid(), int(time.time() * 1000)))
    if os.path.exists(store):
        os.unlink(store)
    procs = []
    forwarded = []

    def forward(signum, _frame):
        forwarded.append(signum)
        for p in procs:
            if p.poll() is None:
                try:
                    p.send_signal(signum)
                except OSError:
                    pass

    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        from . import supervision
        if supervision.take_pending() is not None:
            return 130  # stopped while starting: no rank started, the run stays queued (the caller cancels it)
        for rank in range(nproc):
            env = dict(os.environ)
            # the ranks watch this launcher (supervision.watch_parent): killed with -9, it leaves no rank training
            env.update({"RANK": str(rank), "WORLD_SIZE": str(nproc), "LOCAL_RANK": str(rank),
                        "SCWB_PARENT_PID": str(os.getpid()),
                        "SCWB_DDP_STORE": store, "GLOO_SOCKET_IFNAME": env.get("GLOO_SOCKET_IFNAME", "lo"),
                        "MASTER_ADDR": "127.0.0.1"})
            procs.append(subprocess.Popen([sys.executable, "-m", "scwb_worker"] + list(argv), env=env))
        codes = [None] * nproc
        term_at = kill_at = None
        while any(c is None for c in codes):
            for i, p in enumerate(procs):
                if codes[i] is None:
                    codes[i] = p.poll()
                    if codes[i] is not None and codes[i] != 0 and term_at is None:
                        # a rank ended early (failed or cancelled): the others finish on their own (a collective
                        # with the missing rank fails), else they are stopped after a grace period, then killed
                        term_at = time.time() + GRACE_S
            now = time.time()
            if term_at is not None and now > term_at:
                for q in procs:
                    if q.poll() is None:
                        q.terminate()
                kill_at, term_at = now + GRACE_S, float("inf")
            if kill_at is not None and now > kill_at:
                for q in procs:
                    if q.poll() is None:
                        q.kill()
            time.sleep(0.1)
        # rank 0 wrote the run's status: its exit status is the run's, unless another rank failed alone
        if codes[0] in (1, 130):
            return codes[0]
        return 0 if all(c == 0 for c in codes) else 1
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if os.path.exists(store):
            os.unlink(store)
