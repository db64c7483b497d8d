"""scBERT pre-training from scratch against the published dist_pretrain.py (masking) and nog2v_explore.ipynb
(Table 3's masked-bin accuracy vs the cell's most common bin), and its checkpoint feeding the no-gene2vec ablation."""
import json
import os

import numpy as np
import pytest
import torch
from scipy import stats

from conftest import CLASSES, read_events, read_json, run_cli
from pretrain_helpers import StopAfter, make_pretrain_run
from scwb_worker import protocols, pretrain_scbert as ps, train
from scwb_worker.runtime import RunError

SCBERT_TINY = {"dim": 8, "depth": 2, "heads": 2, "dim_head": 4, "nb_features": 6}


def test_mask_count_is_the_published_float32_ceil():
    n = torch.arange(0, 20001)
    # published: (num_tokens * prob).ceil() with num_tokens a long tensor -> a float32 product
    published = (n.unsqueeze(-1) * 0.15).ceil().squeeze(-1).long().tolist()
    assert [ps.n_masked(i) for i in range(20001)] == published
    assert ps.n_masked(20) == 3 and ps.n_masked(1) == 1 and ps.n_masked(0) == 0  # 20 * 0.15f is exactly 3.0


def test_masking_draws_exactly_ceil_nonzero_positions_never_zeros_and_replaces_90_percent():
    rs = np.random.RandomState(0)
    replaced = chosen_total = 0
    for i in range(400):
        tok = rs.randint(0, 6, size=rs.randint(5, 300))
        tok[rs.rand(len(tok)) < 0.6] = 0
        genes = len(tok)
        tok = ps.with_appended_zero(tok)  # what the run feeds the model: n_genes + 1 tokens, the last one 0
        assert len(tok) == genes + 1 and tok[-1] == 0
        inp, lab = ps.mask_cell(tok, np.random.default_rng([7, i]))
        assert inp[-1] == 0 and lab[-1] == ps.IGNORE  # the appended token is never masked
        chosen = np.flatnonzero(lab != ps.IGNORE)
        nonzero = np.flatnonzero(tok != 0)
        assert len(chosen) == ps.n_masked(len(nonzero))
        assert set(chosen.tolist()) <= set(nonzero.tolist())  # zeros never masked
        assert np.array_equal(lab[chosen], tok[chosen])
        unchosen = np.setdiff1d(np.arange(len(tok)), chosen)
        assert np.array_equal(inp[unchosen], tok[unchosen])
        changed = inp[chosen] == ps.MASK_TOKEN
        assert np.array_equal(inp[chosen][~changed], tok[chosen][~changed])  # the other 10% stay unchanged
        replaced += int(changed.sum())
        chosen_total += len(chosen)
    assert chosen_total > 3000
    assert stats.binomtest(replaced, chosen_total, 0.9).pvalue > 1e-3


def test_masked_places_are_uniform_over_the_nonzero_tokens():
    tok = np.array([0, 3, 1, 0, 5, 2, 2, 0, 4, 1, 1, 3, 0, 0])
    nonzero = np.flatnonzero(tok)
    counts = np.zeros(len(tok))
    for i in range(3000):
        _inp, lab = ps.mask_cell(tok, np.random.default_rng([1, i]))
        counts[lab != ps.IGNORE] += 1
    assert counts[tok == 0].sum() == 0
    assert stats.chisquare(counts[nonzero]).pvalue > 1e-3


def test_table3_counts_by_hand():
    original = np.array([[1, 1, 2, 3, 0, 0], [5, 5, 5, 2, 2, 0]])
    inputs = torch.tensor([[6, 1, 6, 3, 0, 0], [5, 6, 5, 6, 2, 0]])
    logits = torch.full((2, 6, 7), -1.0)
    logits[0, 0, 1] = logits[0, 2, 1] = 1.0      # cell 0 predicts 1 at both masked places: truth 1, 2
    logits[1, 1, 5] = logits[1, 3, 5] = 1.0      # cell 1 predicts 5: truth 5, 2
    correct, base, total = ps.table3_counts(original, inputs, logits)
    # most common non-zero bin: cell 0 -> 1 (1 appears twice), cell 1 -> 5
    assert (correct, base, total) == (2, 2, 4)


