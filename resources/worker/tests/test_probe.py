"""Probing frozen encoders (docs/worker-benchmark.md): kNN equals scikit-learn's, the linear probe equals a plain-torch
reference and reaches LogisticRegression's accuracy on separable data, probe runs write predictions.csv, events and
embeddings.npy as the contract says, and several run folders reuse the embeddings."""
import csv
import os

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from conftest import CLASSES, read_events, read_json, run_cli
from pretrain_helpers import make_pretrain_run, make_probe_run, write_dataset
from scwb_worker import probe
from scwb_worker.models.published import PublishedConfig, PublishedEncoder
from test_runfolder import check_event


def _blobs(n, d, c, seed, spread=1.0):
    centers = np.random.RandomState(1000 + d * 10 + c).randn(c, d) * 3  # the same classes for every seed
    rng = np.random.RandomState(seed)
    y = rng.randint(0, c, n)
    return (centers[y] + rng.randn(n, d) * spread).astype(np.float32), y


def test_knn_equals_scikit_learn():
    x, y = _blobs(300, 8, 4, 0, spread=3.0)  # overlapping classes: many mixed neighbourhoods
    tx, _ = _blobs(120, 8, 4, 1, spread=3.0)
    ours = probe.knn_predict(x, y, tx, 10, 4)
    ref = KNeighborsClassifier(n_neighbors=10).fit(x, y).predict(tx)
    assert (ours == ref).all()
    assert len(set(ours.tolist())) == 4


def test_knn_vote_ties_go_to_the_smallest_class_index():
    x = np.array([[0.0], [1.0], [2.0], [3.0]], dtype=np.float32)
    y = np.array([2, 1, 2, 1])
    pred = probe.knn_predict(x, y, np.array([[1.4]], dtype=np.float32), 4, 3)
    assert pred.tolist() == [1] == KNeighborsClassifier(n_neighbors=4).fit(x, y).predict([[1.4]]).tolist()


