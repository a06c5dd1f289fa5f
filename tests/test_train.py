"""Tests of mufno_lite.train: a population trained in lockstep equals separate trainings."""

import json
import math
from types import SimpleNamespace

import pytest
import torch

from mufno_lite.fno import FNO, FNOConfig, count_parameters
from mufno_lite.train.common import convert_model_dtype
from mufno_lite.train import (
    Member,
    PopulationAdam,
    RunResult,
    TrainConfig,
    TrainingInterrupted,
    batch_schedule,
    estimate_flops,
    lr_factor,
    relative_l2,
    train_model,
    train_population,
)


class _Gauss:
    """Point-wise Gaussian normalizer with encode/decode (the PDEDataset interface)."""

    def __init__(self, x):
        self.mean, self.std = x.mean(0), x.std(0) + 1e-6

    def encode(self, x):
        return (x - self.mean.to(x)) / self.std.to(x)

    def decode(self, x):
        return x * self.std.to(x) + self.mean.to(x)


def _heat_dataset(n_train=40, n_test=10, s=32, seed=0, d=1):
    """x: smooth random functions; y: x smoothed by a heat kernel in Fourier space, plus 1."""
    g = torch.Generator().manual_seed(seed)
    n = n_train + n_test
    shape = (n, 1) + (s,) * d
    dims = tuple(range(2, 2 + d))
    xf = torch.fft.rfftn(torch.randn(shape, generator=g), dim=dims)
    freqs = [torch.fft.fftfreq(s, 1 / s)] * (d - 1) + [torch.fft.rfftfreq(s, 1 / s)]
    k2 = sum(f.view(*([1] * i), -1, *([1] * (d - 1 - i))) ** 2 for i, f in enumerate(freqs))
    x = torch.fft.irfftn(xf / (1 + k2), s=(s,) * d, dim=dims)
    x = x / x.std()
    y = torch.fft.irfftn(torch.fft.rfftn(x, dim=dims) * torch.exp(-0.02 * k2), s=(s,) * d, dim=dims) + 1.0
    return SimpleNamespace(
        x_train=x[:n_train].float(), y_train=y[:n_train].float(),
        x_test=x[n_train:].float(), y_test=y[n_train:].float(),
        x_normalizer=_Gauss(x[:n_train]), y_normalizer=_Gauss(y[:n_train]),
        config={"pde": "heat"}, meta={},
    )


CFG = FNOConfig(d=1, K=4, width=8, n_layers=2, projection_width=16)
MEMBERS = [Member(lr=2e-3, seed=0, beta2=0.999), Member(lr=6e-3, seed=1, beta2=0.99),
           Member(lr=1.5e-2, seed=2, beta2=0.98, init_scale=0.7)]


def _separate(cfg, par, data, members, train, dtype=torch.float32):
    out = []
    for m in members:
        model = FNO(cfg, parametrization=par, seed=m.seed, init_scale=m.init_scale)
        if dtype != torch.float32:
            convert_model_dtype(model, dtype)
        betas = (train.betas[0], train.betas[1] if m.beta2 is None else m.beta2)
        tc = TrainConfig(**{**train.to_dict(), "lr": m.lr, "betas": betas})
        out.append((train_model(model, data, tc), model))
    return out


def _close_params(pop, i, model, rtol):
    # relative to the parameter's own size, floored at 1e-2 (a bias that happens to be ~1e-4 would
    # otherwise demand agreement far below float32 rounding of the O(1e-2) updates that built it)
    for (name, p), (_, q) in zip(pop.named_parameters(), model.named_parameters()):
        scale = max(q.abs().max().item(), 1e-2 if rtol >= 1e-6 else 1e-12)
        err = (p[i] - q).abs().max().item()
        assert err <= rtol * scale, f"{name}: max diff {err:.3g} vs scale {scale:.3g}"


TRAINS = {
    "adam-cosine": (TrainConfig(steps=25, batch_size=10, schedule="cosine"), "sp"),
    "adamw-warmup-clip-mup-normy": (
        TrainConfig(steps=25, batch_size=10, optimizer="adamw", weight_decay=0.1, schedule="warmup_cosine",
                    warmup_steps=5, clip=0.01, normalize_y=True), "mup"),
    "adam-l2-constant": (TrainConfig(steps=20, batch_size=8, weight_decay=0.05, schedule="constant",
                                     normalize_x=False, data_seed=3), "mup"),
}