def _scbert_run(tmp, **kw):
    params = {"model": "scbert", "checkpoint": None, "epochs": 2, "batchSize": 4, "gradAcc": 2, "lr": 1e-3,
              "config": dict(SCBERT_TINY), "logEvery": 1}
    params.update(kw)
    return make_pretrain_run(tmp, n_cells=40, n_genes=16, val_every=5, **params)


def test_scbert_from_scratch_pretrains_and_feeds_the_no_gene2vec_ablation(tmp_path, monkeypatch):
    from scwb_worker.models.scbert import PerformerLM
    lengths = set()
    forward = PerformerLM.forward

    def recording(self, tokens):
        lengths.add(int(tokens.shape[1]))
        return forward(self, tokens)

    monkeypatch.setattr(PerformerLM, "forward", recording)
    run = _scbert_run(str(tmp_path))
    assert run_cli(["pretrain", "--run-dir", run]) == 0
    assert lengths == {16 + 1}  # n_genes + the appended token 0, as published and as fine-tuning feeds it
    rec = read_json(os.path.join(run, "run.json"))
    assert rec["status"] == "completed"
    events = read_events(run)
    vals = [e for e in events if e["type"] == "validation"]
    base = [e["value"] for e in events if e["type"] == "metric" and e["name"] == "mostCommonBinAccuracy"]
    assert len(vals) == 2 and len(base) == 2 and all(0.0 <= v["accuracy"] <= 1.0 for v in vals)
    assert base[0] == base[1]  # the validation masks are the same every epoch
    # 32 training cells / batch 4 = 8 batches, an optimizer step every 2 -> 4 steps an epoch
    assert max(e["step"] for e in events if e["type"] == "train") == 8
    log = open(os.path.join(run, "run.log")).read()
    assert "pre-training scBERT from scratch (no gene2vec)" in log and "encoder.pt written" in log
    # the most-common-bin baseline equals an independent computation over the same validation masks
    from scwb_worker import tokens
    from scwb_worker.data import H5ad
    split = read_json(os.path.join(run, "split.json"))
    rows = np.asarray(split["validation"], dtype=np.int64)
    tok = {}
    with H5ad(rec["dataset"]["path"]) as ds:
        for pos, block in ds.matrix(None).iter_rows(rows):
            t = tokens.scbert_tokens(block, ds.path)
            for i, q in enumerate(pos.tolist()):
                tok[int(rows[q])] = t[i]
    hit = total = 0
    for row in split["validation"]:
        t = tok[row]
        inp, _lab = ps.mask_cell(t, np.random.default_rng([3, 0, row]))
        at = inp == ps.MASK_TOKEN
        values, counts = np.unique(t[t != 0], return_counts=True)
        common = values[np.argmax(counts)]
        hit += int((t[at] == common).sum())
        total += int(at.sum())
    assert base[0] == pytest.approx(hit / total)
    # encoder.pt: a language model without gene2vec that the no-gene2vec ablation loads strictly
    enc = os.path.join(run, "encoder.pt")
    p = protocols.resolve({"model": "scbert", "classes": list(CLASSES), "checkpoint": enc,
                           "ablation": "no-gene2vec"}, 1.0)
    model, cfg, _hint, report = train.build(p, "cpu")
    assert model.pos_emb is None and cfg.n_genes == 16 and cfg.dim == 8
    assert report.skipped == ["to_out.weight", "to_out.bias"]
    assert not [k for k in report.initialised if not k.startswith("to_out.")]
    # and the probe embeds with it (the gene count comes from the file's nGenes)
    from pretrain_helpers import make_probe_run
    probe = make_probe_run(str(tmp_path), enc, rec["dataset"]["path"], range(0, 30), range(30, 40), model="scbert",
                           method="knn", k=3)
    assert run_cli(["probe", "--run-dir", probe]) == 0
    assert len(open(os.path.join(probe, "predictions.csv")).read().splitlines()) == 11


