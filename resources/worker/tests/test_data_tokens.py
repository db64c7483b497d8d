"""Reading X (dense, CSR, CSC), layers, labels and names from .h5ad files; scBERT and scGPT tokenisation."""
import h5py
import numpy as np
import pytest
import torch

from conftest import write_h5ad
from scwb_worker import tokens
from scwb_worker.data import DataError, H5ad, column_map, remap_block


def _matrix():
    rng = np.random.RandomState(0)
    X = rng.rand(37, 9).astype(np.float32) * 4
    X[rng.rand(37, 9) < 0.6] = 0
    return X


@pytest.mark.parametrize("fmt", ["dense", "csr", "csc"])
def test_row_blocks_equal_the_matrix_in_any_order(tmp_path, fmt):
    X = _matrix()
    path = str(tmp_path / ("x_%s.h5ad" % fmt))
    write_h5ad(path, X, ["c%d" % i for i in range(37)], ["g%d" % i for i in range(9)],
               obs={"t": ["a", "b", "c"] * 12 + ["a"]}, x_format=fmt)
    rows = [30, 2, 17, 5, 36, 0, 2]  # unsorted, with a repeat
    got = np.zeros((len(rows), 9), dtype=np.float32)
    seen = []
    with H5ad(path) as h:
        m = h.matrix()
        assert m.format == fmt and m.shape == (37, 9)
        for pos, block in m.iter_rows(rows, block=3):
            got[pos] = block
            seen.extend(pos.tolist())
        assert h.obs_names()[:2] == ["c0", "c1"] and h.var_names()[-1] == "g8"
        assert h.labels("t")[:4] == ["a", "b", "c", "a"]
    assert sorted(seen) == list(range(len(rows)))
    np.testing.assert_array_equal(got, X[rows])


def test_layer_labels_and_errors_name_the_file(tmp_path):
    X = _matrix()
    path = str(tmp_path / "l.h5ad")
    write_h5ad(path, X, ["c%d" % i for i in range(37)], ["g%d" % i for i in range(9)],
               obs={"n": list(range(37))}, layers={"X_binned": X * 2})
    with H5ad(path) as h:
        blocks = list(h.matrix("X_binned").iter_rows([1, 3]))
        np.testing.assert_array_equal(blocks[0][1], X[[1, 3]] * 2)
        assert h.labels("n")[:3] == ["0", "1", "2"]
        with pytest.raises(DataError, match=r"l\.h5ad: has no layer 'counts' \(layers: X_binned\)"):
            h.matrix("counts")
        with pytest.raises(DataError, match=r"l\.h5ad: obs has no column 'cell_type'"):
            h.labels("cell_type")
        with pytest.raises(DataError, match="out of range"):
            list(h.matrix().iter_rows([37]))
    with pytest.raises(DataError, match="missing.h5ad: no such file"):
        H5ad(str(tmp_path / "missing.h5ad"))
    (tmp_path / "bad.h5ad").write_text("not hdf5")
    with pytest.raises(DataError, match="bad.h5ad: not a readable HDF5"):
        H5ad(str(tmp_path / "bad.h5ad"))


def test_anndata_07_categorical_and_csr_matrix_group(tmp_path):
    path = str(tmp_path / "old.h5ad")
    X = _matrix()[:4]
    with h5py.File(path, "w") as f:
        g = f.create_group("X")
        g.attrs["h5sparse_format"] = "csr"
        g.attrs["h5sparse_shape"] = np.array([4, 9])
        indptr, ind, dat = [0], [], []
        for r in X:
            nz = np.nonzero(r)[0]
            ind += nz.tolist()
            dat += r[nz].tolist()
            indptr.append(len(ind))
        g["data"], g["indices"], g["indptr"] = np.array(dat, np.float32), np.array(ind), np.array(indptr)
        obs = f.create_group("obs")
        obs.attrs["_index"] = "index"
        obs["index"] = np.array([b"a", b"b", b"c", b"d"])
        cats = obs.create_group("__categories")
        cats["ct"] = np.array([b"T", b"B"])
        obs["ct"] = np.array([1, 0, 1, -1], dtype=np.int8)
        obs["ct"].attrs["categories"] = cats["ct"].ref
        var = f.create_group("var")
        var.attrs["_index"] = "index"
        var["index"] = np.array([("g%d" % i).encode() for i in range(9)])
    with H5ad(path) as h:
        assert h.labels("ct") == ["B", "T", "B", ""]
        assert h.obs_names() == ["a", "b", "c", "d"]
        np.testing.assert_array_equal(next(h.matrix().iter_rows([0, 1, 2, 3]))[1], X)


