"""Noise: the paired bootstrap over seeds, its intervals (percentile or t), theory's predicted drift,
the verdicts and the success criterion (the decisions are in :mod:`mufno_lite.analysis`' docstring)."""

from __future__ import annotations

import functools
import math
from typing import Sequence

import numpy as np

from .optimum import _coord, _penalised, _with_metric, grid_step


def predicted_drift_steps(K_min: int, K_max: int, parametrization: str, base_K: int = 3,
                          grid_step_log10: float = 1 / 8) -> float:
    """Theory's drift of the optimal LR from K_min to K_max, in grid steps (see module doc).

    SP: log10 √(log K_min / log K_max) / ``grid_step_log10`` (negative: the optimum moves down as K
    grows); μP: 0.  This is μP's rule for the *spectral* weights' LR (``base_K`` cancels in the
    ratio); for one global LR it bounds the magnitude from above, since the global optimum also
    depends on weights μP does not rescale.
    """
    from ..parametrization import mup_ratio

    if parametrization not in ("sp", "mup"):
        raise ValueError(f"parametrization must be 'sp' or 'mup'; got parametrization={parametrization!r}")
    if not grid_step_log10 > 0:
        raise ValueError(f"grid_step_log10 must be positive; got grid_step_log10={grid_step_log10!r}")
    # c(K) = √(log K0 / log K): the ratio c(K_max)/c(K_min) = √(log K_min / log K_max)
    c_min, c_max = math.sqrt(mup_ratio(K_min, base_K)), math.sqrt(mup_ratio(K_max, base_K))
    if parametrization == "mup":
        return 0.0
    return float(math.log10(c_max / c_min) / grid_step_log10)


def _fitted_optima_steps(t: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """:func:`_fitted_optimum` for many rows at once, on the step coordinate ``t`` (ascending, (G,))
    of the grid; ``Y`` is (R, G).  Returns the optimum per row in steps (NaN for a row with no
    finite positive value)."""
    R, G = Y.shape
    F = np.isfinite(Y) & (Y > 0)
    has = F.any(axis=1)
    i = np.argmin(np.where(F, Y, np.inf), axis=1)
    rows = np.arange(R)
    rank = np.cumsum(F, axis=1) - 1
    ri = rank[rows, i][:, None]
    W = F & (rank >= ri - 2) & (rank <= ri + 2)
    n = W.sum(axis=1)
    ti = t[i]
    tc = np.where(W, t[None, :] - ti[:, None], 0.0)
    ly = np.where(W, np.log(np.where(W, Y, 1.0)), 0.0)
    w = W.astype(float)
    S = [np.sum(w * tc**k, axis=1) for k in range(5)]
    T = [np.sum(w * tc**k * ly, axis=1) for k in range(3)]
    A = np.stack([np.stack([S[4], S[3], S[2]], -1), np.stack([S[3], S[2], S[1]], -1), np.stack([S[2], S[1], S[0]], -1)], -2)
    rhs = np.stack([T[2], T[1], T[0]], -1)
    fit = n >= 3
    A[~fit] = np.eye(3)
    rhs[~fit] = 0.0
    a, b, _ = np.linalg.solve(A, rhs[..., None])[..., 0].T
    tmin = np.where(W, tc, np.inf).min(axis=1)
    tmax = np.where(W, tc, -np.inf).max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex = np.clip(-b / (2 * a), tmin, tmax)
    out = np.where(fit & (a > 0), ti + vertex, ti)
    return np.where(has, out, np.nan)


class _Boot:
    """One (pde, parametrization) group: its seed-mean surfaces and the replicates' optima."""

    def __init__(self, g, x, metric, step, n_boot, rng_seed):
        fwd, _ = _coord(x)
        self.Ks = np.sort(g["K"].unique()).astype(int)
        self.xs = np.sort(g[x].unique()).astype(float)
        self.seeds = np.sort(g["seed"].unique())
        self.t = fwd(self.xs) / step
        S, nK, G = len(self.seeds), len(self.Ks), len(self.xs)
        vals = _penalised(g, metric).to_numpy(dtype=float)
        # several rows for one (K, x, seed) (e.g. reruns): their mean, as optimum_table does
        acc = np.zeros((nK, G, S))
        cnt = np.zeros((nK, G, S))
        kk = np.searchsorted(self.Ks, g["K"].to_numpy())
        xx = np.searchsorted(self.xs, g[x].to_numpy(dtype=float))
        ss = np.searchsorted(self.seeds, g["seed"].to_numpy())
        np.add.at(acc, (kk, xx, ss), vals)
        np.add.at(cnt, (kk, xx, ss), 1)
        with np.errstate(invalid="ignore"):  # inf/1 stays inf; NaN = no run, +inf = diverged / failed
            M = np.where(cnt > 0, acc / np.maximum(cnt, 1), np.nan)
        self.present = ~np.isnan(M).all(axis=2)  # (nK, G): grid values run at this K
        rng = np.random.default_rng(rng_seed)
        idx = rng.integers(0, S, size=(n_boot, S))
        counts = np.zeros((n_boot, S))
        np.add.at(counts, (np.repeat(np.arange(n_boot), S), idx.ravel()), 1.0)
        self.point = self._optima(M, np.ones((1, S)))[0]  # (nK,) steps, all seeds once
        self.reps = self._optima(M, counts)  # (n_boot, nK)
        means = self._means(M, np.ones((1, S)))[0]  # (nK, G)
        self.point_means = means
        self.best_idx = np.argmin(np.where(np.isnan(means), np.inf, means), axis=1)
        self.edge = np.array([
            bool(np.isfinite(self.point[k])) and self.best_idx[k] in (np.flatnonzero(self.present[k]).min(), np.flatnonzero(self.present[k]).max())
            for k in range(nK)
        ])

    @staticmethod
    def _means(M, counts):
        """(B, nK, G) means of the metric over the seeds weighted by counts (B, S)."""
        avail = ~np.isnan(M)
        inf = np.isinf(M)
        fin = np.where(avail & ~inf, M, 0.0)
        tot = np.einsum("bs,kgs->bkg", counts, fin)
        n = np.einsum("bs,kgs->bkg", counts, avail.astype(float))
        anyinf = np.einsum("bs,kgs->bkg", counts, inf.astype(float)) > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            m = tot / n
        m = np.where(n > 0, m, np.nan)
        return np.where(anyinf, np.inf, m)

    def _optima(self, M, counts):
        means = self._means(M, counts)
        B, nK, G = means.shape
        return _fitted_optima_steps(self.t, means.reshape(B * nK, G)).reshape(B, nK)


def _boot_groups(df, x, metric, n_boot, ci, rng_seed, by):
    if df.empty:
        raise ValueError("the results table is empty: nothing to bootstrap")
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1); got ci={ci!r}")
    if int(n_boot) < 1:
        raise ValueError(f"n_boot must be a positive integer; got n_boot={n_boot!r}")
    df = _with_metric(df, metric)
    for col in (x, metric, "seed", "status", "K", *by):
        if col not in df.columns:
            raise ValueError(f"the results table has no column {col!r}; columns are {list(df.columns)}")
    step = grid_step(df[x].unique(), x)
    for key, g in df.groupby(list(by), sort=True, dropna=False):
        yield dict(zip(by, key if isinstance(key, tuple) else (key,))), _Boot(g, x, metric, step, int(n_boot), rng_seed), step