def test_scbert_from_scratch_with_a_gene2vec_table_and_bad_settings(tmp_path):
    g2v = np.random.RandomState(0).randn(16, 8)
    npy = str(tmp_path / "g2v.npy")
    np.save(npy, g2v)
    run = _scbert_run(str(tmp_path / "a"), epochs=1, gene2vec=npy)
    assert run_cli(["pretrain", "--run-dir", run]) == 0
    state = torch.load(os.path.join(run, "encoder.pt"))
    w = state["model_state_dict"]["pos_emb.emb.weight"]
    assert torch.equal(w[:16], torch.as_tensor(g2v, dtype=torch.float32)) and torch.equal(w[16], torch.zeros(8))
    with pytest.raises(RunError, match="precision must be fp32"):
        ps.resolve({"model": "scbert", "precision": "fp16"})
    with pytest.raises(RunError, match="maskProb must be in"):
        ps.resolve({"model": "scbert", "maskProb": 0})
    d = ps.resolve({"model": "scbert", "maskRatio": 0.4, "batchSize": None})
    assert (d["epochs"], d["batchSize"], d["gradAcc"], d["lr"], d["maskProb"], d["replaceProb"], d["gradClip"],
            d["precision"]) == (100, 3, 60, 1e-4, 0.15, 0.9, 100.0, "fp32")  # dist_pretrain.py's defaults
    bad = _scbert_run(str(tmp_path / "b"), config={"dim": 8, "n_genes": 5})
    assert run_cli(["pretrain", "--run-dir", bad]) == 1
    assert "n_genes is the dataset's gene count" in read_json(os.path.join(bad, "run.json"))["error"]


def test_scbert_pretraining_resumes_to_the_same_result(tmp_path):
    a = _scbert_run(str(tmp_path / "a"), epochs=2)
    assert run_cli(["pretrain", "--run-dir", a]) == 0
    b = _scbert_run(str(tmp_path / "b"), epochs=1)
    assert run_cli(["pretrain", "--run-dir", b]) == 0
    rec = read_json(os.path.join(b, "run.json"))
    rec["parameters"]["pretrain"]["epochs"] = 2
    rec["status"] = "interrupted"
    with open(os.path.join(b, "run.json"), "w") as f:
        json.dump(rec, f)
    os.remove(os.path.join(b, "encoder.pt"))
    assert run_cli(["pretrain", "--run-dir", b, "--resume"]) == 0
    sa = torch.load(os.path.join(a, "encoder.pt"))["model_state_dict"]
    sb = torch.load(os.path.join(b, "encoder.pt"))["model_state_dict"]
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def test_optimizer_steps_follow_the_published_accumulation_rule(tmp_path, monkeypatch):
    """Published dist_pretrain.py: the batch index restarts each epoch, the optimizer steps when it is a multiple of
    GRADIENT_ACCUMULATION and gradients are zeroed only after a step: epochs * floor(batches / gradAcc) steps, the
    partial window at an epoch's end carried into the next epoch (no extra step on it). Resuming at an epoch's end
    carries it too (last.pt keeps those gradients)."""
    for bi in range(12):
        assert ps.steps_after(bi, 3) == ((bi + 1) % 3 == 0)
    assert [ps.steps_per_epoch(n, 3) for n in (2, 3, 8, 9)] == [0, 1, 2, 3]
    steps = []
    adam_step = torch.optim.Adam.step

    def counting(self, *a, **kw):
        steps.append(1)
        return adam_step(self, *a, **kw)

    monkeypatch.setattr(torch.optim.Adam, "step", counting)
    whole = _scbert_run(str(tmp_path / "whole"), epochs=3, gradAcc=3)
    assert run_cli(["pretrain", "--run-dir", whole]) == 0
    # 32 training cells / batch 4 = 8 batches an epoch: 3 epochs * floor(8 / 3) = 6 steps (not 3 * ceil(8 / 3) = 9)
    assert len(steps) == 6
    assert max(e["step"] for e in read_events(whole) if e["type"] == "train") == 6
    # the 2 batches after the epoch's second step carry into the next epoch: resuming there gives the same weights
    cut = _scbert_run(str(tmp_path / "cut"), epochs=1, gradAcc=3)
    assert run_cli(["pretrain", "--run-dir", cut]) == 0
    assert any(float(g.abs().sum()) > 0 for g in torch.load(
        os.path.join(cut, "checkpoints", "last.pt"))["carriedGrads"].values())
    rec = read_json(os.path.join(cut, "run.json"))
    rec["parameters"]["pretrain"]["epochs"] = 3
    rec["status"] = "interrupted"
    with open(os.path.join(cut, "run.json"), "w") as f:
        json.dump(rec, f)
    os.remove(os.path.join(cut, "encoder.pt"))
    assert run_cli(["pretrain", "--run-dir", cut, "--resume"]) == 0
    sa = torch.load(os.path.join(whole, "encoder.pt"))["model_state_dict"]
    sb = torch.load(os.path.join(cut, "encoder.pt"))["model_state_dict"]
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    few = _scbert_run(str(tmp_path / "few"), epochs=1, gradAcc=9)  # 8 batches: published would never step
    assert run_cli(["pretrain", "--run-dir", few]) == 1
    assert "no optimizer step would ever be taken" in read_json(os.path.join(few, "run.json"))["error"]


