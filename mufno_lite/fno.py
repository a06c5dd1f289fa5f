"""Fourier Neural Operators (FNO) for d = 1, 2, 3 with one stated meaning of K.

The model is the one of Li et al. (2021) as written in the μP-FNO paper (Li, Yoo & Yang, ICML 2025):

    G = Q ∘ σ(W_L + K_L) ∘ … ∘ σ(W_1 + K_1) ∘ P,     (K_l v)(x) = F⁻¹[R_l · T_K(F v)](x)

with lifting P, pointwise (1×1) linear maps W_l with bias, GELU σ, a two-layer projection Q, and
spectral weights R_l.

**The meaning of K (the one place it is defined).**  K is the number of Fourier modes kept *per
axis*: on the last axis (the one transformed by ``rfft``) the non-negative frequencies 0 … K−1;
on every other axis the FFT index blocks ``[:K]`` and ``[-K:]``, i.e. the frequencies −K … K−1.
So R_l holds 2^(d−1) "corner" blocks of K^d complex m×m matrices, which is the original FNO
convention and the one that reproduces the paper's parameter counts (FNO-3D, width 64, 4 layers:
1.8M parameters at K = 3, 906M at K = 24).  One consequence, tested in ``tests/test_fno.py``: a real
cosine at frequency exactly K along a non-last axis passes at *half* amplitude (its −K half is kept,
its +K half is not); frequencies |k| < K pass, |k| > K are removed.

**Populations.**  ``FNO(..., members=M)`` stores every parameter with a leading member axis of
size M: M independent models that share the architecture and are evaluated in one batched
computation (used by :mod:`mufno_lite.train` to train learning-rate sweeps in lockstep).  With
``members=None`` (the default) parameters have their ordinary shapes.  Member i of a population
initialised with seeds ``[s_0, …]`` is bit-identical to a single model initialised with seed s_i.

Tensor layout is channel-first: a single model maps (B, C_in, *spatial) → (B, C_out, *spatial); a
population maps (B, C_in, *spatial) (one batch shared by all members) or (M, B, C_in, *spatial) →
(M, B, C_out, *spatial).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .modes import max_modes  # noqa: F401  (defined there, part of this module's API)
from .validation import fourier_modes

__all__ = [
    "FNOConfig",
    "FNO",
    "SpectralConv",
    "kept_frequencies",
    "max_modes",
    "count_parameters",
    "check_K",
    "mode_response",
]


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
# configuration and parameter counting
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FNOConfig:
    """Architecture of an FNO.  The defaults are the paper's: 4 layers, width 64, GELU.

    Parameters
    ----------
    d : int
        Number of spatial (or space-time) dimensions, 1, 2 or 3.
    K : int
        Fourier modes per axis (see the module docstring), ≥ 2.
    width : int
        Hidden channels m of the Fourier layers.
    n_layers : int
        Number of Fourier layers L.
    in_channels, out_channels : int
        Channels of the input function and of the output function.
    projection_width : int
        Hidden channels of the two-layer projection Q (128 as in the original FNO).
    grid : bool
        Append the d grid coordinates (``linspace(0, 1, n)`` per axis) as input channels.
    padding : int or tuple of int
        Zero-padding added at the end of each spatial axis after lifting and removed before the
        projection (for non-periodic problems such as Darcy flow).
    """

    d: int = 1
    K: int = 16
    width: int = 64
    n_layers: int = 4
    in_channels: int = 1
    out_channels: int = 1
    projection_width: int = 128
    grid: bool = True
    padding: int | tuple[int, ...] = 0

    def __post_init__(self):
        if self.d not in (1, 2, 3):
            raise ValueError(f"d must be 1, 2 or 3 (spatial or space-time dimensions); got d={self.d!r}")
        check_K(self.K)
        for name in ("width", "n_layers", "in_channels", "out_channels", "projection_width"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer; got {name}={v!r}")
        pads = self.pads
        if len(pads) != self.d or any((not isinstance(p, int)) or p < 0 for p in pads):
            raise ValueError(
                f"padding must be a non-negative int or a tuple of {self.d} non-negative ints; "
                f"got padding={self.padding!r}"
            )

    @property
    def pads(self) -> tuple[int, ...]:
        p = self.padding
        return tuple(p) if isinstance(p, (tuple, list)) else (p,) * self.d

    @property
    def lifting_in(self) -> int:
        return self.in_channels + (self.d if self.grid else 0)

    def to_dict(self) -> dict:
        out = asdict(self)
        if isinstance(out["padding"], tuple):
            out["padding"] = list(out["padding"])
        return out


def count_parameters(config: FNOConfig | None = None, **kwargs) -> dict[str, int]:
    """Number of parameters of an FNO, without building it.

    Each complex spectral weight counts once, as ``Tensor.numel`` counts it.  Returns a dict with
    ``spectral``, ``other`` and ``total``.

    >>> count_parameters(d=3, K=24, width=64, n_layers=4)["total"]  # the paper's "906M"
    905995073
    """
    cfg = config if config is not None else FNOConfig(**kwargs)
    m, L, d, K = cfg.width, cfg.n_layers, cfg.d, cfg.K
    spectral = L * (2 ** (d - 1)) * (K**d) * m * m
    lifting = cfg.lifting_in * m + m
    pointwise = L * (m * m + m)
    projection = m * cfg.projection_width + cfg.projection_width + cfg.projection_width * cfg.out_channels + cfg.out_channels
    other = lifting + pointwise + projection
    return {"spectral": spectral, "other": other, "total": spectral + other}


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

    The weight is one complex tensor of shape ``([M,] 2^(d-1), in_channels, out_channels, K, …, K)``;
    corner block c ∈ {0, …, 2^(d−1)−1} selects, bit by bit for the non-last axes, the ``[:K]``
    (bit 0) or ``[-K:]`` (bit 1) index block.  Output modes that are not kept are zero.
    """

    def __init__(self, in_channels: int, out_channels: int, K: int, d: int, members: int | None = None):
        super().__init__()
        if d not in (1, 2, 3):
            raise ValueError(f"d must be 1, 2 or 3; got d={d!r}")
        self.in_channels, self.out_channels, self.d, self.members = in_channels, out_channels, d, members
        self.K = check_K(K)
        shape = _member_shape(members, 2 ** (d - 1), in_channels, out_channels, *([self.K] * d))
        self.weight = nn.Parameter(torch.zeros(shape, dtype=torch.cfloat))

    def extra_repr(self) -> str:
        return f"in={self.in_channels}, out={self.out_channels}, K={self.K}, d={self.d}, members={self.members}"

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
        dims = tuple(range(3, 3 + self.d))
        xf = torch.fft.rfftn(x, dim=dims)  # (M, B, C, n1, …, n_d//2+1)
        out_f = xf.new_zeros((M, B, self.out_channels, *xf.shape[3:]))
        K, d = self.K, self.d
        nk = K**d
        for c, sl in enumerate(self._corner_slices()):
            idx = (slice(None), slice(None), slice(None), *sl)
            block = xf[idx]  # (M, B, C, K, …, K)
            # per-mode matmul: (M, K^d, B, C) @ (M, K^d, C, O) -> (M, K^d, B, O)
            a = block.reshape(M, B, C, nk).permute(0, 3, 1, 2)
            wc = w[:, c].reshape(M, C, self.out_channels, nk).permute(0, 3, 1, 2)
            y = torch.matmul(a, wc).permute(0, 2, 3, 1).reshape(M, B, self.out_channels, *([K] * d))
            out_f[idx] = y
        out = torch.fft.irfftn(out_f, s=spatial, dim=dims)
        return out.squeeze(0) if single else out


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


