"""SP and μP: μP equals SP exactly at the base K, differs by the stated factors elsewhere;
optimiser groups carry multipliers; Adam on complex weights; element-wise clipping; Algorithm 1."""
import math

import pytest
import torch

from mufno_lite.fno import FNO
from mufno_lite.parametrization import (
    Parametrization,
    as_parametrization,
    base_lr,
    clip_grad_elementwise_,
    make_optimizer,
    mup_ratio,
    transfer,
)


def build(kind, K, d=1, base_K=3, seed=0, **kw):
    return FNO(d=d, K=K, width=8, seed=seed, parametrization=Parametrization(kind, base_K=base_K), **kw)


def one_adam_step(model, lr=1e-2, shape=(16,)):
    opt = make_optimizer(model, lr)
    torch.manual_seed(123)
    x = torch.randn(4, 1, *shape)
    loss = model(x).pow(2).mean()
    loss.backward()
    opt.step()
    return opt


@pytest.mark.parametrize("d,shape", [(1, (16,)), (2, (8, 8))])
@pytest.mark.parametrize("base_K", [2, 3, 4])
@pytest.mark.parametrize("opts", [{}, {"lifting_width": 16, "channel_mlp_width": 4, "last_activation": False}])
def test_mup_equals_sp_bit_for_bit_at_base_K(d, shape, base_K, opts):
    sp, mup = build("sp", base_K, d=d, base_K=base_K, **opts), build("mup", base_K, d=d, base_K=base_K, **opts)
    for (n1, p1), (n2, p2) in zip(sp.named_parameters(), mup.named_parameters()):
        assert n1 == n2 and torch.equal(p1, p2), n1
    o_sp, o_mup = one_adam_step(sp, shape=shape), one_adam_step(mup, shape=shape)
    for g1, g2 in zip(o_sp.param_groups, o_mup.param_groups):
        assert g1["name"] == g2["name"] and g1["lr"] == g2["lr"] and g1["lr_mult"] == g2["lr_mult"] == 1.0
        assert [p.shape for p in g1["params"]] == [p.shape for p in g2["params"]]
    for p1, p2 in zip(sp.parameters(), mup.parameters()):
        assert torch.equal(p1, p2)


@pytest.mark.parametrize("K", [2, 8, 64])
def test_mup_scales_only_spectral_weights_by_the_stated_factors(K):
    base_K = 3
    sp, mup = build("sp", K, base_K=base_K), build("mup", K, base_K=base_K)
    factor = math.sqrt(math.log(base_K) / math.log(K))
    groups_sp, groups_mup = sp.named_parameter_groups(), mup.named_parameter_groups()
    for (n, p1), (_, p2) in zip(groups_sp["other"], groups_mup["other"]):
        assert torch.equal(p1, p2), n
    for (n, p1), (_, p2) in zip(groups_sp["spectral"], groups_mup["spectral"]):
        torch.testing.assert_close(p2, p1 * factor, rtol=1e-6, atol=0)
    lr = 3e-3
    o_sp, o_mup = make_optimizer(sp, lr), make_optimizer(mup, lr)
    by_name = lambda o: {g["name"]: g for g in o.param_groups}
    assert by_name(o_mup)["spectral"]["lr"] == pytest.approx(lr * factor, rel=1e-12)
    assert by_name(o_mup)["other"]["lr"] == lr == by_name(o_sp)["spectral"]["lr"]
    assert base_lr(o_mup) == pytest.approx(lr)


def test_mup_init_variance_law_in_d_log_K():
    """b(K)² ∝ 1/(d log K): the empirical variance of R follows log K0 / log K (d cancels)."""
    for d, Ks in ((1, (3, 16, 128)), (2, (3, 8, 16))):
        var = {}
        for K in Ks:
            w = FNO(d=d, K=K, width=32, n_layers=1, seed=1, parametrization="mup").spectral_parameters()[0]
            var[K] = float(w.detach().abs().pow(2).mean())
        for K in Ks:
            expected = (1 / 32) * math.log(3) / math.log(K)
            assert var[K] == pytest.approx(expected, rel=0.03), (d, K)


def test_sp_init_is_theta_one_in_K():
    for K in (3, 32, 256):
        w = FNO(d=1, K=K, width=32, n_layers=1, seed=2).spectral_parameters()[0]
        assert float(w.detach().abs().pow(2).mean()) == pytest.approx(1 / 32, rel=0.05)


def test_adam_treats_complex_weights_as_pairs_of_reals():
    """torch's Adam on a complex tensor == Adam on its (real, imag) view: two independent reals."""
    torch.manual_seed(0)
    z = torch.randn(5, 3, dtype=torch.cfloat, requires_grad=True)
    r = torch.view_as_real(z.detach()).clone().requires_grad_(True)
    oz, orr = torch.optim.Adam([z], lr=0.1, betas=(0.9, 0.98)), torch.optim.Adam([r], lr=0.1, betas=(0.9, 0.98))
    for step in range(4):
        g = torch.randn(5, 3, 2) * torch.tensor([1.0, 100.0])  # imaginary grads 100x larger
        z.grad, r.grad = torch.view_as_complex(g.clone()), g.clone()
        oz.step(), orr.step()
    torch.testing.assert_close(torch.view_as_real(z.detach()), r.detach())
    # a complex-modulus Adam would share one second moment between the parts: it would not match
    exp_avg_sq = oz.state[z]["exp_avg_sq"]
    assert not exp_avg_sq.is_complex() or torch.view_as_real(exp_avg_sq)[..., 1].abs().sum() > 0


