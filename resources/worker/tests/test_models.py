"""Models: key layout against the published manifests, freezing, FAVOR+ redraw rules, determinism, attention."""
import collections
import json
import math
import os

import pytest
import torch
import torch.nn.functional as F

from scwb_worker.models import (ScBertConfig, PerformerLM, ScBertClassifier, freeze_for_finetune, ScGPTConfig,
                                ScGPTModel, freeze_embeddings, build_model, param_count)
from scwb_worker.models import scgpt as scgpt_mod
from scwb_worker.models.scbert import favor_features, linear_attention, orthogonal_gaussian_features

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
MANIFESTS = os.environ.get("SCWB_CHECKPOINT_MANIFESTS",
                           os.path.join(os.path.dirname(REPO), "shared", "reference", "checkpoints"))


def manifest(name):
    path = os.path.join(MANIFESTS, name)
    assert os.path.isfile(path), "checkpoint manifest %s not found (../shared missing?)" % path
    with open(path) as f:
        return json.load(f, object_pairs_hook=collections.OrderedDict)


def layout(model):
    """{key: (shape, kind, requires_grad)} of a model's state dict, in state-dict order."""
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    out = collections.OrderedDict()
    for k, v in model.state_dict().items():
        if k in params:
            out[k] = (list(v.shape), "parameter", params[k].requires_grad)
        else:
            assert k in buffers, k
            out[k] = (list(v.shape), "buffer", None)
    return out


def manifest_layout(m):
    return collections.OrderedDict(
        (k, (v["shape"], v["kind"], v.get("requires_grad", True) if v["kind"] == "parameter" else None))
        for k, v in m.items())


@pytest.fixture(scope="module")
def full_scbert():
    torch.manual_seed(0)
    return PerformerLM(ScBertConfig())


def test_scbert_pretrain_layout_equals_published_manifest(full_scbert):
    ours = layout(full_scbert)
    theirs = manifest_layout(manifest("scbert_pretrain_state_dict.json"))
    assert list(ours.keys()) == list(theirs.keys())
    assert ours == theirs
    assert len(ours) == 91
    sd = full_scbert.state_dict()
    assert sd["performer.calls_since_last_redraw"].dtype == torch.int64
    assert not full_scbert.pos_emb.emb.weight.requires_grad
    assert ScBertConfig().features() == 266 == int(64 * math.log(64))


def test_scbert_classifier_layout_is_pretrain_minus_lm_head_plus_finetune_head():
    torch.manual_seed(0)
    model = ScBertClassifier(ScBertConfig(), 11)
    pre = manifest_layout(manifest("scbert_pretrain_state_dict.json"))
    head = manifest_layout(manifest("scbert_finetune_head.json"))
    expected = collections.OrderedDict((k, v) for k, v in pre.items() if k not in ("to_out.weight", "to_out.bias"))
    expected.update(head)
    assert layout(model) == expected
    assert sum(p.numel() for p in model.parameters()) == 17111380


def test_scbert_without_gene2vec_has_no_position_embedding():
    cfg = ScBertConfig(dim=8, depth=1, heads=2, dim_head=4, n_genes=10, g2v_position_emb=False)
    model = PerformerLM(cfg)
    assert model.pos_emb is None
    assert not any(k.startswith("pos_emb") for k in model.state_dict())
    assert model(torch.randint(0, 7, (2, 11))).shape == (2, 11, 7)


def test_freeze_for_finetune_trains_only_final_norm_last_layer_and_head():
    cfg = ScBertConfig(dim=8, depth=3, heads=2, dim_head=4, n_genes=10)
    model = freeze_for_finetune(ScBertClassifier(cfg, 3))
    trainable = sorted(n for n, p in model.named_parameters() if p.requires_grad)
    assert trainable and all(n.startswith(("norm.", "performer.net.layers.2.", "to_out.")) for n in trainable)
    expected = sorted(n for n, _ in model.named_parameters()
                      if n.startswith(("norm.", "performer.net.layers.2.", "to_out.")))
    assert trainable == expected
    assert param_count(model, trainable_only=True) == sum(p.numel() for n, p in model.named_parameters()
                                                          if n in expected)
    assert not model.pos_emb.emb.weight.requires_grad


