"""scWorkbench training worker (see docs/worker.md for the run-folder contract)."""

__version__ = "0.1.0"