#: how an interval is read from bootstrap replicates (:func:`interval`)
INTERVAL_METHODS = ("t", "percentile")


def _check_method(method: str) -> None:
    if method not in INTERVAL_METHODS:
        raise ValueError(f"method must be one of {list(INTERVAL_METHODS)}; got method={method!r}")


@functools.lru_cache(maxsize=64)
def t_quantile(p: float, dof: int) -> float:
    """The ``p`` quantile of Student's t with ``dof`` degrees of freedom (bisection on its CDF,
    integrated numerically; exact to ~1e-6, no scipy).  Cached: every per-K interval of a table asks
    for the same quantile."""
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1); got p={p!r}")
    if int(dof) < 1:
        raise ValueError(f"dof must be a positive integer; got dof={dof!r}")
    nu = float(dof)
    logc = math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi)

    def cdf(x):  # P(T <= x) for x >= 0 via θ = arctan(t/√ν): a smooth integrand on [0, atan(x/√ν)]
        th = np.linspace(0.0, math.atan(x / math.sqrt(nu)), 2001)
        # dt = √ν sec²θ dθ, density ∝ (1 + tan²θ)^{-(ν+1)/2} = cos^{ν+1}θ
        f = np.exp(logc) * math.sqrt(nu) * np.cos(th) ** (nu - 1)
        return 0.5 + float(np.sum((f[1:] + f[:-1]) / 2 * np.diff(th)))

    q = abs(p - 0.5) + 0.5
    lo, hi = 0.0, 1.0
    while cdf(hi) < q:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) < q else (lo, mid)
    x = (lo + hi) / 2
    return x if p >= 0.5 else -x