@pytest.mark.parametrize("key", list(TRAINS))
def test_population_equals_separate_trainings_float32(key):
    train, par = TRAINS[key]
    data = _heat_dataset()
    res, pop = train_population(CFG, par, data, MEMBERS, train, return_model=True)
    sep = _separate(CFG, par, data, MEMBERS, train)
    for i, (r, (s, model)) in enumerate(zip(res, sep)):
        assert r.status == s.status == "done"
        assert r.final_train_loss == pytest.approx(s.final_train_loss, rel=1e-5)
        assert r.test_rel_l2 == pytest.approx(s.test_rel_l2, rel=1e-5)
        for (a, x), (b, y) in zip(r.train_curve, s.train_curve):
            assert a == b and x == pytest.approx(y, rel=1e-5)
        _close_params(pop, i, model, 1e-5)
    # the members really differ (different lr / seed / beta2), and training reduced the loss
    assert len({round(r.final_train_loss, 6) for r in res}) == 3
    assert all(r.final_train_loss < r.train_curve[0][1] for r in res)


def test_member_chunks_give_the_same_results():
    train, par = TRAINS["adamw-warmup-clip-mup-normy"]
    data = _heat_dataset()
    full, pop = train_population(CFG, par, data, MEMBERS, train, member_chunk=3, return_model=True)
    for chunk in (1, 2):
        res, pop2 = train_population(CFG, par, data, MEMBERS, train, member_chunk=chunk, return_model=True)
        assert pop2.members == 3
        for r, f in zip(res, full):
            assert r.final_train_loss == pytest.approx(f.final_train_loss, rel=1e-5)
        for i in range(3):
            _close_params(pop2, i, pop.member(i), 1e-5)
    with pytest.raises(ValueError, match="member_chunk"):
        train_population(CFG, par, data, MEMBERS, train, member_chunk=0)


def test_population_equals_separate_trainings_float64():
    train, par = TRAINS["adamw-warmup-clip-mup-normy"]
    data = _heat_dataset()
    res, pop = train_population(CFG, par, data, MEMBERS, train, dtype=torch.float64, return_model=True)
    assert pop.layers[0].spectral.weight.dtype == torch.complex128
    sep = _separate(CFG, par, data, MEMBERS, train, dtype=torch.float64)
    for i, (r, (s, model)) in enumerate(zip(res, sep)):
        assert r.final_train_loss == pytest.approx(s.final_train_loss, rel=1e-11)
        _close_params(pop, i, model, 1e-11)


@pytest.mark.parametrize("chunk", [None, 1, 2])
def test_diverging_member_is_frozen_and_others_match(chunk):
    train = TrainConfig(steps=20, batch_size=10, schedule="constant", max_loss=1e3)
    data = _heat_dataset()
    members = [MEMBERS[0], Member(lr=1e4, seed=5), MEMBERS[1]]
    res, pop = train_population(CFG, "sp", data, members, train, return_model=True, member_chunk=chunk)
    bad = res[1]
    assert bad.status == "diverged" and 1 < bad.diverged_at_step <= 20
    assert math.isnan(bad.final_train_loss) and math.isnan(bad.test_rel_l2)
    assert all(s < bad.diverged_at_step for s, _ in bad.train_curve)
    sep = _separate(CFG, "sp", data, members, train)
    assert sep[1][0].status == "diverged" and sep[1][0].diverged_at_step == bad.diverged_at_step
    for i in (0, 2):
        assert res[i].status == "done"
        assert res[i].final_train_loss == pytest.approx(sep[i][0].final_train_loss, rel=1e-5)
        _close_params(pop, i, sep[i][1], 1e-5)
    # frozen: the diverged member's parameters equal the separate run's at its divergence
    _close_params(pop, 1, sep[1][1], 1e-5)


def test_nan_loss_marks_diverged_without_poisoning():
    data = _heat_dataset()
    train = TrainConfig(steps=6, batch_size=10, max_loss=math.inf)
    members = [Member(lr=1e-3, seed=0), Member(lr=1e-3, seed=1)]
    res, pop = train_population(CFG, "sp", data, members, train, return_model=True)
    ref = res[0].final_train_loss
    # the same population with a NaN planted in member 1's output bias at construction
    import mufno_lite.train.population as T  # where train_population builds its models

    orig = T.FNO

    def patched(*a, **k):
        m = orig(*a, **k)
        with torch.no_grad():
            m.projection2.bias[1] = float("nan")
        return m

    T.FNO = patched
    try:
        res2 = train_population(CFG, "sp", data, members, train)
    finally:
        T.FNO = orig
    assert res2[1].status == "diverged" and res2[1].diverged_at_step == 1
    assert res2[0].status == "done" and res2[0].final_train_loss == pytest.approx(ref, rel=1e-6)


