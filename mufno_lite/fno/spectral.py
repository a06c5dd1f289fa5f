"""The spectral layer and what K means on a grid: ``check_K``, the kept frequencies, ``SpectralConv``,
the pointwise map and one Fourier layer (the meaning of K is stated in :mod:`mufno_lite.fno`)."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..modes import max_modes
from ..validation import fourier_modes


# --------------------------------------------------------------------------------------------
# K: validation and the kept frequencies
# --------------------------------------------------------------------------------------------


def check_K(K: int, name: str = "K") -> int:
    """Validate the number of Fourier modes K (an integer ≥ 2) and return it as an int.

    μP scales the spectral weights with log K, which vanishes at K = 1, and a one-mode FNO is a
    pointwise network with a constant kernel.  (One rule for the package:
    :func:`mufno_lite.validation.fourier_modes`.)
    """
    return fourier_modes(name, K)


def spectral_seed(seed: int, layer: int) -> int:
    """Seed of the generator of spectral layer ``layer`` (0-based) of a model seeded ``seed``:
    a fixed mix of the two, so spectral draws never share a stream with the other weights."""
    return (int(seed) * 1_000_003 + 7_919 * (int(layer) + 1) + 0x5EED) % (1 << 62)


def _check_grid(K: int, spatial: Sequence[int], name: str = "input") -> None:
    d = len(spatial)
    for axis, n in enumerate(spatial):
        last = axis == d - 1
        kmax = max_modes(n, last)
        if K > kmax:
            rule = "n//2 + 1 on the last (rfft) axis" if last else "n//2 on a non-last axis"
            raise ValueError(
                f"K={K} is too large for the {name} grid: spatial axis {axis} has n={n} points, "
                f"which allows K <= {kmax} ({rule}). Use a finer grid or a smaller K."
            )


def kept_frequencies(K: int, grid: Sequence[int]) -> list[list[int]]:
    """Signed integer frequencies kept on each axis of a grid (see the module docstring).

    Returns one sorted list per axis.  Non-last axes: −K … K−1; last axis: 0 … K−1.
    """
    K = check_K(K)
    _check_grid(K, grid)
    d = len(grid)
    out = []
    for axis in range(d):
        if axis == d - 1:
            out.append(list(range(K)))
        else:
            out.append(list(range(-K, K)))
    return out


def mode_response(K: int, shape: Sequence[int], axis: int) -> list[tuple[int, float]]:
    """Gain with which a real cosine at each integer frequency along ``axis`` passes T_K.

    Measured, not computed from the rule: a one-channel :class:`SpectralConv` with all weights 1
    (a pure projector onto the kept modes) is applied in float64 to cos(2πkx/n) for
    k = 0 … n//2 along ``axis`` (constant along the others).  Returns ``[(k, gain), …]`` with gain
    1 (passed), 0.5 (half: frequency K on a non-last axis) or 0 (removed).
    """
    shape = tuple(int(n) for n in shape)
    d = len(shape)
    if not 0 <= axis < d:
        raise ValueError(f"axis must be in 0..{d - 1} for a {d}-D grid; got axis={axis!r}")
    layer = SpectralConv(1, 1, K, d)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    layer = layer.double()
    n = shape[axis]
    view = [1] * d
    view[axis] = n
    out = []
    for k in range(n // 2 + 1):
        wave = torch.cos(2 * math.pi * k * torch.arange(n, dtype=torch.float64) / n)
        x = wave.reshape(view).expand(*shape).reshape(1, 1, *shape)
        with torch.no_grad():
            y = layer(x)
        out.append((k, round(float((y * x).sum() / (x * x).sum()), 12)))
    return out

# --------------------------------------------------------------------------------------------
# layers
# --------------------------------------------------------------------------------------------


def _member_shape(members: int | None, *shape: int) -> tuple[int, ...]:
    return shape if members is None else (members, *shape)


def _with_member_axis(module, x: torch.Tensor):
    """(x, weight) with a leading member axis (of size 1 for a single model), and whether it was added."""
    single = module.members is None
    if single:
        return x.unsqueeze(0), module.weight.unsqueeze(0), True
    return x, module.weight, False


class SpectralConv(nn.Module):
    """Kernel integral K v = F⁻¹[R · T_K(F v)] on a d-dimensional periodic grid.

    R is one complex weight per corner block, kept mode, input and output channel.  Corner block
    c ∈ {0, …, 2^(d−1)−1} selects, bit by bit for the non-last axes, the ``[:K]`` (bit 0) or
    ``[-K:]`` (bit 1) index block.  Output modes that are not kept are zero.

    **Storage.**  ``weight`` is stored in the layout the per-mode product reads,
    ``([M,] 2^(d-1), K, …, K, in_channels, out_channels)``: viewed as
    ``(M · 2^(d-1) · K^d, in, out)`` it is the right operand of one batched matmul, so neither the
    forward nor the backward copies it (its gradient arrives in the same layout).  :attr:`kernel`
    is the same tensor viewed as ``([M,] 2^(d-1), in, out, K, …, K)`` (R[c, i, o, k], the layout
    of versions before 2; a view, writes go through).  A ``state_dict`` saved before (version 1,
    the old layout) is converted on load.
    """

    _version = 2  # 2: weight stored as (corners, K…K, in, out); 1 (or none): (corners, in, out, K…K)

    def __init__(self, in_channels: int, out_channels: int, K: int, d: int, members: int | None = None):
        super().__init__()
        if d not in (1, 2, 3):
            raise ValueError(f"d must be 1, 2 or 3; got d={d!r}")
        self.in_channels, self.out_channels, self.d, self.members = in_channels, out_channels, d, members
        self.K = check_K(K)
        shape = _member_shape(members, 2 ** (d - 1), *([self.K] * d), in_channels, out_channels)
        self.weight = nn.Parameter(torch.zeros(shape, dtype=torch.cfloat))

    def extra_repr(self) -> str:
        return f"in={self.in_channels}, out={self.out_channels}, K={self.K}, d={self.d}, members={self.members}"

    @property
    def kernel(self) -> torch.Tensor:
        """The weight as R[[m,] c, i, o, k₁, …, k_d]: a permuted view of :attr:`weight` (no copy)."""
        return kernel_view(self.weight, self.d)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        version = local_metadata.get("version", None)
        key = prefix + "weight"
        if (version is None or version < 2) and key in state_dict:
            state_dict[key] = storage_from_kernel(state_dict[key], self.d)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def _apply(self, fn, recurse=True):
        # torch's Module.to(torch.float64) casts complex parameters to *real* ones (dropping the
        # imaginary part) and .double() leaves them complex64.  Convert the complex weight through
        # its real view instead, so .double()/.float()/.to(dtype or device) keep it complex with
        # the matching precision.
        w = self._parameters.pop("weight")
        try:
            super()._apply(fn, recurse)
        finally:
            self._parameters["weight"] = w

        def convert(t):
            return torch.view_as_complex(fn(torch.view_as_real(t)).contiguous())

        with torch.no_grad():
            w.data = convert(w.data)
            if w.grad is not None:
                w.grad = convert(w.grad)
        return self

    def _corner_slices(self) -> list[tuple[slice, ...]]:
        K, d = self.K, self.d
        corners = []
        for c in range(2 ** (d - 1)):
            sl = []
            for axis in range(d - 1):
                sl.append(slice(-K, None) if (c >> axis) & 1 else slice(0, K))
            sl.append(slice(0, K))
            corners.append(tuple(sl))
        return corners

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (M, B, C_in, *spatial) (population) or (B, C_in, *spatial) (single model)."""
        x, w, single = _with_member_axis(self, x)
        M, B, C = x.shape[:3]
        spatial = x.shape[3:]
        if len(spatial) != self.d or C != self.in_channels:
            raise ValueError(
                f"SpectralConv expects input of shape ([M,] B, {self.in_channels}, {', '.join(['n'] * self.d)}); "
                f"got {tuple(x.shape if not single else x.shape[1:])}"
            )
        _check_grid(self.K, spatial)
        K, d, O = self.K, self.d, self.out_channels
        dims = tuple(range(3, 3 + d))
        xf = torch.fft.rfftn(x, dim=dims)  # (M, B, C, n1, …, n_d//2+1)
        corners = self._corner_slices()
        modes_first = (0, *range(3, 3 + d), 1, 2)  # (M, B, C, K…K) -> (M, K…K, B, C)
        # every corner's kept modes gathered once, in the weight's order: (M, corners, K…K, B, C)
        a = torch.stack([xf[(slice(None), slice(None), slice(None), *sl)].permute(modes_first) for sl in corners], 1)
        # per-mode matmul over (member, corner, mode): (·, B, C) @ (·, C, O); the weight is a view
        y = torch.bmm(a.reshape(-1, B, C), w.reshape(-1, C, O)).view(M, len(corners), *([K] * d), B, O)
        out_f = xf.new_zeros((M, B, O, *xf.shape[3:]))
        back = (0, d + 1, d + 2, *range(1, d + 1))  # (M, K…K, B, O) -> (M, B, O, K…K)
        for c, sl in enumerate(corners):
            out_f[(slice(None), slice(None), slice(None), *sl)] = y[:, c].permute(back)
        out = torch.fft.irfftn(out_f, s=spatial, dim=dims)
        return out.squeeze(0) if single else out


