"""The published AAAI 2025 benchmark encoders (models/published.py, published_data.py): every structure at the paper's
config has exactly the published state-dict manifest (../shared/reference/checkpoints) and loads it strictly; each
computes what the published description says (plain-torch references written here from it); bin mode, gene sampling,
warm-up, pooling and un-binning equal references written from the published description."""
import collections
import io
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from conftest import WORKER_ROOT
from scwb_worker import published_data as pdata
from scwb_worker.models.encoder import EncoderConfig
from scwb_worker.models.published import (STRUCTURES, PublishedConfig, PublishedEncoder, default_max_seq_len,
                                          manifest)
from test_models import manifest as shared_manifest

DTYPES = {"float32": torch.float32, "int64": torch.int64}


def _paper(structure):
    torch.manual_seed(0)
    return PublishedEncoder(PublishedConfig(structure=structure, max_seq_len=default_max_seq_len(structure)))


def _layout(sd):
    return [(k, list(v.shape), str(v.dtype).replace("torch.", "")) for k, v in sd.items()]


@pytest.mark.parametrize("structure", STRUCTURES)
def test_paper_config_has_the_published_manifest_and_loads_it_strictly(structure):
    ref = shared_manifest("scbenchmark_%s_state_dict.json" % structure)
    model = _paper(structure)
    assert list(manifest(model).items()) == list(ref.items())  # keys, order, shapes, dtypes, parameter/buffer
    published = collections.OrderedDict((k, torch.full(v["shape"], 0.5).to(DTYPES[v["dtype"]]))
                                        for k, v in ref.items())
    model.load_state_dict(published, strict=True)
    assert all(float(v.mean()) == 0.5 for v in model.state_dict().values() if v.is_floating_point())
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    saved = torch.load(buf)
    assert _layout(saved) == [(k, v["shape"], v["dtype"]) for k, v in ref.items()]
    # the DDP files of the README's run carry "module.": after stripping it they load the same way
    assert model.load_state_dict(collections.OrderedDict((k[7:], v) for k, v in (
        ("module." + k, v) for k, v in published.items()))) is not None


def test_encoder_manifest_command_prints_the_published_manifest():
    for structure in ("cnn_ours", "linear_base"):
        res = subprocess.run([sys.executable, "-m", "scwb_worker", "encoder-manifest", "--structure", structure],
                             capture_output=True, text=True, cwd=WORKER_ROOT)
        assert res.returncode == 0, res.stderr
        got = json.loads(res.stdout, object_pairs_hook=collections.OrderedDict)
        assert list(got.items()) == list(shared_manifest("scbenchmark_%s_state_dict.json" % structure).items())


# ---------------------------------------------------------------------------------------------------------------
# forward passes against plain-torch references written from the published description

N_TOK, PAD, CLS = 40, 37, 38


def _small(structure, L=16, depth=3, dim=256, pooling="cls"):
    torch.manual_seed(1)
    model = PublishedEncoder(PublishedConfig(n_tokens=N_TOK, pad_id=PAD, cls_id=CLS, structure=structure, dim=dim,
                                             depth=depth, heads=4, dropout=0.0, max_seq_len=L, pooling=pooling))
    with torch.no_grad():  # non-trivial BatchNorm statistics for the eval-mode references
        for name, buf in model.named_buffers():
            if name.endswith("running_mean"):
                buf.normal_()
            elif name.endswith("running_var"):
                buf.uniform_(0.5, 2.0)
    return model.eval()


def _inputs(L=16, b=3, seed=2):
    g = torch.Generator().manual_seed(seed)
    src = torch.stack([torch.randperm(PAD, generator=g)[:L] for _ in range(b)])
    src[:, 0] = CLS
    src[1, 9:] = PAD
    values = torch.rand(b, L, generator=g) * 600  # some above the clamp at 512
    values[:, 0] = 0.0
    values[1, 9:] = 0.0
    values[2, 3] = -1.0
    return src, values, src.eq(PAD)


