"""Atomic file output for every file the worker writes (run.json, predictions.csv, checkpoints, demo files): a temp
file beside the target, created exclusively and never through a link, fsynced, then renamed over the target, so a
reader sees the old file or the new one and never a part of either. The temp file is removed on any failure."""
import os
import secrets


def write_atomic(path, write):
    """Calls `write(fh)` with a binary file object on a temp file beside `path`, then renames it over `path`.
    The temp file gets the mode a new file gets under the current umask."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, ".%s.tmp-%d-%s" % (os.path.basename(path), os.getpid(), secrets.token_hex(4)))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_atomic_bytes(path, data):
    write_atomic(path, lambda fh: fh.write(data))


def write_atomic_text(path, text):
    write_atomic_bytes(path, text.encode("utf-8"))
