"""Reading, normalising and strictly loading checkpoints (published scBERT .pth, scGPT folders, our own .pt).

Loading is strict: every key of the model must come from the file with the same shape, and every key of the file
must go somewhere, except the keys the caller names to ignore and the pre-training-only / new-head keys that
`load_pretrained` knows about for each model kind. Anything else raises PartialLoadError listing all of them.
"""
import collections
import fnmatch
import inspect
import json
import os
import pickle
import re
from dataclasses import dataclass, field
from typing import List

import torch

from .atomic import write_atomic


class CheckpointError(Exception):
    """A file that is not a readable checkpoint (message names the file and what is wrong)."""


class PartialLoadError(Exception):
    """A state dict that does not match the model exactly (message lists every offending key)."""


# --------------------------------------------------------------------------------------------------------------
# reading

_TORCH_LOAD_HAS_WEIGHTS_ONLY = "weights_only" in inspect.signature(torch.load).parameters

# Globals a checkpoint may reference beyond tensors and plain containers (numpy scalars/arrays in "losses" or
# "rng" entries, OrderedDict). Anything else is refused: unpickling arbitrary classes would run their code.
_SAFE_GLOBALS = {
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch", "Size"),
    ("torch", "device"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # how numpy arrays pickle their bytes
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "slice"),
}
_SAFE_DTYPE_CLASSES = re.compile(r"^(Float|Int|UInt|Bool|Complex)\d*DType$")


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        if module == "numpy.dtypes" and _SAFE_DTYPE_CLASSES.match(name):
            return super().find_class(module, name)
        if module == "torch" and (name.endswith("Storage") or name in ("float32", "float64", "float16", "bfloat16",
                                                                        "int64", "int32", "uint8", "bool")):
            return super().find_class(module, name)
        raise pickle.UnpicklingError("refusing to load the Python object %s.%s" % (module, name))


class _RestrictedPickleModule:
    """pickle-module stand-in handed to torch's zip-archive reader for the fallback load."""
    Unpickler = _RestrictedUnpickler
    __name__ = "scwb_restricted_pickle"

    @staticmethod
    def load(f, **kw):
        return _RestrictedUnpickler(f, **kw).load()


def _restricted_load(path):
    """Load a zip-format torch file with our allow-listing unpickler. torch.load cannot do this itself: torch 1.13
    replaces any pickle_module by the plain pickle module when weights_only is off (plain pickle runs code from the
    file), so this calls the zip reader that torch.load uses, and refuses anything it cannot read that way."""
    ser = torch.serialization
    reader = getattr(ser, "_open_zipfile_reader", None)
    loader = getattr(ser, "_load", None)
    if reader is None or loader is None:
        raise pickle.UnpicklingError("this torch version offers no safe way to read the file's extra Python objects")
    with open(path, "rb") as fh:
        if not ser._is_zipfile(fh):
            raise pickle.UnpicklingError("legacy (non-zip) torch file with Python objects other than tensors")
        with reader(fh) as zf:
            return loader(zf, "cpu", _RestrictedPickleModule, encoding="utf-8")


def _torch_load(path):
    if _TORCH_LOAD_HAS_WEIGHTS_ONLY:
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            # weights_only refuses numpy scalars/arrays (e.g. a "losses" or "rng" entry) on older torch versions;
            # read those through the allow-list instead. Never falls back to plain pickle.
            pass
    return _restricted_load(path)


def _is_state_dict(obj):
    return isinstance(obj, dict) and len(obj) > 0 and all(
        isinstance(k, str) and torch.is_tensor(v) for k, v in obj.items())