def tiny_bert(n_genes=12, **kw):
    cfg = ScBertConfig(dim=8, depth=2, heads=2, dim_head=4, n_genes=n_genes, nb_features=6, **kw)
    torch.manual_seed(1)
    return ScBertClassifier(cfg, 3)


def projections(model):
    return [b.clone() for n, b in model.named_buffers() if n.endswith("projection_matrix")]


def test_scbert_eval_is_deterministic_and_never_redraws():
    model = tiny_bert().eval()
    x = torch.randint(0, 7, (3, 13))
    before = projections(model)
    with torch.no_grad():
        first = model(x)
        for _ in range(1005):
            model(x)
        again = model(x)
    assert torch.equal(first, again)
    assert all(torch.equal(a, b) for a, b in zip(before, projections(model)))
    assert int(model.performer.calls_since_last_redraw) == 0


def test_scbert_train_mode_redraws_projections_after_1000_forwards():
    model = tiny_bert(feature_redraw_interval=1000).train()
    x = torch.randint(0, 7, (2, 13))
    before = projections(model)
    with torch.no_grad():
        for _ in range(1000):
            model(x)
        assert int(model.performer.calls_since_last_redraw) == 1000
        assert all(torch.equal(a, b) for a, b in zip(before, projections(model)))
        model(x)  # the 1001st training forward redraws
    after = projections(model)
    assert int(model.performer.calls_since_last_redraw) == 0
    assert all(not torch.equal(a, b) for a, b in zip(before, after))
    assert all(a.shape == b.shape for a, b in zip(before, after))


def test_scbert_key_features_depend_on_the_whole_batch():
    """Documented upstream behaviour: the key feature map subtracts the max over the whole batch, so a cell's
    output moves slightly with the other cells of its batch. Results must be compared batch for batch."""
    torch.manual_seed(3)
    proj = torch.randn(6, 4)
    k = torch.randn(2, 2, 5, 4)
    k[1] *= 3.0  # cell 1 holds the largest projections
    alone = favor_features(k[:1], proj, is_query=False)
    batched = favor_features(k, proj, is_query=False)[:1]
    ratio = batched / alone
    assert not torch.allclose(batched, alone)
    q_alone = favor_features(k[:1], proj, is_query=True)
    q_batched = favor_features(k, proj, is_query=True)[:1]
    assert torch.equal(q_alone, q_batched)  # queries use a per-row max: no batch dependence
    assert ratio.min() > 0
    model = tiny_bert().eval()
    x = torch.randint(0, 7, (2, 13))
    x[1] = 5
    with torch.no_grad():
        out_batch = model(x)
        out_single = torch.cat([model(x[:1]), model(x[1:])])
    assert torch.allclose(out_batch, out_single, atol=1e-2)


def test_favor_attention_approximates_softmax_attention_with_many_features():
    """FAVOR+ is an unbiased random-feature estimate of softmax attention: with many features it must come close to
    the exact softmax(q k^T / sqrt(d)) v (the stabilising maxima cancel in the normalisation)."""
    g = torch.Generator().manual_seed(0)
    d = 8
    q = torch.randn(1, 2, 16, d, generator=g) * 0.5
    k = torch.randn(1, 2, 16, d, generator=g) * 0.5
    v = torch.randn(1, 2, 16, d, generator=g)
    exact = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d), dim=-1) @ v
    errors = []
    for m in (16, 4096):
        proj = orthogonal_gaussian_features(m, d, generator=g)
        approx = linear_attention(favor_features(q, proj, True), favor_features(k, proj, False), v)
        errors.append(float((approx - exact).abs().mean()))
    # the eps added to every feature (as published) leaves a small bias, so the error does not go to zero
    assert errors[1] < 0.025, errors
    assert errors[1] < errors[0] / 2, errors
    wrong_kernel = linear_attention(favor_features(q * 2, proj, True), favor_features(k, proj, False), v)
    assert float((wrong_kernel - exact).abs().mean()) > 2 * errors[1]


def test_orthogonal_features_are_orthogonal_within_blocks():
    proj = orthogonal_gaussian_features(20, 8, generator=torch.Generator().manual_seed(1))
    assert proj.shape == (20, 8)
    block = proj[:8] / proj[:8].norm(dim=1, keepdim=True)
    assert torch.allclose(block @ block.t(), torch.eye(8), atol=1e-5)