def test_lr_schedules_are_relative():
    t = TrainConfig(steps=10, schedule="warmup_cosine", warmup_steps=4)
    f = [lr_factor(t, s) for s in range(10)]
    assert f[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0]) and f[4] == 1.0 and f[-1] < 0.1
    c = TrainConfig(steps=10, schedule="cosine")
    assert lr_factor(c, 0) == 1.0 and lr_factor(c, 5) == pytest.approx(0.5)
    assert lr_factor(TrainConfig(schedule="constant"), 123) == 1.0
    # train_model's LambdaLR keeps the muP multiplier of the spectral group at every step
    data = _heat_dataset()
    cfg = FNOConfig(d=1, K=8, width=8, n_layers=1, projection_width=8)
    model = FNO(cfg, parametrization="mup", seed=0)
    seen = []

    import mufno_lite.train.single as T  # where train_model builds its optimizer

    orig = T.make_optimizer

    def spy(*a, **k):
        opt = orig(*a, **k)
        seen.append(opt)
        return opt

    T.make_optimizer = spy
    lrs = []
    try:
        train_model(model, data, TrainConfig(steps=5, batch_size=10, lr=1e-2, schedule="cosine"),
                    progress=lambda s, t: lrs.append({g["name"]: g["lr"] for g in seen[0].param_groups}))
    finally:
        T.make_optimizer = orig
    mult = model.parametrization.lr_multiplier(8, 1)
    assert mult < 1
    cos = TrainConfig(steps=5)
    for s, lr in enumerate(lrs[:-1], start=1):  # lr after step s is the one used by step s + 1
        assert lr["other"] == pytest.approx(1e-2 * lr_factor(cos, s))
        assert lr["spectral"] == pytest.approx(1e-2 * mult * lr_factor(cos, s))


def test_clipping_changes_training_and_bounds_first_moment():
    data = _heat_dataset()
    base = TrainConfig(steps=5, batch_size=10)
    a = train_population(CFG, "sp", data, MEMBERS[:1], base)[0]
    b = train_population(CFG, "sp", data, MEMBERS[:1], TrainConfig(steps=5, batch_size=10, clip=1e-4))[0]
    assert a.final_train_loss != pytest.approx(b.final_train_loss, rel=1e-4)
    # PopulationAdam after one clipped step: |m| <= (1 - beta1) * clip, real and imaginary parts
    pop = FNO(CFG, members=2, seed=[0, 1])
    out = pop(data.x_train[:10])
    relative_l2(out, data.y_train[:10]).mean(-1).sum().backward()
    from mufno_lite.parametrization import clip_grad_elementwise_

    clip_grad_elementwise_(pop.parameters(), 1e-4)
    opt = PopulationAdam([(list(pop.parameters()), 1.0)], lrs=[1e-3, 1e-3], beta2s=[0.999, 0.999])
    opt.step()
    for entries, _ in opt.groups:
        for p, rp, m, v in entries:
            assert m.abs().max().item() <= 0.1 * 1e-4 * (1 + 1e-6)


def test_population_adam_exact_against_torch_adam():
    g = torch.Generator().manual_seed(1)
    M = 3
    p = torch.randn(M, 4, 5, dtype=torch.cfloat, generator=g).requires_grad_()
    q = torch.randn(M, 6, generator=g).requires_grad_()
    lrs, b2s = [1e-2, 3e-2, 1e-1], [0.999, 0.9, 0.95]
    for decoupled in (False, True):
        pp, qq = p.detach().clone(), q.detach().clone()
        singles = [[pp[i].clone().requires_grad_(), qq[i].clone().requires_grad_()] for i in range(M)]
        pp.requires_grad_(), qq.requires_grad_()
        opt = PopulationAdam([([pp], 0.5), ([qq], 1.0)], lrs, b2s, weight_decay=0.1, decoupled=decoupled)
        cls = torch.optim.AdamW if decoupled else torch.optim.Adam
        topts = [cls([{"params": [s[0]], "lr": lrs[i] * 0.5 * 0.3}, {"params": [s[1]], "lr": lrs[i] * 0.3}],
                     betas=(0.9, b2s[i]), weight_decay=0.1) for i, s in enumerate(singles)]
        for step in range(5):
            gp = torch.randn(M, 4, 5, dtype=torch.cfloat, generator=g)
            gq = torch.randn(M, 6, generator=g)
            pp.grad, qq.grad = gp.clone(), gq.clone()
            opt.step(0.3)
            for i in range(M):
                singles[i][0].grad, singles[i][1].grad = gp[i].clone(), gq[i].clone()
                topts[i].step()
        for i in range(M):
            torch.testing.assert_close(pp[i].detach(), singles[i][0].detach(), rtol=1e-6, atol=1e-7)
            torch.testing.assert_close(qq[i].detach(), singles[i][1].detach(), rtol=1e-6, atol=1e-7)