def _extract_state_dict(obj, path):
    if _is_state_dict(obj):
        return obj, {}
    if isinstance(obj, dict):
        for key in ("model_state_dict", "state_dict", "model"):
            if key in obj and _is_state_dict(obj[key]):
                extra = {k: v for k, v in obj.items() if k != key and isinstance(v, (int, float, str))}
                return obj[key], dict(extra, stateDictKey=key)
        top = ", ".join(sorted(str(k) for k in obj.keys())[:12])
        raise CheckpointError("%s: no model state dict found (expected a dict of tensors or a 'model_state_dict' "
                              "entry; top-level keys: %s)" % (path, top or "none"))
    raise CheckpointError("%s: no model state dict found (the file holds a %s, not a dict of tensors)"
                          % (path, type(obj).__name__))


def _read_json(path, what):
    try:
        with open(path, "r", encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise CheckpointError("%s: missing (a scGPT checkpoint folder needs %s)" % (path, what))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError("%s: not valid JSON (%s)" % (path, exc))


def _load_file(path):
    if not os.path.isfile(path):
        raise CheckpointError("%s: checkpoint file not found" % (path,))
    if os.path.getsize(path) == 0:
        raise CheckpointError("%s: empty file, not a checkpoint" % (path,))
    try:
        return _torch_load(path)
    except pickle.UnpicklingError as exc:
        raise CheckpointError("%s: not a loadable checkpoint (%s)" % (path, exc))
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, AttributeError, TypeError, ImportError) as exc:
        raise CheckpointError("%s: not a readable PyTorch checkpoint, or truncated (%s: %s)"
                              % (path, type(exc).__name__, str(exc).strip().splitlines()[0] if str(exc).strip() else ""))


def load_torch_file(path):
    """The whole object of a torch file (e.g. our own last.pt with optimizer and RNG states), read without running
    pickled code: tensors, plain containers and numpy arrays/scalars only. Raises CheckpointError naming the file."""
    return _load_file(os.fspath(path))


def read_checkpoint(path):
    """Read a checkpoint: a scBERT .pth, a scGPT folder (best_model.pt + args.json + vocab.json) or a .pt file.

    Returns (state_dict, meta); meta has 'path', 'format' ('folder' | 'file'), 'args' and 'vocab' for folders,
    and scalar top-level entries of the file (epoch, ...). Raises CheckpointError naming the file."""
    path = os.fspath(path)
    meta = {"path": path}
    if os.path.isdir(path):
        model_file = os.path.join(path, "best_model.pt")
        if not os.path.isfile(model_file):
            raise CheckpointError("%s: checkpoint folder has no best_model.pt" % (path,))
        args = _read_json(os.path.join(path, "args.json"), "args.json (embsize, nheads, d_hid, nlayers, ...)")
        vocab = _read_json(os.path.join(path, "vocab.json"), "vocab.json (token -> index)")
        if not isinstance(args, dict):
            raise CheckpointError("%s: expected a JSON object" % os.path.join(path, "args.json"))
        if not isinstance(vocab, dict) or not all(isinstance(v, int) for v in vocab.values()):
            raise CheckpointError("%s: expected a JSON object mapping tokens to integer ids"
                                  % os.path.join(path, "vocab.json"))
        sd, extra = _extract_state_dict(_load_file(model_file), model_file)
        meta.update(extra)
        meta.update({"format": "folder", "file": model_file, "args": args, "vocab": vocab})
        return sd, meta
    if not os.path.exists(path):
        raise CheckpointError("%s: checkpoint not found" % (path,))
    sd, extra = _extract_state_dict(_load_file(path), path)
    meta.update(extra)
    meta.update({"format": "file", "file": path})
    return sd, meta


# --------------------------------------------------------------------------------------------------------------
# normalising names

_RENAMES = [
    (re.compile(r"(^|\.)self_attn\._impl\.Wqkv\.weight$"), r"\1self_attn.in_proj_weight"),
    (re.compile(r"(^|\.)self_attn\._impl\.Wqkv\.bias$"), r"\1self_attn.in_proj_bias"),
    (re.compile(r"(^|\.)self_attn\._impl\.out_proj\."), r"\1self_attn.out_proj."),
    (re.compile(r"(^|\.)self_attn\.Wqkv\.weight$"), r"\1self_attn.in_proj_weight"),
    (re.compile(r"(^|\.)self_attn\.Wqkv\.bias$"), r"\1self_attn.in_proj_bias"),
]