class FourierLayer(nn.Module):
    """σ(W v + K v): one Fourier layer."""

    def __init__(self, width: int, K: int, d: int, members: int | None, activation: bool = True):
        super().__init__()
        self.spectral = SpectralConv(width, width, K, d, members)
        self.pointwise = PointwiseLinear(width, width, members)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.spectral(x) + self.pointwise(x)
        return F.gelu(y) if self.activation else y


# --------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------


class FNO(nn.Module):
    """Fourier Neural Operator G = Q ∘ σ(W_L + K_L) ∘ … ∘ σ(W_1 + K_1) ∘ P.

    Parameters
    ----------
    config : FNOConfig, optional
        The architecture; keyword arguments build one if it is not given.
    parametrization : mufno_lite.parametrization.Parametrization or str, optional
        How parameters are initialised ("sp" by default).  See :mod:`mufno_lite.parametrization`.
    seed : int or sequence of int, optional
        Seed of the initialisation (one per member for a population).  ``None`` draws from
        torch's global generator.
    init_scale : float or sequence of float
        Multiplier on the standard deviation of the spectral weights R (σ = init_scale · σ_SP · b(K)).
    members : int, optional
        Population size M (see the module docstring); ``None`` for a single model.

    The weights are initialised at construction; ``reset_parameters`` re-initialises them.
    """

    def __init__(
        self,
        config: FNOConfig | None = None,
        *,
        parametrization=None,
        seed: int | Sequence[int] | None = None,
        init_scale: float | Sequence[float] = 1.0,
        members: int | None = None,
        **kwargs,
    ):
        super().__init__()
        if config is None:
            config = FNOConfig(**kwargs)
        elif kwargs:
            raise TypeError(f"pass either config or keyword arguments, not both (got {sorted(kwargs)})")
        if members is not None and (isinstance(members, bool) or not isinstance(members, int) or members < 1):
            raise ValueError(f"members must be a positive integer or None; got members={members!r}")
        self.config = config
        self.members = members
        m = config.width
        self.lifting = PointwiseLinear(config.lifting_in, m, members)
        self.layers = nn.ModuleList(
            FourierLayer(m, config.K, config.d, members) for _ in range(config.n_layers)
        )
        self.projection1 = PointwiseLinear(m, config.projection_width, members)
        self.projection2 = PointwiseLinear(config.projection_width, config.out_channels, members)
        from .parametrization import as_parametrization

        self.parametrization = as_parametrization(parametrization)
        self.reset_parameters(seed=seed, init_scale=init_scale)

    # ---- properties -----------------------------------------------------------------------
    @property
    def K(self) -> int:
        return self.config.K

    @property
    def d(self) -> int:
        return self.config.d

    def spectral_parameters(self) -> list[nn.Parameter]:
        """The spectral weights R_1 … R_L (the only parameters μP rescales)."""
        return [layer.spectral.weight for layer in self.layers]

    def named_parameter_groups(self) -> dict[str, list[tuple[str, nn.Parameter]]]:
        """Parameters split into the groups a parametrization treats differently."""
        spectral_ids = {id(p) for p in self.spectral_parameters()}
        groups: dict[str, list] = {"spectral": [], "other": []}
        for name, p in self.named_parameters():
            groups["spectral" if id(p) in spectral_ids else "other"].append((name, p))
        return groups

    # ---- initialisation ---------------------------------------------------------------------
    def reset_parameters(self, seed=None, init_scale=1.0) -> None:
        """(Re-)initialise all weights with the model's parametrization.

        Draws (per member, from generators seeded by the member's seed): the non-spectral
        layers, in definition order, weight then bias, from one generator seeded with ``seed``;
        each spectral layer from its own generator seeded with ``spectral_seed(seed, layer)``.
        Non-spectral layers use PyTorch's default for linear layers, U(−1/√fan_in, 1/√fan_in)
        for weight and bias; spectral weights come from the parametrization.

        Keeping the spectral draws on their own streams makes seeds *common random numbers*
        across K: a given seed gives the same lifting, pointwise and projection weights at every
        K (and under SP and μP), so comparing K at equal seeds compares like with like.
        """
        M = self.members
        n = 1 if M is None else M
        seeds = _per_member(seed, n, "seed")
        scales = _per_member(init_scale, n, "init_scale")
        for i in range(n):
            g = None
            if seeds[i] is not None:
                g = torch.Generator().manual_seed(int(seeds[i]))
            layer = 0
            for module in self.modules():
                if isinstance(module, PointwiseLinear):
                    bound = 1.0 / math.sqrt(module.in_channels)
                    _fill(module.weight, i, M, lambda shape: _uniform(shape, bound, g))
                    if module.bias is not None:
                        _fill(module.bias, i, M, lambda shape: _uniform(shape, bound, g))
                elif isinstance(module, SpectralConv):
                    std = self.parametrization.spectral_init_std(
                        K=module.K, d=module.d, fan_in=module.in_channels, init_scale=float(scales[i])
                    )
                    gs = None if seeds[i] is None else torch.Generator().manual_seed(spectral_seed(int(seeds[i]), layer))
                    _fill(module.weight, i, M, lambda shape: _complex_normal(shape, std, gs))
                    layer += 1

    # ---- forward ----------------------------------------------------------------------------
    def _grid(self, spatial: Sequence[int], dtype, device) -> torch.Tensor:
        axes = [torch.linspace(0, 1, n, dtype=dtype, device=device) for n in spatial]
        mesh = torch.meshgrid(*axes, indexing="ij")
        return torch.stack(mesh, dim=0)  # (d, *spatial)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        pop = self.members is not None
        nd = x.dim()
        shared = nd == cfg.d + 2  # (B, C, *spatial)
        if not (shared or (pop and nd == cfg.d + 3)):
            expect = f"(B, {cfg.in_channels}, " + ", ".join(["n"] * cfg.d) + ")"
            if pop:
                expect += f" or ({self.members}, B, {cfg.in_channels}, " + ", ".join(["n"] * cfg.d) + ")"
            raise ValueError(f"FNO with d={cfg.d} expects input of shape {expect}; got {tuple(x.shape)}")
        if pop and not shared and x.shape[0] != self.members:
            raise ValueError(f"input has {x.shape[0]} members on axis 0, the population has members={self.members}")
        caxis = 1 if shared else 2
        if x.shape[caxis] != cfg.in_channels:
            raise ValueError(
                f"input has {x.shape[caxis]} channels on axis {caxis}; the model expects in_channels={cfg.in_channels}"
            )
        spatial = tuple(x.shape[caxis + 1 :])
        padded = tuple(n + p for n, p in zip(spatial, cfg.pads))
        _check_grid(cfg.K, padded, name="(padded) input")
        if cfg.grid:
            g = self._grid(spatial, x.dtype, x.device)
            g = g.expand(*x.shape[:caxis], cfg.d, *spatial)
            x = torch.cat([x, g], dim=caxis)
        if pop and shared:
            x = x.unsqueeze(0).expand(self.members, *x.shape)
        h = self.lifting(x)
        if any(cfg.pads):
            pad = []
            for p in reversed(cfg.pads):
                pad += [0, p]
            h = F.pad(h, pad)
        for layer in self.layers:
            h = layer(h)
        if any(cfg.pads):
            sl = tuple(slice(0, n) for n in spatial)
            h = h[(Ellipsis, *sl)]
        h = F.gelu(self.projection1(h))
        return self.projection2(h)

    # ---- populations ------------------------------------------------------------------------
    def member(self, i: int) -> "FNO":
        """Member i of a population, as an independent single model (a copy)."""
        if self.members is None:
            raise ValueError("member() needs a population (members=M); this is a single model")
        if not 0 <= i < self.members:
            raise IndexError(f"member index i={i} out of range 0..{self.members - 1}")
        single = FNO(self.config, parametrization=self.parametrization, seed=0)
        with torch.no_grad():
            for (n1, p1), (n2, p2) in zip(single.named_parameters(), self.named_parameters()):
                p1.copy_(p2[i])
        return single

    @classmethod
    def stack(cls, models: Sequence["FNO"]) -> "FNO":
        """A population made of copies of single models with one config and parametrization."""
        if not models:
            raise ValueError("stack() needs at least one model")
        cfg, par = models[0].config, models[0].parametrization
        for mdl in models:
            if mdl.members is not None or mdl.config != cfg or mdl.parametrization != par:
                raise ValueError("stack() needs single models with identical config and parametrization")
        pop = cls(cfg, parametrization=par, members=len(models), seed=[0] * len(models))
        with torch.no_grad():
            for name, p in pop.named_parameters():
                p.copy_(torch.stack([dict(m.named_parameters())[name] for m in models]))
        return pop


def _per_member(value, n: int, name: str) -> list:
    if value is None or isinstance(value, (int, float)):
        return [value] * n
    vals = list(value)
    if len(vals) != n:
        raise ValueError(f"{name} must be a scalar or a sequence of {n} values (one per member); got {len(vals)}")
    return vals


def _uniform(shape, bound: float, g) -> torch.Tensor:
    return (torch.rand(shape, generator=g) * 2 - 1) * bound


def _complex_normal(shape, std: float, g) -> torch.Tensor:
    """Complex Gaussian with E|z|² = std², real and imaginary parts i.i.d. N(0, std²/2)."""
    z = torch.randn(*shape, 2, generator=g)
    return torch.view_as_complex(z * (std / math.sqrt(2.0)))


def _fill(param: torch.Tensor, i: int, members: int | None, draw) -> None:
    with torch.no_grad():
        target = param if members is None else param[i]
        target.copy_(draw(tuple(target.shape)).to(target.dtype))
