"""The optimum per K and its drift across K: metrics, tail loss, grid steps, ``optimum_table``,
``drift_summary`` (the decisions are in :mod:`mufno_lite.analysis`' docstring)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


METRICS = {
    "final_train_loss": "final training loss (relative L2)",
    "test_rel_l2": "test relative L2 error",
    "tail_train_loss": "training loss, mean over the last 20% of steps",
}


def metric_label(metric: str) -> str:
    return METRICS.get(metric, metric)


def _penalised(df, metric):
    bad = (df["status"] != "done") | ~np.isfinite(df[metric].astype(float))
    return df[metric].astype(float).where(~bad, np.inf)


def tail_train_loss(curve, fraction: float = 0.2) -> float:
    """Mean of the last ``fraction`` of a training curve's bins (⌈fraction·n⌉ bins, at least one).

    ``curve`` is the stored ``train_curve``: a list of ``[step, mean batch loss]`` bins (or its JSON
    text).  NaN for a missing or empty curve; +∞ if the tail holds a non-finite value.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1]; got fraction={fraction!r}")
    if isinstance(curve, (bytes, str)):
        import json

        curve = json.loads(curve) if curve.strip() else None
    if curve is None or (isinstance(curve, float) and math.isnan(curve)):
        return float("nan")
    vals = np.asarray([float(p[1]) for p in curve], dtype=float)
    if len(vals) == 0:
        return float("nan")
    m = max(1, math.ceil(fraction * len(vals) - 1e-9))
    tail = vals[-m:]
    if not np.isfinite(tail).all():
        return float("inf")
    return float(tail.mean())


def add_tail_loss(df, fraction: float = 0.2):
    """A copy of the results table with a ``tail_train_loss`` column (see :func:`tail_train_loss`):
    +∞ for diverged runs, NaN for other runs that are not ``done``."""
    if "train_curve" not in df.columns:
        raise ValueError(f"the results table has no column 'train_curve'; columns are {list(df.columns)}")
    status = df["status"] if "status" in df.columns else None
    out = []
    for i, curve in enumerate(df["train_curve"]):
        st = "done" if status is None else status.iloc[i]
        if st == "diverged":
            out.append(float("inf"))
        elif st != "done":
            out.append(float("nan"))
        else:
            out.append(tail_train_loss(curve, fraction))
    return df.assign(tail_train_loss=np.asarray(out, dtype=float))


def _with_metric(df, metric):
    """The table, with ``tail_train_loss`` added if it is asked for and missing."""
    if metric == "tail_train_loss" and metric not in df.columns and "train_curve" in df.columns:
        return add_tail_loss(df)
    return df


def _coord(x: str):
    """The axis on which grid steps are counted: log10 of the value, except for Adam's β₂, whose
    natural scale is the averaging horizon 1/(1−β₂): −log10(1−β₂) (0.9, 0.99, 0.999 are 1 step apart)."""
    if x == "beta2":
        return (lambda v: -np.log10(1.0 - np.asarray(v, dtype=float))), (lambda t: 1.0 - 10.0 ** (-np.asarray(t, dtype=float)))
    return (lambda v: np.log10(np.asarray(v, dtype=float))), (lambda t: 10.0 ** np.asarray(t, dtype=float))


def grid_step(values: Sequence[float], x: str = "lr") -> float:
    """Spacing of a (log-uniform) grid in the units of :func:`_coord`: the median gap of the sorted
    distinct values."""
    fwd, _ = _coord(x)
    vals = np.asarray([v for v in values if v > 0 and (x != "beta2" or v < 1)], dtype=float)
    v = np.unique(fwd(vals)) if len(vals) else np.array([])
    if len(v) < 2:
        return 1.0
    return float(np.median(np.diff(v)))


def _fitted_optimum(xs: np.ndarray, ys: np.ndarray, step: float, x: str = "lr") -> float:
    """Vertex of a quadratic fit of log(y) against coord(x)/step around the minimum (see module doc)."""
    fwd, inv = _coord(x)
    ok = np.isfinite(ys) & (ys > 0)
    xs, ys = xs[ok], ys[ok]
    if len(xs) == 0:
        return float("nan")
    order = np.argsort(xs)
    xs, ys = xs[order], ys[order]
    i = int(np.argmin(ys))
    lo, hi = max(0, i - 2), min(len(xs), i + 3)
    t = fwd(xs[lo:hi]) / step
    if hi - lo < 3:
        return float(xs[i])
    a, b, _ = np.polyfit(t, np.log(ys[lo:hi]), 2)
    if not a > 0:
        return float(xs[i])
    vertex = float(np.clip(-b / (2 * a), t.min(), t.max()))
    return float(inv(vertex * step))


