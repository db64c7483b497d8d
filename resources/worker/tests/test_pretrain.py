"""Pre-training (docs/worker-benchmark.md): each encoder structure learns, masking and weighted gene sampling draw what
they claim (statistical tests), two-process DDP equals one process, a cancelled run resumed equals an uninterrupted
one, continued pre-training of scBERT and scGPT, events and encoder.pt as the contract says, clear errors."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy import stats

from conftest import WORKER_ROOT, read_events, read_json, run_cli, write_h5ad
from pretrain_helpers import StopAfter, make_pretrain_run, write_dataset
from scwb_worker import distributed, pretrain, runtime
from scwb_worker.models.published import PublishedConfig, PublishedEncoder
from scwb_worker.runfolder import RunFolder
from test_runfolder import check_event

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretrain_grad_rank.py")


def check_pretrain_event(ev):
    """As check_event, except that a validation line of an MSE objective has "accuracy": null (the contract)."""
    if ev["type"] == "validation" and ev.get("accuracy") is None:
        ev = dict(ev, accuracy=0.0)
    check_event(ev)


def _setup(run):
    folder = RunFolder(run, writable=False)
    rec = folder.read_record()
    p = pretrain.resolve(rec["parameters"]["pretrain"])
    runtime.seed_everything(rec["seed"])
    model, obj, extra = pretrain.setup(rec, p, folder.read_split(), rec["seed"])
    return rec, p, model, obj, folder.read_split()


@pytest.mark.parametrize("structure,extra", [
    ("transformer", {}),
    ("cnn_base", {}),
    ("cnn_ours", {}),
    ("linear_ours", {}),
    ("linear_base", {}),
    ("transformer", {"valueMode": "bins", "pooling": "mean", "weightedSampling": True}),
    ("scwb-transformer", {}),
    ("scwb-transformer", {"valueMode": "bins", "mvc": True, "pooling": "mean", "weightedSampling": True}),
])
def test_each_structure_learns(tmp_path, structure, extra):
    run = make_pretrain_run(str(tmp_path), structure=structure, **extra)
    _rec, p, model, obj, split = _setup(run)
    ctx = distributed.Context()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    train_rows = np.asarray(split["train"])
    losses = []
    for step in range(240):
        rows = train_rows[runtime.epoch_order(1, step, len(train_rows))[:16]]
        loss, _, _ = pretrain.step_loss(model, obj, rows.tolist(), step, ctx, "cpu", False)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    first, last = np.mean(losses[:30]), np.mean(losses[-30:])
    # linear_base sees each gene alone (nothing mixes the places), so a hidden value can only be guessed from its gene
    assert last < (0.6 if structure == "linear_base" else 0.5) * first, (first, last)


def test_masking_draws_mask_ratio_of_the_places(tmp_path):
    run = make_pretrain_run(str(tmp_path), n_cells=200, maskRatio=0.4)
    _rec, _p, _model, obj, split = _setup(run)
    masked = places = 0
    for epoch in range(1, 4):
        batch = obj.prepare(split["train"], epoch)
        pad = batch.inputs[2]
        assert not bool((batch.masked & pad).any())  # padding is never masked
        assert bool((batch.inputs[1][batch.masked] == -1.0).all())  # masked values are hidden from the model
        masked += batch.n_masked
        places += int((~pad).sum()) - len(pad)  # <cls> is never masked
        assert not bool(batch.masked[:, 0].any())
    assert places > 5000
    assert stats.binomtest(masked, places, 0.4).pvalue > 1e-3, masked / places
    # another ratio, to be sure the parameter is used
    obj.ratio = 0.15
    batch = obj.prepare(split["train"], 9)
    n = int((~batch.inputs[2]).sum()) - len(batch.inputs[2])
    assert stats.binomtest(batch.n_masked, n, 0.15).pvalue > 1e-3


def test_weighted_sampling_draws_genes_in_proportion_to_expression():
    raw = np.array([1, 2, 3, 5, 8, 13, 21, 40], dtype=np.float32)
    rng = np.random.default_rng(0)
    n = 8000
    counts = np.bincount([pretrain.sample_genes(raw, 1, True, rng)[0] for _ in range(n)], minlength=len(raw))
    expected = raw / raw.sum() * n
    assert stats.chisquare(counts, expected).pvalue > 1e-3, counts
    # unweighted: uniform
    counts_u = np.bincount([pretrain.sample_genes(raw, 1, False, rng)[0] for _ in range(n)], minlength=len(raw))
    assert stats.chisquare(counts_u, np.full(len(raw), n / len(raw))).pvalue > 1e-3, counts_u
    # without replacement, sorted, all when k >= n
    pick = pretrain.sample_genes(raw, 5, True, rng)
    assert len(set(pick.tolist())) == 5 and list(pick) == sorted(pick)
    assert list(pretrain.sample_genes(raw, 8, True, rng)) == list(range(8))


def test_a_cell_with_too_many_genes_is_sampled_by_expression_half_of_the_time(tmp_path):
    """scwb transformer: three expressed genes (1, 1, 98) and room for one: uniform picks the 98 with p 1/3, weighted
    with p 0.98; half of each gives 0.6567 (the contract's 'half of the time')."""
    ds = str(tmp_path / "d.h5ad")
    write_h5ad(ds, np.array([[1, 0, 1, 98]], dtype=np.float32), ["c"], ["A", "B", "C", "D"])
    run = make_pretrain_run(str(tmp_path), ds=ds, n_cells=1, val_every=0, maxSeqLen=2, weightedSampling=True,
                            structure="scwb-transformer")
    _rec, _p, _model, obj, _split = _setup(run)
    n = 3000
    hits = sum(int(obj.cell(0, e)[0][0] == 3) for e in range(1, n + 1))
    assert stats.binomtest(hits, n, 0.5 / 3 + 0.5 * 0.98).pvalue > 1e-3, hits / n
    obj.weighted = False
    hits_u = sum(int(obj.cell(0, e)[0][0] == 3) for e in range(1, n + 1))
    assert stats.binomtest(hits_u, n, 1 / 3).pvalue > 1e-3, hits_u / n


def test_published_structures_take_max_seq_len_genes_after_cls(tmp_path):
    for structure in ("transformer", "cnn_base", "cnn_ours", "linear_ours", "linear_base"):
        run = make_pretrain_run(str(tmp_path / structure), structure=structure, maxSeqLen=11)
        _rec, _p, model, obj, split = _setup(run)
        batch = obj.prepare(split["train"][:4], 1)
        src = batch.inputs[0]
        assert tuple(src.shape) == (4, 12) and bool((src[:, 0] == obj.tok.cls_id).all())
        assert float(batch.inputs[1][:, 0].abs().sum()) == 0.0  # <cls> value 0
        mlm, mvc, cell = model(*batch.inputs)
        assert tuple(mlm.shape) == (4, 12) and tuple(mvc.shape) == (4, 12) and tuple(cell.shape) == (4, 16)
        assert mlm.requires_grad == (structure in ("transformer", "linear_base"))  # cnn/linear_ours: MVC only


def test_two_process_gradient_equals_one_process_on_the_whole_batch(tmp_path):
    run = make_pretrain_run(str(tmp_path), mvc=True)
    one, two = str(tmp_path / "one.pt"), str(tmp_path / "two.pt")
    import pretrain_grad_rank
    pretrain_grad_rank.main(run, one, 11)
    store = str(tmp_path / "ddp-store")
    env = dict(os.environ, PYTHONPATH=WORKER_ROOT, GLOO_SOCKET_IFNAME="lo", WORLD_SIZE="2", SCWB_DDP_STORE=store)
    procs = [subprocess.Popen([sys.executable, SCRIPT, run, two, "11"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=dict(env, RANK=str(r), LOCAL_RANK=str(r))) for r in range(2)]
    for proc in procs:
        _, err = proc.communicate()
        assert proc.returncode == 0, err.decode()
    g1, g2 = torch.load(one), torch.load(two)
    assert set(g1) == set(g2) and len(g1) > 10
    for name, g in g1.items():
        assert torch.allclose(g, g2[name], rtol=1e-4, atol=1e-6), name


def _weights(run):
    return torch.load(os.path.join(run, "encoder.pt"))["model_state_dict"]


def test_cancel_then_resume_gives_the_uninterrupted_encoder(tmp_path):
    common = dict(epochs=2, batchSize=8, warmupSteps=4, config=dict(dim=16, depth=2, heads=2, dropout=0.1))
    whole = make_pretrain_run(str(tmp_path), name="whole", **common)
    cut = make_pretrain_run(str(tmp_path), name="cut", **common)
    assert pretrain.pretrain(whole) == 0
    assert pretrain.pretrain(cut, stop=StopAfter(9)) == 130  # 7 batches an epoch: stops inside epoch 2
    assert read_json(os.path.join(cut, "run.json"))["status"] == "cancelled"
    state = torch.load(os.path.join(cut, "checkpoints", "last.pt"))
    assert state["epoch"] == 2 and 0 < state["batch"] < 7
    assert not os.path.exists(os.path.join(cut, "encoder.pt"))
    assert run_cli(["pretrain", "--run-dir", cut, "--resume"]) == 0
    a, b = _weights(whole), _weights(cut)
    assert set(a) == set(b)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    events = read_events(cut)
    for ev in events:
        check_pretrain_event(ev)
    assert [e["status"] for e in events if e["type"] == "status"] == ["running", "cancelled", "running", "completed"]


def test_run_writes_events_and_encoder_as_the_contract_says(tmp_path):
    run = make_pretrain_run(str(tmp_path), structure="cnn_base", valueMode="bins", nBins=11, pooling="mean",
                            warmupSteps=10)
    assert run_cli(["pretrain", "--run-dir", run]) == 0
    rec = read_json(os.path.join(run, "run.json"))
    assert rec["status"] == "completed" and rec["parameters"]["pretrain"]["structure"] == "cnn_base"
    events = read_events(run)
    for ev in events:
        check_pretrain_event(ev)
    val = [e for e in events if e["type"] == "validation"]
    assert [e["epoch"] for e in val] == [1, 2] and all(e["accuracy"] is None for e in val)
    train_ev = [e for e in events if e["type"] == "train"]
    assert train_ev[-1]["step"] == 14
    # the published warm-up: lr x s / 10 before step s (0-based) of epoch 1 (7 steps), then it stays at 0.6 x lr
    assert train_ev[0]["lr"] == pytest.approx(0.003 * 1 / 10) and train_ev[-1]["lr"] == pytest.approx(0.003 * 0.6)
    metrics = {e["name"]: e["value"] for e in events if e["type"] == "metric"}
    assert metrics["tokensPerSec"] > 0 and metrics["trainSeconds"] > 0
    enc = torch.load(os.path.join(run, "encoder.pt"))
    assert enc["format"] == "scwb-encoder" and enc["version"] == 2 and enc["model"] == "benchmark"
    assert (enc["structure"], enc["pooling"], enc["valueMode"], enc["nBins"], enc["maxSeqLen"]) == (
        "cnn_base", "mean", "bins", 11, 17)
    assert enc["genes"] == ["G%d" % i for i in range(24)] and enc["vocab"] is None
    # best_model.pt: encoder.pt holds the epoch of the lowest validation MSE
    best = min((e for e in val), key=lambda e: e["loss"])
    assert enc["epoch"] == best["epoch"] and [e["best"] for e in val][best["epoch"] - 1]
    model = PublishedEncoder(PublishedConfig.from_dict(enc["config"]))
    model.load_state_dict(enc["model_state_dict"])
    assert not [n for n in os.listdir(run) if n.startswith(".")]


def test_continued_pretraining_of_an_encoder_and_with_a_vocabulary(tmp_path):
    first = make_pretrain_run(str(tmp_path), name="first", epochs=1)
    assert run_cli(["pretrain", "--run-dir", first]) == 0
    # the same genes in another order, plus one the encoder does not know
    ds2 = str(tmp_path / "other.h5ad")
    X, _ = write_dataset(str(tmp_path / "tmp.h5ad"), 32, 24)
    write_h5ad(ds2, np.concatenate([X[:, ::-1], np.ones((32, 1), np.float32)], 1), ["c%d" % i for i in range(32)],
               ["G%d" % i for i in reversed(range(24))] + ["NEW"])
    again = make_pretrain_run(str(tmp_path), name="again", ds=ds2, n_cells=32, epochs=1,
                              checkpoint=os.path.join(first, "encoder.pt"))
    assert run_cli(["pretrain", "--run-dir", again]) == 0, open(os.path.join(again, "run.log")).read()
    enc = torch.load(os.path.join(again, "encoder.pt"))
    assert enc["genes"] == ["G%d" % i for i in range(24)]
    before = torch.load(os.path.join(first, "encoder.pt"))["model_state_dict"]
    assert not torch.equal(before["embedding.weight"], enc["model_state_dict"]["embedding.weight"])
    vocab = str(tmp_path / "vocab.json")
    with open(vocab, "w") as f:
        f.write('{"G3": 0, "G1": 1, "G7": 2, "<pad>": 3, "<cls>": 4}')
    voc = make_pretrain_run(str(tmp_path), name="voc", epochs=1, vocab=vocab, maxSeqLen=4)
    assert run_cli(["pretrain", "--run-dir", voc]) == 0, open(os.path.join(voc, "run.log")).read()
    enc = torch.load(os.path.join(voc, "encoder.pt"))
    assert enc["vocab"] == vocab and enc["genes"] is None and enc["config"]["n_tokens"] == 5


@pytest.fixture
def demo(tmp_path):
    from scwb_worker.demo import write_demo_checkpoints
    ds = str(tmp_path / "data.h5ad")
    write_dataset(ds, 40, 24)
    return ds, write_demo_checkpoints(str(tmp_path / "ck"), ds)


def test_continued_scbert_pretraining_masks_with_the_published_rule():
    """As published dist_pretrain.py (not maskRatio over every token): exactly ceil(0.15 * n) of a cell's n non-zero
    tokens (the float32 product of the torch code), 90% of them replaced by the mask token 6, the rest unchanged;
    zeros and the appended token 0 never; the targets are the cell's tokens."""
    from scipy import stats
    from scwb_worker.pretrain import ScBertObjective
    rs = np.random.RandomState(0)
    n_genes = 120
    cells = {}
    for r in range(60):
        t = rs.randint(1, 6, size=n_genes).astype(np.uint8)
        t[rs.rand(n_genes) < rs.rand()] = 0
        cells[r] = t
    obj = ScBertObjective(cells, 5)
    replaced = chosen = 0
    for epoch in (1, 2):
        batch = obj.prepare(list(range(60)), epoch)
        inp, target, masked = batch.inputs[0], batch.target, batch.masked
        assert inp.shape == target.shape == masked.shape == (60, n_genes + 1)
        for r in range(60):
            tok = torch.as_tensor(cells[r].astype(np.int64))
            assert torch.equal(target[r, :n_genes], tok) and int(target[r, -1]) == 0
            nonzero = tok != 0
            published = int((nonzero.sum() * 0.15).ceil())  # a long tensor times a float: float32, as published
            assert int(masked[r].sum()) == published
            assert not bool(masked[r, :n_genes][~nonzero].any()) and not bool(masked[r, -1])
            assert torch.equal(inp[r][~masked[r]], target[r][~masked[r]])
            changed = inp[r][masked[r]] != target[r][masked[r]]
            assert bool((inp[r][masked[r]][changed] == 6).all())
            replaced += int((inp[r][masked[r]] == 6).sum())
            chosen += published
        assert batch.n_masked == int(masked.sum())
    assert chosen > 500 and stats.binomtest(replaced, chosen, 0.9).pvalue > 1e-3


def test_continued_pretraining_of_scbert_keeps_the_published_layout(tmp_path, demo):
    from scwb_worker import checkpoints as ck
    from scwb_worker.models.scbert import ScBertClassifier
    ds, written = demo
    # scBERT takes preprocessed values (tokens 0..5): log-scale the counts
    run = make_pretrain_run(str(tmp_path), ds=ds, n_cells=40, model="scbert", checkpoint=written["scbert"],
                            maskRatio=0.15, config=None, lr=1e-3)
    assert run_cli(["pretrain", "--run-dir", run]) == 0, open(os.path.join(run, "run.log")).read()
    events = read_events(run)
    for ev in events:
        check_event(ev)  # masked-bin accuracy is a number
    enc_path = os.path.join(run, "encoder.pt")
    sd, _ = ck.read_checkpoint(enc_path)
    original, _ = ck.read_checkpoint(written["scbert"])
    assert set(sd) == set(original)
    assert not torch.equal(sd["token_emb.weight"], original["token_emb.weight"])
    clf = ScBertClassifier(ck.infer_scbert_config(sd), 3)
    report = ck.load_pretrained(clf, enc_path)  # fine-tune can start from it
    assert "token_emb.weight" in report.loaded


def test_continued_pretraining_of_scgpt_keeps_the_published_layout(tmp_path, demo):
    from scwb_worker import checkpoints as ck
    ds, written = demo
    folder = os.path.dirname(written["scgpt"])
    run = make_pretrain_run(str(tmp_path), ds=ds, n_cells=40, model="scgpt", checkpoint=folder, config=None,
                            lr=1e-3, maxSeqLen=20)
    assert run_cli(["pretrain", "--run-dir", run]) == 0, open(os.path.join(run, "run.log")).read()
    for ev in read_events(run):
        check_pretrain_event(ev)
    sd, _ = ck.read_checkpoint(os.path.join(run, "encoder.pt"))
    original, _ = ck.normalize_state_dict(ck.read_checkpoint(written["scgpt"])[0])
    assert set(sd) == set(original)
    assert not torch.equal(sd["encoder.embedding.weight"], original["encoder.embedding.weight"])
    assert torch.equal(sd["flag_encoder.weight"], original["flag_encoder.weight"])
    from scwb_worker.models.scgpt import ScGPTModel
    clf = ScGPTModel(ck.infer_scgpt_config(sd), n_classes=3)
    report = ck.load_pretrained(clf, os.path.join(run, "encoder.pt"))  # fine-tune can start from it
    assert "transformer_encoder.layers.0.self_attn.in_proj_weight" in report.loaded


@pytest.mark.parametrize("params,message", [
    ({"structure": "rnn"}, "structure must be one of transformer, cnn_base, cnn_ours, linear_ours, linear_base, "
                           "scwb-transformer"),
    ({"structure": "cnn_base", "mvc": False}, "cnn_base trains only through the MVC loss"),
    ({"structure": "cnn_base", "maxSeqLen": 16}, "must be a multiple of 2"),
    ({"model": "scgpt", "checkpoint": None}, "needs the published checkpoint"),
    ({"maskRatio": 1.5}, "maskRatio must be between 0 and 1"),
    ({"config": {"dim": 16, "depth": 1, "heads": 2, "width": 3}}, "unknown setting(s) width"),
    ({"vocab": "/nonexistent/vocab.json"}, "/nonexistent/vocab.json: vocabulary file not found"),
])
def test_bad_parameters_fail_the_run_with_a_clear_error(tmp_path, params, message):
    run = make_pretrain_run(str(tmp_path), **params)
    assert run_cli(["pretrain", "--run-dir", run]) == 1
    rec = read_json(os.path.join(run, "run.json"))
    assert rec["status"] == "failed" and message in rec["error"], rec["error"]


def test_nproc_2_run_gives_the_one_process_encoder(tmp_path):
    """The launcher's two ranks split each global batch; with dropout off the result is the one-process encoder
    (up to float rounding of the gradient sums)."""
    common = dict(epochs=1, batchSize=12, config=dict(dim=16, depth=2, heads=2, dropout=0.0))
    one = make_pretrain_run(str(tmp_path), name="one", **common)
    two = make_pretrain_run(str(tmp_path), name="two", nproc=2, **common)
    assert run_cli(["pretrain", "--run-dir", one]) == 0
    from conftest import run_worker
    res = run_worker(["pretrain", "--run-dir", two], env={"GLOO_SOCKET_IFNAME": "lo"})
    assert res.returncode == 0, res.stderr
    assert "2 processes" in open(os.path.join(two, "run.log")).read()
    a, b = _weights(one), _weights(two)
    d = 16
    for k in a:
        x, y = a[k], b[k]
        if k.endswith("self_attn.in_proj_bias"):
            # the key bias has a zero gradient in exact arithmetic (softmax ignores a constant shift), so Adam turns
            # rounding noise into lr-sized steps of either sign: compare the query and value biases only
            x, y = torch.cat([x[:d], x[2 * d:]]), torch.cat([y[:d], y[2 * d:]])
        assert torch.allclose(x, y, rtol=1e-4, atol=1e-5), (k, float((x - y).abs().max()))
    for ev in read_events(two):
        check_pretrain_event(ev)
    assert not [n for n in os.listdir(two) if n.startswith(".")]


def test_encoder_files_of_the_earlier_version_load_as_the_scwb_transformer(tmp_path):
    from scwb_worker.models.encoder import BenchmarkEncoder, EncoderConfig
    cfg = EncoderConfig(n_tokens=10, pad_id=8, cls_id=9, dim=16, depth=1, heads=2)
    conf = dict(cfg.to_dict(), structure="transformer")
    model = BenchmarkEncoder(cfg)
    path = str(tmp_path / "old.pt")
    torch.save({"format": "scwb-encoder", "version": 1, "model": "benchmark", "structure": "transformer",
                "config": conf, "genes": None, "vocab": None, "model_state_dict": model.state_dict()}, path)
    loaded, lcfg, _obj = pretrain.benchmark_from_file(path)
    assert isinstance(loaded, BenchmarkEncoder) and lcfg.structure == "scwb-transformer"
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    torch.save({"format": "scwb-encoder", "version": 1, "config": dict(conf, structure="cnn"),
                "model_state_dict": {}}, path)
    with pytest.raises(runtime.RunError, match="'cnn' structure is no longer offered"):
        pretrain.benchmark_from_file(path)


def test_pooling_and_defaults_resolve_per_structure():
    scwb = pretrain.resolve({"structure": "scwb-transformer", "pooling": "mean-genes"})
    assert (scwb["pooling"], scwb["maxSeqLen"], scwb["mvc"]) == ("mean", 512, False)  # mean over genes; <cls> counted
    pub_t = pretrain.resolve({"structure": "transformer", "pooling": "mean-genes"})
    assert (pub_t["pooling"], pub_t["maxSeqLen"], pub_t["mvc"]) == ("mean-genes", 512, True)  # genes after <cls>
    assert pretrain.resolve({"structure": "cnn_ours"})["maxSeqLen"] == 511
    with pytest.raises(runtime.RunError, match="pooling must be one of cls, mean"):
        pretrain.resolve({"structure": "scwb-transformer", "pooling": "max"})
