"""The run folder as docs/worker.md describes it: run.json under the store's lock, events.jsonl, run.log,
heartbeat, and atomic writes of JSON, CSV and checkpoint files."""
import datetime as _dt
import json
import os
import socket
import sys
import threading
import time

from .atomic import write_atomic_bytes

RUN_FILE = "run.json"
SPLIT_FILE = "split.json"
EVENTS_FILE = "events.jsonl"
LOG_FILE = "run.log"
HEARTBEAT_FILE = "heartbeat"
LOCK_DIR = ".lock"
PREDICTIONS_FILE = "predictions.csv"
CHECKPOINT_DIR = "checkpoints"

LOCK_STALE_S = 10.0
HEARTBEAT_S = 10.0


class RunFolderError(Exception):
    """A run folder file that is missing or does not hold what docs/worker.md says; the message names it."""


def iso_now():
    """ISO-8601 UTC with milliseconds, e.g. 2026-12-03T07:30:00.123Z (what src/core writes)."""
    now = _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (now.microsecond // 1000)


def process_start(pid):
    """Field 22 of /proc/<pid>/stat (start time in clock ticks since boot) as a string, or None off Linux."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            text = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may contain spaces: split after its closing parenthesis
    rest = text[text.rfind(")") + 2:].split()
    # rest[0] is field 3, so field 22 is rest[19]
    return rest[19] if len(rest) > 19 else None


def owner_record():
    pid = os.getpid()
    return {"pid": pid, "hostname": socket.gethostname(), "processStart": process_start(pid)}


def write_atomic_json(path, value):
    write_atomic_bytes(path, (json.dumps(value, indent=2) + "\n").encode("utf-8"))


def read_json(path, what):
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except FileNotFoundError:
        raise RunFolderError("%s: missing (%s)" % (path, what)) from None
    except OSError as e:
        raise RunFolderError("%s: cannot be read: %s" % (path, e)) from None
    try:
        return json.loads(text)
    except ValueError as e:
        raise RunFolderError("%s: not valid JSON (%s)" % (path, e)) from None


def csv_field(value):
    s = "" if value is None else str(value)
    if any(c in s for c in ',"\r\n'):
        return '"' + s.replace('"', '""') + '"'
    return s


def csv_row(values):
    return ",".join(csv_field(v) for v in values) + "\n"


def open_append(path):
    """Opens `path` for appending, refusing a symlink (O_NOFOLLOW), line-buffered text."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as e:
        if os.path.islink(path):
            raise RunFolderError("%s: is a symbolic link; refusing to append to it" % path) from None
        raise RunFolderError("%s: cannot be opened for appending: %s" % (path, e)) from None
    return os.fdopen(fd, "a", encoding="utf-8", buffering=1)


class RunFolder:
    """One run folder. Only the writer (rank 0) creates one with `writable=True`."""

    def __init__(self, path, writable=True):
        self.path = os.path.abspath(path)
        if not os.path.isdir(self.path):
            raise RunFolderError("%s: not a run folder (no such directory)" % self.path)
        self.writable = writable
        self._events = None
        self._log = None
        self._io_lock = threading.Lock()
        self._hb_stop = None
        self._hb_thread = None

    def file(self, name):
        return os.path.join(self.path, name)

    # ---- run.json and split.json -------------------------------------------------------------------
    def read_record(self):
        rec = read_json(self.file(RUN_FILE), "the run record")
        if not isinstance(rec, dict):
            raise RunFolderError("%s: expected a JSON object" % self.file(RUN_FILE))
        return rec

    def read_split(self):
        path = self.file(SPLIT_FILE)
        split = read_json(path, "the train/validation/test rows")
        if not isinstance(split, dict):
            raise RunFolderError("%s: expected a JSON object" % path)
        out = {}
        for key in ("train", "validation", "test"):
            rows = split.get(key)
            if key == "validation" and rows is None:
                raise RunFolderError("%s: field 'validation' is missing (row numbers of the validation cells)" % path)
            if not isinstance(rows, list) or not all(isinstance(r, int) and not isinstance(r, bool) and r >= 0
                                                     for r in rows):
                raise RunFolderError("%s: field '%s' must be a list of non-negative row numbers" % (path, key))
            out[key] = rows
        if not out["train"]:
            raise RunFolderError("%s: 'train' is empty" % path)
        return out

    def _lock(self):
        lock = self.file(LOCK_DIR)
        wait = 0.002
        while True:
            try:
                os.mkdir(lock)
                return lock
            except FileExistsError:
                try:
                    age = time.time() - os.stat(lock).st_mtime
                except OSError:
                    age = 0.0
                if age > LOCK_STALE_S:
                    try:
                        os.rmdir(lock)
                    except OSError:
                        pass
                    continue
                time.sleep(wait)
                wait = min(wait * 2, 0.05)

    def update_record(self, fn):
        """Read-modify-write of run.json under `.lock`: fn(record) returns the fields to set. Unknown fields are
        kept as they are. Returns the written record."""
        lock = self._lock()
        try:
            rec = self.read_record()
            rec.update(fn(rec))
            write_atomic_json(self.file(RUN_FILE), rec)
            return rec
        finally:
            try:
                os.rmdir(lock)
            except OSError:
                pass

    # ---- appends --------------------------------------------------------------------------------------
    def _open_appends(self):
        if self._events is None:
            self._log = open_append(self.file(LOG_FILE))
            self._events = open_append(self.file(EVENTS_FILE))

    def log(self, text, echo=True):
        """Appends timestamped lines to run.log and shows them in the terminal (stdout)."""
        if not self.writable:
            return
        self._open_appends()
        stamp = iso_now()
        lines = str(text).splitlines() or [""]
        with self._io_lock:
            for line in lines:
                self._log.write("%s %s\n" % (stamp, line))
            self._log.flush()
        if echo:
            self.say("\n".join(lines))

    def say(self, text):
        """A line for the terminal only (the task's terminal shows the run as it goes)."""
        if not self.writable:
            return
        try:
            sys.stdout.write(str(text) + "\n")
            sys.stdout.flush()
        except (OSError, ValueError):  # no terminal any more: the files still record everything
            pass

    def event(self, type_, **fields):
        if not self.writable:
            return None
        self._open_appends()
        ev = {"type": type_, "time": iso_now()}
        ev.update(fields)
        line = json.dumps(ev, allow_nan=False)
        with self._io_lock:
            self._events.write(line + "\n")
            self._events.flush()
        return ev

    # ---- heartbeat ------------------------------------------------------------------------------------
    def touch_heartbeat(self):
        path = self.file(HEARTBEAT_FILE)
        try:
            os.utime(path, None, follow_symlinks=False)
        except FileNotFoundError:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            os.close(fd)

    def start_heartbeat(self, every=HEARTBEAT_S):
        if not self.writable or self._hb_thread is not None:
            return
        self.touch_heartbeat()
        stop = threading.Event()

        def beat():
            while not stop.wait(every):
                try:
                    self.touch_heartbeat()
                except OSError:
                    pass

        self._hb_stop = stop
        self._hb_thread = threading.Thread(target=beat, name="scwb-heartbeat", daemon=True)
        self._hb_thread.start()

    def stop_heartbeat(self):
        if self._hb_thread is not None:
            self._hb_stop.set()
            self._hb_thread.join()
            self._hb_thread = None

    def close(self):
        self.stop_heartbeat()
        for f in (self._events, self._log):
            if f is not None:
                f.close()
        self._events = self._log = None

    # ---- outputs --------------------------------------------------------------------------------------
    def write_predictions(self, rows):
        """rows: (index, obs_name, true_label, predicted_label); RFC 4180 quoting, rows end with \\n as
        src/core's csvRow writes them."""
        parts = [csv_row(["index", "obs_name", "true_label", "predicted_label"])]
        parts.extend(csv_row(r) for r in rows)
        write_atomic_bytes(self.file(PREDICTIONS_FILE), "".join(parts).encode("utf-8"))

    def checkpoint_path(self, name):
        folder = self.file(CHECKPOINT_DIR)
        if os.path.islink(folder):
            raise RunFolderError("%s: is a symbolic link; refusing to write checkpoints through it" % folder)
        os.makedirs(folder, exist_ok=True)
        return os.path.join(folder, name)
