"""Reading sweeps: the optimum per K, its spread over seeds, and whether it moves.

All functions take the results table of :func:`mufno_lite.store.load_results` (one row per run)
and return small pandas tables.  Decisions, stated once:

* A hyperparameter's **optimum** at fixed (parametrization, K) is the grid value whose *mean over
  seeds* of the metric is smallest.  Runs that diverged or failed count as +∞ (a grid value where
  any seed diverged cannot be optimal unless all values diverged).
* The **seed spread** is read from per-seed optima: for every seed separately, the grid value
  that is best for that seed; we report their range in grid steps.
* **Grid steps** are measured on log10 of the hyperparameter (on −log10(1−β₂) for Adam's β₂), in
  units of the grid's spacing (an eighth of a decade for the default learning-rate grid), so "the
  optimum moved 2 steps" is independent of the grid's origin.
* The **fitted optimum** refines the grid optimum: a parabola in (log10 x, log loss) through the
  best grid point and up to two neighbours on each side; its vertex (kept inside the fitted points)
  is a sub-grid estimate that is less sensitive to one noisy grid point.  Per-seed fitted optima
  give ``fit_seed_spread_steps``.
* The **drift** of the optimum across K is (optimum at the largest K) − (optimum at the smallest K)
  in grid steps; ``max_step_deviation`` is the largest distance of any K's optimum from the median
  optimum.  The paper's claim, in these terms: under μP the optimum stays within about one grid
  step for all K; under SP it moves.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["optimum_table", "drift_summary", "describe_transfer", "grid_step", "metric_label", "METRICS", "PAPER_REPORTED"]

METRICS = {
    "final_train_loss": "final training loss (relative L2)",
    "test_rel_l2": "test relative L2 error",
}


def metric_label(metric: str) -> str:
    return METRICS.get(metric, metric)


def _penalised(df, metric):
    bad = (df["status"] != "done") | ~np.isfinite(df[metric].astype(float))
    return df[metric].astype(float).where(~bad, np.inf)


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


#: Optima the paper reports (learning rates of Adam; its own μP normalisation, see the README).
PAPER_REPORTED = {
    "navier_stokes": {"sp": {3: 1.8e-3, 24: 7.4e-4}, "mup": {"all K": 4.2e-3}},
    "darcy": {"sp": "shifts clearly with K", "mup": "stable across K"},
    "darcy_pino": {"mup": {"all K": 5.6e-3}},
    "darcy_batch": {"mup": {"all K": 20}, "sp": "moves with K"},
    "darcy_beta2": {"mup": {"all K": 0.98}, "sp": "moves with K"},
    "burgers": {"sp": "drifts with K (K = 3 to 512)", "mup": "stable"},
}


def describe_transfer(drift, x_label: str = "learning rate") -> str:
    """One plain sentence per parametrization, computed from :func:`drift_summary`'s table."""
    lines = []
    for r in drift.itertuples():
        name = "SP" if r.parametrization == "sp" else "μP"
        move = "did not move" if r.drift_steps == 0 else f"moved {r.drift_steps:+g} grid steps"
        noise = (f"per-seed optima spread over {r.median_seed_spread_steps:g} steps (median over K)"
                 if r.median_seed_spread_steps == r.median_seed_spread_steps else "one seed: no spread estimate")
        verdict = "larger than the seed spread" if r.resolved else "not resolved beyond seed noise"
        lines.append(
            f"{name}: the optimal {x_label} {move} from K={r.K_min} ({r.best_at_K_min:.3g}) to K={r.K_max} "
            f"({r.best_at_K_max:.3g}); the largest deviation of any K from the median optimum is "
            f"{r.max_step_deviation:g} steps; {noise}; the drift is {verdict}. "
            f"Fitted (sub-grid) optimum: {r.fit_drift_steps:+.2f} steps, "
            + (f"per-seed fitted optima spread {r.fit_seed_spread_steps:.2f} steps: {'resolved' if r.fit_resolved else 'not resolved'}."
               if r.fit_seed_spread_steps == r.fit_seed_spread_steps else "one seed: not assessable against seed noise.")
        )
    return "\n".join(lines)
