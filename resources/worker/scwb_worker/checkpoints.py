"""Reading, normalizing and strictly loading checkpoints. (skeleton, in progress)"""


class CheckpointError(Exception):
    """A file that is not a readable checkpoint."""


class PartialLoadError(Exception):
    """A state dict that does not match the model exactly."""


def read_checkpoint(path):
    raise NotImplementedError


def normalize_state_dict(sd):
    raise NotImplementedError


def infer_scbert_config(sd):
    raise NotImplementedError


def infer_scgpt_config(sd, args=None):
    raise NotImplementedError


def load_into(model, sd, ignore_keys=(), allowed_missing_prefixes=()):
    raise NotImplementedError


def load_pretrained(classifier, path, ignore_keys=()):
    raise NotImplementedError


def save_checkpoint(path, obj):
    raise NotImplementedError
