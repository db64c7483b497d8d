"""Each fine-tune protocol element against the published value or behaviour (docs/protocols.md):
clinicalml/sc-foundation-eval scBERT/dist_finetune.py, dist_finetune_fewshot.py, dist_finetune_nopretraining.py,
nog2v_explore.ipynb; scGPT/scGPT_run_all_celltypeannot_fewshot.py, *_nopretrain_freeze.py; bowang-lab/scGPT
scgpt/model/model.py (init_weights)."""
import collections
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from conftest import CLASSES, make_run, read_json, run_cli
from scwb_worker import checkpoints as ck
from scwb_worker import protocols, runtime, train
from scwb_worker.models import ScBertConfig, ScGPTConfig, ScGPTModel, build_model
from scwb_worker.models.scbert import PerformerLM
from scwb_worker.runfolder import RunFolder

BERT_CFG = {"dim": 8, "depth": 2, "heads": 2, "dim_head": 4, "n_genes": 12, "nb_features": 6}
GPT_CFG = {"d_model": 16, "nlayers": 2, "nhead": 2, "d_hid": 16, "ntoken": 15, "pad_token_id": 12}


def _resolve(model, **kw):
    base = {"model": model, "classes": list(CLASSES), "config": dict(BERT_CFG if model == "scbert" else GPT_CFG)}
    base.update(kw)
    return protocols.resolve(base, 1.0)


# --------------------------------------------------------------------------------------------------------------
# defaults = the published values

def test_defaults_are_the_published_elements():
    for fraction in (0.1, 0.25, 1.0):
        b = protocols.resolve({"model": "scbert", "classes": ["a"]}, fraction)
        assert (b["precision"], b["adamEps"], b["headDropout"], b["keep"], b["classWeights"], b["shuffle"],
                b["geneEmbInit"], b["gene2vec"]) == ("published", 1e-8, 0.0, "best-accuracy", "dataset", True, None,
                                                     None)
        g = protocols.resolve({"model": "scgpt", "classes": ["a"]}, fraction)
        assert (g["precision"], g["adamEps"], g["headDropout"], g["keep"], g["classWeights"], g["shuffle"],
                g["geneEmbInit"], g["gene2vec"]) == ("published", 1e-4, None, "best-loss", "none", False, "uniform",
                                                     None)
    # torch's Adam default eps is the published scBERT one
    assert torch.optim.Adam([torch.zeros(1, requires_grad=True)]).defaults["eps"] == 1e-8
    # published precision: scBERT fp32 everywhere; scGPT amp=True = fp16 on CUDA, fp32 without a GPU
    b, g = _resolve("scbert"), _resolve("scgpt")
    assert [protocols.effective_precision(b, d) for d in ("cpu", "cuda")] == ["fp32", "fp32"]
    assert [protocols.effective_precision(g, d) for d in ("cpu", "cuda")] == ["fp32", "fp16"]
    assert (b["amp"], g["amp"]) == (False, True)


def test_legacy_amp_counts_only_without_precision_and_bad_values_are_refused():
    assert _resolve("scbert", amp=True)["precision"] == "bf16"
    assert _resolve("scgpt", amp=False)["precision"] == "fp32"
    assert _resolve("scgpt", amp=True, precision="fp16")["precision"] == "fp16"
    assert _resolve("scgpt", amp=None, precision=None)["precision"] == "published"
    bad = [("scbert", {"precision": "fp8"}, "precision must be one of"),
           ("scbert", {"keep": "best"}, "keep must be one of"),
           ("scbert", {"classWeights": "balanced"}, "classWeights must be one of"),
           ("scgpt", {"shuffle": "no"}, "shuffle must be true or false"),
           ("scgpt", {"adamEps": 0}, "adamEps must be a number"),
           ("scbert", {"headDropout": 1.0}, "headDropout must be below 1"),
           ("scgpt", {"headDropout": 0.1}, "headDropout is a scBERT setting"),
           ("scbert", {"geneEmbInit": "uniform"}, "geneEmbInit is a scGPT setting"),
           ("scgpt", {"geneEmbInit": "xavier"}, "geneEmbInit must be one of"),
           ("scbert", {"gene2vec": "/g.npy"}, "'no-pretraining' ablation only"),
           ("scgpt", {"gene2vec": "/g.npy"}, "gene2vec is a scBERT setting")]
    for model, kw, msg in bad:
        with pytest.raises(protocols.ProtocolError, match=msg):
            _resolve(model, **kw)