def test_population_adam_inactive_member_untouched():
    p = torch.ones(2, 3, requires_grad=True)
    opt = PopulationAdam([([p], 1.0)], [0.1, 0.1], [0.999, 0.999], weight_decay=0.5, decoupled=True)
    p.grad = torch.tensor([[1.0, 2.0, 3.0], [float("nan")] * 3])
    opt.step(1.0, [True, False])
    assert torch.equal(p[1].detach(), torch.ones(3))
    assert (p[0] < 1).all()


@pytest.mark.skipif(
    pytest.importorskip("importlib").util.find_spec("mufno_lite.data.darcy") is None,
    reason="mufno_lite.data.darcy (darcy_residual) not available",
)
def test_pino_loss_path_matches_separate_training():
    s = 16
    ds = _heat_dataset(n_train=20, n_test=5, s=s, d=2)
    ds.x_train, ds.x_test = ds.x_train.exp(), ds.x_test.exp()  # positive coefficients
    ds.x_normalizer = _Gauss(ds.x_train)
    ds.config, ds.meta = {"pde": "darcy"}, {"h": 1.0 / (s - 1)}
    cfg = FNOConfig(d=2, K=3, width=6, n_layers=1, projection_width=8, padding=2)
    train = TrainConfig(steps=6, batch_size=5, pino_weight=1e-4)
    members = MEMBERS[:2]
    res, pop = train_population(cfg, "mup", ds, members, train, return_model=True)
    sep = _separate(cfg, "mup", ds, members, train)
    for i in range(2):
        assert res[i].status == "done"
        assert res[i].train_curve[0][1] == pytest.approx(sep[i][0].train_curve[0][1], rel=1e-5)
        _close_params(pop, i, sep[i][1], 1e-5)
    plain = train_population(cfg, "mup", ds, members, TrainConfig(steps=6, batch_size=5))
    # the residual term is added to the training loss (the reported curve includes it)
    assert res[0].train_curve[0][1] > plain[0].train_curve[0][1]
    with pytest.raises(ValueError, match="pino_weight"):
        train_population(CFG, "sp", _heat_dataset(), members, train)


def test_should_stop_and_progress():
    data = _heat_dataset()
    seen = []
    stop_after = 3
    with pytest.raises(TrainingInterrupted) as ei:
        train_population(CFG, "sp", data, MEMBERS[:2], TrainConfig(steps=10, batch_size=10),
                         progress=lambda s, t: seen.append((s, t)),
                         should_stop=lambda: len(seen) >= stop_after)
    assert ei.value.step == stop_after and seen == [(1, 10), (2, 10), (3, 10)]
    seen.clear()
    model = FNO(CFG, seed=0)
    with pytest.raises(TrainingInterrupted):
        train_model(model, data, TrainConfig(steps=10, batch_size=10), progress=lambda s, t: seen.append(s),
                    should_stop=lambda: len(seen) >= 2)
    assert seen == [1, 2]
    # progress=True (tqdm, quiet when not a terminal) works
    r = train_population(CFG, "sp", data, MEMBERS[:1], TrainConfig(steps=2, batch_size=10), progress=True)
    assert r[0].status == "done"