def _input_sum(sd, src, values):
    ge = sd["embedding.weight"][src]
    v = values.clamp(max=512.0).unsqueeze(-1)
    h = F.relu(F.linear(v, sd["value_encoder.0.weight"], sd["value_encoder.0.bias"]))
    return ge, ge + F.linear(h, sd["value_encoder.2.weight"], sd["value_encoder.2.bias"])


def _mlp(sd, prefix, x):
    x = F.leaky_relu(F.linear(x, sd[prefix + ".0.weight"], sd[prefix + ".0.bias"]), 0.01)
    x = F.leaky_relu(F.linear(x, sd[prefix + ".2.weight"], sd[prefix + ".2.bias"]), 0.01)
    return F.linear(x, sd[prefix + ".4.weight"], sd[prefix + ".4.bias"])


def _bn(sd, prefix, x):  # x [B, C, L], eval mode
    return F.batch_norm(x, sd[prefix + ".running_mean"], sd[prefix + ".running_var"], sd[prefix + ".weight"],
                        sd[prefix + ".bias"], False, 0.0, 1e-5)


def _cnn_reference(sd, x, depth):
    h = x.transpose(1, 2)
    for i in range(depth):
        stride = 1 if i % 6 == 0 else 2
        p = "encoder.layers.%d" % i
        y = F.conv1d(h, sd[p + ".conv.weight"], sd[p + ".conv.bias"], stride=stride, padding=4)
        skip = F.max_pool1d(h, stride, stride)
        h = F.gelu(_bn(sd, p + ".bn", y)) + skip
    return F.adaptive_avg_pool1d(h, 1).squeeze(2)


@pytest.mark.parametrize("structure", ["cnn_base", "cnn_ours", "linear_ours", "linear_base", "transformer"])
def test_forward_equals_the_published_description(structure):
    model = _small(structure)
    sd = {k: v.detach() for k, v in model.state_dict().items()}
    src, values, pad = _inputs()
    with torch.no_grad():
        mlm, mvc, cell = model(src, values, pad)
    ge, x = _input_sum(sd, src, values)
    if structure == "cnn_ours":  # <cls> first, genes by ascending id, <pad> last
        key = torch.where(src == CLS, -1, torch.where(src == PAD, N_TOK, src))
        order = torch.sort(key, dim=1, stable=True)[1]
        x = torch.stack([x[i, order[i]] for i in range(len(x))])
    if structure.startswith("cnn"):
        ref_cell = _cnn_reference(sd, x, 3)
    elif structure == "linear_ours":
        h = x
        for i, n_out in enumerate([8, 4, 1]):
            p = "encoder.layers.%d" % i
            y = F.linear(F.linear(h, sd[p + ".linear_channel.weight"], sd[p + ".linear_channel.bias"]).transpose(1, 2),
                         sd[p + ".linear_seq.weight"], sd[p + ".linear_seq.bias"])
            y = F.gelu(_bn(sd, p + ".bn", y).transpose(1, 2))
            h = y + F.adaptive_avg_pool1d(h.transpose(1, 2), n_out).transpose(1, 2)
        ref_cell = h[:, 0]
    else:
        if structure == "linear_base":
            h = x
            for i in range(3):
                f = F.linear(F.relu(F.linear(h, sd["encoder.ffns.%d.fc1.weight" % i], sd["encoder.ffns.%d.fc1.bias" % i])),
                             sd["encoder.ffns.%d.fc2.weight" % i], sd["encoder.ffns.%d.fc2.bias" % i])
                h = h + F.gelu(F.layer_norm(f, (256,), sd["encoder.layer_norms.%d.weight" % i],
                                            sd["encoder.layer_norms.%d.bias" % i]))
        else:  # post-norm layers, feed-forward width = d, no final norm, padding keys ignored
            h = x
            for layer in model.encoder.layers:
                a = layer.self_attn(h, h, h, key_padding_mask=pad, need_weights=False)[0]
                h = layer.norm1(h + a)
                assert layer.linear1.out_features == 256
                h = layer.norm2(h + layer.linear2(F.relu(layer.linear1(h))))
            keep = ~pad
            assert torch.allclose(_mlp(sd, "decoder", h).squeeze(2)[keep], mlm[keep], atol=1e-4)
        if structure == "linear_base":
            assert torch.allclose(_mlp(sd, "decoder", h).squeeze(2), mlm, atol=1e-4)
        ref_cell = h[:, 0]
    assert torch.allclose(cell, ref_cell, atol=1e-4), (cell - ref_cell).abs().max()
    ref_mvc = torch.bmm(_mlp(sd, "gene2query", ge), ref_cell.unsqueeze(2)).squeeze(2)
    assert torch.allclose(mvc, ref_mvc, atol=1e-3)
    if structure in ("cnn_base", "cnn_ours", "linear_ours"):
        assert torch.equal(mlm, mvc)