def kernel_view(weight: torch.Tensor, d: int) -> torch.Tensor:
    """A stored spectral weight ``([M,] corners, K…K, in, out)`` viewed as ``([M,] corners, in, out, K…K)``."""
    lead = weight.dim() - (d + 3)  # 1 with a member axis, else 0
    order = (*range(lead + 1), lead + d + 1, lead + d + 2, *range(lead + 1, lead + d + 1))
    return weight.permute(order)


def storage_from_kernel(kernel: torch.Tensor, d: int) -> torch.Tensor:
    """``([M,] corners, in, out, K…K)`` (R[c, i, o, k], the layout before version 2) → the stored
    layout ``([M,] corners, K…K, in, out)``, contiguous (the inverse of :func:`kernel_view`)."""
    lead = kernel.dim() - (d + 3)
    order = (*range(lead + 1), *range(lead + 3, lead + 3 + d), lead + 1, lead + 2)
    return kernel.permute(order).contiguous()


class PointwiseLinear(nn.Module):
    """A 1×1 convolution (linear map over channels, same at every grid point), population-aware."""

    def __init__(self, in_channels: int, out_channels: int, members: int | None = None, bias: bool = True):
        super().__init__()
        self.in_channels, self.out_channels, self.members = in_channels, out_channels, members
        self.weight = nn.Parameter(torch.zeros(_member_shape(members, out_channels, in_channels)))
        self.bias = nn.Parameter(torch.zeros(_member_shape(members, out_channels))) if bias else None

    def extra_repr(self) -> str:
        return f"in={self.in_channels}, out={self.out_channels}, members={self.members}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (M, B, C, *spatial) or (B, C, *spatial)
        x, w, single = _with_member_axis(self, x)
        M, B, C = x.shape[:3]
        spatial = x.shape[3:]
        y = torch.matmul(w.unsqueeze(1), x.reshape(M, B, C, -1))  # (M, B, O, n)
        if self.bias is not None:
            b = self.bias.unsqueeze(0) if single else self.bias
            y = y + b[:, None, :, None]
        y = y.reshape(M, B, self.out_channels, *spatial)
        return y.squeeze(0) if single else y


