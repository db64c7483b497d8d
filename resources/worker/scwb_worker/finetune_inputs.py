"""Fine-tune inputs: the rows of the split, their labels, and the model's tokens for them."""
import numpy as np

from . import tokens
from .data import H5ad, column_map, remap_block
from .runtime import RunError


class Inputs:
    """Encoded cells of the training, validation and test rows, their labels and names."""


def _label_indices(labels, rows, classes, path, what):
    pos = {c: i for i, c in enumerate(classes)}
    out = np.empty(len(rows), dtype=np.int64)
    for i, r in enumerate(rows):
        lab = labels[r]
        if lab not in pos:
            raise RunError("%s: row %d (%s) has label %r, which is not among the run's classes (%s)" % (
                path, r, what, lab, ", ".join(classes)))
        out[i] = pos[lab]
    return out


def load_inputs(rec, p, split, seed, model_cfg_hint):
    """Reads the rows the run needs and encodes them for the model."""
    ds_path = rec["dataset"]["path"]
    query = rec.get("query") or None
    q_path = query["path"] if query else None
    label_col = rec["labelColumn"]
    classes = p["classes"]
    inp = Inputs()
    # scBERT protocol on a reference/query split: validation equals test, i.e. the query's test cells
    val_from_query = bool(q_path) and split["validation"] == split["test"] and bool(split["test"])
    with H5ad(ds_path) as ds:
        genes = ds.var_names()
        labels = ds.labels(label_col)
        n_obs = len(labels)
        ds_keys = ("train",) + (() if val_from_query else ("validation",)) + (() if q_path else ("test",))
        for key in ds_keys:
            bad = [r for r in split[key] if r >= n_obs]
            if bad:
                raise RunError("split.json: %s row %d is out of range (%s has %d cells)"
                               % (key, bad[0], ds_path, n_obs))
        inp.y_train = _label_indices(labels, split["train"], classes, ds_path, "training")
        # every cell of the dataset whose label is one of the classes (published scBERT weights the loss by 1/count
        # over the whole dataset, not over the training rows)
        pos = {c: i for i, c in enumerate(classes)}
        inp.dataset_label_counts = np.bincount(
            np.array([pos[lab] for lab in labels if lab in pos], dtype=np.int64), minlength=len(classes))
        if not val_from_query:
            inp.y_val = _label_indices(labels, split["validation"], classes, ds_path, "validation")
        enc = _encoder(ds, genes, p, seed, model_cfg_hint)
        inp.encoder = enc
        val_rows = [] if val_from_query else split["validation"]
        ds_rows = sorted(set(split["train"]) | set(val_rows) | (set() if q_path else set(split["test"])))
        ds_cells = enc.encode(ds, ds_rows, None)
        inp.train = [ds_cells[r] for r in split["train"]] if enc.kind == "scgpt" else ds_cells[split["train"]]
        if not val_from_query:
            inp.val = [ds_cells[r] for r in val_rows] if enc.kind == "scgpt" else ds_cells[val_rows]
        if not q_path:
            inp.test = [ds_cells[r] for r in split["test"]] if enc.kind == "scgpt" else ds_cells[split["test"]]
            names = ds.obs_names()
            inp.test_names = [names[r] for r in split["test"]]
            inp.test_labels = [labels[r] for r in split["test"]]
    if q_path:
        with H5ad(q_path) as q:
            qn = q.n_obs
            bad = [r for r in split["test"] if r >= qn]
            if bad:
                raise RunError("split.json: test row %d is out of range (the query %s has %d cells)"
                               % (bad[0], q_path, qn))
            mapping = column_map(genes, q.var_names(), q_path)
            q_labels = q.labels(label_col)
            q_cells = enc.encode(q, sorted(set(split["test"])), mapping)
            inp.test = [q_cells[r] for r in split["test"]] if enc.kind == "scgpt" else q_cells[split["test"]]
            names = q.obs_names()
            inp.test_names = [names[r] for r in split["test"]]
            inp.test_labels = [q_labels[r] for r in split["test"]]
            if val_from_query:
                inp.val = inp.test
                inp.y_val = _label_indices(q_labels, split["test"], classes, q_path, "validation = test")
    inp.val_from_query = val_from_query
    inp.n_genes = len(genes)
    inp.genes = list(genes)
    return inp