def test_training_gradients_reach_what_the_published_model_trains():
    for structure, untouched in [("transformer", {"layer_norm"}), ("cnn_base", {"layer_norm", "decoder"}),
                                 ("linear_ours", {"layer_norm", "decoder"}), ("linear_base", {"layer_norm"})]:
        model = _small(structure).train()
        src, values, pad = _inputs()
        mlm, mvc, _cell = model(src, values, pad)
        loss = mvc.pow(2).mean() + (mlm.pow(2).mean() if mlm.requires_grad else 0.0)
        loss.backward()
        no_grad = {n.split(".")[0] for n, q in model.named_parameters() if q.grad is None or not q.grad.abs().sum()}
        assert no_grad == untouched, (structure, no_grad)
        assert float(model.embedding.weight.grad[PAD].abs().sum()) == 0.0


def test_linear_base_cls_embedding_is_the_same_for_every_cell():
    model = _small("linear_base")
    with torch.no_grad():
        cell = model.embed(*_inputs())
    assert torch.allclose(cell[0], cell[1], atol=1e-5) and torch.allclose(cell[0], cell[2], atol=1e-5)


def test_pooling_mean_is_over_all_places_and_mean_genes_over_the_genes():
    src, values, pad = _inputs()
    m_all, m_genes = _small("linear_base", pooling="mean"), _small("linear_base", pooling="mean-genes")
    with torch.no_grad():
        h = m_all.encoder(_input_sum(m_all.state_dict(), src, values)[1])
        keep = (~pad).float()
        keep[:, 0] = 0
        assert torch.allclose(m_all.embed(src, values, pad), h.mean(1), atol=1e-5)  # <cls> and padding included
        ref = (h * keep.unsqueeze(-1)).sum(1) / keep.sum(1, keepdim=True)
        assert torch.allclose(m_genes.embed(src, values, pad), ref, atol=1e-5)


def test_structure_checks_name_the_problem():
    with pytest.raises(ValueError, match="multiple of 4"):
        PublishedConfig(structure="cnn_base", depth=3, max_seq_len=18).check()
    with pytest.raises(ValueError, match="mvc must be true"):
        PublishedConfig(structure="linear_ours", mvc=False).check()
    with pytest.raises(ValueError, match="exactly 16 places"):
        _small("cnn_base")(*_inputs(L=12))


@pytest.mark.parametrize("cls", [PublishedConfig, EncoderConfig])
def test_encoder_configs_round_trip_and_refuse_unknown_settings_and_bad_token_ids(cls):
    cfg = cls(n_tokens=100, pad_id=97, cls_id=98, dim=32, depth=2, heads=4)
    again = cls.from_dict(cfg.to_dict())
    assert again == cfg and type(again) is cls
    with pytest.raises(ValueError, match=r"unknown encoder setting\(s\): colour, size"):
        cls.from_dict(dict(cfg.to_dict(), size=1, colour=2))
    with pytest.raises(ValueError, match="pad id 100 / cls id 98 outside the 100 tokens"):
        cls(n_tokens=100, pad_id=100, cls_id=98, dim=32, depth=2, heads=4).check()


