"""The FNO: what K means (cosine probes on even and odd grids), the spectral layer against an
explicit float64 DFT convolution, parameter counts, populations, resolution invariance, errors."""
import itertools
import math

import numpy as np
import pytest
import torch

from mufno_lite.fno import FNO, FNOConfig, SpectralConv, count_parameters, kept_frequencies, max_modes


def identity_spectral(K, d):
    """A one-channel spectral layer whose weights are all 1: a pure projector onto the kept modes."""
    layer = SpectralConv(1, 1, K, d)
    with torch.no_grad():
        layer.weight.fill_(1.0 + 0.0j)
    return layer.double()


def probe_gain(layer, shape, axis, k):
    """Amplitude with which a unit cosine at integer frequency k along `axis` comes out."""
    n = shape[axis]
    coords = torch.arange(n, dtype=torch.float64)
    wave = torch.cos(2 * math.pi * k * coords / n)
    view = [1] * len(shape)
    view[axis] = n
    x = wave.reshape(view).expand(*shape).reshape(1, 1, *shape).contiguous()
    with torch.no_grad():
        y = layer(x)
    # projection of the output on the input wave, normalised: 1 = passed, 0.5 = half, 0 = removed
    return float((y * x).sum() / (x * x).sum())


def expected_gain(k, K, n, last_axis):
    k = k % n
    signed = {k, (n - k) % n}  # the two FFT bins of a real cosine (one bin when k = 0 or Nyquist)
    kept = set(range(K)) if last_axis else set(range(K)) | {n - j for j in range(1, K + 1)}
    if last_axis:
        # rfft axis: bin k (0 <= k <= n//2) is kept iff k < K; a real cosine is all-or-nothing
        return 1.0 if min(k, n - k) < K else 0.0
    return len(signed & kept) / len(signed)