def _reference_probe(x, y, tx, ty, c, epochs, lr, bs, every, seed):
    """Plain PyTorch, written out here: Linear after manual_seed(seed), Adam, epoch e's order is
    RandomState([seed, e, 7]).permutation(n), keep the first best test accuracy of the checks."""
    torch.manual_seed(seed)
    lin = torch.nn.Linear(x.shape[1], c)
    opt = torch.optim.Adam(lin.parameters(), lr=lr)
    X, Y, TX, TY = (torch.tensor(x), torch.tensor(y, dtype=torch.long), torch.tensor(tx),
                    torch.tensor(ty, dtype=torch.long))
    best, kept, state = -1.0, None, None
    for e in range(1, epochs + 1):
        perm = np.random.RandomState([seed, e, 7]).permutation(len(y))
        for s in range(0, len(y), bs):
            i = torch.tensor(perm[s:s + bs])
            loss = torch.nn.functional.cross_entropy(lin(X[i]), Y[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if e % every == 0 or e == epochs:
            with torch.no_grad():
                acc = (lin(TX).argmax(1) == TY).float().mean().item()
            if acc > best:
                best, kept, state = acc, e, {k: v.clone() for k, v in lin.state_dict().items()}
    lin.load_state_dict(state)
    with torch.no_grad():
        return lin(TX).argmax(1).numpy(), kept


def test_linear_probe_equals_a_plain_torch_reference():
    x, y = _blobs(200, 6, 3, 2, spread=2.5)
    tx, ty = _blobs(90, 6, 3, 3, spread=2.5)
    pred, kept, best = probe.linear_probe(x, y, tx, ty, 3, 20, 0.005, 64, 5, "best-test", 7)
    ref, ref_kept = _reference_probe(x, y, tx, ty, 3, 20, 0.005, 64, 5, 7)
    assert kept == ref_kept and (pred == ref).all()
    assert best == pytest.approx((ref == ty).mean())
    last, kept_last, _ = probe.linear_probe(x, y, tx, ty, 3, 20, 0.005, 64, 5, "last", 7)
    assert kept_last == 20 and last.shape == (90,)


def test_linear_probe_reaches_logistic_regression_on_separable_data():
    x, y = _blobs(400, 10, 4, 4, spread=1.5)
    tx, ty = _blobs(200, 10, 4, 5, spread=1.5)
    pred, _, _ = probe.linear_probe(x, y, tx, ty, 4, 50, 0.005, 64, 5, "last", 0)
    ours = (pred == ty).mean()
    lr = (LogisticRegression(max_iter=2000).fit(x, y).predict(tx) == ty).mean()
    assert lr > 0.9 and ours >= lr - 0.03, (ours, lr)


@pytest.fixture(scope="module")
def encoder_run(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("enc"))
    run = make_pretrain_run(tmp, epochs=1, n_cells=60)
    assert run_cli(["pretrain", "--run-dir", run]) == 0
    return os.path.join(run, "encoder.pt"), os.path.join(tmp, "data.h5ad")


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_probe_runs_write_predictions_events_and_embeddings(tmp_path, encoder_run):
    enc, ds = encoder_run
    train, test = list(range(0, 60, 2)), list(range(1, 60, 2))
    lin = make_probe_run(str(tmp_path), enc, ds, train, test, name="lin", epochs=10, writeEmbeddings=True)
    knn = make_probe_run(str(tmp_path), enc, ds, train, test, name="knn", method="knn", k=5)
    assert run_cli(["probe", "--run-dir", lin, "--run-dir", knn]) == 0
    for run in (lin, knn):
        assert read_json(os.path.join(run, "run.json"))["status"] == "completed"
        events = read_events(run)
        for ev in events:
            check_event(ev)
        names = {e["name"] for e in events if e["type"] == "metric"}
        assert {"embedSeconds", "trainSeconds"} <= names
        rows = _rows(os.path.join(run, "predictions.csv"))
        assert rows[0] == ["index", "obs_name", "true_label", "predicted_label"]
        assert [int(r[0]) for r in rows[1:]] == test and all(r[3] in CLASSES for r in rows[1:])
        assert [r[1] for r in rows[1:]] == ["cell-%d" % i for i in test]
    assert len([e for e in read_events(lin) if e["type"] == "train"]) == 10
    assert "embeddings reused" in open(os.path.join(knn, "run.log")).read()
    emb = np.load(os.path.join(lin, "embeddings.npy"))
    assert emb.dtype == np.float32 and emb.shape == (60, 16) and emb.flags["C_CONTIGUOUS"]
    assert read_json(os.path.join(lin, "embeddings.json")) == {"rows": 60, "dim": 16, "dataset": ds, "pooling": "cls"}
    # the embeddings are the published encoder's <cls> output on X as stored (no log1p), <cls> first, the genes in
    # stored order, padded with <pad> and value 0 to maxSeqLen places; kNN decides on them as scikit-learn does
    obj = torch.load(enc)
    cfg = PublishedConfig.from_dict(obj["config"])
    model = PublishedEncoder(cfg)
    model.load_state_dict(obj["model_state_dict"])
    model.eval()
    from scwb_worker.data import H5ad
    with H5ad(ds) as h5:
        X = next(b for _, b in h5.matrix().iter_rows(list(range(60))))
        labels = h5.labels("cell_type")
    small = [r for r in range(60) if np.count_nonzero(X[r]) < 17]  # no sub-sampling: exactly the encoder's
    assert len(small) >= 3
    for r in small[:3]:
        nz = np.nonzero(X[r])[0]
        src = np.full(18, cfg.pad_id)
        src[0], src[1:len(nz) + 1] = cfg.cls_id, nz
        values = np.zeros(18, np.float32)
        values[1:len(nz) + 1] = X[r, nz]
        with torch.no_grad():
            cell = model.embed(torch.tensor(src)[None], torch.tensor(values)[None], torch.tensor(src == cfg.pad_id)[None])
        assert np.allclose(cell.numpy()[0], emb[r], atol=1e-5), r
    y = np.array([CLASSES.index(labels[r]) for r in train])
    ref = KNeighborsClassifier(n_neighbors=5).fit(emb[train], y).predict(emb[test])
    assert [r[3] for r in _rows(os.path.join(knn, "predictions.csv"))[1:]] == [CLASSES[k] for k in ref]


def test_probe_of_scbert_and_scgpt_checkpoints(tmp_path):
    from scwb_worker.demo import write_demo_checkpoints
    ds = str(tmp_path / "data.h5ad")
    write_dataset(ds, 40, 24)
    written = write_demo_checkpoints(str(tmp_path / "ck"), ds)
    train, test = list(range(0, 40, 2)), list(range(1, 40, 2))
    runs = [make_probe_run(str(tmp_path), written["scbert"], ds, train, test, name="bert", model="scbert",
                           epochs=5, writeEmbeddings=True),
            make_probe_run(str(tmp_path), os.path.dirname(written["scgpt"]), ds, train, test, name="gpt",
                           model="scgpt", method="knn", pooling="mean", writeEmbeddings=True)]
    assert run_cli(["probe", "--run-dir", runs[0], "--run-dir", runs[1]]) == 0
    assert np.load(os.path.join(runs[0], "embeddings.npy")).shape == (40, 16)
    assert np.load(os.path.join(runs[1], "embeddings.npy")).shape == (40, 32)
    for run in runs:
        assert len(_rows(os.path.join(run, "predictions.csv"))) == 21


def test_probe_errors_name_the_problem(tmp_path, encoder_run):
    enc, ds = encoder_run
    bad_label = make_probe_run(str(tmp_path), enc, ds, [0, 1], [2], name="a", classes=["zeta"])
    missing = make_probe_run(str(tmp_path), str(tmp_path / "nope.pt"), ds, [0, 1], [2], name="b")
    not_enc = make_probe_run(str(tmp_path), ds, ds, [0, 1], [2], name="c")
    assert run_cli(["probe", "--run-dir", bad_label, "--run-dir", missing, "--run-dir", not_enc]) == 1
    errors = [read_json(os.path.join(r, "run.json"))["error"] for r in (bad_label, missing, not_enc)]
    assert "not among the run's classes" in errors[0]
    assert "nope.pt" in errors[1] and "not found" in errors[1]
    assert ds in errors[2]


def test_published_probe_reads_x_as_stored_and_draws_genes_by_weight_fresh_per_trial(tmp_path, encoder_run):
    """The published probes: X as stored (no log1p), a cell with at least maxSeqLen (17) genes keeps 17 drawn with
    torch.multinomial(x - min + 1e-5) from the trial's seed (no coin), every other cell is the same in every trial."""
    from scwb_worker.data import H5ad
    from scwb_worker.published_data import cell_generator
    enc, _ = encoder_run
    ds = str(tmp_path / "wide.h5ad")
    X = np.zeros((4, 24), np.float32)
    X[0, :20] = np.linspace(0.2, 3.0, 20)  # 20 genes: sampled; normalised-looking values, not counts
    X[1, 3:9] = [0.5, 1.5, 2.5, 0.1, 0.7, 1.2]
    X[2, :24] = np.linspace(3.0, 0.1, 24)
    X[3, 5] = 2.0
    from conftest import write_h5ad
    write_h5ad(ds, X, ["c%d" % i for i in range(4)], ["G%d" % i for i in range(24)])
    obj = torch.load(enc)
    cfg = PublishedConfig.from_dict(obj["config"])
    model = PublishedEncoder(cfg)
    model.load_state_dict(obj["model_state_dict"])
    model.eval()
    with H5ad(ds) as h5:
        trials = [probe.embeddings("benchmark", enc, h5, [0, 1, 2, 3], "cls", None, "cpu", (s, True))[0]
                  for s in range(1, 7)]
    # <cls> sees a set of genes (no positions): some trials keep another set of the 20 or 24 genes
    assert any(not np.allclose(t[2], trials[0][2]) for t in trials[1:])
    assert all(np.allclose(t[1], trials[0][1]) and np.allclose(t[3], trials[0][3]) for t in trials[1:])
    for seed, emb in ((1, trials[0]), (2, trials[1])):
        for r in (0, 1, 2):
            nz = np.nonzero(X[r])[0]
            vals = torch.tensor(X[r, nz])
            if len(nz) >= 17:
                pick = torch.multinomial(vals - vals.min() + 1e-5, 17, replacement=False,
                                         generator=cell_generator(seed, 0, r)).numpy()
                nz = nz[pick]
            src = np.full(18, cfg.pad_id)
            src[0], src[1:len(nz) + 1] = cfg.cls_id, nz
            values = np.zeros(18, np.float32)
            values[1:len(nz) + 1] = X[r, nz]
            with torch.no_grad():
                ref = model.embed(torch.tensor(src)[None], torch.tensor(values)[None],
                                  torch.tensor(src == cfg.pad_id)[None])
            assert np.allclose(ref.numpy()[0], emb[r], atol=1e-5), (seed, r)