class SoftGating(nn.Module):
    """A per-channel scale ``w ⊙ x`` (w initialised to 1): the skip around a block's channel MLP."""

    def __init__(self, channels: int, members: int | None = None):
        super().__init__()
        self.channels, self.members = channels, members
        self.weight = nn.Parameter(torch.ones(_member_shape(members, channels)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (M, B, C, *spatial) or (B, C, *spatial); weight (M, C) or (C,)
        extra = x.dim() - (3 if self.members is not None else 2)
        w = self.weight.reshape(*self.weight.shape, *([1] * extra))
        return (w.unsqueeze(1) if self.members is not None else w) * x


class FourierLayer(nn.Module):
    """σ(W v + K v): one Fourier layer.

    With ``channel_mlp_width`` c > 0 the layer is neuraloperator's block: h = σ(W v + K v), then
    σ(Q₂ σ(Q₁ h) + g ⊙ v), a two-layer channel MLP (hidden width c) with a soft-gating skip g from
    the layer's input.  ``activation=False`` drops the σ's (the last block of neuraloperator's FNO).
    """

    def __init__(self, width: int, K: int, d: int, members: int | None, activation: bool = True,
                 channel_mlp_width: int = 0):
        super().__init__()
        self.spectral = SpectralConv(width, width, K, d, members)
        self.pointwise = PointwiseLinear(width, width, members)
        self.activation = activation
        if channel_mlp_width:
            self.mlp1 = PointwiseLinear(width, channel_mlp_width, members)
            self.mlp2 = PointwiseLinear(channel_mlp_width, width, members)
            self.gate = SoftGating(width, members)
        self.channel_mlp = bool(channel_mlp_width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.spectral(x) + self.pointwise(x)
        y = F.gelu(y) if self.activation else y
        if self.channel_mlp:
            y = self.mlp2(F.gelu(self.mlp1(y))) + self.gate(x)
            y = F.gelu(y) if self.activation else y
        return y