def normalize_state_dict(sd):
    """Strip a DDP `module.` prefix and map flash-attn names (`self_attn.Wqkv.*`, `self_attn._impl.*`) onto torch's
    `self_attn.in_proj_*` / `self_attn.out_proj.*`. Returns (new ordered dict, notes); the input is not modified."""
    notes = []
    keys = list(sd.keys())
    strip = bool(keys) and all(k.startswith("module.") for k in keys)
    if strip:
        notes.append("stripped the 'module.' prefix from %d keys" % len(keys))
    out = collections.OrderedDict()
    renamed = collections.Counter()
    for k in keys:
        new = k[len("module."):] if strip else k
        for pattern, repl in _RENAMES:
            if pattern.search(new):
                old = new
                new = pattern.sub(repl, new)
                renamed[(re.sub(r"\.\d+\.", ".*.", old), re.sub(r"\.\d+\.", ".*.", new))] += 1
                break
        if new in out:
            raise CheckpointError("two keys of the checkpoint map to %s after renaming" % (new,))
        out[new] = sd[k]
    for (old, new), n in sorted(renamed.items()):
        notes.append("renamed %s -> %s (%d keys)" % (old, new, n))
    return out, notes


# --------------------------------------------------------------------------------------------------------------
# configs from shapes

def _layer_indices(sd, prefix):
    found = set()
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    for k in sd:
        m = pat.match(k)
        if m:
            found.add(int(m.group(1)))
    return sorted(found)