def optimum_table(df, x: str = "lr", metric: str = "final_train_loss", by: Sequence[str] = ("pde", "parametrization", "K")):
    """Optimum of hyperparameter ``x`` per group, with its seed spread.

    Returns one row per group with: ``best_x``, ``best_metric`` (seed mean at best_x), ``n_seeds``,
    ``seed_best_min``/``seed_best_max`` (range of per-seed optima), ``seed_spread_steps`` (that range
    in grid steps), ``log_best_steps`` (log10(best_x) in grid steps, for drift arithmetic),
    ``n_diverged`` (runs of the group that diverged), ``edge`` (True if the optimum is at an end of
    the grid: the true optimum may lie outside).
    """
    import pandas as pd

    if df.empty:
        raise ValueError("the results table is empty: nothing to read an optimum from")
    df = _with_metric(df, metric)
    for col in (x, metric, "seed", "status", *by):
        if col not in df.columns:
            raise ValueError(f"the results table has no column {col!r}; columns are {list(df.columns)}")
    step = grid_step(df[x].unique(), x)
    fwd, _ = _coord(x)
    rows = []
    for key, g in df.groupby(list(by), sort=True, dropna=False):
        g = g.assign(_m=_penalised(g, metric))
        means = g.groupby(x)["_m"].mean().sort_index()
        best_x = float(means.idxmin())
        grid = means.index.to_numpy(dtype=float)
        per_seed = g.groupby("seed").apply(lambda s: float(s.loc[s["_m"].idxmin(), x]) if np.isfinite(s["_m"]).any() else np.nan, include_groups=False)
        per_seed = per_seed.dropna()
        # one seed gives no spread estimate (NaN, never "0 steps")
        spread = (fwd(per_seed.max()) - fwd(per_seed.min())) / step if len(per_seed) >= 2 else np.nan
        fit_x = _fitted_optimum(means.index.to_numpy(dtype=float), means.to_numpy(dtype=float), step, x)
        fits = []
        for _, sg in g.groupby("seed"):
            sm = sg.groupby(x)["_m"].mean()
            fits.append(_fitted_optimum(sm.index.to_numpy(dtype=float), sm.to_numpy(dtype=float), step, x))
        fits = np.asarray([f for f in fits if np.isfinite(f)])
        fit_spread = (fwd(fits.max()) - fwd(fits.min())) / step if len(fits) >= 2 else np.nan
        row = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        row.update(
            best_x=best_x,
            best_metric=float(means.min()),
            n_seeds=int(g["seed"].nunique()),
            seed_best_min=float(per_seed.min()) if len(per_seed) else np.nan,
            seed_best_max=float(per_seed.max()) if len(per_seed) else np.nan,
            seed_spread_steps=float(spread),
            log_best_steps=float(fwd(best_x) / step),
            fit_x=fit_x,
            fit_seed_spread_steps=float(fit_spread),
            log_fit_steps=float(fwd(fit_x) / step) if np.isfinite(fit_x) else np.nan,
            n_diverged=int((g["status"] == "diverged").sum()),
            edge=bool(best_x in (grid.min(), grid.max())),
        )
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["grid_step_log10"] = step
    out.attrs["metric"] = metric
    out.attrs["x"] = x
    return out


def drift_summary(opt, by: Sequence[str] = ("pde", "parametrization")):
    """How far the optimum moves across K, per parametrization, in grid steps.

    Columns: ``K_min``, ``K_max``, ``best_at_K_min``, ``best_at_K_max``, ``drift_steps`` (signed,
    largest K minus smallest K), ``max_step_deviation`` (largest distance from the median optimum
    over all K), ``median_seed_spread_steps``, and ``resolved`` (|drift| larger than the median seed
    spread, i.e. the movement is not explained by seed noise alone); the same for the fitted
    optimum: ``fit_drift_steps`` (continuous), ``fit_seed_spread_steps`` (median over K of the
    per-seed fitted optima's range) and ``fit_resolved``.
    """
    import pandas as pd

    rows = []
    for key, g in opt.groupby(list(by), sort=True):
        g = g.sort_values("K")
        lo, hi = g.iloc[0], g.iloc[-1]
        drift = float(round(hi["log_best_steps"] - lo["log_best_steps"], 6))
        med = float(np.median(g["log_best_steps"]))
        spread = float(np.nanmedian(g["seed_spread_steps"])) if g["seed_spread_steps"].notna().any() else float("nan")
        row = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        fit_drift = float(hi["log_fit_steps"] - lo["log_fit_steps"])
        fit_spread = float(np.nanmedian(g["fit_seed_spread_steps"])) if g["fit_seed_spread_steps"].notna().any() else float("nan")
        row.update(
            fit_drift_steps=round(fit_drift, 2), fit_seed_spread_steps=round(fit_spread, 2),
            fit_resolved=bool(abs(fit_drift) > fit_spread) if math.isfinite(fit_spread) else False,
        )
        row.update(
            K_min=int(lo["K"]), K_max=int(hi["K"]), best_at_K_min=float(lo["best_x"]), best_at_K_max=float(hi["best_x"]),
            drift_steps=drift, max_step_deviation=float(round(np.max(np.abs(g["log_best_steps"] - med)), 6)),
            median_seed_spread_steps=spread, resolved=bool(abs(drift) > spread) if math.isfinite(spread) else False,
        )
        rows.append(row)
    return pd.DataFrame(rows)