def test_resolved_protocol_line_and_record():
    p = _resolve("scgpt")
    r = protocols.resolved_protocol(p, "fp16")
    assert r == {"precision": "fp16", "adamEps": 1e-4, "headDropout": None, "keep": "best-loss",
                 "classWeights": "none", "shuffle": False, "geneEmbInit": "uniform", "gene2vec": None}
    assert protocols.protocol_line(r) == ("protocol: precision=fp16, adamEps=0.0001, headDropout=null, "
                                          "keep=best-loss, classWeights=none, shuffle=false, geneEmbInit=uniform, "
                                          "gene2vec=null")


# --------------------------------------------------------------------------------------------------------------
# class weights: 1 / count over the WHOLE dataset (published scBERT)

def test_dataset_class_weights_give_the_published_weighted_loss(tmp_path):
    run = make_run(str(tmp_path), model="scbert", n_cells=40)
    folder = RunFolder(run, writable=False)
    rec = folder.read_record()
    p = protocols.resolve(rec["parameters"]["finetune"], 1.0)
    _model, _cfg, hint, _ = train.build(p, "cpu")
    inp = train.load_inputs(rec, p, folder.read_split(), rec["seed"], hint)
    # the counts are over every cell of the file (test cells included), as np.unique(labels, return_counts=True)
    from scwb_worker.data import H5ad
    with H5ad(rec["dataset"]["path"]) as ds:
        labels = ds.labels("cell_type")
    names, counts = np.unique(np.array(labels), return_counts=True)
    assert list(names) == CLASSES and inp.dataset_label_counts.tolist() == counts.tolist()
    assert inp.dataset_label_counts.sum() > len(inp.y_train)
    ours = protocols.loss_weights(p, inp.y_train, inp.dataset_label_counts)
    published = torch.tensor([1.0 / x for x in counts.tolist()])  # class_weight = [1/x for x in class_num]
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(len(inp.y_train), 3, generator=gen)
    y = torch.as_tensor(inp.y_train)
    expect = F.cross_entropy(logits, y, weight=published)
    assert float(F.cross_entropy(logits, y, weight=ours)) == pytest.approx(float(expect), rel=1e-6)
    # the loop's own weighted mean equals it too
    per = F.cross_entropy(logits, y, reduction="none")
    assert float((per * ours[y]).sum() / train.global_denominator(inp.y_train, ours)) == pytest.approx(
        float(expect), rel=1e-6)
    # "train" weights differ from the published ones here (other proportions among the training rows)
    train_w = protocols.loss_weights(dict(p, classWeights="train"), inp.y_train, inp.dataset_label_counts)
    assert not torch.allclose(train_w / train_w.sum(), ours / ours.sum())
    assert protocols.loss_weights(dict(p, classWeights="none"), inp.y_train, inp.dataset_label_counts) is None


# --------------------------------------------------------------------------------------------------------------
# precision, the loss scaler, Adam eps