def interval(point: float, reps: np.ndarray, n_seeds: int, ci: float, method: str = "t") -> tuple[float, float]:
    """The ``ci`` interval of a statistic (a slope, a per-K optimum) from its bootstrap replicates over
    ``n_seeds`` seeds.  ``"t"`` (default): ``point`` ± t_{n−1} · √(n/(n−1)) · sd(replicates), the
    bootstrap's standard error with a t-interval's small-sample correction; ``"percentile"``: the
    replicates' quantiles, which cover too rarely with few seeds (a bootstrap over n seeds sees a
    spread (n−1)/n of the true one; measured in :mod:`mufno_lite.analysis.slope` and
    ``tests/test_analysis_bootstrap.py``)."""
    _check_method(method)
    r = reps[np.isfinite(reps)]
    if len(r) < 2 or not math.isfinite(point):
        return float("nan"), float("nan")
    if method == "percentile":
        lo, hi = np.quantile(r, [(1 - ci) / 2, 1 - (1 - ci) / 2])
        return float(lo), float(hi)
    if n_seeds < 2:
        return float("nan"), float("nan")
    half = t_quantile(1 - (1 - ci) / 2, n_seeds - 1) * math.sqrt(n_seeds / (n_seeds - 1)) * float(np.std(r, ddof=1))
    return point - half, point + half


def bootstrap_optima(df, x: str = "lr", metric: str = "tail_train_loss", n_boot: int = 2000, ci: float = 0.90,
                     rng_seed: int = 0, by: Sequence[str] = ("pde", "parametrization"), method: str = "t"):
    """The fitted optimum per (group, K) with a paired-bootstrap interval over seeds (module doc).

    Columns: the ``by`` columns, ``K``, ``n_seeds``, ``opt`` / ``opt_lo`` / ``opt_hi`` (optimum and
    its ``ci`` interval in units of ``x``; ``method``: :func:`interval`'s, the t-interval by default,
    which covered a planted optimum 93% / 92% / 91% of the time at a nominal 90% with 3 / 4 / 6
    seeds on 200 planted sweeps per case, where the percentile interval covered 62% / 76% / 81%),
    ``opt_steps`` / ``opt_steps_lo`` / ``opt_steps_hi`` (the same in grid steps, coord(x) / grid step), ``best_x`` (grid optimum of the all-seed mean),
    ``edge`` (best_x at an end of this K's grid), ``edge_frac`` (share of replicates whose fitted
    optimum sits on an end of the grid) and ``n_boot_nan`` (replicates with no optimum at this K).
    """
    import pandas as pd

    _check_method(method)
    _, inv = _coord(x)
    rows = []
    for keys, b, step in _boot_groups(df, x, metric, n_boot, ci, rng_seed, by):
        for k, K in enumerate(b.Ks):
            grid_t = b.t[b.present[k]]
            reps = b.reps[:, k]
            lo, hi = interval(float(b.point[k]), reps, len(b.seeds), ci, method)
            on_edge = np.isclose(reps, grid_t.min()) | np.isclose(reps, grid_t.max()) if len(grid_t) else np.zeros(len(reps), bool)
            row = dict(keys)
            row.update(
                K=int(K), n_seeds=int(len(b.seeds)),
                opt=float(inv(b.point[k] * step)), opt_lo=float(inv(lo * step)), opt_hi=float(inv(hi * step)),
                opt_steps=float(b.point[k]), opt_steps_lo=lo, opt_steps_hi=hi,
                best_x=float(b.xs[b.best_idx[k]]) if np.isfinite(b.point[k]) else float("nan"),
                edge=bool(b.edge[k]),
                edge_frac=float(np.mean(on_edge[np.isfinite(reps)])) if np.isfinite(reps).any() else float("nan"),
                n_boot_nan=int((~np.isfinite(reps)).sum()),
            )
            rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs.update(grid_step_log10=step, metric=metric, x=x, ci=ci, n_boot=int(n_boot), method=method)
    return out