def test_elementwise_clipping_clips_real_and_imag_separately():
    z = torch.zeros(3, dtype=torch.cfloat, requires_grad=True)
    z.grad = torch.tensor([0.5 - 0.001j, -2.0 + 3.0j, 0.004 + 0.0j])
    w = torch.zeros(2, requires_grad=True)
    w.grad = torch.tensor([-1.0, 0.003])
    clip_grad_elementwise_([z, w], 0.01)
    assert torch.equal(z.grad, torch.tensor([0.01 - 0.001j, -0.01 + 0.01j, 0.004 + 0.0j]))
    assert torch.equal(w.grad, torch.tensor([-0.01, 0.003]))
    with pytest.raises(ValueError, match="clip must be > 0"):
        clip_grad_elementwise_([w], 0.0)


def test_schedulers_scale_groups_relatively():
    model = build("mup", 32)
    opt = make_optimizer(model, 1e-2)
    mults = [g["lr_mult"] for g in opt.param_groups]
    assert mults[0] < 1.0 and mults[1] == 1.0
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 0.5 ** step)
    for _ in range(3):
        opt.step(), sched.step()
    for g, m in zip(opt.param_groups, mults):
        assert g["lr"] == pytest.approx(1e-2 * m * 0.125)
    assert base_lr(opt) == pytest.approx(1e-2 * 0.125)


def test_adamw_and_optimizer_errors():
    model = build("sp", 3)
    opt = make_optimizer(model, 1e-3, optimizer="adamw", weight_decay=0.1, betas=(0.9, 0.98))
    assert isinstance(opt, torch.optim.AdamW) and opt.defaults["betas"] == (0.9, 0.98)
    with pytest.raises(ValueError, match=r"optimizer must be 'adam' or 'adamw'; got optimizer='sgd'"):
        make_optimizer(model, 1e-3, optimizer="sgd")
    with pytest.raises(ValueError, match=r"beta2 must be in \[0, 1\); got beta2=1.0"):
        make_optimizer(model, 1e-3, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match=r"lr must be a positive finite number; got lr=-1"):
        make_optimizer(model, -1)


def test_parametrization_validation():
    with pytest.raises(ValueError, match=r"kind must be one of \('sp', 'mup'\); got kind='ntk'"):
        Parametrization("ntk")
    with pytest.raises(ValueError, match=r"base_K must be an integer >= 2.*base_K=1"):
        Parametrization("mup", base_K=1)
    with pytest.raises(ValueError, match=r"K must be an integer >= 2"):
        Parametrization("mup").lr_multiplier(1)
    assert as_parametrization("μP") == Parametrization("mup")
    assert as_parametrization({"kind": "mup", "base_K": 5}).base_K == 5
    p = Parametrization("mup", base_K=4)
    assert p.abc(4, 2) == {"a": 1.0, "b": 1.0, "c": 1.0}
    assert p.abc(16, 2)["c"] == pytest.approx(math.sqrt(math.log(4) / math.log(16))) == pytest.approx(math.sqrt(0.5))


def test_transfer_follows_algorithm_1():
    hp = {"lr": 4e-3, "init_var": 0.02, "batch_size": 20, "beta2": 0.98, "clip": 0.01}
    out = transfer(hp, K_proxy=4, K_target=16)
    assert out["lr"] == pytest.approx(4e-3 * math.sqrt(math.log(4) / math.log(16)))
    assert out["lr"] == pytest.approx(4e-3 / math.sqrt(2))
    assert out["init_var"] == pytest.approx(0.01)
    assert {k: out[k] for k in ("batch_size", "beta2", "clip")} == {"batch_size": 20, "beta2": 0.98, "clip": 0.01}
    assert hp["lr"] == 4e-3  # input untouched
    # identity at equal K; composes; log base and d cancel
    assert transfer(hp, 8, 8) == hp
    two_step = transfer(transfer(hp, 3, 12), 12, 48)
    assert two_step["lr"] == pytest.approx(transfer(hp, 3, 48)["lr"])
    assert transfer({"init_std": 0.2}, 4, 16)["init_std"] == pytest.approx(0.2 / math.sqrt(2))
    with pytest.raises(ValueError, match=r"K_target must be an integer >= 2"):
        transfer(hp, 4, 1)


def test_mup_applies_algorithm_1_to_the_spectral_group():
    """Training the target under μP with the proxy's base LR = Algorithm 1 on R's absolute LR and variance."""
    K_proxy, K_target, lr = 3, 40, 2e-3
    proxy = build("mup", K_proxy, base_K=K_proxy)
    target = build("mup", K_target, base_K=K_proxy)
    spec = lambda m: {g["name"]: g for g in make_optimizer(m, lr).param_groups}["spectral"]["lr"]
    init_var = lambda m: m.parametrization.spectral_init_std(m.K, m.d, fan_in=8) ** 2
    hp_proxy = {"lr": spec(proxy), "init_var": init_var(proxy)}
    hp_target = transfer(hp_proxy, K_proxy, K_target)
    assert spec(target) == pytest.approx(hp_target["lr"], rel=1e-12)
    assert init_var(target) == pytest.approx(hp_target["init_var"], rel=1e-12)
    assert mup_ratio(K_target, K_proxy) == pytest.approx(math.log(3) / math.log(40))
