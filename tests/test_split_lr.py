"""The split learning rate (``TrainConfig.lr_group``) and common random numbers across K.

Claims: with ``lr_group='spectral'`` only the spectral weights follow the swept LR (times μP's
c(K)) while the rest train at ``lr_fixed`` — in a population exactly as in a separate run, and
exactly as a hand-built torch Adam with those two group LRs; ``'other'`` is the mirror image; the
default ``'all'`` leaves run ids as they were; a seed draws the same non-spectral weights at
every K.
"""
import math

import pytest
import torch

from mufno_lite.fno import FNO, FNOConfig
from mufno_lite.parametrization import Parametrization
from mufno_lite.sweep import SweepConfig
from mufno_lite.train import Member, TrainConfig, train_model, train_population

from tests.test_train import _close_params, _heat_dataset

CFG = FNOConfig(d=1, K=6, width=8, n_layers=2, projection_width=16)


def _manual(cfg, par, data, lr_spec, lr_other, steps, seed):
    """Reference: torch Adam with explicit group LRs, constant schedule, relative L2 loss."""
    torch.manual_seed(0)
    model = FNO(cfg, parametrization=par, seed=seed)
    groups = model.named_parameter_groups()
    c = Parametrization(par, 3).lr_multiplier(cfg.K, cfg.d)  # 1 under SP; √(log 3 / log K) under μP
    opt = torch.optim.Adam([{"params": [p for _, p in groups["spectral"]], "lr": lr_spec * c},
                            {"params": [p for _, p in groups["other"]], "lr": lr_other}])
    from mufno_lite.train import batch_schedule, relative_l2

    x = data.x_normalizer.encode(data.x_train)
    idx = batch_schedule(x.shape[0], 10, steps, 0)
    for s in range(steps):
        loss = relative_l2(model(x[idx[s]]), data.y_train[idx[s]]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


@pytest.mark.parametrize("group", ["spectral", "other"])
@pytest.mark.parametrize("par", ["sp", "mup"])
def test_split_lr_matches_hand_built_adam(group, par):
    data = _heat_dataset()
    swept, fixed = 7e-3, 2e-3
    tc = TrainConfig(steps=12, batch_size=10, schedule="constant", lr=swept, lr_group=group, lr_fixed=fixed)
    model = FNO(CFG, parametrization=par, seed=3)
    train_model(model, data, tc)
    spec, other = (swept, fixed) if group == "spectral" else (fixed, swept)
    ref = _manual(CFG, par, data, spec, other, 12, 3)
    for (name, p), (_, q) in zip(model.named_parameters(), ref.named_parameters()):
        assert torch.allclose(p, q, rtol=1e-5, atol=1e-7), name
    # and it really differs from training every group at the swept LR
    plain = FNO(CFG, parametrization=par, seed=3)
    train_model(plain, data, TrainConfig(steps=12, batch_size=10, schedule="constant", lr=swept))
    assert not torch.allclose(plain.lifting.weight, model.lifting.weight)


@pytest.mark.parametrize("group", ["spectral", "other"])
def test_split_lr_population_equals_separate_runs(group):
    data = _heat_dataset()
    tc = TrainConfig(steps=15, batch_size=10, schedule="cosine", clip=0.01, lr_group=group, lr_fixed=3e-3)
    members = [Member(lr=2e-3, seed=0), Member(lr=8e-3, seed=1), Member(lr=3e-2, seed=2)]
    res, pop = train_population(CFG, "mup", data, members, tc, return_model=True, member_chunk=2)
    for i, m in enumerate(members):
        model = FNO(CFG, parametrization="mup", seed=m.seed)
        r = train_model(model, data, TrainConfig(**{**tc.to_dict(), "lr": m.lr}))
        assert r.final_train_loss == pytest.approx(res[i].final_train_loss, rel=1e-5)
        _close_params(pop, i, model, 1e-5)


def test_split_lr_validation_names_the_parameter():
    with pytest.raises(ValueError, match="lr_group"):
        TrainConfig(lr_group="spectrum")
    with pytest.raises(ValueError, match="lr_fixed"):
        TrainConfig(lr_group="spectral")
    with pytest.raises(ValueError, match="lr_fixed"):
        TrainConfig(lr_fixed=1e-3)
    with pytest.raises(ValueError, match="lr_fixed"):
        TrainConfig(lr_group="other", lr_fixed=math.nan)
    base = dict(name="t", pde="burgers", data={"resolution": 16, "n_train": 20, "n_test": 5}, K=[2], lr=[1e-3])
    with pytest.raises(ValueError, match=r"train\.lr_group"):
        SweepConfig.from_dict({**base, "train": {"lr_group": "both"}})


def test_default_lr_group_leaves_run_identity_alone():
    base = dict(name="t", pde="burgers", data={"resolution": 16, "n_train": 20, "n_test": 5}, K=[2], lr=[1e-3])
    plain = SweepConfig.from_dict(base).expand()[0]
    explicit = SweepConfig.from_dict({**base, "train": {"lr_group": "all"}}).expand()[0]
    split = SweepConfig.from_dict({**base, "train": {"lr_group": "spectral", "lr_fixed": 1e-2}}).expand()[0]
    assert "lr_group" not in plain.config["train"] and "lr_fixed" not in plain.config["train"]
    assert plain.run_id == explicit.run_id
    assert split.run_id != plain.run_id and split.config["train"]["lr_group"] == "spectral"
    assert split.population_key != plain.population_key


def test_a_seed_draws_the_same_non_spectral_weights_at_every_K():
    a = FNO(FNOConfig(d=1, K=3, width=8, n_layers=3), parametrization="sp", seed=11)
    b = FNO(FNOConfig(d=1, K=40, width=8, n_layers=3), parametrization="mup", seed=11)
    ga, gb = a.named_parameter_groups(), b.named_parameter_groups()
    assert [n for n, _ in ga["other"]] == [n for n, _ in gb["other"]]
    for (n, p), (_, q) in zip(ga["other"], gb["other"]):
        assert torch.equal(p, q), n
    c = FNO(FNOConfig(d=1, K=3, width=8, n_layers=3), parametrization="sp", seed=12)
    assert not torch.equal(dict(ga["other"])[ga["other"][0][0]], dict(c.named_parameter_groups()["other"])[ga["other"][0][0]])
    # the spectral layers do not share a stream with each other
    w = [p for _, p in ga["spectral"]]
    assert not torch.allclose(w[0], w[1])
