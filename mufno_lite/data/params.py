"""The data-generation parameters of each PDE: one table, one set of checks.

:data:`PARAMS` holds, per PDE, every parameter :func:`~mufno_lite.data.load_dataset` accepts with
its default and its checker.  :func:`resolve_params` validates a user's parameters against it
(unknown names, types, ranges, then the checks that relate several of them) and fills the
defaults; :func:`~mufno_lite.data.make_config` uses it at run time and the sweep's validation
(:mod:`mufno_lite.sweep.validate`) uses the same function at config time, so a sweep whose data
would fail to generate is refused before anything runs.  Errors are
:class:`~mufno_lite.validation.ConfigError` with ``key`` the parameter's name.

Bounds (decided here; they refuse what is meaningless or cannot finish, never a working data set):

* positive physical constants (``nu``, ``t_final``, GRF ``tau``/``sigma``, ``a_plus``/``a_minus``)
  are finite and at most 1e4 (``nu`` and ``t_final``: 1e3); ``nu`` ≥ 1e-5 (Burgers);
* GRF smoothness ``alpha`` in (0, 20]; ``cfl`` and ``dt_max`` in (0, 10] (the result is checked
  afterwards, :func:`check_generated`); Darcy's source ``f`` finite with ``|f| <= 1e6``;
* grids: Burgers ``solve_resolution`` ≤ 2¹⁸, Darcy ≤ 2049 (a sparse direct solve of
  ``solve_resolution²`` unknowns), Navier–Stokes ≤ 2048; ``n_t`` ≤ 1024; ``chunk_size`` ≤ 10⁵;
* Burgers: the adaptive solver's number of time steps, estimated before solving from the initial
  data's pointwise standard deviation (``max|u0| ≈ 6 std``, the solver's own step rule), at most
  :data:`MAX_BURGERS_STEPS` (the defaults need ~500, the classic FNO measure at ν = 1e-3 ~12 000;
  ``ic_sigma: 1e4`` would need ~5·10⁶).

Generated arrays are checked by :func:`check_generated` before they are cached or returned: every
value finite, and Burgers' solution bounded by its initial data (the maximum principle,
``max|u(T)| <= max|u0|`` per sample, with a relative tolerance of :data:`BURGERS_OVERSHOOT`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Mapping

import numpy as np

from ..validation import ConfigError, boolean, choice, fail, integer, known_keys, number, short
from .navier_stokes import FORCINGS

__all__ = ["PDES", "PARAMS", "DEFAULTS", "resolve_params", "check_generated", "MAX_RESOLUTION", "MIN_RESOLUTION",
           "resolution_bounds", "check_resolution",
           "MAX_BURGERS_STEPS", "BURGERS_OVERSHOOT", "burgers_step_estimate", "check_maximum_principle",
           "burgers_default_solve_resolution"]

MIN_RESOLUTION = 8
#: the largest output grid per PDE (points per axis)
MAX_RESOLUTION = {"burgers": 1 << 18, "darcy": 2049, "navier_stokes": 2048}
#: the grid of data that is not generated here (your own files, a dataset_factory): points per axis
OWN_RESOLUTION = (4, 1 << 24)
MAX_BURGERS_STEPS = 200_000
#: relative tolerance of Burgers' maximum principle (the spectral solution may overshoot a little)
BURGERS_OVERSHOOT = 1e-2


@dataclass(frozen=True)
class Param:
    """One data-generation parameter: its default, its checker ``check(key, value)`` (a checker of
    :mod:`mufno_lite.validation` with its bounds) and whether ``None`` (derived from the others) is
    allowed.  A number keeps the type it was given (the data cache's key hashes it as given)."""

    default: Any
    check: Callable[[str, Any], Any]
    none_ok: bool = False


def _number_in(lo: float, hi: float, *, lo_open: bool = True) -> Callable:
    return partial(number, lo=lo, hi=hi, lo_open=lo_open)


def _integer_in(lo: int, hi: int) -> Callable:
    return partial(integer, lo=lo, hi=hi)


_CHUNK = Param(None, _integer_in(1, 100_000))
_GRF_ALPHA, _GRF_SCALE = _number_in(0, 20), _number_in(0, 1e4)
_SOURCE = partial(number, lo=-1e6, hi=1e6, allowed="a finite constant number with |f| <= 1e6 (the data set's source)")

#: every PDE's parameters, in the order of their defaults
PARAMS: dict[str, dict[str, Param]] = {
    "burgers": {
        "nu": Param(0.1, _number_in(1e-5, 1e3, lo_open=False)),
        "t_final": Param(1.0, _number_in(0, 1e3)),
        "solve_resolution": Param(None, _integer_in(1, MAX_RESOLUTION["burgers"]), none_ok=True),
        "ic_alpha": Param(2.0, _GRF_ALPHA),
        "ic_tau": Param(5.0, _GRF_SCALE),
        "ic_sigma": Param(25.0, _GRF_SCALE),
        "ic_zero_mean": Param(False, boolean),
        "dt_max": Param(2e-3, _number_in(0, 10)),
        "cfl": Param(1.0, _number_in(0, 10)),
        "chunk_size": Param(400, _CHUNK.check),
    },
    "darcy": {
        "a_plus": Param(12.0, _GRF_SCALE),
        "a_minus": Param(3.0, _GRF_SCALE),
        "psi_alpha": Param(2.0, _GRF_ALPHA),
        "psi_tau": Param(3.0, _GRF_SCALE),
        "solve_resolution": Param(None, _integer_in(1, MAX_RESOLUTION["darcy"]), none_ok=True),
        "n_modes": Param(None, _integer_in(1, 4096), none_ok=True),
        "f": Param(1.0, _SOURCE),
        "chunk_size": Param(100, _CHUNK.check),
    },
    "navier_stokes": {
        "forcing": Param("kolmogorov", partial(choice, choices=FORCINGS)),
        "nu": Param(None, _number_in(0, 1e3), none_ok=True),
        "length": Param(None, _number_in(0, 1e4), none_ok=True),
        "t_final": Param(None, _number_in(0, 1e3), none_ok=True),
        "t_start": Param(0.0, _number_in(0, 1e3, lo_open=False)),
        "n_t": Param(16, _integer_in(1, 1024)),
        "solve_resolution": Param(None, _integer_in(1, MAX_RESOLUTION["navier_stokes"]), none_ok=True),
        "ic_alpha": Param(2.5, _GRF_ALPHA),
        "ic_tau": Param(7.0, _GRF_SCALE),
        "ic_sigma": Param(None, _number_in(0, 1e6), none_ok=True),
        "cfl": Param(0.5, _number_in(0, 10)),
        "dt_max": Param(0.05, _number_in(0, 10)),
        "chunk_size": Param(16, _CHUNK.check),
    },
}

#: the PDEs the package generates data for (its own solvers)
PDES = tuple(PARAMS)


def _check_pde(pde: str) -> str:
    return choice("pde", pde, PDES)


#: every PDE's defaults (what ``make_config`` fills in)
DEFAULTS: dict[str, dict[str, Any]] = {pde: {k: p.default for k, p in table.items()} for pde, table in PARAMS.items()}


def resolution_bounds(pde: str, *, generated: bool = True) -> tuple[int, int]:
    """``(lo, hi)``, the allowed grid sizes (points per axis): ``[MIN_RESOLUTION, MAX_RESOLUTION[pde]]``
    for data generated here, :data:`OWN_RESOLUTION` otherwise.  The one definition every resolution
    check and its message use."""
    if not generated:
        return OWN_RESOLUTION
    return MIN_RESOLUTION, MAX_RESOLUTION.get(pde, max(MAX_RESOLUTION.values()))


def check_resolution(pde: str, resolution, *, key: str = "resolution", generated: bool = True,
                     from_float: bool = False) -> int:
    """The output grid ``s``: an integer in :func:`resolution_bounds` (even for Navier–Stokes)."""
    lo, hi = resolution_bounds(pde, generated=generated)
    return integer(key, resolution, lo=lo, hi=hi, from_float=from_float)


def burgers_step_estimate(p: Mapping) -> int:
    """The number of time steps the adaptive Burgers solver will take (an estimate, before solving).

    The solver's rule (``solve_burgers``): ``dt = min(dt_max, cfl / (U k_eff))``, ``U = max|u0|``,
    ``k_eff = min(2/3 · π n, U / nu)``; here ``U`` is 6 pointwise standard deviations of the
    initial data's Gaussian measure (about the largest of 10⁵–10⁶ grid values).
    """
    n = int(p["solve_resolution"])
    k = np.fft.fftfreq(n, d=1.0 / n)
    lam = float(p["ic_sigma"]) ** 2 * (4 * math.pi ** 2 * k ** 2 + float(p["ic_tau"]) ** 2) ** (-float(p["ic_alpha"]))
    if p["ic_zero_mean"]:
        lam[0] = 0.0
    return _burgers_steps(p)[0]


def _burgers_steps(p: Mapping) -> tuple[int, str]:
    """``(steps, limit)``: :func:`burgers_step_estimate` and which bound sets the time step,
    ``"dt_max"`` or ``"cfl"`` (a subnormal ``dt_max`` gives a huge count, never an overflow)."""
    n = int(p["solve_resolution"])
    k = np.fft.fftfreq(n, d=1.0 / n)
    lam = float(p["ic_sigma"]) ** 2 * (4 * math.pi ** 2 * k ** 2 + float(p["ic_tau"]) ** 2) ** (-float(p["ic_alpha"]))
    if p["ic_zero_mean"]:
        lam[0] = 0.0
    U = 6.0 * math.sqrt(float(lam.sum()))
    k_eff = min(math.pi * n * 2.0 / 3.0, U / float(p["nu"]))
    dt_cfl = math.inf if U * k_eff == 0 else float(p["cfl"]) / (U * k_eff)
    dt, limit = (float(p["dt_max"]), "dt_max") if float(p["dt_max"]) <= dt_cfl else (dt_cfl, "cfl")
    ratio = float(p["t_final"]) / dt if dt > 0 else math.inf
    return max(1, math.ceil(min(ratio, 1e18))), limit


def burgers_default_solve_resolution(resolution: int, nu: float) -> int:
    """Default Burgers solve grid: the smallest multiple of ``resolution`` >= ``max(1024, 2/nu)``.

    Measured (``tests/test_data_burgers.py``; 100 zero-mean GRF samples, T = 1, the solve at
    ``n`` against the same initial data Fourier-interpolated to ``2n``, max relative L2 at the
    256 training points): default IC (max|u0| up to 2.1) at :math:`\\nu = 10^{-3}`: 1.4e-7 at
    ``n = 1024``, 1.1e-12 at ``n = 2048``; at :math:`\\nu = 3\\cdot10^{-3}`, ``n = 1024``: 3e-13;
    classic IC (alpha 2.5, tau 7, sigma 49) at :math:`\\nu = 10^{-3}`, ``n = 2048``: 4e-15.
    The CFL time step adds <= 2.3e-8 (twice the steps). Against Cole--Hopf (sine, A = 1) the
    default grid gives ~4e-9 down to :math:`\\nu = 3\\cdot10^{-4}` (``n = 2048`` there: 1e-5).
    The rule keeps 1024 for :math:`\\nu \\ge 2\\cdot10^{-3}`, so the data values at
    :math:`\\nu = 0.1` are unchanged.
    """
    target = max(1024, math.ceil(2.0 / float(nu)))
    return int(resolution) * max(1, math.ceil(target / int(resolution)))


def resolve_params(pde: str, resolution: int, params: Mapping) -> dict:
    """Validate one PDE's data-generation parameters and fill in the defaults.

    ``resolution`` must already be checked (:func:`check_resolution`).  Returns the parameters
    (defaults first, in :data:`PARAMS` order; floats as ``float``) — the body of
    :func:`~mufno_lite.data.make_config`.  Raises :class:`ConfigError` naming the parameter.
    """
    from .navier_stokes import flow_defaults

    table = PARAMS[pde]
    s = int(resolution)
    known_keys("", params, sorted(table))
    p = {**DEFAULTS[pde], **params}
    for k, spec in table.items():
        if p[k] is not None or not spec.none_ok:
            checked = spec.check(k, p[k])
            p[k] = checked if isinstance(checked, bool) else p[k]  # numbers as given (see Param)
    if pde == "burgers":
        if p["solve_resolution"] is None:
            p["solve_resolution"] = burgers_default_solve_resolution(s, p["nu"])
        sr = p["solve_resolution"]
        if sr % s or sr > MAX_RESOLUTION["burgers"]:
            raise fail("solve_resolution", sr, f"a multiple of resolution={s} up to {MAX_RESOLUTION['burgers']}")
        steps, limit = _burgers_steps(p)
        if steps > MAX_BURGERS_STEPS:
            # the parameter that sets the step: a small dt_max, a small cfl you gave, else the data's size
            key = limit if limit == "dt_max" or "cfl" in params else "ic_sigma"
            shown = {k: p[k] for k in ("nu", "t_final", "ic_sigma", "ic_tau", "ic_alpha", "cfl", "dt_max") if k != key}
            fix = {"dt_max": "raise dt_max or lower t_final", "cfl": "raise cfl or lower t_final",
                   "ic_sigma": "lower ic_sigma or t_final, or raise nu"}[key]
            raise fail(key, p[key],
                       f"a value for which the Burgers solver takes at most {MAX_BURGERS_STEPS} time steps (about "
                       f"{steps} with {short(shown, 200)}; {fix})")
    elif pde == "darcy":
        if p["solve_resolution"] is None:
            p["solve_resolution"] = s
        sr = p["solve_resolution"]
        if sr < s or (sr - 1) % (s - 1):
            raise fail("solve_resolution", sr, f"an integer >= resolution with (solve_resolution-1) divisible by "
                                               f"(resolution-1)={s - 1}, e.g. 421 -> 211, 141, 106, 85, 61, 43, 29")
        if p["n_modes"] is None:
            p["n_modes"] = sr
    else:
        fd = flow_defaults(p["forcing"])
        for k in ("nu", "length", "t_final"):
            if p[k] is None:
                p[k] = fd[k]
        if p["ic_sigma"] is None:
            p["ic_sigma"] = p["ic_tau"] ** (p["ic_alpha"] - 1.0)
            table["ic_sigma"].check("ic_sigma", p["ic_sigma"])
        if s % 2:
            raise fail("resolution", s, "an even integer (Navier-Stokes)")
        if p["solve_resolution"] is None:
            p["solve_resolution"] = s * max(2, math.ceil(128 / s))
        sr = p["solve_resolution"]
        if sr % s or sr > MAX_RESOLUTION["navier_stokes"]:
            raise fail("solve_resolution", sr, f"a multiple of resolution={s} up to {MAX_RESOLUTION['navier_stokes']}")
    return {k: (float(v) if isinstance(v, float) else v) for k, v in p.items()}


def check_generated(pde: str, config: Mapping, arrays: Mapping[str, np.ndarray]) -> None:
    """Refuse generated data that are not finite (every array), naming the PDE, the parameters and
    the array.  Called before the data are cached or returned.  (Burgers' maximum principle is
    checked by the solver itself, on its full grid: :func:`check_maximum_principle`.)"""
    shown = short({k: v for k, v in config.items() if k not in ("solver_version",)}, 240)
    for name, a in arrays.items():
        a = np.asarray(a)
        if a.size and not np.isfinite(a).all():
            bad = int(a.size - np.isfinite(a).sum())
            raise ConfigError(f"{pde} data are not finite: {bad} of {a.size} values of {name} are NaN or inf "
                              f"with {shown}; check the parameters (e.g. a NaN or inf source or coefficient)",
                              key="params", value=dict(config), allowed="parameters that give finite data")


def check_maximum_principle(u0, u1, *, nu=None, dt_max=None, cfl=None, n_steps=None) -> None:
    """Burgers' maximum principle, per sample: ``max|u(T)| <= max|u0| (1 + BURGERS_OVERSHOOT)``
    and every value finite; else a :class:`ConfigError` suggesting a smaller ``dt_max``/``cfl``.
    ``u0``, ``u1``: tensors ``(B, n)`` on the solver's grid."""
    import torch

    if not u0.numel():
        return
    a0 = u0.detach().abs().reshape(-1, u0.shape[-1]).amax(1)
    a1 = u1.detach().abs().reshape(-1, u1.shape[-1]).amax(1)
    finite = bool(torch.isfinite(u1).all())
    excess = a1 - a0 * (1 + BURGERS_OVERSHOOT) - 1e-12
    if finite and not bool((excess > 0).any()):
        return
    i = int(torch.argmax(torch.nan_to_num(excess, nan=float("inf"))))
    what = "is not finite" if not finite else f"has max|u(T)|={float(a1[i]):.4g} > max|u0|={float(a0[i]):.4g}"
    raise ConfigError(
        f"burgers solution breaks the maximum principle: sample {i} {what} (nu={nu}, dt_max={dt_max}, cfl={cfl}, "
        f"n_steps={n_steps}): the time step is unstable; use a smaller dt_max or cfl",
        key="cfl", value=cfl, allowed="a stable time step (smaller dt_max or cfl)")