def test_favor_features_in_place_path_equals_autograd_path():
    torch.manual_seed(4)
    proj = torch.randn(6, 4)
    x = torch.randn(2, 2, 5, 4)
    for is_query in (True, False):
        with torch.no_grad():
            fast = favor_features(x, proj, is_query)
        slow = favor_features(x.clone().requires_grad_(True), proj, is_query)
        assert torch.allclose(fast, slow.detach(), rtol=1e-6, atol=0)


def test_scbert_classifier_rejects_wrong_sequence_length():
    model = tiny_bert()
    with pytest.raises(ValueError, match="13 tokens"):
        model(torch.zeros(1, 12, dtype=torch.long))


def test_scbert_finetune_step_only_changes_trainable_parameters():
    model = freeze_for_finetune(tiny_bert()).train()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    x = torch.randint(0, 6, (4, 13))
    loss = F.cross_entropy(model(x), torch.tensor([0, 1, 2, 0]))
    loss.backward()
    opt.step()
    for n, p in model.named_parameters():
        changed = not torch.equal(before[n], p.detach())
        assert changed == p.requires_grad, n


# ---------------------------------------------------------------------------------------------------- scGPT

def test_scgpt_pretrain_layout_equals_published_torch_manifest():
    torch.manual_seed(0)
    model = ScGPTModel(ScGPTConfig())
    ours = layout(model)
    theirs = manifest_layout(manifest("scgpt_human_torch_state_dict.json"))
    assert list(ours.keys()) == list(theirs.keys())
    assert ours == theirs
    assert sum(p.numel() for p in model.parameters()) == 51330049
    assert model.encoder.embedding.padding_idx == 60694
    cls = ScGPTModel(ScGPTConfig(), n_classes=11)
    cls_layout = layout(cls)
    dropped = [k for k in theirs if k.startswith(("decoder.", "mvc_decoder.", "flag_encoder."))]
    assert len(dropped) == 10
    expected = [k for k in theirs if k not in dropped] + [
        "cls_decoder._decoder.0.weight", "cls_decoder._decoder.0.bias", "cls_decoder._decoder.2.weight",
        "cls_decoder._decoder.2.bias", "cls_decoder._decoder.3.weight", "cls_decoder._decoder.3.bias",
        "cls_decoder._decoder.5.weight", "cls_decoder._decoder.5.bias", "cls_decoder.out_layer.weight",
        "cls_decoder.out_layer.bias"]
    assert list(cls_layout.keys()) == expected
    assert cls_layout["cls_decoder.out_layer.weight"][0] == [11, 512]
    assert cls_layout["cls_decoder._decoder.2.weight"][0] == [512]  # LayerNorm
    assert cls_layout["cls_decoder._decoder.3.weight"][0] == [512, 512]  # second Linear


def tiny_gpt(n_classes=3, dropout=0.0):
    torch.manual_seed(2)
    cfg = ScGPTConfig(ntoken=23, d_model=16, nhead=2, d_hid=16, nlayers=2, dropout=dropout, pad_token_id=20)
    return ScGPTModel(cfg, n_classes)


def gpt_batch():
    torch.manual_seed(5)
    ids = torch.randint(0, 20, (3, 9))
    ids[:, 0] = 21  # <cls>
    vals = torch.rand(3, 9) * 50
    vals[:, 0] = 0
    pad = torch.zeros(3, 9, dtype=torch.bool)
    pad[0, 6:] = True
    pad[2, 4:] = True
    ids[pad] = 20
    vals[pad] = -2
    return ids, vals, pad


def test_scgpt_fallback_attention_equals_torch_multihead_attention():
    model = tiny_gpt()
    attn = model.transformer_encoder.layers[0].self_attn
    torch.manual_seed(9)
    x = torch.randn(3, 9, 16)
    _, _, pad = gpt_batch()
    ref, _ = F.multi_head_attention_forward(
        x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1), 16, 2, attn.in_proj_weight, attn.in_proj_bias,
        None, None, False, 0.0, attn.out_proj.weight, attn.out_proj.bias, training=False, key_padding_mask=pad,
        need_weights=False)
    ref = ref.transpose(0, 1)
    attn.eval()
    for use_sdpa in ([False, True] if scgpt_mod.HAS_SDPA else [False]):
        attn.use_sdpa = use_sdpa
        ours = attn(x, pad)
        assert torch.allclose(ours, ref, atol=1e-5), "use_sdpa=%s max diff %g" % (
            use_sdpa, (ours - ref).abs().max())
        ours_nomask = attn(x, None)
        ref_nomask = F.multi_head_attention_forward(
            x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1), 16, 2, attn.in_proj_weight, attn.in_proj_bias,
            None, None, False, 0.0, attn.out_proj.weight, attn.out_proj.bias, training=False,
            need_weights=False)[0].transpose(0, 1)
        assert torch.allclose(ours_nomask, ref_nomask, atol=1e-5)