# ---------------------------------------------------------------------------------------------------------------
# data: bins, sampling, warm-up, un-binning


def _np_bins(row, n_bins, u):
    """numpy reference of the published binning with the given uniforms."""
    if np.all(row == 0):
        return np.zeros_like(row)
    edges = np.quantile(row.astype(np.float64), np.linspace(0, 1, n_bins - 1)).astype(np.float32)
    left = np.searchsorted(edges, row, side="left") - 1
    right = np.searchsorted(edges, row, side="right") - 1
    return np.ceil(u * (right - left) + left)


def test_bins_equal_a_numpy_reference_over_the_padded_row():
    rng = np.random.default_rng(4)
    for n_genes, n_bins in [(7, 11), (30, 51), (12, 5)]:
        row = np.zeros(32, np.float32)
        row[:n_genes] = np.log1p(rng.integers(1, 6, n_genes)).astype(np.float32)  # many ties, padding zeros
        got = pdata.bin_row(torch.from_numpy(row), n_bins, torch.Generator().manual_seed(9)).numpy()
        u = torch.rand(32, generator=torch.Generator().manual_seed(9)).numpy()
        assert np.array_equal(got, _np_bins(row, n_bins, u)), (got, _np_bins(row, n_bins, u))
        assert got.min() >= 0 and got.max() <= n_bins - 2
    assert not pdata.bin_row(torch.zeros(5), 51, torch.Generator()).any()


def test_ties_are_spread_at_random_over_their_bins():
    row = torch.tensor([0.0] * 6 + [1.0] * 10, dtype=torch.float32)
    counts = np.zeros(51)
    for s in range(400):
        b = pdata.bin_row(row, 11, torch.Generator().manual_seed(s)).numpy()
        counts[:len(np.bincount(b[:6].astype(int)))] += np.bincount(b[:6].astype(int))
    edges = np.quantile(row.numpy(), np.linspace(0, 1, 10))
    spread = int(np.sum(edges == 0))  # the zeros spread over bins 0..spread-1
    assert spread > 1
    assert stats.chisquare(counts[:spread]).pvalue > 1e-3 and counts[spread:].sum() == 0


def test_unbinning_equals_a_numpy_reference():
    orig = torch.tensor([0.0, 0.0, 0.7, 1.1, 1.1, 2.3, 0.0, 3.0])
    pred = torch.tensor([-0.5, 2.7, 3.2, 0.0, 60.0, 7.9, 1.0, 4.4])
    got = pdata.unbin_row(pred, orig, 5).numpy()
    edges = np.quantile(orig.numpy().astype(np.float64), np.linspace(0, 1, 5))
    centres = (edges[:-1] + edges[1:]) / 2
    idx = np.clip(np.trunc(pred.numpy()).astype(int), 0, 3)
    assert np.allclose(got, centres[idx])