class _ScBertEncoder:
    kind = "scbert"

    def __init__(self, layer):
        self.layer = layer

    def encode(self, h5, rows, mapping):
        """uint8 token matrix indexed by file row (a dict-like: full-size array over the rows asked)."""
        m = h5.matrix(self.layer)
        width = len(mapping) if mapping is not None else m.shape[1]
        out = _RowTable(rows, width)
        rows_arr = np.asarray(rows, dtype=np.int64)
        for pos, block in m.iter_rows(rows_arr):
            if mapping is not None:
                block = remap_block(block, mapping)
            out.data[pos] = tokens.scbert_tokens(block, h5.path)
        return out

    def batch(self, cells):
        return (tokens.scbert_batch(cells),)


class _RowTable:
    """uint8 rows stored densely, looked up by file row numbers (single or a list)."""

    def __init__(self, rows, width):
        self.index = {r: i for i, r in enumerate(rows)}
        self.data = np.zeros((len(rows), width), dtype=np.uint8)

    def __getitem__(self, rows):
        """A view of the given file rows (no copy of the table): indexing it with positions gives token rows."""
        return _Subset(self.data, np.array([self.index[r] for r in rows], dtype=np.int64))


class _Subset:
    def __init__(self, data, positions):
        self.data, self.positions = data, positions

    def __len__(self):
        return len(self.positions)

    def __getitem__(self, idx):
        return self.data[self.positions[np.asarray(idx, dtype=np.int64)]]


class _ScGPTEncoder:
    kind = "scgpt"

    def __init__(self, tok, layer):
        self.tok = tok
        self.layer = layer

    def encode(self, h5, rows, mapping):
        m = h5.matrix(self.layer)
        out = {}
        rows_arr = np.asarray(rows, dtype=np.int64)
        for pos, block in m.iter_rows(rows_arr):
            if mapping is not None:
                block = remap_block(block, mapping)
            for i, p in enumerate(pos.tolist()):
                r = int(rows_arr[p])
                try:
                    out[r] = self.tok.cell(block[i], r)
                except tokens.TokenError as e:
                    raise RunError("%s: %s" % (h5.path, e)) from None
        return out

    def batch(self, cells):
        return self.tok.batch(cells)


def _encoder(ds, genes, p, seed, hint):
    layer = p.get("valueLayer")
    if p["model"] == "scbert":
        n_genes = hint.get("n_genes")
        if n_genes is not None and len(genes) != n_genes:
            raise RunError("%s has %d genes but the scBERT model expects exactly %d: run Preprocess scBERT with the "
                           "checkpoint's gene list (referenceGenes) first" % (ds.path, len(genes), n_genes))
        if layer:
            ds.matrix(layer)  # a clear error now if it is missing
        return _ScBertEncoder(layer)
    # scGPT: token ids of the genes
    bin_here = False
    if not layer:
        if ds.has_layer("X_binned"):
            layer = "X_binned"
        else:
            bin_here = True
    ids = None
    vocab = hint.get("vocab")
    var = ds.f["var"] if "var" in ds.f else None
    if var is not None and not hasattr(var, "dtype") and "id_in_vocab" in var:
        codes, cats = ds.column("var", "id_in_vocab")
        try:
            ids = np.array([int(float(cats[c])) if c >= 0 else -1 for c in codes], dtype=np.int64)
        except ValueError:
            raise RunError("%s: var column 'id_in_vocab' does not hold integers" % ds.path) from None
    elif vocab is not None:
        ids = np.array([vocab[0].get(g, -1) for g in genes], dtype=np.int64)
    if ids is None:
        raise RunError("%s has no var column 'id_in_vocab' and the checkpoint has no vocab.json to map its genes: "
                       "run Preprocess scGPT with the model's vocabulary first" % ds.path)
    if not (ids >= 0).any():
        raise RunError("%s: none of its genes are in the model's vocabulary%s" % (
            ds.path, " (%s)" % vocab[1] if vocab else ""))
    ntoken = hint.get("ntoken")
    if ntoken is not None and ids.max() >= ntoken:
        raise RunError("%s: gene token id %d is outside the model's vocabulary of %d tokens"
                       % (ds.path, int(ids.max()), ntoken))
    if vocab is not None and "<cls>" in vocab[0] and "<pad>" in vocab[0]:
        cls_id, pad_id = int(vocab[0]["<cls>"]), int(vocab[0]["<pad>"])
    else:
        pad_id = int(hint["pad_token_id"])
        cls_id = pad_id + 1
    tok = tokens.ScGPTTokenizer(ids, cls_id, pad_id, hint["pad_value"], p["maxSeqLen"], seed, bin_here,
                                int(p.get("nBins", 51)))
    return _ScGPTEncoder(tok, layer)
