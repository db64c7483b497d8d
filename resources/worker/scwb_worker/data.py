"""Reading .h5ad files with h5py, in row blocks: X (dense, CSR or CSC) or a layer, obs names, var names and obs
columns. Encodings: anndata >= 0.8 (encoding-type attributes), 0.7 (csr_matrix groups, categorical codes whose
`categories` attribute references `__categories/<col>`), and <= 0.6 compound obs/var with `uns/<col>_categories`.
Every error names the file."""
import numpy as np

try:
    import h5py
except ImportError:  # pragma: no cover - reported by `env`
    h5py = None

ROW_BLOCK = 1024


class DataError(Exception):
    """An input file that cannot be read as the run needs it; the message names the file and the problem."""


def _attr_str(obj, name, default=None):
    v = obj.attrs.get(name, default)
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, np.ndarray) and v.shape == ():
        v = v[()]
        return v.decode("utf-8") if isinstance(v, bytes) else v
    return v


def _strings(arr):
    out = []
    for v in np.asarray(arr).tolist():
        out.append(v.decode("utf-8") if isinstance(v, bytes) else str(v))
    return out


class H5ad:
    """An open .h5ad file. Use as a context manager."""

    def __init__(self, path):
        if h5py is None:
            raise DataError("%s: h5py is not installed in this Python (python -m scwb_worker env)" % path)
        self.path = path
        try:
            self.f = h5py.File(path, "r")
        except FileNotFoundError:
            raise DataError("%s: no such file" % path) from None
        except OSError as e:
            raise DataError("%s: not a readable HDF5 (.h5ad) file: %s" % (path, e)) from None
        self._obs_names = None
        self._var_names = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.f.close()

    def err(self, msg):
        return DataError("%s: %s" % (self.path, msg))

    # ---- dataframes -------------------------------------------------------------------------------
    def _frame(self, name):
        if name not in self.f:
            raise self.err("has no '%s' (not an AnnData file?)" % name)
        return self.f[name]

    def _index(self, name):
        frame = self._frame(name)
        if isinstance(frame, h5py.Dataset):  # anndata <= 0.6: compound dataset
            if frame.dtype.names is None or "index" not in frame.dtype.names:
                raise self.err("'%s' has no index field" % name)
            return _strings(frame["index"])
        key = _attr_str(frame, "_index", "_index")
        if key not in frame:
            raise self.err("'%s' index column '%s' is missing" % (name, key))
        return _strings(frame[key][()])

    def obs_names(self):
        if self._obs_names is None:
            self._obs_names = self._index("obs")
        return self._obs_names

    def var_names(self):
        if self._var_names is None:
            self._var_names = self._index("var")
        return self._var_names

    @property
    def n_obs(self):
        return len(self.obs_names())

    def column(self, frame_name, col):
        """An obs/var column as (codes int64 with -1 = missing, categories as strings): categorical columns keep
        their categories; string and numeric columns get their distinct values (as text, sorted)."""
        frame = self._frame(frame_name)
        if isinstance(frame, h5py.Dataset):
            names = frame.dtype.names or ()
            if col not in names:
                raise self.err("%s has no column '%s' (columns: %s)" % (frame_name, col, ", ".join(names)))
            values = frame[col]
            cats_key = "uns/%s_categories" % col
            if cats_key in self.f:
                return values.astype(np.int64), _strings(self.f[cats_key][()])
            return self._as_codes(values)
        if col not in frame:
            cols = [k for k in frame.keys() if k != _attr_str(frame, "_index", "_index") and k != "__categories"]
            raise self.err("%s has no column '%s' (columns: %s)" % (frame_name, col, ", ".join(sorted(cols))))
        item = frame[col]
        if isinstance(item, h5py.Group):
            enc = _attr_str(item, "encoding-type")
            if enc == "categorical":
                return item["codes"][()].astype(np.int64), _strings(item["categories"][()])
            if enc in ("nullable-integer", "nullable-boolean"):
                vals = item["values"][()]
                mask = item["mask"][()].astype(bool)
                return self._as_codes(np.where(mask, -1, vals.astype(np.int64)), missing=mask)
            raise self.err("%s column '%s' has an unsupported encoding %r" % (frame_name, col, enc))
        ref = item.attrs.get("categories")
        if ref is not None and isinstance(ref, h5py.Reference):  # anndata 0.7 categorical
            return item[()].astype(np.int64), _strings(self.f[ref][()])
        return self._as_codes(item[()])

    @staticmethod
    def _as_codes(values, missing=None):
        arr = np.asarray(values)
        if arr.dtype.kind in "SOU":
            strs = _strings(arr)
        elif arr.dtype.kind == "f":
            strs = ["" if np.isnan(v) else ("%d" % v if float(v).is_integer() else repr(float(v))) for v in arr]
        else:
            strs = [str(v) for v in arr.tolist()]
        if missing is not None:
            strs = ["" if m else s for s, m in zip(strs, missing)]
        cats = sorted(set(s for s in strs if s != ""))
        pos = {c: i for i, c in enumerate(cats)}
        codes = np.array([pos.get(s, -1) for s in strs], dtype=np.int64)
        return codes, cats

    def labels(self, col):
        """obs column as a list of strings ('' where missing)."""
        codes, cats = self.column("obs", col)
        if len(codes) != self.n_obs:
            raise self.err("obs column '%s' has %d values for %d cells" % (col, len(codes), self.n_obs))
        return [cats[c] if 0 <= c < len(cats) else "" for c in codes.tolist()]

    # ---- matrix -------------------------------------------------------------------------------------
    def matrix(self, layer=None):
        if layer:
            key = "layers/%s" % layer
            if key not in self.f:
                have = sorted(self.f["layers"].keys()) if "layers" in self.f else []
                raise self.err("has no layer '%s' (layers: %s)" % (layer, ", ".join(have) or "none"))
        else:
            key = "X"
            if key not in self.f:
                raise self.err("has no X matrix")
        return Matrix(self, self.f[key], key)

    def has_layer(self, layer):
        return ("layers/%s" % layer) in self.f