def test_weighted_sampling_draws_by_log1p_minus_min_half_of_the_time():
    vals = torch.tensor(np.log1p([1, 2, 3, 5, 8, 30]), dtype=torch.float32)
    w = (vals - vals.min() + 1e-5).numpy().astype(np.float64)  # expected counts that sum to n (newer scipy checks)
    n = 6000
    firsts = [int(pdata.sample_places(vals, 1, True, False, torch.Generator().manual_seed(s))[0]) for s in range(n)]
    assert stats.chisquare(np.bincount(firsts, minlength=6), w / w.sum() * n).pvalue > 1e-3
    # with the coin (pre-training): half multinomial, half a random permutation
    mix = [int(pdata.sample_places(vals, 1, True, True, torch.Generator().manual_seed(s))[0]) for s in range(n)]
    expected = 0.5 * w / w.sum() + 0.5 / 6
    expected = expected / expected.sum() * n  # sums to n exactly, as newer scipy's chisquare requires
    assert stats.chisquare(np.bincount(mix, minlength=6), expected).pvalue > 1e-3
    # the exact draw: torch.multinomial without replacement on those weights, after the coin
    g = torch.Generator().manual_seed(3)
    coin = float(torch.rand(1, generator=g))
    ref = (torch.multinomial(torch.from_numpy(w), 4, replacement=False, generator=g) if coin < 0.5
           else torch.randperm(6, generator=g)[:4])
    assert torch.equal(pdata.sample_places(vals, 4, True, True, torch.Generator().manual_seed(3)), ref)
    assert pdata.sample_places(vals, 7, True, True, torch.Generator()) is None  # fewer genes: padded, not drawn
    assert len(pdata.sample_places(vals, 6, True, True, torch.Generator())) == 6  # >= max: drawn (re-ordered)


def _published_lrs(base, warmup, batches, epochs):
    """The published loop: lr set before a step of epoch 1 while total_iters <= warmup, never reset."""
    lr, out, total = base, [], 0
    for epoch in range(1, epochs + 1):
        for _ in range(batches):
            if total <= warmup and epoch == 1:
                lr = base * total / warmup
            out.append(lr)
            total += 1
    return out


@pytest.mark.parametrize("warmup,batches", [(3, 5), (10, 4), (4, 5)])
def test_warmup_equals_the_published_loop(warmup, batches):
    w = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([w], lr=2e-4)
    sched = pdata.warmup_scheduler(opt, warmup, batches)
    got = []
    for _ in range(3 * batches):
        got.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert np.allclose(got, _published_lrs(2e-4, warmup, batches, 3), rtol=0, atol=1e-12)
    assert got[0] == 0.0


def test_cells_are_sampled_binned_and_masked_as_published():
    from scwb_worker.pretrain import SparseCells, Tokens
    cells = SparseCells()
    cells.ids = {0: np.arange(10), 1: np.arange(3)}
    cells.values = {0: np.log1p(np.arange(1, 11)).astype(np.float32), 1: np.array([0.5, 0.5, 2.0], np.float32)}
    tok = Tokens(None, 14, 12, 13, None, None)
    cfg = PublishedConfig(n_tokens=14, pad_id=12, cls_id=13, structure="transformer", dim=8, depth=1, heads=2,
                          max_seq_len=7, value_mode="bins", n_bins=5)
    obj = pdata.PublishedCells(cells, tok, cfg, 0.4, True, True, 7)
    batch = obj.prepare([0, 1], 3)
    src, values, pad = batch.inputs
    assert src.shape == (2, 7) and bool((src[:, 0] == 13).all()) and bool((src[1, 4:] == 12).all())
    assert not bool(pad[0].any()) and len(set(src[0, 1:].tolist())) == 6
    # replay the draws of cell 1: no sampling (3 < 6 genes), bins of the padded row, then the mask
    g = pdata.cell_generator(7, 3, 1)
    row = torch.tensor([0.5, 0.5, 2.0, 0, 0, 0])
    bins = pdata.bin_row(row, 5, g)
    masked = torch.rand(3, generator=g) < 0.4
    assert torch.equal(batch.target[1, 1:], bins) and torch.equal(batch.masked[1, 1:4], masked)
    assert torch.equal(values[1, 1:4], torch.where(masked, torch.tensor(-1.0), bins[:3]))
    assert torch.equal(values[1, 4:], bins[3:])  # the padding's own bins are fed (it is never masked)
    assert torch.equal(batch.original[1, 1:], row)
    assert math.isclose(float(batch.target[1, 0]), 0.0) and not bool(batch.masked[:, 0].any())