def test_result_fields():
    data = _heat_dataset()
    train = TrainConfig(steps=12, batch_size=10, curve_points=5, eval_points=2)
    res = train_population(CFG, "sp", data, MEMBERS[:2], train)
    r = res[0]
    assert isinstance(r, RunResult)
    assert [s for s, _ in r.train_curve] == [2, 4, 7, 9, 12]
    assert [s for s, _ in r.test_curve] == [4, 8, 12] and r.test_curve[-1][1] == r.test_rel_l2
    assert r.n_params == count_parameters(CFG)["total"]
    assert r.population_wall_time_s == pytest.approx(2 * r.wall_time_s)
    fwd = estimate_flops(CFG, (32,), 1)
    assert r.flops == pytest.approx(3 * fwd * 10 * 12 + fwd * 10 * 3 + fwd * 40)
    json.dumps(r.to_dict())
    json.dumps(train.to_dict())
    assert TrainConfig(**train.to_dict()) == train


def test_batch_schedule_epochs():
    idx = batch_schedule(25, 10, 5, seed=0)
    assert idx.shape == (5, 10)
    assert len(set(idx[:2].flatten().tolist())) == 20  # one epoch = 2 batches, no repeats
    assert torch.equal(idx, batch_schedule(25, 10, 5, seed=0))
    assert not torch.equal(idx, batch_schedule(25, 10, 5, seed=1))
    with pytest.raises(ValueError, match="batch_size"):
        batch_schedule(5, 10, 1, 0)


def test_relative_l2_and_flops():
    t = torch.ones(4, 1, 8)
    assert torch.allclose(relative_l2(2 * t, t), torch.ones(4))
    pop = torch.stack([t, 3 * t])
    assert relative_l2(pop, t).shape == (2, 4) and torch.allclose(relative_l2(pop, t)[1], 2 * torch.ones(4))
    with pytest.raises(ValueError):
        relative_l2(torch.ones(4, 1, 7), t)
    f1 = estimate_flops(FNOConfig(d=2, K=8, width=32), (32, 32), 1)
    assert estimate_flops(FNOConfig(d=2, K=8, width=32), (32, 32), 20) == pytest.approx(20 * f1)
    assert estimate_flops(FNOConfig(d=2, K=12, width=32), (32, 32), 1) > f1
    # dominant term at width 64, 1-D: pointwise W + projection matmuls
    c = FNOConfig(d=1, K=16, width=64)
    f = estimate_flops(c, (256,), 1)
    mm = 4 * 2 * 256 * 64 * 64 + 2 * 256 * 64 * 128
    assert mm < f < 2 * mm


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"optimizer": "sgd"}, "optimizer"),
        ({"schedule": "linear"}, "schedule"),
        ({"steps": 0}, "steps"),
        ({"batch_size": 0}, "batch_size"),
        ({"clip": 0.0}, "clip"),
        ({"lr": -1.0}, "lr"),
        ({"betas": (0.9, 1.0)}, "beta2"),
        ({"schedule": "warmup_cosine"}, "warmup_steps"),
        ({"warmup_steps": 500}, "warmup_steps"),
        ({"pino_weight": -1.0}, "pino_weight"),
        ({"curve_points": 0}, "curve_points"),
    ],
)
def test_train_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_input_validation():
    data = _heat_dataset()
    t = TrainConfig(steps=2, batch_size=10)
    with pytest.raises(ValueError, match="lr"):
        Member(lr=0.0)
    with pytest.raises(ValueError, match="beta2"):
        Member(lr=1e-3, beta2=1.5)
    with pytest.raises(ValueError, match="init_scale"):
        Member(lr=1e-3, init_scale=-1)
    with pytest.raises(ValueError, match="members"):
        train_population(CFG, "sp", data, [], t)
    with pytest.raises(ValueError, match="members"):
        train_population(CFG, "sp", data, [1e-3], t)
    with pytest.raises(ValueError, match="batch_size"):
        train_population(CFG, "sp", data, MEMBERS[:1], TrainConfig(steps=2, batch_size=100))
    with pytest.raises(ValueError, match="d=2"):
        train_population(FNOConfig(d=2, K=3, width=4), "sp", data, MEMBERS[:1], t)
    with pytest.raises(ValueError, match="single FNO"):
        train_model(FNO(CFG, members=2), data, t)
    with pytest.raises(ValueError, match="kind"):
        train_population(CFG, "xp", data, MEMBERS[:1], t)
    bare = SimpleNamespace(**{k: getattr(data, k) for k in ("x_train", "y_train", "x_test", "y_test")})
    with pytest.raises(ValueError, match="x_normalizer"):
        train_population(CFG, "sp", bare, MEMBERS[:1], t)
    assert train_population(CFG, "sp", bare, MEMBERS[:1], TrainConfig(steps=2, batch_size=10,
                                                                       normalize_x=False))[0].status == "done"
