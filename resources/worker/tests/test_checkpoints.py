"""Checkpoints: reading, name normalisation, strict loading of files shaped like the published ones, refusals,
atomic saving and the tiny demo checkpoints."""
import collections
import json
import os
import pickle

import numpy as np
import pytest
import torch

from conftest import write_h5ad
from scwb_worker.checkpoints import (CheckpointError, PartialLoadError, read_checkpoint, normalize_state_dict,
                                     infer_scbert_config, infer_scgpt_config, load_into, load_pretrained, load_torch_file,
                                     save_checkpoint)
from scwb_worker.models import ScBertConfig, PerformerLM, ScBertClassifier, ScGPTConfig, ScGPTModel
from scwb_worker.demo import main_demo, read_var_names, write_demo_checkpoints
from test_models import manifest

DTYPES = {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64}


def fake_state_dict(manifest_name, prefix="", fill=0.0):
    """A state dict with exactly the manifest's names, shapes and dtypes (constant values)."""
    out = collections.OrderedDict()
    for k, v in manifest(manifest_name).items():
        out[prefix + k] = torch.full(v["shape"], fill, dtype=DTYPES[v["dtype"]])
    return out


@pytest.fixture(scope="module")
def published_scbert(tmp_path_factory):
    """panglao_pretrain.pth-like: module. prefix (as a DDP re-pretrain saves), extra training entries."""
    sd = fake_state_dict("scbert_pretrain_state_dict.json", prefix="module.", fill=0.25)
    path = str(tmp_path_factory.mktemp("scbert") / "panglao_pretrain.pth")
    torch.save({"epoch": 7, "model_state_dict": sd, "optimizer_state_dict": {"state": {}, "param_groups": []},
                "scheduler_state_dict": {"last_epoch": 7}, "losses": 0.5}, path)
    return path


@pytest.fixture(scope="module")
def full_scbert_classifier():
    torch.manual_seed(0)
    return ScBertClassifier(ScBertConfig(), 11)


def test_published_scbert_file_loads_into_full_size_classifier(published_scbert, full_scbert_classifier):
    model = full_scbert_classifier
    head_before = model.to_out.fc1.weight.detach().clone()
    report = load_pretrained(model, published_scbert)
    assert report.skipped == ["to_out.weight", "to_out.bias"]
    assert sorted(report.initialised) == sorted(k for k in model.state_dict() if k.startswith("to_out."))
    assert len(report.loaded) == 89
    assert any("module." in n for n in report.notes)
    # every loaded tensor comes from the file, incl. the projection buffers (never redrawn on load)
    sd = model.state_dict()
    for k in report.loaded:
        assert torch.all(sd[k] == (0 if k == "performer.calls_since_last_redraw" else 0.25)), k
    assert sd["performer.net.layers.5.0.fn.fast_attention.projection_matrix"].shape == (266, 64)
    assert sd["pos_emb.emb.weight"].dtype == torch.float32  # float64 in the file, cast on copy
    assert torch.equal(model.to_out.fc1.weight, head_before)
    sd_file, meta = read_checkpoint(published_scbert)
    assert meta["epoch"] == 7 and meta["stateDictKey"] == "model_state_dict"
    assert infer_scbert_config(normalize_state_dict(sd_file)[0]) == ScBertConfig(nb_features=266)


def test_published_scbert_file_loads_into_pretrain_model_strictly(published_scbert):
    model = PerformerLM(ScBertConfig())
    sd, notes = normalize_state_dict(read_checkpoint(published_scbert)[0])
    report = load_into(model, sd)
    assert len(report.loaded) == 91 and not report.initialised


def _refusal(path, model, ignore=()):
    with pytest.raises(PartialLoadError) as info:
        load_pretrained(model, path, ignore_keys=ignore)
    return str(info.value)


