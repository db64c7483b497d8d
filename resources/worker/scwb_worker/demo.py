"""Tiny deterministic demo checkpoints (docs/worker.md "Demo checkpoints"). (skeleton, in progress)"""


def main_demo(argv):
    raise NotImplementedError
