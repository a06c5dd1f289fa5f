"""Issue 20, items 8-11 (the step's performance, CPU-checkable logic): the spectral weight is
stored in the contraction's layout and never copied, the population Adam runs torch's foreach
kernels and matches torch's Adam, training reads nothing back from the device between reads of
the loss log, and evaluation passes are sized by the memory model."""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from mufno_lite.fno import FNO, FNOConfig, SpectralConv
from mufno_lite.fno.spectral import kernel_view, storage_from_kernel


# --------------------------------------------------------------------------------------------
# item 10: the spectral weight in the layout the contraction wants
# --------------------------------------------------------------------------------------------


class _SizedOutputs(TorchDispatchMode):
    """Records the name of every op whose output has ``numel`` complex elements (a copy of the weight)."""

    def __init__(self, numel: int):
        super().__init__()
        self.numel, self.hits = numel, []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in (out if isinstance(out, (tuple, list)) else (out,)):
            if isinstance(t, torch.Tensor) and t.is_complex() and t.numel() == self.numel \
                    and func._schema.name not in _VIEWS:
                self.hits.append(func._schema.name)
        return out


_VIEWS = {"aten::view", "aten::_unsafe_view", "aten::reshape", "aten::permute", "aten::select", "aten::slice",
          "aten::view_as_real", "aten::view_as_complex", "aten::as_strided", "aten::detach", "aten::alias",
          "aten::unsqueeze", "aten::squeeze", "aten::expand", "aten::t", "aten::transpose"}


@pytest.mark.parametrize("d,shape,members", [(1, (32,), 3), (2, (16, 16), 3), (3, (8, 8, 6), 2), (2, (16, 16), None)])
def test_spectral_weight_is_not_copied_in_forward_or_backward(d, shape, members):
    """Forward: no tensor the size of the weight is made; backward: exactly one (its gradient,
    the batched matmul's output, which becomes ``weight.grad`` as it is).  The contraction
    before (one permuted copy of the weight per corner and forward, and of its gradient) fails this."""
    torch.manual_seed(0)
    layer = SpectralConv(6, 5, 3, d, members)  # in != out != batch: no other tensor has the weight's size
    x = torch.randn(*(([members] if members else []) + [4, 6, *shape]))
    n = layer.weight.numel()
    with _SizedOutputs(n) as fwd:
        y = layer(x)
    assert fwd.hits == [], fwd.hits
    with _SizedOutputs(n) as bwd:
        y.square().sum().backward()
    assert len(bwd.hits) == 1, bwd.hits
    assert layer.weight.grad.is_contiguous() and layer.weight.grad.shape == layer.weight.shape


def test_kernel_is_a_view_in_r_c_i_o_k_order_and_storage_inverts_it():
    layer = SpectralConv(3, 2, 4, 2, members=2)
    assert tuple(layer.weight.shape) == (2, 2, 4, 4, 3, 2)  # (M, corners, K, K, in, out)
    assert tuple(layer.kernel.shape) == (2, 2, 3, 2, 4, 4)  # (M, corners, in, out, K, K)
    assert layer.kernel.data_ptr() == layer.weight.data_ptr()
    r = torch.randn(layer.kernel.shape, dtype=torch.cfloat)
    assert torch.equal(kernel_view(storage_from_kernel(r, 2), 2), r)
    with torch.no_grad():
        layer.kernel[1, 0, 2, 1, 3, 0] = 7.0
    assert layer.weight[1, 0, 3, 0, 2, 1] == 7.0


@pytest.mark.parametrize("members", [None, 2])
def test_state_dict_of_the_old_layout_is_converted_on_load(members):
    """A checkpoint saved before the layout changed (version 1: weight as (corners, in, out, K…K))
    loads into the same kernel, also when width == K makes the two layouts' shapes equal."""
    cfg = FNOConfig(d=2, K=4, width=4, n_layers=2)
    a = FNO(cfg, members=members, seed=3 if members is None else [3, 4])
    old = a.state_dict()
    for name in list(old):
        if name.endswith("spectral.weight"):
            old[name] = kernel_view(old[name], 2).contiguous()  # the old parameter
            old._metadata[name[: -len("weight")].rstrip(".")]["version"] = 1
    assert old["layers.0.spectral.weight"].shape == a.state_dict()["layers.0.spectral.weight"].shape
    b = FNO(cfg, members=members, seed=0 if members is None else [0, 0])
    b.load_state_dict(old)
    for la, lb in zip(a.layers, b.layers):
        assert torch.equal(la.spectral.weight, lb.spectral.weight)
    c = FNO(cfg, members=members, seed=0 if members is None else [0, 0])
    c.load_state_dict(a.state_dict())  # today's (version 2) loads as it is
    assert all(torch.equal(la.spectral.weight, lc.spectral.weight) for la, lc in zip(a.layers, c.layers))