def test_query_genes_aligned_by_name():
    mapping = column_map(["a", "b", "c"], ["c", "x", "a"], "q.h5ad")
    assert mapping.tolist() == [2, -1, 0]
    out = remap_block(np.array([[3.0, 9.0, 1.0]], dtype=np.float32), mapping)
    assert out.tolist() == [[1.0, 0.0, 3.0]]
    with pytest.raises(DataError, match="q.h5ad: none of its var names"):
        column_map(["a"], ["z"], "q.h5ad")


def test_scbert_tokens_clamp_truncate_append():
    block = np.array([[0.0, 0.4, 1.0, 1.99, 4.7, 5.0, 5.5, 100.0]], dtype=np.float32)
    t = tokens.scbert_tokens(block, "d.h5ad")
    assert t.tolist() == [[0, 0, 1, 1, 4, 5, 5, 5]] and t.dtype == np.uint8
    b = tokens.scbert_batch(t)
    assert b.dtype == torch.long and b.tolist() == [[0, 0, 1, 1, 4, 5, 5, 5, 0]]
    with pytest.raises(tokens.TokenError, match="d.h5ad: negative"):
        tokens.scbert_tokens(np.array([[-1.0]], dtype=np.float32), "d.h5ad")


def _tok(**kw):
    args = dict(gene_ids=[10, -1, 12, 13, 14], cls_id=3, pad_id=2, pad_value=-2.0, max_len=10, seed=5,
                bin_here=False)
    args.update(kw)
    return tokens.ScGPTTokenizer(**args)


def test_scgpt_cls_first_nonzero_only_and_padding():
    tok = _tok()
    ids, vals = tok.cell(np.array([0.0, 7.0, 2.0, 0.0, 3.0], dtype=np.float32), row=0)
    # gene 1 is not in the vocabulary (-1) and genes 0 and 3 are zero
    assert ids.tolist() == [3, 12, 14] and vals.tolist() == [0.0, 2.0, 3.0]
    other = tok.cell(np.array([1.0, 0.0, 0.0, 0.0, 0.0], dtype=np.float32), row=1)
    g, v, mask = tok.batch([(ids, vals), other])
    assert g.tolist() == [[3, 12, 14], [3, 10, 2]]
    assert v.tolist() == [[0.0, 2.0, 3.0], [0.0, 1.0, -2.0]]
    assert mask.tolist() == [[False, False, False], [False, False, True]]


def test_scgpt_long_cells_sampled_with_cls_kept_and_seeded():
    tok = _tok(gene_ids=list(range(100, 130)), max_len=8)
    row = np.arange(1, 31, dtype=np.float32)
    ids, vals = tok.cell(row, row=4)
    assert len(ids) == 8 and ids[0] == 3 and vals[0] == 0.0
    assert len(set(ids[1:].tolist())) == 7 and list(ids[1:]) == sorted(ids[1:])
    np.testing.assert_array_equal(vals[1:], ids[1:] - 99)  # values stay with their genes
    again = tok.cell(row, row=4)
    np.testing.assert_array_equal(again[0], ids)
    assert not np.array_equal(tok.cell(row, row=5)[0], ids)  # another row draws another subset


def test_scgpt_binning_by_quantiles():
    rng = np.random.RandomState(0)
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0], dtype=np.float32)
    # 5 bins: edges at quantiles 0, 1/3, 2/3, 1 -> 1, 2.333, 3.667, 5. digitize left/right: 1 -> 1/0,
    # 2 -> 1/1, 3 -> 2/2, 4 -> 3/3, 5 -> 4/3; ceil(left + u * (right - left)) with 0 < u < 1 gives 1 and 4 at the ends
    b = tokens.bin_values(x, 5, rng)
    assert b.tolist() == [1.0, 1.0, 2.0, 3.0, 4.0]
    # all values equal: every edge ties, so bins spread over 1..4 at random but are seeded
    tied = np.full(200, 2.0)
    t1 = tokens.bin_values(tied, 5, np.random.RandomState(1))
    t2 = tokens.bin_values(tied, 5, np.random.RandomState(1))
    assert t1.tolist() == t2.tolist() and set(t1.tolist()) <= {1.0, 2.0, 3.0, 4.0} and len(set(t1.tolist())) > 1
    tok = _tok(bin_here=True, n_bins=5)
    ids, vals = tok.cell(np.array([1.0, 9.0, 2.0, 0.0, 3.0], dtype=np.float32), row=0)
    assert ids.tolist() == [3, 10, 12, 14] and vals[0] == 0 and set(vals[1:].tolist()) <= {1.0, 2.0, 3.0, 4.0}