def test_scbert_partial_files_are_refused_unless_keys_are_ignored(tmp_path, full_scbert_classifier):
    model = full_scbert_classifier
    base = fake_state_dict("scbert_pretrain_state_dict.json")
    missing = collections.OrderedDict(base)
    del missing["performer.net.layers.3.1.fn.fn.w2.bias"]
    extra = collections.OrderedDict(base)
    extra["performer.net.layers.6.0.norm.weight"] = torch.zeros(200)
    shaped = collections.OrderedDict(base)
    shaped["norm.weight"] = torch.zeros(100)
    cases = {"missing": (missing, "performer.net.layers.3.1.fn.fn.w2.bias", "missing from the file (1)"),
             "extra": (extra, "performer.net.layers.6.0.norm.weight", "unexpected in the file (1)"),
             "shaped": (shaped, "norm.weight file [100] vs model [200]", "shape mismatch (1)")}
    for name, (sd, key, group) in cases.items():
        path = str(tmp_path / (name + ".pth"))
        torch.save({"model_state_dict": sd}, path)
        before = model.norm.bias.detach().clone()
        msg = _refusal(path, model)
        assert path in msg and key in msg and group in msg and "ignoreKeys" in msg, msg
        assert torch.equal(model.norm.bias, before)  # nothing loaded on refusal
        ignore = key.split(" ")[0]
        report = load_pretrained(model, path, ignore_keys=[ignore])
        assert ignore in report.ignored or ignore in report.initialised
    # patterns work too
    path = str(tmp_path / "extra.pth")
    report = load_pretrained(model, path, ignore_keys=["performer.net.layers.6.*"])
    assert report.ignored == ["performer.net.layers.6.0.norm.weight"]


def test_many_missing_keys_are_grouped_with_counts(tmp_path, full_scbert_classifier):
    sd = fake_state_dict("scbert_pretrain_state_dict.json")
    for k in list(sd):
        if k.endswith("to_q.weight"):
            del sd[k]
    path = str(tmp_path / "no_q.pth")
    torch.save(sd, path)
    msg = _refusal(path, full_scbert_classifier)
    assert "missing from the file (6): performer.net.layers.*.0.fn.to_q.weight (x6)" in msg


@pytest.fixture(scope="module")
def published_scgpt(tmp_path_factory):
    """scGPT_human-like folder: flash Wqkv names (+ a DDP module. prefix), raw state dict, args.json, vocab.json."""
    folder = tmp_path_factory.mktemp("ckpt") / "scGPT_human"
    folder.mkdir()
    sd = fake_state_dict("scgpt_human_flash_state_dict.json", prefix="module.", fill=0.5)
    torch.save(sd, str(folder / "best_model.pt"))
    vocab = {"G%d" % i: i for i in range(60694)}
    vocab.update({"<pad>": 60694, "<cls>": 60695, "<eoc>": 60696})
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "args.json").write_text(json.dumps({"embsize": 512, "nheads": 8, "d_hid": 512, "nlayers": 12,
                                                  "dropout": 0.2, "pad_token": "<pad>", "pad_value": -2,
                                                  "n_bins": 51, "input_emb_style": "continuous"}))
    return str(folder)


def test_published_scgpt_folder_loads_into_full_size_classifier(published_scgpt):
    sd, meta = read_checkpoint(published_scgpt)
    assert meta["format"] == "folder" and meta["vocab"]["<cls>"] == 60695
    norm, notes = normalize_state_dict(sd)
    assert "module.transformer_encoder.layers.0.self_attn.Wqkv.weight" in sd  # input untouched
    assert list(norm) == list(manifest("scgpt_human_torch_state_dict.json"))
    assert "renamed transformer_encoder.layers.*.self_attn.Wqkv.weight -> " \
           "transformer_encoder.layers.*.self_attn.in_proj_weight (12 keys)" in notes
    cfg = infer_scgpt_config(norm, meta["args"], meta["vocab"])
    assert cfg == ScGPTConfig()
    model = ScGPTModel(cfg, n_classes=11)
    report = load_pretrained(model, published_scgpt)
    assert sorted(report.skipped) == sorted(k for k in norm if k.startswith(("decoder.", "mvc_decoder.", "flag_")))
    assert len(report.initialised) == 10 and all(k.startswith("cls_decoder.") for k in report.initialised)
    assert len(report.loaded) == 153
    assert torch.all(model.transformer_encoder.layers[11].self_attn.in_proj_weight == 0.5)
    lines = "\n".join(report.lines())
    assert "loaded 153 tensors" in lines and "flag_encoder.weight" in lines
    # the pre-training model takes every key strictly
    pre = ScGPTModel(cfg)
    assert len(load_into(pre, norm).loaded) == 163


def test_newer_flash_names_and_module_prefix_are_normalised():
    sd = collections.OrderedDict([
        ("module.transformer_encoder.layers.0.self_attn._impl.Wqkv.weight", torch.zeros(6, 2)),
        ("module.transformer_encoder.layers.0.self_attn._impl.Wqkv.bias", torch.zeros(6)),
        ("module.transformer_encoder.layers.0.self_attn._impl.out_proj.weight", torch.zeros(2, 2)),
        ("module.encoder.embedding.weight", torch.zeros(3, 2)),
    ])
    out, notes = normalize_state_dict(sd)
    assert list(out) == ["transformer_encoder.layers.0.self_attn.in_proj_weight",
                         "transformer_encoder.layers.0.self_attn.in_proj_bias",
                         "transformer_encoder.layers.0.self_attn.out_proj.weight", "encoder.embedding.weight"]
    assert len(notes) == 4 and list(sd)[0].startswith("module.")


