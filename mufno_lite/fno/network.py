"""The network: ``FNOConfig``, ``count_parameters`` (without building a model) and the ``FNO`` itself,
single or a population, with its seeded initialisation."""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..validation import fail
from .spectral import _check_grid, check_K, FourierLayer, PointwiseLinear, spectral_seed, SpectralConv


# --------------------------------------------------------------------------------------------
# configuration and parameter counting
# --------------------------------------------------------------------------------------------


def padding_points(p, n: int) -> int:
    """Grid points of one axis's padding on an ``n``-point axis: a float is a fraction of the axis
    (``round(p · n)``, halves up), an int is that many points."""
    return int(math.floor(p * n + 0.5)) if isinstance(p, float) else int(p)

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
        Append the d grid coordinates (see ``grid_convention``) as input channels.
    padding : int, float or tuple of them
        Zero-padding added at the end of each spatial axis after lifting and removed before the
        projection (for non-periodic problems such as Darcy flow).  An int counts grid points at
        the training resolution (the FNO reference code's convention, which the built-in
        experiments keep); a float in [0, 1) is a fraction of the axis, ``round(padding · n)``
        points on an n-point grid, the same fraction of the domain at every resolution (the
        own-data recommendation).  :func:`mufno_lite.train.evaluate` scales an int padding from
        the training resolution when it evaluates on another grid (:meth:`pads_at`).
    grid_convention : {"endpoint", "periodic"}
        Coordinates of the grid channels: ``"endpoint"`` (the default, and the built-in PDEs')
        ``linspace(0, 1, n)``, both ends included (nodes of a grid with its boundary); or
        ``"periodic"``, ``i / n`` for i = 0 … n−1 (a periodic grid, or data subsampled as
        ``[::k]``; neuraloperator's convention).  Left out of a run's identity while it holds
        its default (:data:`OPTIONAL_MODEL_FIELDS`).
    """

    d: int = 1
    K: int = 16
    width: int = 64
    n_layers: int = 4
    in_channels: int = 1
    out_channels: int = 1
    projection_width: int = 128
    grid: bool = True
    padding: int | float | tuple = 0
    grid_convention: str = "endpoint"

    def __post_init__(self):
        if isinstance(self.d, bool) or not isinstance(self.d, int) or self.d not in (1, 2, 3):
            raise fail("d", self.d, "1, 2 or 3 (an int: spatial or space-time dimensions)")
        object.__setattr__(self, "K", check_K(self.K))  # an integral float or numpy int is kept as an int
        for name in ("width", "n_layers", "in_channels", "out_channels", "projection_width"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise fail(name, v, "a positive integer")
        pads = self.pads
        if len(pads) != self.d or any(not _valid_pad(p) for p in pads):
            raise ValueError(
                f"padding must be a non-negative int (grid points), a float in [0, 1) (a fraction of the axis) "
                f"or a tuple of {self.d} of them; got padding={self.padding!r}"
            )
        if self.grid_convention not in GRID_CONVENTIONS:
            raise ValueError(f"grid_convention must be one of {GRID_CONVENTIONS}; "
                             f"got grid_convention={self.grid_convention!r}")

    @property
    def pads(self) -> tuple:
        """The padding per axis as given (ints: grid points; floats: fractions of the axis)."""
        p = self.padding
        return tuple(p) if isinstance(p, (tuple, list)) else (p,) * self.d

    def pads_at(self, spatial: Sequence[int], train_resolution: Sequence[int] | None = None) -> tuple[int, ...]:
        """Padding in grid points on a grid of shape ``spatial``.

        A fraction f gives ``round(f · n)`` (halves up).  An int p is p points, or, with
        ``train_resolution`` (the grid it was chosen for) given, ``round(p · n / n_train)``: the
        same fraction of the domain as at training (what :func:`mufno_lite.train.evaluate` does).
        """
        out = []
        for i, (n, p) in enumerate(zip(spatial, self.pads)):
            if not isinstance(p, float) and train_resolution is not None and p and int(train_resolution[i]) != int(n):
                out.append(int(math.floor(p * n / int(train_resolution[i]) + 0.5)))  # keep its fraction
            else:
                out.append(padding_points(p, n))
        return tuple(out)

    @property
    def lifting_in(self) -> int:
        return self.in_channels + (self.d if self.grid else 0)

    def to_dict(self) -> dict:
        """Every field; a field of :data:`OPTIONAL_MODEL_FIELDS` only when it differs from its
        default (so adding it changed no run id)."""
        out = asdict(self)
        if isinstance(out["padding"], tuple):
            out["padding"] = list(out["padding"])
        for k, default in OPTIONAL_MODEL_FIELDS.items():
            if out.get(k) == default:
                del out[k]
        return out

    @classmethod
    def from_dict(cls, d, **changes) -> "FNOConfig":
        """The one door for a serialised model block (:meth:`to_dict`, a sweep's ``model`` block, a
        run's or a task's): its fields with ``changes`` applied (``K=…``), lists (JSON's padding) as
        tuples."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in {**d, **changes}.items()})


#: the grid-coordinate conventions of :attr:`FNOConfig.grid_convention`
GRID_CONVENTIONS = ("endpoint", "periodic")
#: FNOConfig fields left out of :meth:`FNOConfig.to_dict` (and so of a run's identity) while they
#: hold their default
OPTIONAL_MODEL_FIELDS = {"grid_convention": "endpoint"}


def _valid_pad(p) -> bool:
    if isinstance(p, bool):
        return False
    if isinstance(p, int):
        return p >= 0
    return isinstance(p, float) and 0.0 <= p < 1.0


def grid_coordinates(n: int, convention: str = "endpoint", *, dtype=None, device=None) -> torch.Tensor:
    """The n coordinates of one axis: ``linspace(0, 1, n)`` (``"endpoint"``) or ``i / n`` (``"periodic"``)."""
    if convention == "endpoint":
        return torch.linspace(0, 1, n, dtype=dtype, device=device)
    if convention == "periodic":
        return torch.arange(n, dtype=dtype, device=device) / n
    raise ValueError(f"grid_convention must be one of {GRID_CONVENTIONS}; got {convention!r}")


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
# the model
# --------------------------------------------------------------------------------------------

#: the most parameters one model (one member of a population) may have: 2**30, above the paper's
#: largest FNO (906M, Navier–Stokes at K = 24, width 64); a larger one cannot be trained here
MAX_PARAMETERS = 1 << 30



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
        n = count_parameters(config)["total"]
        if n > MAX_PARAMETERS:  # refused before a single weight is allocated
            raise fail("config", f"FNOConfig(d={config.d}, K={config.K}, width={config.width}, "
                       f"n_layers={config.n_layers})", f"an FNO of at most {MAX_PARAMETERS} parameters per member "
                       f"(this one has {n}; the paper's largest has 906M)")
        self.config = config
        self.members = members
        #: the grid (points per axis) an int ``padding`` was chosen for; set by the trainers, so
        #: that on another grid the padding keeps its fraction of the domain (:meth:`FNOConfig.pads_at`)
        self.train_resolution: tuple[int, ...] | None = None
        m = config.width
        self.lifting = PointwiseLinear(config.lifting_in, m, members)
        self.layers = nn.ModuleList(
            FourierLayer(m, config.K, config.d, members) for _ in range(config.n_layers)
        )
        self.projection1 = PointwiseLinear(m, config.projection_width, members)
        self.projection2 = PointwiseLinear(config.projection_width, config.out_channels, members)
        from ..parametrization import as_parametrization

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
        axes = [grid_coordinates(n, self.config.grid_convention, dtype=dtype, device=device) for n in spatial]
        mesh = torch.meshgrid(*axes, indexing="ij")
        return torch.stack(mesh, dim=0)  # (d, *spatial)

    def _check_input(self, x) -> None:
        """Refuse, by name, what the layers would fail on with torch internals: not a tensor, not a
        real floating tensor of the model's dtype, an empty batch."""
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"FNO input must be a torch.Tensor; got a {type(x).__name__} (convert it with "
                             "torch.as_tensor(x, dtype=torch.float32))")
        dtype = next(self.parameters()).dtype
        if x.dtype != dtype:
            raise ValueError(f"FNO input must be a {dtype} tensor like the model's weights; got dtype {x.dtype} "
                             f"(convert it with x.to({dtype}))")
        if x.numel() == 0:
            raise ValueError(f"FNO input is empty (shape {tuple(x.shape)}): give at least one sample and "
                             "one grid point per axis")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
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
        pads = cfg.pads_at(spatial, self.train_resolution)
        padded = tuple(n + p for n, p in zip(spatial, pads))
        _check_grid(cfg.K, padded, name="(padded) input")
        if cfg.grid:
            g = self._grid(spatial, x.dtype, x.device)
            g = g.expand(*x.shape[:caxis], cfg.d, *spatial)
            x = torch.cat([x, g], dim=caxis)
        if pop and shared:
            x = x.unsqueeze(0).expand(self.members, *x.shape)
        h = self.lifting(x)
        if any(pads):
            pad = []
            for p in reversed(pads):
                pad += [0, p]
            h = F.pad(h, pad)
        for layer in self.layers:
            h = layer(h)
        if any(pads):
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
    if value is None or isinstance(value, (int, float, numbers.Number)):
        vals = [value] * n
    else:
        try:
            vals = list(value)
        except TypeError:
            raise fail(name, value, f"a scalar or a sequence of {n} values (one per member)") from None
        if len(vals) != n:
            raise ValueError(f"{name} must be a scalar or a sequence of {n} values (one per member); got {len(vals)}")
    for v in vals:
        if name == "seed" and v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Integral)
                                                 or not -(1 << 63) <= int(v) < (1 << 64)):
            raise fail(name, v, "None or an integer in [-2**63, 2**64) (torch's generator seed)")
        if name == "init_scale":
            try:
                ok = not isinstance(v, (bool, str)) and math.isfinite(float(v)) and float(v) > 0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise fail(name, v, "a positive finite number")
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