def test_loss_scaler_only_for_fp16():
    assert runtime.make_scaler("fp32", "cuda") is None and runtime.make_scaler("bf16", "cuda") is None
    scaler = runtime.make_scaler("fp16", "cuda")
    kinds = tuple(c for c in (getattr(getattr(torch, "amp", None), "GradScaler", None),
                              torch.cuda.amp.GradScaler) if c is not None)
    assert isinstance(scaler, kinds)
    with pytest.raises(runtime.RunError, match="fp16 needs a CUDA device"):
        runtime.usable_precision("fp16", "cpu")
    prec, note = runtime.usable_precision("bf16", "cpu")
    assert (prec, note is None) == (("bf16", True) if runtime.cpu_bf16_autocast() else ("fp32", False))
    assert runtime.usable_precision("fp16", "cuda") == ("fp16", None)


class _RecordingScaler:
    def __init__(self):
        self.calls = []

    def scale(self, loss):
        self.calls.append("scale")
        return loss * 4.0

    def unscale_(self, optimizer):
        self.calls.append("unscale_")
        for g in optimizer.param_groups:
            for q in g["params"]:
                q.grad /= 4.0

    def step(self, optimizer):
        self.calls.append("step")
        optimizer.step()

    def update(self):
        self.calls.append("update")


def test_optimizer_step_scales_unscales_before_clipping_then_steps():
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = torch.optim.SGD([w], lr=0.1)
    scaler = _RecordingScaler()
    train.optimizer_step((w * w).sum(), opt, scaler, [w], 1.0)
    assert scaler.calls == ["scale", "unscale_", "step", "update"]
    # the clipped, unscaled gradient 2w = (2, -4) has norm sqrt(20) -> clipped to norm 1
    g = torch.tensor([2.0, -4.0]) / 20 ** 0.5
    assert torch.allclose(w.detach(), torch.tensor([1.0, -2.0]) - 0.1 * g, atol=1e-6)
    # without a scaler: a plain step
    w2 = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt2 = torch.optim.SGD([w2], lr=0.1)
    train.optimizer_step((w2 * w2).sum(), opt2, None, [w2], 1.0)
    assert torch.allclose(w2.detach(), w.detach(), atol=1e-6)


def test_fp16_on_cpu_fails_the_run_saying_what_to_choose(tmp_path):
    run = make_run(str(tmp_path), model="scgpt", epochs=1, extra={"precision": "fp16"})
    assert run_cli(["finetune", "--run-dir", run]) == 1
    assert "fp16 needs a CUDA device" in read_json(os.path.join(run, "run.json"))["error"]


@pytest.mark.parametrize("model_kind,precision", [("scbert", "bf16"), ("scgpt", "fp32")])
def test_runs_record_the_protocol_they_used(tmp_path, model_kind, precision):
    run = make_run(str(tmp_path), model=model_kind, epochs=1, extra={"precision": precision})
    assert run_cli(["finetune", "--run-dir", run]) == 0
    rec = read_json(os.path.join(run, "run.json"))
    used = precision if precision != "bf16" or runtime.cpu_bf16_autocast() else "fp32"
    want = {"precision": used, "adamEps": 1e-8 if model_kind == "scbert" else 1e-4,
            "headDropout": 0.0 if model_kind == "scbert" else None,
            "keep": "best-accuracy" if model_kind == "scbert" else "best-loss",
            "classWeights": "dataset" if model_kind == "scbert" else "none",
            "shuffle": model_kind == "scbert", "geneEmbInit": None if model_kind == "scbert" else "uniform",
            "gene2vec": None}
    assert rec["resolvedProtocol"] == want
    assert rec["futureField"] == [1, 2] and rec["parameters"]["somethingElse"] == {"kept": True}
    log = open(os.path.join(run, "run.log")).read()
    assert protocols.protocol_line(want) in log
    # the optimiser ran with the protocol's eps
    state = torch.load(os.path.join(run, "checkpoints", "last.pt"))
    assert state["optimizer_state_dict"]["param_groups"][0]["eps"] == want["adamEps"]


# --------------------------------------------------------------------------------------------------------------
# training order: published scGPT never reshuffles (DataLoader(shuffle=False))