def test_initial_draws_are_unchanged_by_the_storage_layout():
    """The spectral weights are drawn in R[c, i, o, k] order as before: the first draws of a
    seed's stream sit at kernel[0, 0, 0, 0, …] and kernel[0, 0, 0, 1, …] (recorded results hold)."""
    from mufno_lite.fno.network import _complex_normal
    from mufno_lite.fno.spectral import spectral_seed
    from mufno_lite.parametrization import as_parametrization

    cfg = FNOConfig(d=2, K=3, width=4, n_layers=1)
    model = FNO(cfg, seed=11)
    layer = model.layers[0].spectral
    std = as_parametrization("sp").spectral_init_std(K=3, d=2, fan_in=4, init_scale=1.0)
    g = torch.Generator().manual_seed(spectral_seed(11, 0))
    expect = _complex_normal(tuple(layer.kernel.shape), std, g)
    assert torch.equal(layer.kernel, expect)


# --------------------------------------------------------------------------------------------
# item 9: PopulationAdam on torch's foreach kernels
# --------------------------------------------------------------------------------------------

from mufno_lite.optim import PopulationAdam  # noqa: E402


@pytest.mark.parametrize("weight_decay,decoupled", [(0.0, False), (0.1, False), (0.1, True)])
def test_population_adam_is_bitwise_torch_foreach_adam_per_member(weight_decay, decoupled):
    """Per-member LR and β₂, two groups (one at a multiplier), complex and real parameters, a
    schedule factor: 12 steps equal ``torch.optim.Adam/AdamW(foreach=True)`` run member by member,
    bit for bit."""
    g = torch.Generator().manual_seed(2)
    M, lrs, b2s, factor = 3, [1e-2, 3e-2, 1e-1], [0.999, 0.9, 0.95], 0.3
    p = torch.randn(M, 4, 5, dtype=torch.cfloat, generator=g)
    q = torch.randn(M, 6, generator=g)
    pp, qq = p.clone().requires_grad_(), q.clone().requires_grad_()
    singles = [[p[i].clone().requires_grad_(), q[i].clone().requires_grad_()] for i in range(M)]
    opt = PopulationAdam([([pp], 0.5), ([qq], 1.0)], lrs, b2s, weight_decay=weight_decay, decoupled=decoupled,
                         foreach=True)
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    ref = [cls([{"params": [s[0]], "lr": lrs[i] * 0.5 * factor}, {"params": [s[1]], "lr": lrs[i] * factor}],
               betas=(0.9, b2s[i]), weight_decay=weight_decay, foreach=True) for i, s in enumerate(singles)]
    for _ in range(12):
        gp, gq = torch.randn(M, 4, 5, dtype=torch.cfloat, generator=g), torch.randn(M, 6, generator=g)
        pp.grad, qq.grad = gp.clone(), gq.clone()
        opt.step(factor)
        for i in range(M):
            singles[i][0].grad, singles[i][1].grad = gp[i].clone(), gq[i].clone()
            ref[i].step()
    for i in range(M):
        assert torch.equal(pp[i].detach(), singles[i][0].detach())
        assert torch.equal(qq[i].detach(), singles[i][1].detach())


