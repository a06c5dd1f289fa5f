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