@pytest.mark.parametrize("shuffle", [False, True])
def test_training_order_is_the_split_order_without_shuffle(tmp_path, monkeypatch, shuffle):
    run = make_run(str(tmp_path), model="scgpt", epochs=2, batch=8, extra={"shuffle": shuffle})
    split = read_json(os.path.join(run, "split.json"))
    seen = []
    real = train.batch_loss

    def recording(model, enc, cells, labels, *a, **kw):
        if model.training:  # training batches only (evaluation runs in eval mode)
            seen.extend(np.asarray(labels).tolist())
        return real(model, enc, cells, labels, *a, **kw)

    monkeypatch.setattr(train, "batch_loss", recording)
    assert run_cli(["finetune", "--run-dir", run]) == 0
    from scwb_worker.data import H5ad
    with H5ad(read_json(os.path.join(run, "run.json"))["dataset"]["path"]) as ds:
        labels = ds.labels("cell_type")
    y_split = [CLASSES.index(labels[r]) for r in split["train"]]
    if shuffle:
        expect = [y_split[i] for ep in (1, 2) for i in runtime.epoch_order(3, ep, len(y_split))]
        assert expect != y_split * 2
    else:
        expect = y_split * 2  # both epochs in the split's order, as DataLoader(shuffle=False)
    assert seen == expect


# --------------------------------------------------------------------------------------------------------------
# initialisation and loading for the ablations

def test_scgpt_without_pretraining_draws_the_gene_embedding_from_uniform_0_1(tmp_path):
    torch.manual_seed(0)
    p = _resolve("scgpt", config=dict(GPT_CFG, ntoken=400, d_model=32, nhead=2, d_hid=32))
    model, _cfg, _hint, report = train.build(p, "cpu")
    assert report is None
    w = model.encoder.embedding.weight.detach().flatten().numpy()
    assert w.min() >= -0.1 and w.max() <= 0.1 and w.min() < -0.099 and w.max() > 0.099
    assert stats.kstest(w, stats.uniform(loc=-0.1, scale=0.2).cdf).pvalue > 1e-3
    # the published init also overwrites the <pad> row
    assert model.encoder.embedding.weight[GPT_CFG["pad_token_id"]].abs().sum() > 0
    n = train.build(_resolve("scgpt", geneEmbInit="normal", config=dict(GPT_CFG, ntoken=400, d_model=32, nhead=2,
                                                                         d_hid=32)), "cpu")[0]
    wn = n.encoder.embedding.weight.detach().flatten().numpy()
    assert abs(wn.std() - 1.0) < 0.1 and np.abs(wn).max() > 1.0


def _demo(tmp_path, model):
    run = make_run(str(tmp_path / model), model=model, epochs=1)
    out = str(tmp_path / "ck")
    if not os.path.isdir(out):
        assert run_cli(["demo-checkpoints", out, "--genes-from", os.path.join(str(tmp_path / model),
                                                                               "data.h5ad")]) == 0
    path = (os.path.join(out, "scbert_tiny", "scbert_tiny_pretrain.pth") if model == "scbert"
            else os.path.join(out, "scGPT_tiny"))
    return run, path


def test_frozen_embeddings_ablation_is_random_init_then_frozen_as_published(tmp_path):
    _run, path = _demo(tmp_path, "scgpt")
    sd, _ = ck.normalize_state_dict(ck.read_checkpoint(path)[0])
    p = protocols.resolve({"model": "scgpt", "classes": list(CLASSES), "checkpoint": path,
                           "ablation": "frozen-embeddings"}, 1.0)
    assert p["epochs"] == 30
    model, _cfg, _hint, report = train.build(p, "cpu")
    assert report is None  # the published script never loads the weights (its load block is commented out)
    for k, v in model.state_dict().items():
        if k in sd and v.numel() > 1 and not k.endswith(("norm.weight", "norm.bias", "norm1.weight", "norm1.bias",
                                                          "norm2.weight", "norm2.bias", "enc_norm.weight",
                                                          "enc_norm.bias")) and not k.endswith("bias"):
            assert not torch.equal(v, sd[k]), k
    w = model.encoder.embedding.weight
    assert float(w.min()) >= -0.1 and float(w.max()) <= 0.1
    frozen = sorted(n for n, q in model.named_parameters() if not q.requires_grad)
    # published: every parameter whose name has "encoder" but not "transformer_encoder"
    assert frozen == sorted(n for n, _ in model.named_parameters()
                            if "encoder" in n and "transformer_encoder" not in n)
    assert frozen and all(q.requires_grad for n, q in model.named_parameters() if n.startswith("transformer_encoder"))