@pytest.mark.parametrize("n", [16, 15])
@pytest.mark.parametrize("K", [2, 3, 5])
def test_cosine_probe_1d(n, K):
    layer = identity_spectral(K, 1)
    for k in range(n // 2 + 1):
        gain = probe_gain(layer, (n,), 0, k)
        assert gain == pytest.approx(1.0 if k < K else 0.0, abs=1e-12), (n, K, k, gain)


@pytest.mark.parametrize("shape", [(16, 12), (15, 13), (12, 9)])
@pytest.mark.parametrize("K", [2, 4])
def test_cosine_probe_2d_each_axis(shape, K):
    """Non-last axis: |k| < K passes, |k| = K passes at half amplitude, |k| > K is removed.
    Last (rfft) axis: k < K passes, k >= K is removed."""
    layer = identity_spectral(K, 2)
    for axis in (0, 1):
        n = shape[axis]
        last = axis == 1
        for k in range(n // 2 + 1):
            gain = probe_gain(layer, shape, axis, k)
            exp = expected_gain(k, K, n, last)
            assert gain == pytest.approx(exp, abs=1e-12), (shape, K, axis, k, gain, exp)
        if not last and K < n / 2:
            assert probe_gain(layer, shape, axis, K) == pytest.approx(0.5, abs=1e-12)


def test_cosine_probe_3d_and_kept_frequencies():
    shape = (10, 9, 8)
    K = 3
    layer = identity_spectral(K, 3)
    freqs = kept_frequencies(K, shape)
    assert freqs[0] == [-3, -2, -1, 0, 1, 2] and freqs[2] == [0, 1, 2]
    for axis in range(3):
        for k in range(shape[axis] // 2 + 1):
            exp = expected_gain(k, K, shape[axis], axis == 2)
            assert probe_gain(layer, shape, axis, k) == pytest.approx(exp, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# explicit DFT
# ---------------------------------------------------------------------------------------------


def dft_matrix(n):
    j = np.arange(n)
    return np.exp(-2j * np.pi * np.outer(j, j) / n)


def explicit_kernel(layer, shape):
    """Real circular-convolution kernels h[i, o, *shape] equivalent to the layer, built from its
    weights with explicit float64 DFT matrices.

    The layer multiplies the kept half-spectrum by R and inverts with irfftn.  For real input that
    equals a convolution whose full spectrum is the Hermitian part P(E)[k] = (E[k] + conj(E[-k]))/2,
    where E holds R on the kept half-spectrum, doubled on last-axis bins 0 < j < n/2.
    """
    d = len(shape)
    W = layer.kernel.detach().to(torch.complex128).numpy()  # R[c, i, o, k1, ..., kd]
    K = layer.K
    C_in, C_out = W.shape[1], W.shape[2]
    E = np.zeros((C_in, C_out, *shape), dtype=np.complex128)
    n_last = shape[-1]
    for c in range(2 ** (d - 1)):
        for idx in itertools.product(range(K), repeat=d):
            pos = []
            for axis in range(d - 1):
                pos.append(idx[axis] - K if (c >> axis) & 1 else idx[axis])
            j = idx[-1]
            weight = 2.0 if 0 < j and 2 * j != n_last else 1.0
            pos.append(j)
            E[(slice(None), slice(None), *[p % n for p, n in zip(pos, shape)])] += weight * W[(c, slice(None), slice(None), *idx)]
    neg = (slice(None), slice(None), *[np.r_[0, np.arange(n - 1, 0, -1)] for n in shape])
    Eneg = E[np.ix_(range(C_in), range(C_out), *[np.r_[0, np.arange(n - 1, 0, -1)] for n in shape])]
    H = 0.5 * (E + np.conj(Eneg))
    # inverse DFT along every axis with explicit matrices
    h = H
    for axis, n in enumerate(shape):
        Finv = np.conj(dft_matrix(n)) / n
        h = np.moveaxis(np.tensordot(h, Finv, axes=([2 + axis], [1])), -1, 2 + axis)
    assert np.abs(h.imag).max() < 1e-12
    return h.real


def circular_convolution(h, x):
    """y[o, n] = sum_i sum_m h[i, o, m] x[i, n - m] (indices mod the grid), by explicit loops over m."""
    C_in, C_out = h.shape[:2]
    shape = h.shape[2:]
    y = np.zeros((C_out, *shape))
    for m in itertools.product(*[range(n) for n in shape]):
        shifted = np.roll(x, shift=m, axis=tuple(range(1, 1 + len(shape))))
        y += np.einsum("io,i...->o...", h[(slice(None), slice(None), *m)], shifted)
    return y


@pytest.mark.parametrize(
    "shape,K",
    [((8,), 5), ((7,), 4), ((6, 4), 3), ((6, 5), 3), ((4, 4, 2), 2), ((4, 4, 3), 2)],
)
def test_all_modes_kept_equals_explicit_circular_convolution(shape, K):
    torch.manual_seed(0)
    d = len(shape)
    assert all(K == max_modes(n, axis == d - 1) for axis, n in enumerate(shape)), "all modes kept"
    layer = SpectralConv(3, 2, K, d)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(layer.weight.shape, dtype=torch.cfloat))
    layer = layer.double()
    x = torch.randn(1, 3, *shape, dtype=torch.float64)
    with torch.no_grad():
        y = layer(x)[0].numpy()
    h = explicit_kernel(layer, shape)
    ref = circular_convolution(h, x[0].numpy())
    assert np.abs(y - ref).max() < 1e-10 * max(1.0, np.abs(ref).max())


def test_truncated_layer_matches_explicit_dft_projection():
    """With K below the grid limit, the layer equals the same convolution whose kernel is zero
    outside the kept modes: check on a 2-D grid against the explicit construction."""
    torch.manual_seed(1)
    shape, K = (12, 10), 3
    layer = SpectralConv(2, 2, K, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(layer.weight.shape, dtype=torch.cfloat))
    layer = layer.double()
    x = torch.randn(1, 2, *shape, dtype=torch.float64)
    with torch.no_grad():
        y = layer(x)[0].numpy()
    ref = circular_convolution(explicit_kernel(layer, shape), x[0].numpy())
    assert np.abs(y - ref).max() < 1e-10 * np.abs(ref).max()


# ---------------------------------------------------------------------------------------------
# parameter counts
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        dict(d=1, K=5, width=8),
        dict(d=2, K=3, width=6, n_layers=2, in_channels=2, out_channels=3, projection_width=16),
        dict(d=3, K=2, width=4, n_layers=3, grid=False),
        dict(d=2, K=4, width=8, padding=3),
        dict(d=2, K=4, width=8, lifting_width=16, channel_mlp_width=4, last_activation=False, projection_width=16),
        dict(d=1, K=3, width=6, channel_mlp_width=3, members=2),
    ],
)
def test_count_parameters_matches_numel(kw):
    model = FNO(**kw, seed=0 if "members" not in kw else [0, 1])
    kw = {k: v for k, v in kw.items() if k != "members"}
    counted = count_parameters(**kw)
    M = model.members or 1
    assert M * counted["total"] == sum(p.numel() for p in model.parameters())
    assert M * counted["spectral"] == sum(p.numel() for p in model.spectral_parameters())
    # real scalars: a complex weight is two (what another library's count means)
    assert M * counted["real"] == sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())
    assert counted["real"] == counted["total"] + counted["spectral"]