def bootstrap_drift(df, x: str = "lr", metric: str = "tail_train_loss", n_boot: int = 2000, ci: float = 0.90,
                    rng_seed: int = 0, by: Sequence[str] = ("pde", "parametrization"), base_K: int = 3,
                    method: str = "t"):
    """Drift of the fitted optimum from the smallest to the largest K, with a paired-bootstrap
    interval over seeds, theory's prediction and a verdict (module doc).

    One row per group; columns: the ``by`` columns, ``K_min``, ``K_max``, ``n_seeds``,
    ``opt_at_K_min`` / ``opt_at_K_max`` (fitted optima, units of ``x``), ``drift`` (point estimate
    from all seeds, grid steps), ``drift_lo`` / ``drift_hi`` (``ci`` interval, :func:`interval`'s
    ``method``: the t-interval by default; ``"percentile"`` is how the search's criterion was
    declared, and on 200 planted sweeps it covered the planted drift 63% (3 seeds), 73% (4) and
    82% (6) of the time at a nominal 90%, where the per-K t-interval covered 91–93%),
    ``predicted_drift`` (:func:`predicted_drift_steps`; NaN unless ``x`` is ``"lr"``),
    ``edge_K_min`` / ``edge_K_max`` (point estimate's grid optimum at an end of the grid),
    ``n_boot``, ``n_boot_nan`` (replicates without a drift, left out of the interval), ``ci`` and
    ``verdict`` (:func:`drift_verdict`).
    """
    import pandas as pd

    if "parametrization" not in by and x == "lr":
        raise ValueError("bootstrap_drift needs 'parametrization' in by (the prediction depends on it)")
    _check_method(method)
    _, inv = _coord(x)
    rows = []
    for keys, b, step in _boot_groups(df, x, metric, n_boot, ci, rng_seed, by):
        drift_reps = b.reps[:, -1] - b.reps[:, 0]
        point = float(b.point[-1] - b.point[0])
        lo, hi = interval(point, drift_reps, len(b.seeds), ci, method)
        K_min, K_max = int(b.Ks[0]), int(b.Ks[-1])
        par = keys.get("parametrization")
        predicted = (predicted_drift_steps(K_min, K_max, par, base_K=base_K, grid_step_log10=step)
                     if x == "lr" and par in ("sp", "mup") and K_min >= 2 else float("nan"))
        edge_lo, edge_hi = bool(b.edge[0]), bool(b.edge[-1])
        verdict = ("one K only" if K_min == K_max else
                   drift_verdict(lo, hi, point, predicted, len(b.seeds), edge_lo or edge_hi))
        row = dict(keys)
        row.update(
            K_min=K_min, K_max=K_max, n_seeds=int(len(b.seeds)),
            opt_at_K_min=float(inv(b.point[0] * step)), opt_at_K_max=float(inv(b.point[-1] * step)),
            drift=point, drift_lo=lo, drift_hi=hi, predicted_drift=predicted,
            edge_K_min=edge_lo, edge_K_max=edge_hi, n_boot=int(n_boot),
            n_boot_nan=int((~np.isfinite(drift_reps)).sum()), ci=float(ci), method=method, verdict=verdict,
        )
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs.update(grid_step_log10=step, metric=metric, x=x, ci=ci, n_boot=int(n_boot), method=method)
    return out


def _unresolved_verdict(lo: float, hi: float, point: float, n_seeds: int, edge: bool) -> str | None:
    """The verdicts that come before reading an interval's sign (drift and slope alike): "too few seeds",
    "not estimable", "at grid edge"; None when the interval can be read."""
    if n_seeds < 3:
        return "too few seeds"
    if not (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(point)):
        return "not estimable"
    if edge:
        return "at grid edge"
    return None


def drift_verdict(lo: float, hi: float, point: float, predicted: float, n_seeds: int, edge: bool) -> str:
    """The verdict on a drift interval [lo, hi] (grid steps), in the order of the module doc."""
    early = _unresolved_verdict(lo, hi, point, n_seeds, edge)
    if early:
        return early
    if lo <= 0 <= hi:
        return "no resolved drift"
    sign = 1.0 if lo > 0 else -1.0
    if predicted is None or not math.isfinite(predicted) or predicted == 0:
        return "moves (up)" if sign > 0 else "moves (down)"
    return "moves as predicted" if sign == math.copysign(1.0, predicted) else "moves opposite to prediction"


def _get(row, name):
    try:
        return float(row[name])
    except (TypeError, KeyError, IndexError):
        return float(getattr(row, name))


def meets_criterion(sp_row, mup_row) -> bool:
    """The project's declared success criterion on two rows of :func:`bootstrap_drift`: SP's drift
    ≤ −2 steps (point estimate) with its interval excluding 0, and μP's interval containing 0 or
    |μP drift| ≤ 1 step.  Missing values fail.  (It does not look at ``n_seeds`` or the edge flags:
    read the verdicts alongside.)"""
    sp, sp_lo, sp_hi = _get(sp_row, "drift"), _get(sp_row, "drift_lo"), _get(sp_row, "drift_hi")
    mu, mu_lo, mu_hi = _get(mup_row, "drift"), _get(mup_row, "drift_lo"), _get(mup_row, "drift_hi")
    sp_ok = sp <= -2 and (sp_hi < 0 or sp_lo > 0)
    mup_ok = (mu_lo <= 0 <= mu_hi) or abs(mu) <= 1
    return bool(sp_ok and mup_ok)