def test_reads_the_anndata_encodings(tmp_path):
    """X as csr / csc / dense, a categorical and a numeric obs column, a numeric var column and a layer, in the
    encoding anndata >= 0.8 writes (written with h5py, so that the test needs no anndata: the torch-2 layer's venv
    has none)."""
    X = _matrix()
    obs = {"ct": (["x", "y", "z"] * 12 + ["x"]), "n": np.arange(37)}
    var = {"id_in_vocab": np.arange(9) * 2}
    names, genes = ["cell%d" % i for i in range(37)], ["g%d" % i for i in range(9)]
    for fmt in ("csr", "csc", "dense"):
        path = str(tmp_path / ("ad_%s.h5ad" % fmt))
        write_h5ad(path, X, names, genes, obs=obs, var=var, layers={"X_binned": X + 1}, x_format=fmt)
        with H5ad(path) as h:
            assert h.matrix().format == fmt
            rows = [36, 1, 20]
            got = np.zeros((3, 9), dtype=np.float32)
            for pos, block in h.matrix().iter_rows(rows):
                got[pos] = block
            np.testing.assert_array_equal(got, X[rows])
            np.testing.assert_array_equal(next(h.matrix("X_binned").iter_rows([0]))[1], X[[0]] + 1)
            assert h.labels("ct")[:4] == ["x", "y", "z", "x"] and h.labels("n")[36] == "36"
            assert h.obs_names()[5] == "cell5" and h.var_names() == ["g%d" % i for i in range(9)]
            codes, cats = h.column("var", "id_in_vocab")
            assert [int(cats[c]) for c in codes] == list(range(0, 18, 2))


def _corrupt(path, key, fn):
    with h5py.File(path, "r+") as f:
        arr = f[key][()]
        del f[key]
        f.create_dataset(key, data=fn(arr.copy()))


def _decrease(p):
    k = len(p) // 2
    p[k] = p[k - 1] - 1  # a row whose end lies before its start
    if p[k] < 0:
        p[k - 1], p[k] = p[k - 1] + 2, p[k - 1] + 1
    return p


@pytest.mark.parametrize("fmt,key,fn,message", [
    ("csr", "X/indptr", _decrease, "'X/indptr' decreases at position 19"),
    ("csr", "X/indptr", lambda p: np.concatenate([p[:-1], [p[-1] + 5]]), "'X/indptr' points outside its"),
    ("csr", "X/indptr", lambda p: p[:-1], "'X/indptr' has 37 entries, expected 38"),
    ("csr", "X/indices", lambda i: np.where(np.arange(len(i)) == len(i) - 1, 9, i), "holds column index 9 in row 36"),
    ("csr", "X/data", lambda d: d[:-1], "'X/data' holds"),
    ("csc", "X/indptr", _decrease, "'X/indptr' decreases at position 5"),
    ("csc", "X/indices", lambda i: np.where(np.arange(len(i)) == 0, 37, i), "holds row index 37 in column 0"),
])
def test_a_corrupt_sparse_matrix_is_refused_as_the_typescript_readers_do(tmp_path, fmt, key, fn, message):
    path = str(tmp_path / "bad.h5ad")
    write_h5ad(path, _matrix(), ["c%d" % i for i in range(37)], ["g%d" % i for i in range(9)], x_format=fmt)
    _corrupt(path, key, fn)
    with pytest.raises(DataError) as info:
        with H5ad(path) as h:
            for _ in h.matrix().iter_rows(list(range(37))):
                pass
    assert path in str(info.value) and message in str(info.value) and "corrupt" in str(info.value), str(info.value)