def infer_scbert_config(sd, n_genes=None):
    """ScBertConfig from the shapes of a (normalised) scBERT state dict. `n_genes`: the gene count when the shapes
    cannot tell (a language model pre-trained without gene2vec; our pre-training files record it as `nGenes`)."""
    from .models.scbert import ScBertConfig
    try:
        num_tokens, dim = sd["token_emb.weight"].shape
        depth = len(_layer_indices(sd, "performer.net.layers."))
        nb_features, dim_head = sd["performer.net.layers.0.0.fn.fast_attention.projection_matrix"].shape
        inner = sd["performer.net.layers.0.0.fn.to_q.weight"].shape[0]
        ff = sd["performer.net.layers.0.1.fn.fn.w1.weight"].shape[0]
    except KeyError as exc:
        raise CheckpointError("not a scBERT state dict: key %s is missing" % (exc,))
    if "pos_emb.emb.weight" in sd:
        n_genes, g2v = sd["pos_emb.emb.weight"].shape[0] - 1, True
    elif "to_out.fc1.weight" in sd:
        n_genes, g2v = sd["to_out.fc1.weight"].shape[1] - 1, False
    else:
        n_genes, g2v = (int(n_genes) if n_genes else ScBertConfig.n_genes), False
    return ScBertConfig(num_tokens=int(num_tokens), dim=int(dim), depth=depth, heads=int(inner // dim_head),
                        dim_head=int(dim_head), ff_mult=int(ff // dim), n_genes=int(n_genes),
                        nb_features=int(nb_features), g2v_position_emb=g2v)


def infer_scgpt_config(sd, args=None, vocab=None):
    """ScGPTConfig from the shapes of a (normalised) scGPT state dict, plus args.json (nheads, dropout, pad_token,
    pad_value) and vocab.json (the pad token's id). Without vocab the pad id is ntoken - 3 (the published vocab
    ends with <pad>, <cls>, <eoc>)."""
    from .models.scgpt import ScGPTConfig
    args = args or {}
    try:
        ntoken, d_model = sd["encoder.embedding.weight"].shape
        nlayers = len(_layer_indices(sd, "transformer_encoder.layers."))
        d_hid = sd["transformer_encoder.layers.0.linear1.weight"].shape[0]
    except KeyError as exc:
        raise CheckpointError("not a scGPT state dict: key %s is missing" % (exc,))
    for name, value in (("embsize", d_model), ("d_hid", d_hid), ("nlayers", nlayers)):
        if name in args and int(args[name]) != int(value):
            raise CheckpointError("args.json says %s = %s but the weights have %s" % (name, args[name], value))
    nhead = int(args.get("nheads", max(1, d_model // 64)))
    pad_id = int(ntoken) - 3
    pad_token = args.get("pad_token", "<pad>")
    if vocab is not None:
        if pad_token not in vocab:
            raise CheckpointError("vocab.json has no pad token %r" % (pad_token,))
        pad_id = int(vocab[pad_token])
    return ScGPTConfig(ntoken=int(ntoken), d_model=int(d_model), nhead=nhead, d_hid=int(d_hid), nlayers=nlayers,
                       dropout=float(args.get("dropout", 0.2)), pad_token_id=pad_id,
                       pad_value=float(args.get("pad_value", -2)))


# --------------------------------------------------------------------------------------------------------------
# strict loading

@dataclass
class LoadReport:
    source: str = ""
    loaded: List[str] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)      # keys of the file not loaded (known pre-training heads)
    ignored: List[str] = field(default_factory=list)      # keys dropped because the caller named them
    initialised: List[str] = field(default_factory=list)  # keys of the model not in the file (the new head)
    notes: List[str] = field(default_factory=list)

    def lines(self):
        """Human-readable summary for run.log."""
        out = ["loaded %d tensors from %s" % (len(self.loaded), self.source or "state dict")]
        out += ["  " + n for n in self.notes]
        if self.skipped:
            out.append("  skipped %d pre-training-only tensors: %s" % (len(self.skipped), _grouped(self.skipped)))
        if self.ignored:
            out.append("  ignored %d tensors as asked: %s" % (len(self.ignored), _grouped(self.ignored)))
        if self.initialised:
            out.append("  newly initialised %d tensors: %s" % (len(self.initialised), _grouped(self.initialised)))
        return out


def _grouped(keys):
    groups = collections.OrderedDict()
    for k in keys:
        groups.setdefault(re.sub(r"\.\d+\.", ".*.", k), []).append(k)
    return ", ".join(ks[0] if len(ks) == 1 else "%s (x%d)" % (g, len(ks)) for g, ks in groups.items())


def _matches(key, patterns):
    return any(key == p or fnmatch.fnmatchcase(key, p) for p in patterns)


def load_into(model, sd, ignore_keys=(), allowed_missing_prefixes=(), source=""):
    """Load `sd` into `model` with strict semantics; returns a LoadReport or raises PartialLoadError."""
    ignore_keys = tuple(ignore_keys or ())
    allowed_missing_prefixes = tuple(allowed_missing_prefixes or ())
    target = model.state_dict()
    bad_values = [k for k, v in sd.items() if not torch.is_tensor(v)]
    if bad_values:
        raise PartialLoadError("%s: entries that are not tensors: %s" % (source or "state dict", _grouped(bad_values)))
    report = LoadReport(source=source)
    missing, unexpected, mismatched = [], [], []
    for k in sd:
        if _matches(k, ignore_keys):
            report.ignored.append(k)
        elif k not in target:
            unexpected.append(k)
        elif tuple(sd[k].shape) != tuple(target[k].shape):
            mismatched.append(k)
    for k in target:
        if _matches(k, ignore_keys):
            report.initialised.append(k)
            continue
        if k in sd:
            continue
        if allowed_missing_prefixes and k.startswith(allowed_missing_prefixes):
            report.initialised.append(k)
        else:
            missing.append(k)
    if missing or unexpected or mismatched:
        where = source or "the state dict"
        parts = ["%s does not match the model exactly:" % where]
        if not any(k in target for k in sd):
            parts.append("  no key of the file exists in the model: is this a checkpoint of another model kind?")
        if missing:
            parts.append("  missing from the file (%d): %s" % (len(missing), _grouped(missing)))
        if unexpected:
            parts.append("  unexpected in the file (%d): %s" % (len(unexpected), _grouped(unexpected)))
        if mismatched:
            parts.append("  shape mismatch (%d): %s" % (len(mismatched), "; ".join(
                "%s file %s vs model %s" % (k, list(sd[k].shape), list(target[k].shape)) for k in mismatched)))
        parts.append("Nothing was loaded. To load anyway, name the keys to ignore (run.json \"ignoreKeys\": exact "
                     "names or patterns such as \"transformer_encoder.layers.*.linear1.weight\" or \"to_out.*\").")
        raise PartialLoadError("\n".join(parts))
    to_load = collections.OrderedDict((k, v) for k, v in sd.items() if k in target and k not in report.ignored)
    result = model.load_state_dict(to_load, strict=False)
    left = [k for k in result.missing_keys if k not in report.initialised and not _matches(k, ignore_keys)]
    if left or result.unexpected_keys:  # cannot happen after the checks above; guards against module quirks
        raise PartialLoadError("%s: load_state_dict disagreed (missing %s, unexpected %s)"
                               % (source or "state dict", left, result.unexpected_keys))
    report.loaded = list(to_load.keys())
    return report


def load_pretrained(classifier, path, ignore_keys=()):
    """Load a published/pre-training checkpoint (or one of our own) into a model built by scwb_worker.models.

    scBERT classifier: the LM head `to_out.weight/bias` of a pre-training file is skipped and the new head
    `to_out.*` may be absent (newly initialised) when ALL of it is absent; a gene2vec table is never skipped
    for the classifier. scGPT classifier: `decoder.*`, `mvc_decoder.*`, `flag_encoder.weight` are skipped and
    `cls_decoder.*` may be absent, again only as a whole. Any other difference raises PartialLoadError. Performer
    projection matrices are loaded from the file."""
    from .models.scbert import PerformerLM, ScBertClassifier
    from .models.scgpt import ScGPTModel
    sd, meta = read_checkpoint(path)
    sd, notes = normalize_state_dict(sd)
    source = meta.get("file", os.fspath(path))
    skip, allowed_missing = [], ()
    if isinstance(classifier, ScBertClassifier):
        # a gene2vec table is never dropped silently: the no-gene2vec ablation needs a checkpoint pre-trained
        # without it (finetune_model.build says so before loading)
        skip = ["to_out.weight", "to_out.bias"]
        allowed_missing = ("to_out.",)
    elif isinstance(classifier, PerformerLM):
        if classifier.pos_emb is None:
            skip.append("pos_emb.emb.weight")
    elif isinstance(classifier, ScGPTModel):
        if classifier.n_classes > 0:
            skip = ["decoder.*", "mvc_decoder.*", "flag_encoder.weight"]
            allowed_missing = ("cls_decoder.",)
    else:
        raise TypeError("load_pretrained: unsupported model %s" % type(classifier).__name__)
    target = classifier.state_dict()
    skipped = [k for k in sd if _matches(k, skip) and k not in target]
    sd = collections.OrderedDict((k, v) for k, v in sd.items() if k not in skipped)
    # only a WHOLLY absent head (a pre-training checkpoint) gets a new one; a head that is partly in the file
    # (e.g. a fine-tuned file missing to_out.fc3.weight) is a partial load like any other
    if allowed_missing and any(k.startswith(allowed_missing) and not _matches(k, ignore_keys or ()) for k in sd
                               if k in target):
        allowed_missing = ()
    report = load_into(classifier, sd, ignore_keys=ignore_keys, allowed_missing_prefixes=allowed_missing,
                       source=source)
    report.skipped = skipped
    report.notes = notes + report.notes
    return report


# --------------------------------------------------------------------------------------------------------------
# saving

def save_checkpoint(path, obj):
    """torch.save, written atomically (readers never see a partial file)."""
    write_atomic(path, lambda fh: torch.save(obj, fh))