def test_scbert_no_pretraining_takes_only_the_gene2vec_table(tmp_path):
    _run, path = _demo(tmp_path, "scbert")
    sd, _ = ck.normalize_state_dict(ck.read_checkpoint(path)[0])
    p = protocols.resolve({"model": "scbert", "classes": list(CLASSES), "checkpoint": path,
                           "ablation": "no-pretraining"}, 1.0)
    model, _cfg, _hint, report = train.build(p, "cpu")
    assert report is None and p["gene2vecSource"] == path
    assert torch.equal(model.pos_emb.emb.weight, sd["pos_emb.emb.weight"])
    assert not model.pos_emb.emb.weight.requires_grad
    for k, v in model.state_dict().items():
        if k in sd and k != "pos_emb.emb.weight" and v.numel() > 1 and not k.endswith(("norm.weight", "norm.bias")) \
                and not k.endswith("bias") and k != "performer.calls_since_last_redraw":
            assert not torch.equal(v, sd[k]), k
    # the same freezing as published: only the final norm, the last layer and the head train
    assert {n.split(".")[0] for n, q in model.named_parameters() if q.requires_grad} == {"performer", "norm",
                                                                                          "to_out"}
    # a gene2vec .npy instead: its rows plus the appended token's zero row (published Gene2VecPositionalEmbedding)
    n_genes, dim = _cfg.n_genes, _cfg.dim
    g2v = np.random.RandomState(1).randn(n_genes, dim)
    npy = str(tmp_path / "gene2vec.npy")
    np.save(npy, g2v)
    p2 = protocols.resolve({"model": "scbert", "classes": list(CLASSES), "checkpoint": path,
                            "ablation": "no-pretraining", "gene2vec": npy}, 1.0)
    m2 = train.build(p2, "cpu")[0]
    assert p2["gene2vecSource"] == npy
    assert torch.equal(m2.pos_emb.emb.weight[:n_genes], torch.as_tensor(g2v, dtype=torch.float32))
    assert torch.equal(m2.pos_emb.emb.weight[n_genes], torch.zeros(dim))
    np.save(npy, g2v[:, :-1])
    with pytest.raises(runtime.RunError, match=r"gene2vec table must be a float array of shape \[%d genes, %d\]"
                                               % (n_genes, dim)):
        train.build(p2, "cpu")


def test_no_gene2vec_refuses_a_gene2vec_checkpoint_and_loads_one_without(tmp_path):
    run, path = _demo(tmp_path, "scbert")
    rec = read_json(os.path.join(run, "run.json"))
    rec["parameters"]["finetune"].update({"checkpoint": path, "config": None, "ablation": "no-gene2vec"})
    import json
    with open(os.path.join(run, "run.json"), "w") as f:
        json.dump(rec, f)
    assert run_cli(["finetune", "--run-dir", run]) == 1
    err = read_json(os.path.join(run, "run.json"))["error"]
    assert "pre-trained WITH gene2vec" in err and "pos_emb.emb.weight" in err and "without gene2vec" in err
    assert "scwb pretrain DATASET.h5ad --model scbert" in err and "encoder.pt" in err
    # a language model pre-trained without gene2vec loads strictly (nothing dropped, nothing left random but the head)
    cfg = ck.infer_scbert_config(ck.normalize_state_dict(ck.read_checkpoint(path)[0])[0])
    cfg.g2v_position_emb = False
    torch.manual_seed(5)
    lm = PerformerLM(cfg)
    nog2v = str(tmp_path / "nog2v.pth")
    torch.save({"model_state_dict": lm.state_dict(), "nGenes": cfg.n_genes}, nog2v)
    p = protocols.resolve({"model": "scbert", "classes": list(CLASSES), "checkpoint": nog2v,
                           "ablation": "no-gene2vec"}, 1.0)
    model, mcfg, _hint, report = train.build(p, "cpu")
    assert model.pos_emb is None and mcfg.n_genes == cfg.n_genes
    assert report.skipped == ["to_out.weight", "to_out.bias"]
    assert all(k.startswith("to_out.") for k in report.initialised)
    assert torch.equal(model.token_emb.weight, lm.token_emb.weight)