def test_scgpt_fallback_attention_gradients_equal_torch_multihead_attention():
    model = tiny_gpt()
    attn = model.transformer_encoder.layers[0].self_attn
    attn.use_sdpa = False
    attn.train()
    _, _, pad = gpt_batch()
    torch.manual_seed(10)
    x = torch.randn(3, 9, 16)
    grads = []
    for ours in (True, False):
        xi = x.clone().requires_grad_(True)
        attn.zero_grad()
        if ours:
            out = attn(xi, pad)
        else:
            t = xi.transpose(0, 1)
            out = F.multi_head_attention_forward(
                t, t, t, 16, 2, attn.in_proj_weight, attn.in_proj_bias, None, None, False, 0.0,
                attn.out_proj.weight, attn.out_proj.bias, training=True, key_padding_mask=pad,
                need_weights=False)[0].transpose(0, 1)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        grads.append((xi.grad.clone(), attn.in_proj_weight.grad.clone()))
    assert torch.allclose(grads[0][0], grads[1][0], atol=1e-5)
    assert torch.allclose(grads[0][1], grads[1][1], atol=1e-5)


def test_scgpt_padded_positions_do_not_change_logits_but_the_mask_matters():
    model = tiny_gpt().eval()
    ids, vals, pad = gpt_batch()
    with torch.no_grad():
        logits = model(ids, vals, pad)
        assert logits.shape == (3, 3)
        ids2, vals2 = ids.clone(), vals.clone()
        ids2[pad] = 7
        vals2[pad] = 99.0
        assert torch.allclose(model(ids2, vals2, pad), logits, atol=1e-6)
        no_mask = model(ids, vals, None)
        assert not torch.allclose(no_mask[0], logits[0], atol=1e-4)
        assert torch.allclose(no_mask[1], logits[1], atol=1e-5)  # row 1 has no padding
        # a padded cell gives the logits of the same cell without its padding
        short = model(ids[2:, :4], vals[2:, :4], None)
        assert torch.allclose(short, logits[2:], atol=1e-5)


def test_scgpt_eval_deterministic_and_train_dropout_random():
    model = tiny_gpt(dropout=0.2)
    ids, vals, pad = gpt_batch()
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(ids, vals, pad), model(ids, vals, pad))
        model.train()
        assert not torch.equal(model(ids, vals, pad), model(ids, vals, pad))


def test_scgpt_value_encoder_clamps_at_max_value():
    model = tiny_gpt().eval()
    with torch.no_grad():
        a = model.value_encoder(torch.tensor([[512.0, 700.0, 1.0]]))
    assert torch.equal(a[0, 0], a[0, 1])
    assert not torch.equal(a[0, 0], a[0, 2])


def test_scgpt_freeze_embeddings_and_pretrain_forward():
    model = freeze_embeddings(tiny_gpt())
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {n for n, _ in model.named_parameters() if n.startswith(("encoder.", "value_encoder."))}
    pre = tiny_gpt(n_classes=0).eval()
    ids, vals, pad = gpt_batch()
    assert pre(ids, vals, pad).shape == (3, 9)
    assert pre.encode(ids, vals, pad).shape == (3, 9, 16)


def test_build_model_and_param_count():
    bert = build_model("scbert", ScBertConfig(dim=8, depth=1, heads=2, dim_head=4, n_genes=5), 4)
    assert isinstance(bert, ScBertClassifier) and bert.to_out.fc3.out_features == 4
    gpt = build_model("scgpt", ScGPTConfig(ntoken=10, d_model=8, nhead=2, d_hid=8, nlayers=1, pad_token_id=7), 2)
    assert gpt.cls_decoder.out_layer.out_features == 2
    assert param_count(gpt) == sum(p.numel() for p in gpt.parameters())
    with pytest.raises(ValueError, match="unknown model kind"):
        build_model("geneformer", None, 2)