def test_population_adam_step_runs_foreach_kernels_only_and_makes_no_host_tensors(monkeypatch):
    """A step dispatches torch's ``_foreach_*`` kernels (and, with a device mask, one masked_fill
    per parameter and a handful of (M,)-sized ops), no per-parameter full-size elementwise op,
    and never builds a tensor from host values (``torch.tensor``: a host→device copy on a GPU)."""
    model = FNO(FNOConfig(d=1, K=4, width=8, n_layers=2), members=3, seed=[0, 1, 2])
    opt = PopulationAdam([(list(model.parameters()), 1.0)], [1e-3, 2e-3, 3e-3], [0.999, 0.99, 0.9], foreach=True)
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    masks = (None, torch.tensor([True, False, True]))
    made = []
    real_tensor = torch.tensor
    monkeypatch.setattr(torch, "tensor", lambda *a, **k: made.append(a) or real_tensor(*a, **k))

    class Ops(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.names = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.names.append(func._schema.name)
            return func(*args, **(kwargs or {}))

    for active in masks:
        with Ops() as ops:
            opt.step(1.0, active)
        views = {"aten::unbind", "aten::view_as_real", "aten::view", "aten::select", "aten::slice"}
        small = {"aten::bitwise_not", "aten::masked_fill_", "aten::_to_copy"}
        other = [n for n in ops.names if not n.startswith("aten::_foreach_") and n not in views | small]
        assert other == [], other
        if active is not None:  # one masked_fill_ per parameter (the frozen member's gradient)
            assert ops.names.count("aten::masked_fill_") == len(list(model.parameters()))
    assert made == []


@pytest.mark.parametrize("foreach", [True, False])
def test_device_mask_freezes_a_member_exactly_as_the_host_list_does(foreach):
    """The trainer's path (a (M,) bool tensor, nothing read back) leaves a frozen member's
    parameters as they are, NaN gradients included, and the others bit for bit as the host-list
    path (which skips the member), with L2 and with decoupled decay."""
    for wd, decoupled in ((0.0, False), (0.1, False), (0.1, True)):
        g = torch.Generator().manual_seed(0)
        p, q = torch.randn(3, 4, 5, dtype=torch.cfloat, generator=g), torch.randn(3, 6, generator=g)
        a = [p.clone().requires_grad_(), q.clone().requires_grad_()]
        b = [p.clone().requires_grad_(), q.clone().requires_grad_()]
        kw = dict(weight_decay=wd, decoupled=decoupled, foreach=foreach)
        oa = PopulationAdam([([a[0]], 0.5), ([a[1]], 1.0)], [1e-2, 2e-2, 3e-2], [0.999, 0.9, 0.99], **kw)
        ob = PopulationAdam([([b[0]], 0.5), ([b[1]], 1.0)], [1e-2, 2e-2, 3e-2], [0.999, 0.9, 0.99], **kw)
        for step in range(6):
            gp, gq = torch.randn(3, 4, 5, dtype=torch.cfloat, generator=g), torch.randn(3, 6, generator=g)
            act = [True, step < 3, True]
            if step >= 3:
                gp[1], gq[1] = float("nan"), float("nan")
            a[0].grad, a[1].grad, b[0].grad, b[1].grad = gp.clone(), gq.clone(), gp.clone(), gq.clone()
            if step == 3:
                frozen = [x[1].detach().clone() for x in b]
            oa.step(0.7, act)
            ob.step(0.7, torch.tensor(act))
        assert all(torch.equal(x, y) for x, y in zip(a, b))
        assert all(torch.equal(x[1].detach(), f) for x, f in zip(b, frozen))


def test_foreach_and_loop_paths_agree_within_fp32_rounding_and_the_default_follows_the_device():
    """The loop (a CPU's default: the arithmetic recorded results were computed with) and the
    foreach step (CUDA's) differ by rounding only: at most 2e-7 after 20 steps here."""
    g = torch.Generator().manual_seed(4)
    M, lrs, b2s = 4, [1e-3, 3e-3, 1e-2, 3e-2], [0.999, 0.99, 0.95, 0.9]
    p0, q0 = torch.randn(M, 3, 4, 4, dtype=torch.cfloat, generator=g), torch.randn(M, 7, generator=g)
    a = [p0.clone().requires_grad_(), q0.clone().requires_grad_()]
    b = [p0.clone().requires_grad_(), q0.clone().requires_grad_()]
    fa = PopulationAdam([([a[0]], 0.5), ([a[1]], 1.0)], lrs, b2s, foreach=True)
    lb = PopulationAdam([([b[0]], 0.5), ([b[1]], 1.0)], lrs, b2s)
    assert fa.foreach and not lb.foreach  # default: loop on a CPU
    for _ in range(20):
        gp, gq = torch.randn(M, 3, 4, 4, dtype=torch.cfloat, generator=g), torch.randn(M, 7, generator=g)
        a[0].grad, a[1].grad, b[0].grad, b[1].grad = gp.clone(), gq.clone(), gp.clone(), gq.clone()
        fa.step(0.5), lb.step(0.5)
    diff = max(float((x - y).detach().abs().max()) for x, y in zip(a, b))
    assert 0 < diff <= 2e-7


# --------------------------------------------------------------------------------------------
# item 8: no host <-> device traffic between reads
# --------------------------------------------------------------------------------------------

from mufno_lite.train import Member, TrainConfig, train_model, train_population  # noqa: E402


def _heat(n=24, s=16):
    from types import SimpleNamespace

    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 1, s, generator=g)
    y = torch.fft.irfft(torch.fft.rfft(x, dim=-1) * torch.exp(-0.05 * torch.arange(s // 2 + 1) ** 2), n=s, dim=-1) + 1
    return SimpleNamespace(x_train=x[:16], y_train=y[:16], x_test=x[16:], y_test=y[16:], x_normalizer=None,
                           y_normalizer=None, meta={})


_READS = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__")


@pytest.fixture
def reads(monkeypatch):
    """Counts every Tensor method that brings a value to the host (a synchronisation on a GPU),
    called from the package's code (torch.optim.Adam's own ``step`` counter is a CPU tensor by
    design, read without a synchronisation on a GPU too)."""
    import sys

    count = [0]
    for name in _READS:
        orig = getattr(torch.Tensor, name)

        def counted(self, *a, _orig=orig, **k):
            if "mufno_lite" in sys._getframe(1).f_code.co_filename:
                count[0] += 1
            return _orig(self, *a, **k)

        monkeypatch.setattr(torch.Tensor, name, counted)
    return count


CFG8 = FNOConfig(d=1, K=4, width=8, n_layers=2, projection_width=16)


@pytest.mark.parametrize("trainer", ["population", "single"])
def test_training_reads_the_device_only_every_n_steps(reads, trainer):
    """With read_every=5 over 12 steps, host reads happen at steps 5, 10 and 12 only (the
    per-step ``.tolist()`` / ``float(loss)`` before this failed it at every step)."""
    train = TrainConfig(steps=12, batch_size=8, normalize_x=False)
    at = []
    tick = lambda s, t: at.append((s, reads[0]))  # noqa: E731
    if trainer == "population":
        train_population(CFG8, "sp", _heat(), [Member(lr=1e-3, seed=0), Member(lr=1e-2, seed=1)], train,
                         progress=tick, read_every=5)
    else:
        train_model(FNO(CFG8, seed=0), _heat(), train, progress=tick, read_every=5)
    rises = [s for (s, c), (_, c0) in zip(at[1:], at[:-1]) if c > c0]
    assert rises == [5, 10, 12], at


@pytest.mark.parametrize("read_every", [1, 3, 50])
def test_results_do_not_depend_on_read_every(read_every):
    """A member that diverges mid-window is frozen at its step on the device: results, curves and
    the returned parameters equal those read every step."""
    train = TrainConfig(steps=14, batch_size=8, normalize_x=False, schedule="constant", max_loss=1e3)
    members = [Member(lr=1e-3, seed=0), Member(lr=1e4, seed=5), Member(lr=1e-2, seed=1)]
    ref, pref = train_population(CFG8, "sp", _heat(), members, train, read_every=1, return_model=True)
    got, pgot = train_population(CFG8, "sp", _heat(), members, train, read_every=read_every, return_model=True)
    assert ref[1].status == "diverged"
    for a, b in zip(ref, got):
        assert (a.status, a.diverged_at_step, a.train_curve) == (b.status, b.diverged_at_step, b.train_curve)
        assert a.final_train_loss == b.final_train_loss or (a.final_train_loss != a.final_train_loss)
    assert all(torch.equal(x, y) for x, y in zip(pref.parameters(), pgot.parameters()))
    hot = TrainConfig(steps=14, batch_size=8, normalize_x=False, schedule="constant", max_loss=1e3, lr=1e4)
    m_ref, m_got = FNO(CFG8, seed=5), FNO(CFG8, seed=5)
    s_ref = train_model(m_ref, _heat(), hot, read_every=1)
    s_got = train_model(m_got, _heat(), hot, read_every=read_every)
    assert s_ref.status == "diverged" and 1 < s_ref.diverged_at_step < 14
    assert all(torch.equal(x, y) for x, y in zip(m_ref.parameters(), m_got.parameters()))
    assert (s_ref.status, s_ref.diverged_at_step, s_ref.train_curve) == \
        (s_got.status, s_got.diverged_at_step, s_got.train_curve)


# --------------------------------------------------------------------------------------------
# item 11: evaluation passes sized by the memory model on a device with a budget
# --------------------------------------------------------------------------------------------

from mufno_lite.memory import estimate_config_memory, eval_batch_for_budget, eval_batch_size  # noqa: E402


def test_eval_batch_for_budget_is_the_largest_that_fits():
    """FNO-3D at a gpu-preset size: the CPU rule evaluates one sample per pass; a 40 GB budget
    takes the largest pass whose evaluation fits beside the state and the data, and one more
    sample would not."""
    cfg = FNOConfig(d=3, K=8, width=32, n_layers=4)
    sp, G, n_tr, n_te = (64, 64, 20), 4, 1000, 200
    assert eval_batch_size(G, 32, sp, n_tr) == 1
    budget = 40e9
    eb = eval_batch_for_budget(cfg, sp, G, n_tr, budget, n_train=n_tr, n_test=n_te)

    def need(b):
        e = estimate_config_memory(cfg, sp, 1, G, n_train=n_tr, n_test=n_te, eval_batch=b)
        return sum(e.state.values()) + e.data + e.phases["eval"]

    assert 1 < eb < n_tr and need(eb) <= budget < need(eb + 1)
    assert eval_batch_for_budget(cfg, sp, G, n_tr, 1e15) == n_tr  # everything fits: one pass
    assert eval_batch_for_budget(cfg, sp, G, n_tr, 1.0) == 1  # nothing fits: still one sample


def test_trainers_take_the_eval_batch_from_the_budget(monkeypatch):
    """With a memory budget (what CUDA gets by default; here a fake one on the CPU) the passes of
    train_population's evaluation are the memory model's size, not the CPU rule's."""
    import mufno_lite.train.common as common

    seen = []
    orig = common._errors_in_chunks
    monkeypatch.setattr(common, "_errors_in_chunks", lambda m, o, x, y, chunk: seen.append(chunk) or orig(m, o, x, y, chunk))
    cfg = FNOConfig(d=1, K=4, width=8, n_layers=1, projection_width=16)
    data = _heat(n=26, s=4096)  # 16 train, 10 test samples
    train = TrainConfig(steps=2, batch_size=4, normalize_x=False)
    members = [Member(lr=1e-3, seed=0), Member(lr=1e-3, seed=1)]
    cpu_rule = eval_batch_size(2, 8, (4096,), 16)
    assert cpu_rule < 10
    train_population(cfg, "sp", data, members, train)
    assert set(seen) == {cpu_rule}
    seen.clear()
    train_population(cfg, "sp", data, members, train, memory_budget=8e9)
    assert set(seen) == {16}  # the whole split in one pass
    seen.clear()
    train_population(cfg, "sp", data, members, train, memory_budget=8e9, member_chunk=2)
    assert set(seen) == {eval_batch_for_budget(cfg, (4096,), 2, 16, 8e9, n_train=16, n_test=10,
                                               data_on_device=False)}


# --------------------------------------------------------------------------------------------
# benchmarks/bench_step.py runs on a CPU
# --------------------------------------------------------------------------------------------


def test_bench_step_runs_on_cpu_and_counts_less_traffic_after():
    """The benchmark's CPU form: every variant of one PDE, fractions computed from the measured
    peaks, and the counted bytes of a step (deterministic, unlike the times) lower today than with
    the old contraction or the old Adam loop."""
    import os
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
    import bench_step

    out = bench_step.main(["--pdes", "darcy", "--steps", "1", "--rounds", "1", "--warmup", "1", "--members", "2",
                           "--matmul-n", "128", "--threads", str(torch.get_num_threads())])
    rows = {r["variant"]: r for r in out["rows"]}
    assert set(rows) == set(bench_step.VARIANTS)
    peak = out["env"]["matmul_flop_s"]
    for r in rows.values():
        assert r["step_s"] > 0 and r["flop_fraction_of_peak"] == pytest.approx(r["flop_s"] / peak)
        assert r["bytes_fraction_of_peak"] == pytest.approx(r["bytes_s"] / out["env"]["copy_bytes_s"])
    assert rows["after"]["ratio_to_after"] == 1.0
    after = rows["after"]["bytes_per_step"]
    assert rows["old_spectral"]["bytes_per_step"] > after and rows["old_adam"]["bytes_per_step"] > after
    assert rows["before"]["bytes_per_step"] > max(rows["old_spectral"]["bytes_per_step"], rows["old_adam"]["bytes_per_step"])