def test_a_partly_present_head_is_refused_a_wholly_absent_one_is_new(tmp_path):
    torch.manual_seed(0)
    bert = build_model("scbert", ScBertConfig(**BERT_CFG), 3)
    sd = collections.OrderedDict(bert.state_dict())
    del sd["to_out.fc3.weight"]
    path = str(tmp_path / "part.pth")
    torch.save({"model_state_dict": sd}, path)
    with pytest.raises(ck.PartialLoadError, match=r"missing from the file \(1\): to_out.fc3.weight"):
        ck.load_pretrained(build_model("scbert", ScBertConfig(**BERT_CFG), 3), path)
    gpt = ScGPTModel(ScGPTConfig(**GPT_CFG), n_classes=3)
    gsd = collections.OrderedDict(gpt.state_dict())
    del gsd["cls_decoder.out_layer.bias"]
    gpath = str(tmp_path / "part.pt")
    torch.save(gsd, gpath)
    with pytest.raises(ck.PartialLoadError, match=r"missing from the file \(1\): cls_decoder.out_layer.bias"):
        ck.load_pretrained(ScGPTModel(ScGPTConfig(**GPT_CFG), n_classes=3), gpath)
    # ignoring the missing key on purpose still works, and a wholly absent head is a new head
    report = ck.load_pretrained(ScGPTModel(ScGPTConfig(**GPT_CFG), n_classes=3), gpath,
                                ignore_keys=["cls_decoder.out_layer.bias"])
    assert "cls_decoder.out_layer.bias" in report.initialised
    whole = collections.OrderedDict((k, v) for k, v in gsd.items() if not k.startswith("cls_decoder."))
    torch.save(whole, gpath)
    report = ck.load_pretrained(ScGPTModel(ScGPTConfig(**GPT_CFG), n_classes=3), gpath)
    assert len(report.initialised) == len([k for k in gpt.state_dict() if k.startswith("cls_decoder.")])


def test_scbert_head_dropout_is_published_zero_unless_chosen():
    model = train.build(_resolve("scbert"), "cpu")[0]
    assert model.to_out.dropout1.p == 0.0 and model.to_out.dropout2.p == 0.0  # Identity(dropout=0.)
    model = train.build(_resolve("scbert", headDropout=0.1), "cpu")[0]
    assert model.to_out.dropout1.p == 0.1 and model.to_out.dropout2.p == 0.1


def test_the_favor_kernel_stays_fp32_under_cpu_bf16_autocast():
    """bf16 runs on CPU where torch can: the Performer's exponentials are computed in fp32 there too, as on CUDA."""
    from scwb_worker.models.scbert import FastAttention
    torch.manual_seed(0)
    fa = FastAttention(8, 16)
    q, k, v = (torch.randn(2, 2, 30, 8).to(torch.bfloat16) for _ in range(3))
    plain = fa(q, k, v)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        auto = fa(q, k, v)
    assert auto.dtype == torch.bfloat16 and torch.equal(auto, plain)