def test_scbert_pretraining_cancelled_inside_an_epoch_resumes_to_the_same_result(tmp_path):
    from scwb_worker import pretrain
    whole = _scbert_run(str(tmp_path / "whole"), epochs=2)
    assert run_cli(["pretrain", "--run-dir", whole]) == 0
    cut = _scbert_run(str(tmp_path / "cut"), epochs=2)
    # the flag is read twice before training; 8 batches an epoch, a step every 2: epoch 1 reads it after 3 steps and
    # at its end, so the 8th reading is after the second step of epoch 2 (batch 4)
    assert pretrain.pretrain(cut, stop=StopAfter(7)) == 130
    assert read_json(os.path.join(cut, "run.json"))["status"] == "cancelled"
    state = torch.load(os.path.join(cut, "checkpoints", "last.pt"))
    assert (state["epoch"], state["batch"], state["step"]) == (2, 4, 6)
    assert not os.path.exists(os.path.join(cut, "encoder.pt"))
    assert "stopped by signal 15 at epoch 2, batch 4" in open(os.path.join(cut, "run.log")).read()
    assert run_cli(["pretrain", "--run-dir", cut, "--resume"]) == 0
    sa = torch.load(os.path.join(whole, "encoder.pt"))["model_state_dict"]
    sb = torch.load(os.path.join(cut, "encoder.pt"))["model_state_dict"]
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    events = read_events(cut)
    assert [e["status"] for e in events if e["type"] == "status"] == ["running", "cancelled", "running", "completed"]


def test_two_processes_train_as_one_on_the_same_global_batches(tmp_path):
    common = dict(epochs=1, batchSize=8, gradAcc=2, schedule={"warmup": 0})  # the first epoch at the full lr
    one = _scbert_run(str(tmp_path / "one"), **common)
    two = _scbert_run(str(tmp_path / "two"), nproc=2, **common)
    assert run_cli(["pretrain", "--run-dir", one]) == 0
    from conftest import run_worker
    res = run_worker(["pretrain", "--run-dir", two], env={"GLOO_SOCKET_IFNAME": "lo"})
    assert res.returncode == 0, res.stderr
    assert "2 processes" in open(os.path.join(two, "run.log")).read()
    a = torch.load(os.path.join(one, "encoder.pt"))["model_state_dict"]
    b = torch.load(os.path.join(two, "encoder.pt"))["model_state_dict"]
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), rtol=1e-4, atol=1e-5), (k, float((a[k] - b[k]).abs().max()))
    from scwb_worker.models.scbert import PerformerLM, ScBertConfig
    from scwb_worker.runtime import seed_everything
    seed_everything(3)
    init = PerformerLM(ScBertConfig(n_genes=16, g2v_position_emb=False, **SCBERT_TINY)).state_dict()
    moved = float((a["token_emb.weight"] - init["token_emb.weight"]).abs().max())
    assert 1e-3 < moved < 0.1  # it trained (a few Adam steps of lr 1e-3 from the seeded initialisation)
    va = [e["value"] for e in read_events(one) if e["type"] == "metric" and e["name"] == "mostCommonBinAccuracy"]
    vb = [e["value"] for e in read_events(two) if e["type"] == "metric" and e["name"] == "mostCommonBinAccuracy"]
    assert va == vb
