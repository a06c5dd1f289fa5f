"""One statistic from every K at once: the slope of the fitted optimal log-LR against log √(log K).

Theory (:mod:`mufno_lite.parametrization`): μP rescales the spectral weights' Adam LR by
c(K) = √(log K₀ / log K), so under SP the optimal spectral-weight LR falls as 1/√(log K):
``log10 lr*(K) = const − log10 √(ln K)``, a **slope of −1** in these units, and under μP a slope of
**0**.  When one LR drives every weight (our global-LR sweeps) the optimum also depends on the
lifting, projection and skip weights μP does not rescale, so SP's slope is *diluted*: between −1
and 0 (theory gives the bound, not the value).

The estimator.  Per (pde, parametrization) group: the fitted sub-grid optimum per K (the paired
bootstrap's :class:`~mufno_lite.analysis.bootstrap._Boot`, the same optimum as the drift's), in
log10 of the LR; the ordinary least-squares slope of those optima against ``u(K) = log10 √(ln K)``
over all K.  Uncertainty: the paired bootstrap over seeds (one resampled multiset of seeds for every
(K, LR) of the group), one slope per replicate.

The interval, calibrated (``tests/test_analysis_slope.py``, synthetic sweeps with a planted slope,
4 K, per-seed optimum noise): the plain percentile interval of the replicates' slopes is too narrow
with few seeds — a bootstrap over n seeds sees a spread (n−1)/n of the true one and its quantiles
are normal-like where a t with n−1 degrees of freedom is right.  So the default interval
(``method="t"``) is the point estimate ± t_{n−1} · √(n/(n−1)) · (the replicates' standard
deviation): the bootstrap's standard error with the small-sample correction a t-interval makes.
Measured on 200 synthetic sweeps per case (4 K, slope −1 and 0 planted, 0.5-step per-(seed, K)
noise, 400 resamples): the percentile interval covered 62% / 66% (3 seeds), 72% / 71% (4), 82% /
78% (6) at a nominal 90%; the t-interval 93% / 94%, 90% / 91%, 91% / 91% (±2% binomial error).  It
assumes the per-K optima's noise is roughly normal; an optimum at the grid's edge breaks that
(the verdict says "at grid edge").

Success criterion for the slope (declared before the multi-K runs, in the README and
:data:`SLOPE_CRITERION`): SP's slope is negative with its 90% interval excluding 0, and μP's 90%
interval contains 0 or |μP slope| < |SP slope| / 2.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .bootstrap import _boot_groups, _check_method, _unresolved_verdict, t_quantile
from .bootstrap import interval as slope_interval

__all__ = ["SLOPE_CRITERION", "THEORY_SLOPE", "log_sqrt_log_K", "theory_slope", "bootstrap_slope",
           "slope_verdict", "meets_slope_criterion", "t_quantile"]

#: theory's slope of log10 lr* against log10 √(ln K): SP −1 (spectral group), μP 0
THEORY_SLOPE = {"sp": -1.0, "mup": 0.0}

SLOPE_CRITERION = ("SP slope < 0 with its 90% interval excluding 0, and mu-P's 90% interval containing 0 "
                   "or |mu-P slope| < |SP slope| / 2")

def log_sqrt_log_K(K) -> np.ndarray:
    """The regressor: log10 √(ln K) (K ≥ 2)."""
    K = np.asarray(K, dtype=float)
    if np.any(K < 2):
        raise ValueError(f"K must be >= 2 for log √(log K); got K={K.tolist()!r}")
    return np.log10(np.sqrt(np.log(K)))


def theory_slope(parametrization: str, lr_group: str = "spectral") -> float:
    """Theory's slope: SP −1 when the swept LR is the spectral group's alone, μP 0.  For one LR on
    every weight (``lr_group='all'``) SP's −1 is a bound on the magnitude (module doc); the value
    returned is still −1, the line a figure draws."""
    if parametrization not in THEORY_SLOPE:
        raise ValueError(f"parametrization must be one of {list(THEORY_SLOPE)}; got parametrization={parametrization!r}")
    if lr_group not in ("all", "spectral", "other"):
        raise ValueError(f"lr_group must be 'all', 'spectral' or 'other'; got lr_group={lr_group!r}")
    return THEORY_SLOPE[parametrization]


def _slopes(u: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """OLS slope of each row of Y (B, nK) on u (nK,); NaN where a row has a NaN or fewer than 2 K."""
    uc = u - u.mean()
    ok = np.isfinite(Y).all(axis=1)
    Yc = np.where(ok[:, None], Y - np.nanmean(np.where(ok[:, None], Y, 0.0), axis=1, keepdims=True), 0.0)
    denom = float(np.sum(uc ** 2))
    if len(u) < 2 or denom == 0:
        return np.full(len(Y), np.nan)
    return np.where(ok, Yc @ uc / denom, np.nan)


def bootstrap_slope(df, x: str = "lr", metric: str = "tail_train_loss", n_boot: int = 2000, ci: float = 0.90,
                    rng_seed: int = 0, by: Sequence[str] = ("pde", "parametrization"), lr_group: str = "all",
                    method: str = "t"):
    """The slope of the fitted optimal log10-LR against log10 √(ln K) over all K, per group, with a
    paired bootstrap over seeds (module doc).

    One row per group: the ``by`` columns, ``Ks`` (the K values, a list), ``n_K``, ``n_seeds``,
    ``slope`` (point estimate, every seed once), ``slope_lo`` / ``slope_hi`` (``ci`` interval,
    ``method``), ``slope_se`` (replicates' standard deviation), ``theory_slope``
    (:func:`theory_slope`), ``lr_group``, ``edge_Ks`` (K whose grid optimum sits at an end of the
    grid: their optimum is a bound, the slope unreliable), ``n_boot``, ``n_boot_nan`` (replicates
    with a K without optimum, left out), ``ci``, ``method`` and ``verdict`` (:func:`slope_verdict`)."""
    import pandas as pd

    if x != "lr":
        raise ValueError(f"x must be 'lr' for the slope (theory's slope is the learning rate's); got x={x!r}")
    if "parametrization" not in by:
        raise ValueError("bootstrap_slope needs 'parametrization' in by (theory's slope depends on it)")
    _check_method(method)
    rows = []
    for keys, b, step in _boot_groups(df, x, metric, n_boot, ci, rng_seed, by):
        u = log_sqrt_log_K(b.Ks)
        point = float(_slopes(u, (b.point * step)[None, :])[0])
        reps = _slopes(u, b.reps * step)
        lo, hi = slope_interval(point, reps, len(b.seeds), ci, method)
        par = keys.get("parametrization")
        theory = theory_slope(par, lr_group) if par in THEORY_SLOPE else float("nan")
        edge_Ks = [int(K) for K, e in zip(b.Ks, b.edge) if e]
        fin = reps[np.isfinite(reps)]
        row = dict(keys)
        row.update(
            Ks=[int(K) for K in b.Ks], n_K=int(len(b.Ks)), n_seeds=int(len(b.seeds)), slope=point,
            slope_lo=lo, slope_hi=hi, slope_se=float(np.std(fin, ddof=1)) if len(fin) > 1 else float("nan"),
            theory_slope=theory, lr_group=lr_group, edge_Ks=edge_Ks, n_boot=int(n_boot),
            n_boot_nan=int((~np.isfinite(reps)).sum()), ci=float(ci), method=method,
            verdict=slope_verdict(lo, hi, point, par, len(b.seeds), len(b.Ks), bool(edge_Ks)),
        )
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs.update(metric=metric, x=x, ci=ci, n_boot=int(n_boot), method=method)
    return out


def slope_verdict(lo: float, hi: float, point: float, parametrization: str | None, n_seeds: int, n_K: int,
                  edge: bool) -> str:
    """The verdict on a slope's interval, in the order of :func:`~mufno_lite.analysis.drift_verdict`:
    "fewer than 3 K", "too few seeds", "not estimable", "at grid edge", then "falls with K" /
    "rises with K" (interval excluding 0) or "flat within noise" (containing 0)."""
    if n_K < 3:
        return "fewer than 3 K"
    early = _unresolved_verdict(lo, hi, point, n_seeds, edge)
    if early:
        return early
    if lo <= 0 <= hi:
        return "flat within noise"
    return "falls with K" if hi < 0 else "rises with K"


def _val(row, name):
    try:
        return float(row[name])
    except (TypeError, KeyError, IndexError):
        return float(getattr(row, name))


def meets_slope_criterion(sp_row, mup_row) -> bool:
    """:data:`SLOPE_CRITERION` on two rows of :func:`bootstrap_slope`.  Missing values fail."""
    sp, sp_hi = _val(sp_row, "slope"), _val(sp_row, "slope_hi")
    mu, mu_lo, mu_hi = _val(mup_row, "slope"), _val(mup_row, "slope_lo"), _val(mup_row, "slope_hi")
    if not all(math.isfinite(v) for v in (sp, sp_hi, mu, mu_lo, mu_hi)):
        return False
    sp_ok = sp < 0 and sp_hi < 0
    mup_ok = (mu_lo <= 0 <= mu_hi) or abs(mu) < abs(sp) / 2
    return bool(sp_ok and mup_ok)
