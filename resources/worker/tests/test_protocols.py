"""Protocol defaults, class weights and the scBERT lr schedule against hand-computed values of its formula."""
import pytest
import torch

from scwb_worker import protocols


def _opt():
    return torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-4)


def test_scbert_schedule_matches_hand_computed_values():
    # first cycle 15 epochs, warm-up 5, max 1e-4, min 1e-6, cycle mult 2, gamma 0.9 (docstring formula)
    expected = {
        0: 1e-6, 1: 2.08e-5, 2: 4.06e-5, 3: 6.04e-5, 4: 8.02e-5, 5: 1e-4,
        6: 9.757730e-5,   # 1e-6 + 99e-6 * (1 + cos(pi/10)) / 2
        10: 5.05e-5,      # cos(pi/2) = 0
        14: 3.422703e-6,  # 1e-6 + 99e-6 * (1 + cos(9 pi/10)) / 2
        15: 1e-6,         # second cycle (25 epochs) starts warming up from min
        16: 1.88e-5,      # 1e-6 + (0.9e-4 - 1e-6) / 5
        20: 9e-5,         # peak of cycle 1 = 1e-4 * 0.9
        40: 1e-6,         # third cycle (45 epochs)
        45: 8.1e-5,
    }
    sched = protocols.CosineWarmRestarts(_opt(), 15, 2, 1e-4, 1e-6, 5, 0.9)
    seen = {0: sched.get_last_lr()[0]}
    for t in range(1, 46):
        sched.step()
        seen[t] = sched.get_last_lr()[0]
    for t, lr in expected.items():
        assert seen[t] == pytest.approx(lr, rel=1e-6), t


def test_schedule_state_round_trip():
    a = protocols.CosineWarmRestarts(_opt())
    for _ in range(7):
        a.step()
    opt = _opt()
    b = protocols.CosineWarmRestarts(opt)
    b.load_state_dict(a.state_dict())
    assert opt.param_groups[0]["lr"] == a.get_last_lr()[0]
    a.step()
    b.step()
    assert b.get_last_lr() == a.get_last_lr()


def test_scgpt_schedule_is_step_lr_09():
    opt = _opt()
    s = protocols.make_scheduler("scgpt", opt, {"stepGamma": 0.9})
    lrs = []
    for _ in range(3):
        lrs.append(opt.param_groups[0]["lr"])
        s.step()
    assert lrs == pytest.approx([1e-4, 9e-5, 8.1e-5])


def test_class_weights_inverse_counts():
    w = protocols.class_weights([0, 0, 0, 1, 2, 2], 4)
    # N / (K * n_c) with N = 6, K = 3 present classes; absent class 3 -> 0
    assert w.tolist() == pytest.approx([6 / 9, 2.0, 1.0, 0.0])


def test_defaults_and_overrides():
    p = protocols.resolve({"model": "scbert", "classes": ["a", "b"]}, 1.0)
    assert (p["epochs"], p["batchSize"], p["lr"], p["keep"]) == (10, 32, 1e-4, "best-accuracy")
    # published few-shot (Figure 2) re-evaluates the best-validation-accuracy checkpoint too
    assert protocols.resolve({"model": "scbert", "classes": ["a"]}, 0.5)["keep"] == "best-accuracy"
    g = protocols.resolve({"model": "scgpt", "classes": ["a"], "epochs": None}, 1.0)
    assert (g["epochs"], g["gradClip"], g["dropout"], g["keep"]) == (20, 1.0, 0.2, "best-loss")
    assert protocols.resolve({"model": "scgpt", "classes": ["a"], "ablation": "no-pretraining"}, 1.0)["epochs"] == 30
    assert protocols.resolve({"model": "scgpt", "classes": ["a"], "epochs": 3}, 1.0)["epochs"] == 3
    with pytest.raises(protocols.ProtocolError, match="classes"):
        protocols.resolve({"model": "scgpt", "classes": []}, 1.0)
    with pytest.raises(protocols.ProtocolError, match="scGPT ablation"):
        protocols.resolve({"model": "scbert", "classes": ["a"], "ablation": "frozen-embeddings"}, 1.0)