def test_scgpt_file_into_scbert_says_it_is_another_model(published_scgpt):
    model = ScBertClassifier(ScBertConfig(dim=8, depth=1, heads=2, dim_head=4, n_genes=5), 2)
    with pytest.raises(PartialLoadError, match="another model kind"):
        load_pretrained(model, published_scgpt)


class _Evil:
    """Unpickling this runs a shell command: a checkpoint must never be read with plain pickle."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, ("touch '%s'" % self.marker,))


def test_unreadable_files_are_refused_with_their_name(tmp_path):
    good = str(tmp_path / "good.pt")
    torch.save({"model_state_dict": {"w": torch.ones(1000)}}, good)
    truncated = str(tmp_path / "truncated.pt")
    with open(good, "rb") as f, open(truncated, "wb") as g:
        g.write(f.read()[:1500])
    text = str(tmp_path / "notes.pth")
    with open(text, "w") as f:
        f.write("not a checkpoint\n")
    no_sd = str(tmp_path / "nosd.pt")
    torch.save({"epoch": 3, "losses": [1.0]}, no_sd)
    empty = str(tmp_path / "empty.pt")
    open(empty, "wb").close()
    evil = str(tmp_path / "evil.pt")
    marker = str(tmp_path / "code-ran")
    torch.save({"model_state_dict": {"w": torch.ones(1)}, "x": _Evil(marker)}, evil)
    for path, why in ((truncated, "truncated"), (text, "not a"), (no_sd, "no model state dict"),
                      (empty, "empty"), (evil, "not a loadable checkpoint"),
                      (str(tmp_path / "absent.pth"), "not found")):
        with pytest.raises(CheckpointError) as info:
            read_checkpoint(path)
        assert path in str(info.value) and why in str(info.value), str(info.value)
    assert not os.path.exists(marker)
    folder = tmp_path / "scgpt"
    folder.mkdir()
    torch.save({"w": torch.ones(1)}, str(folder / "best_model.pt"))
    with pytest.raises(CheckpointError, match="args.json"):
        read_checkpoint(str(folder))
    (folder / "args.json").write_text("{}")
    (folder / "vocab.json").write_text("[1, 2")
    with pytest.raises(CheckpointError, match="vocab.json: not valid JSON"):
        read_checkpoint(str(folder))


def test_numpy_scalars_in_a_checkpoint_are_readable(tmp_path):
    path = str(tmp_path / "np.pth")
    torch.save({"model_state_dict": {"w": torch.ones(2)}, "losses": np.float64(0.25),
                "rng": np.random.RandomState(0).get_state()}, path)
    sd, meta = read_checkpoint(path)
    assert torch.equal(sd["w"], torch.ones(2))


def test_resume_state_with_rng_states_round_trips_safely(tmp_path):
    import random
    path = str(tmp_path / "last.pt")
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    sched = torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.9)
    state = {"model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict(),
             "scheduler_state_dict": sched.state_dict(), "epoch": 2, "step": 17, "best": 0.5,
             "rng": {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()},
             "scaler": None}
    save_checkpoint(path, state)
    back = load_torch_file(path)
    assert back["step"] == 17 and back["rng"]["python"] == random.getstate()
    assert np.array_equal(back["rng"]["numpy"][1], np.random.get_state()[1])
    assert torch.equal(back["rng"]["torch"], torch.get_rng_state())
    opt.load_state_dict(back["optimizer_state_dict"])


def test_save_checkpoint_is_atomic(tmp_path):
    path = str(tmp_path / "last.pt")
    save_checkpoint(path, {"step": 1, "w": torch.ones(3)})
    save_checkpoint(path, {"step": 2, "w": torch.zeros(3)})
    assert torch.load(path)["step"] == 2
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        save_checkpoint(path, {"step": 3, "bad": lambda: 0})
    assert torch.load(path)["step"] == 2  # the old file survives a failed save
    assert sorted(os.listdir(str(tmp_path))) == ["last.pt"]  # no temp files left


def test_demo_checkpoints_are_deterministic_and_load_into_tiny_classifiers(tmp_path):
    genes = ["CD3D", "MS4A1", "LYZ", "CD3D", "NKG7", "GNLY"]  # one duplicate: kept once
    data = str(tmp_path / "demo.h5ad")
    write_h5ad(data, np.ones((2, len(genes))), ["c1", "c2"], genes)
    assert read_var_names(data) == genes
    out1, out2 = str(tmp_path / "a"), str(tmp_path / "b")
    assert main_demo([out1, "--genes-from", data]) == 0
    write_demo_checkpoints(out2, data)
    with open(os.path.join(out1, "scbert_tiny", "genes.txt")) as f:
        assert f.read().splitlines() == ["CD3D", "MS4A1", "LYZ", "NKG7", "GNLY"]
    with open(os.path.join(out1, "scGPT_tiny", "vocab.json")) as f:
        vocab = json.load(f)
    assert list(vocab) == ["CD3D", "MS4A1", "LYZ", "NKG7", "GNLY", "<pad>", "<cls>", "<eoc>"]
    assert list(vocab.values()) == list(range(8))
    with open(os.path.join(out1, "scGPT_tiny", "args.json")) as f:
        args = json.load(f)
    for key, value in {"embsize": 32, "nheads": 2, "d_hid": 32, "nlayers": 2, "pad_token": "<pad>",
                       "pad_value": -2, "n_bins": 51, "input_emb_style": "continuous"}.items():
        assert args[key] == value
    for folder in ("scbert_tiny", "scGPT_tiny"):  # the marker the workbench labels "demo weights (random)" by
        with open(os.path.join(out1, folder, "scwb_demo.json")) as f:
            assert json.load(f) == {"demo": True, "weights": "random", "seed": 0, "note": args["note"]}
    for rel in ("scbert_tiny/scbert_tiny_pretrain.pth", "scGPT_tiny/best_model.pt"):
        a = read_checkpoint(os.path.join(out1, rel))[0]
        b = read_checkpoint(os.path.join(out2, rel))[0]
        assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    gpt_sd, meta = read_checkpoint(os.path.join(out1, "scGPT_tiny"))
    assert any(k.endswith("self_attn.Wqkv.weight") for k in gpt_sd)  # published flash names
    assert os.stat(os.path.join(out1, "scGPT_tiny", "best_model.pt")).st_mode & 0o044  # readable by others

    bert_path = os.path.join(out1, "scbert_tiny", "scbert_tiny_pretrain.pth")
    cfg = infer_scbert_config(read_checkpoint(bert_path)[0])
    assert (cfg.dim, cfg.depth, cfg.heads, cfg.dim_head, cfg.n_genes) == (16, 2, 2, 8, 5)
    bert = ScBertClassifier(cfg, 3)
    load_pretrained(bert, bert_path)
    assert bert.eval()(torch.randint(0, 6, (2, 6))).shape == (2, 3)
    assert torch.all(bert.pos_emb.emb.weight[-1] == 0)

    norm = normalize_state_dict(gpt_sd)[0]
    gcfg = infer_scgpt_config(norm, meta["args"], meta["vocab"])
    assert (gcfg.d_model, gcfg.nlayers, gcfg.nhead, gcfg.ntoken, gcfg.pad_token_id) == (32, 2, 2, 8, 5)
    gpt = ScGPTModel(gcfg, n_classes=3)
    report = load_pretrained(gpt, os.path.join(out1, "scGPT_tiny"))
    assert len(report.initialised) == 10
    ids = torch.tensor([[6, 0, 2, 5]])
    vals = torch.tensor([[0.0, 3.0, 7.0, -2.0]])
    assert gpt.eval()(ids, vals, ids == 5).shape == (1, 3)


def test_demo_reads_old_anndata_var_and_reports_bad_files(tmp_path, capsys):
    import h5py
    old = str(tmp_path / "old.h5ad")
    with h5py.File(old, "w") as f:
        f.create_dataset("var", data=np.array([(b"A", 1.0), (b"B", 2.0)], dtype=[("index", "S1"), ("x", "f4")]))
    assert read_var_names(old) == ["A", "B"]
    bad = str(tmp_path / "bad.h5ad")
    with open(bad, "w") as f:
        f.write("hello")
    assert main_demo([str(tmp_path / "out"), "--genes-from", bad]) == 1
    assert bad in capsys.readouterr().err
    assert main_demo([str(tmp_path / "out"), "--genes-from", str(tmp_path / "nope.h5ad")]) == 2