def test_neuraloperator_block_options():
    """lifting_width, channel_mlp_width and last_activation build neuraloperator's structure (issue 22):
    a two-layer lifting, per block σ(Q₂σ(Q₁σ(Wv+Kv)) + g⊙v), no σ after the last block; the
    defaults build the model as it was (same parameters, same draws, same run identity)."""
    import torch.nn.functional as F

    plain = FNO(d=2, K=3, width=8, seed=0)
    assert [n for n, _ in plain.named_parameters()] == [
        "lifting.weight", "lifting.bias", *[f"layers.{i}.{n}" for i in range(4)
                                             for n in ("spectral.weight", "pointwise.weight", "pointwise.bias")],
        "projection1.weight", "projection1.bias", "projection2.weight", "projection2.bias"]
    assert set(plain.config.to_dict()) == {"d", "K", "width", "n_layers", "in_channels", "out_channels",
                                           "projection_width", "grid", "padding"}
    m = FNO(d=2, K=3, width=8, lifting_width=12, channel_mlp_width=4, last_activation=False, seed=0)
    assert m.config.to_dict()["channel_mlp_width"] == 4 and m.config.to_dict()["last_activation"] is False
    assert all(torch.equal(layer.gate.weight, torch.ones(8)) for layer in m.layers)  # soft gating starts at 1
    with torch.no_grad():
        for layer in m.layers:
            layer.gate.weight.uniform_(0.5, 1.5)  # a trained gate: the formula must use it
    x = torch.randn(3, 1, 8, 8)
    with torch.no_grad():
        g = m._grid((8, 8), x.dtype, x.device).expand(3, 2, 8, 8)
        h = m.lifting_out(F.gelu(m.lifting(torch.cat([x, g], 1))))
        for i, layer in enumerate(m.layers):
            last = i == len(m.layers) - 1
            y = layer.spectral(h) + layer.pointwise(h)
            y = y if last else F.gelu(y)
            y = layer.mlp2(F.gelu(layer.mlp1(y))) + layer.gate.weight[None, :, None, None] * h
            h = y if last else F.gelu(y)
        want = m.projection2(F.gelu(m.projection1(h)))
        assert torch.allclose(m(x), want, atol=1e-6)
    # the same seed draws the same spectral weights with or without the options (their own streams)
    assert all(torch.equal(a, b) for a, b in zip(plain.spectral_parameters(), m.spectral_parameters()))
    for bad in (dict(lifting_width=-1), dict(channel_mlp_width=1.5), dict(last_activation=1)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            FNOConfig(**bad)


def test_paper_parameter_counts_fno3d():
    """4 layers, width 64, FNO-3D: the paper's 1.8M (K=3) and 906M (K=24)."""
    small = count_parameters(d=3, K=3, width=64, n_layers=4)["total"]
    large = count_parameters(d=3, K=24, width=64, n_layers=4)["total"]
    assert 1.75e6 < small < 1.85e6
    assert round(large / 1e6, 1) == 906.0
    assert count_parameters(d=3, K=24, width=64)["spectral"] == 65536 * 24**3


# ---------------------------------------------------------------------------------------------
# populations, resolution invariance, padding
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("d,shape", [(1, (24,)), (2, (12, 10)), (3, (8, 8, 6))])
def test_population_members_equal_single_models(d, shape):
    seeds = [3, 5, 7]
    pop = FNO(d=d, K=3, width=6, seed=seeds, init_scale=[1.0, 0.5, 2.0], members=3, parametrization="mup", padding=2)
    x = torch.randn(4, 1, *shape)
    y = pop(x)
    assert y.shape == (3, 4, 1, *shape)
    for i, (s, sc) in enumerate(zip(seeds, [1.0, 0.5, 2.0])):
        single = FNO(d=d, K=3, width=6, seed=s, init_scale=sc, parametrization="mup", padding=2)
        for (n1, p1), (n2, p2) in zip(single.named_parameters(), pop.named_parameters()):
            assert torch.equal(p1, p2[i]), n1
        torch.testing.assert_close(single(x), y[i], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(pop.member(i)(x), y[i], rtol=1e-5, atol=1e-6)
    # per-member inputs
    xs = torch.randn(3, 4, 1, *shape)
    y2 = pop(xs)
    for i in range(3):
        torch.testing.assert_close(pop.member(i)(xs[i]), y2[i], rtol=1e-5, atol=1e-6)
    # stack round trip
    restacked = FNO.stack([pop.member(i) for i in range(3)])
    torch.testing.assert_close(restacked(x), y)


def test_resolution_invariance_1d():
    """A band-limited input gives (nearly) the same output function on a finer grid: the gap at
    shared points is small and shrinks as both grids are refined (aliasing of GELU harmonics)."""
    torch.manual_seed(0)
    model = FNO(d=1, K=6, width=16, grid=False, seed=0).double()

    def f(n):
        t = torch.arange(n, dtype=torch.float64) / n
        u = torch.sin(2 * math.pi * t) + 0.5 * torch.cos(2 * math.pi * 3 * t) + 0.2 * torch.sin(2 * math.pi * 5 * t)
        return u.reshape(1, 1, n)

    with torch.no_grad():
        gaps = []
        for n in (32, 64, 128):
            coarse, fine = model(f(n))[0, 0], model(f(2 * n))[0, 0, ::2]
            gaps.append(float((coarse - fine).norm() / fine.norm()))
    assert gaps[0] < 5e-2
    assert gaps[2] < gaps[0] / 4, gaps


def test_grid_channels_and_padding_shapes():
    model = FNO(d=2, K=4, width=8, padding=5, seed=0)
    y = model(torch.randn(2, 1, 11, 9))
    assert y.shape == (2, 1, 11, 9)


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------


def test_errors_name_the_parameter():
    with pytest.raises(ValueError, match=r"K must be an integer >= 2.*K=1"):
        FNO(d=1, K=1)
    with pytest.raises(ValueError, match=r"K must be an integer"):
        FNO(d=1, K=2.5)
    with pytest.raises(ValueError, match=r"d must be 1, 2 or 3.*d=4"):
        FNOConfig(d=4, K=3)
    with pytest.raises(ValueError, match=r"width must be a positive integer"):
        FNOConfig(d=1, K=3, width=0)
    model = FNO(d=2, K=5, width=4, seed=0)
    with pytest.raises(ValueError, match=r"K=5 is too large.*axis 0 has n=8.*K <= 4"):
        model(torch.randn(1, 1, 8, 16))
    with pytest.raises(ValueError, match=r"K=5 is too large.*axis 1 has n=6.*K <= 4"):
        model(torch.randn(1, 1, 16, 6))
    with pytest.raises(ValueError, match=r"expects input of shape \(B, 1, n, n\)"):
        model(torch.randn(1, 16, 16))
    with pytest.raises(ValueError, match=r"2 channels.*in_channels=1"):
        model(torch.randn(1, 2, 16, 16))
    pop = FNO(d=1, K=3, width=4, members=2, seed=[0, 1])
    with pytest.raises(ValueError, match=r"members=2"):
        pop(torch.randn(3, 1, 1, 16))
    with pytest.raises(ValueError, match=r"seed must be a scalar or a sequence of 2"):
        FNO(d=1, K=3, width=4, members=2, seed=[0, 1, 2])


def test_dtype_conversion_keeps_spectral_weights_complex():
    """torch's Module.to(float64) would drop imaginary parts of complex parameters: not here."""
    model = FNO(d=1, K=3, width=4, seed=0)
    w = model.spectral_parameters()[0].detach().clone()
    for convert in (lambda m: m.double(), lambda m: m.to(torch.float64)):
        m2 = convert(FNO(d=1, K=3, width=4, seed=0))
        w2 = m2.spectral_parameters()[0]
        assert w2.dtype == torch.complex128
        assert torch.equal(w2.to(torch.complex64), w)
        assert m2(torch.randn(2, 1, 16, dtype=torch.float64)).dtype == torch.float64
    back = FNO(d=1, K=3, width=4, seed=0).double().float()
    assert back.spectral_parameters()[0].dtype == torch.complex64


def test_mode_response_matches_the_stated_rule():
    from mufno_lite.fno import mode_response

    assert mode_response(3, (12, 10), axis=0) == [(0, 1.0), (1, 1.0), (2, 1.0), (3, 0.5), (4, 0.0), (5, 0.0), (6, 0.0)]
    assert mode_response(3, (12, 10), axis=1) == [(0, 1.0), (1, 1.0), (2, 1.0), (3, 0.0), (4, 0.0), (5, 0.0)]
    assert mode_response(4, (9,), axis=0)[-2:] == [(3, 1.0), (4, 0.0)]
    with pytest.raises(ValueError, match="axis must be in 0..1"):
        mode_response(3, (12, 10), axis=2)


def test_fno_config_from_dict_is_the_inverse_of_to_dict():
    """One door for a serialised model block: JSON's lists back to tuples, changes applied, defaults
    left out of the dict (to_dict) filled back in."""
    import json

    for cfg in (FNOConfig(d=2, K=5, width=8, padding=(2, 0.125)), FNOConfig(d=1, K=3, grid_convention="periodic"),
                FNOConfig(), FNOConfig(d=2, K=4, lifting_width=8, channel_mlp_width=2, last_activation=False)):
        assert FNOConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    model = {"d": 2, "width": 8, "padding": [2, 3]}  # a sweep's model block: no K
    assert FNOConfig.from_dict(model, K=4) == FNOConfig(d=2, K=4, width=8, padding=(2, 3))
    with pytest.raises(ValueError, match="padding"):
        FNOConfig.from_dict({**model, "padding": [2]}, K=4)