class Matrix:
    """A cells x genes matrix in the file (dense, CSR or CSC), read in row blocks as dense float32."""

    def __init__(self, h5, node, key):
        self.h5 = h5
        self.key = key
        self.node = node
        if isinstance(node, h5py.Dataset):
            if node.ndim != 2:
                raise h5.err("%s is not a 2-d matrix (shape %s)" % (key, node.shape))
            self.format = "dense"
            self.shape = tuple(int(s) for s in node.shape)
        else:
            fmt = _attr_str(node, "encoding-type") or _attr_str(node, "h5sparse_format")
            fmt = {"csr_matrix": "csr", "csc_matrix": "csc", "csr": "csr", "csc": "csc"}.get(fmt)
            if fmt is None:
                raise h5.err("%s has an unsupported matrix encoding (expected a dense array, csr or csc)" % key)
            shape = node.attrs.get("shape")
            if shape is None:
                shape = node.attrs.get("h5sparse_shape")
            if shape is None or not all(k in node for k in ("data", "indices", "indptr")):
                raise h5.err("%s is a sparse matrix without shape/data/indices/indptr" % key)
            self.format = fmt
            self.shape = tuple(int(s) for s in shape)
            self._check_sparse_layout()
        self._csr = None

    def _check_sparse_layout(self):
        """The checks the TypeScript readers make (src/core/h5ad/read-matrix.ts), cheap ones first: indptr has one
        entry per row (CSR) or column (CSC) plus one, indices and data hold as many values as each other. Monotony
        and bounds are checked per row block as rows are read (_check_indptr), column/row indices too."""
        major = self.shape[0] if self.format == "csr" else self.shape[1]
        n_ptr = self.node["indptr"].shape[0] if self.node["indptr"].ndim == 1 else -1
        if n_ptr != major + 1:
            raise self.h5.err("'%s/indptr' has %d entries, expected %d (%s with shape %s): the sparse matrix is "
                              "corrupt" % (self.key, n_ptr, major + 1, self.format.upper(), self.shape))
        self.nnz = int(self.node["indices"].shape[0])
        if int(self.node["data"].shape[0]) != self.nnz:
            raise self.h5.err("'%s/data' holds %d values but '%s/indices' %d: the sparse matrix is corrupt" % (
                self.key, int(self.node["data"].shape[0]), self.key, self.nnz))

    def _check_indptr(self, ptr, first):
        """ptr = indptr[first:first+len(ptr)] never decreases and points inside the stored values."""
        if len(ptr) > 1:
            down = np.flatnonzero(np.diff(ptr) < 0)
            if down.size:
                raise self.h5.err("'%s/indptr' decreases at position %d: the sparse matrix is corrupt"
                                  % (self.key, first + int(down[0]) + 1))
        if len(ptr) and (int(ptr[0]) < 0 or int(ptr[-1]) > self.nnz):
            raise self.h5.err("'%s/indptr' points outside its %d stored values: the sparse matrix is corrupt"
                              % (self.key, self.nnz))

    def _check_rows(self, rows):
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= self.shape[0]):
            raise self.h5.err("row %d is out of range (%s has %d rows)" % (
                int(rows.max() if rows.max() >= self.shape[0] else rows.min()), self.key, self.shape[0]))
        return rows

    def iter_rows(self, rows, block=ROW_BLOCK):
        """Yields (positions, dense float32 [k, n_vars]) so that dense[i] is row rows[positions[i]]; every
        position appears once. Rows are read in increasing order, `block` at a time."""
        rows = self._check_rows(rows)
        order = np.argsort(rows, kind="stable")
        for start in range(0, len(order), block):
            pos = order[start:start + block]
            yield pos, self._read_sorted(rows[pos])

    def _read_sorted(self, rows):
        n_vars = self.shape[1]
        lo, hi = int(rows[0]), int(rows[-1]) + 1
        if self.format == "dense":
            chunk = self.node[lo:hi]
            return np.asarray(chunk[rows - lo], dtype=np.float32)
        if self.format == "csr":
            indptr = self.node["indptr"][lo:hi + 1].astype(np.int64)
            self._check_indptr(indptr, lo)
            a, b = int(indptr[0]), int(indptr[-1])
            data = self.node["data"][a:b]
            indices = self.node["indices"][a:b]
            indptr = indptr - a
        else:
            if self._csr is None:
                self._csr = self._csc_to_csr()
            indptr_all, indices_all, data_all = self._csr
            indptr = indptr_all[lo:hi + 1]
            a, b = int(indptr[0]), int(indptr[-1])
            data, indices, indptr = data_all[a:b], indices_all[a:b], indptr - a
        out = np.zeros((len(rows), n_vars), dtype=np.float32)
        for i, r in enumerate((rows - lo).tolist()):
            s, e = int(indptr[r]), int(indptr[r + 1])
            if e > s:
                idx = indices[s:e]
                if idx.size and (idx.min() < 0 or idx.max() >= n_vars):
                    bad = int(idx[(idx < 0) | (idx >= n_vars)][0])
                    raise self.h5.err("'%s/indices' holds column index %d in row %d, outside 0..%d (%d columns): "
                                      "the sparse matrix is corrupt" % (self.key, bad, r + lo, n_vars - 1, n_vars))
                out[i, idx] = data[s:e]
        return out

    def _csc_to_csr(self):
        n_rows = self.shape[0]
        indptr = self.node["indptr"][()].astype(np.int64)
        self._check_indptr(indptr, 0)
        a, b = int(indptr[0]), int(indptr[-1])
        row_idx = self.node["indices"][a:b].astype(np.int64)
        data = self.node["data"][a:b]
        indptr = indptr - a
        bad = np.flatnonzero((row_idx < 0) | (row_idx >= n_rows))
        if bad.size:
            col = int(np.searchsorted(indptr, bad[0], side="right")) - 1
            raise self.h5.err("'%s/indices' holds row index %d in column %d, outside 0..%d (%d rows): the sparse "
                              "matrix is corrupt" % (self.key, int(row_idx[bad[0]]), col, n_rows - 1, n_rows))
        cols = np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))
        order = np.argsort(row_idx, kind="stable")
        counts = np.bincount(row_idx, minlength=n_rows)
        csr_indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return csr_indptr, cols[order], data[order]


def column_map(target_genes, source_genes, source_path):
    """For each target gene, the source column holding it or -1 (genes aligned by var name)."""
    pos = {}
    for i, g in enumerate(source_genes):
        pos.setdefault(g, i)
    mapping = np.array([pos.get(g, -1) for g in target_genes], dtype=np.int64)
    if not (mapping >= 0).any():
        raise DataError("%s: none of its var names match the dataset's genes; it cannot be the query of this "
                        "dataset" % source_path)
    return mapping


def remap_block(block, mapping):
    """Columns of `block` rearranged to the target gene order; missing genes are zero."""
    out = np.zeros((block.shape[0], len(mapping)), dtype=block.dtype)
    ok = mapping >= 0
    out[:, ok] = block[:, mapping[ok]]
    return out
