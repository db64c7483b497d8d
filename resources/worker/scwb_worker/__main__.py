"""`python -m scwb_worker ...` (see docs/worker.md)."""
import sys

from . import supervision

if __name__ == "__main__":
    supervision.install_early()  # before anything slow (torch): an early SIGTERM cancels the run, never fails it
    supervision.watch_parent()
    from .cli import main
    sys.exit(main(sys.argv[1:]))
