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
* **Tail training loss** (``tail_train_loss``, the default metric of the bootstrap): the mean of
  the last 20% of the stored training-curve bins (bins are equal-width in steps, so this is the
  mean batch loss over the last 20% of training; at least one bin, ⌈20% of the bins⌉).  It is less
  noisy than the last batch's loss.  Diverged runs get +∞, other runs that are not ``done`` NaN.
* **Noise: a paired bootstrap over seeds.**  Seeds are common random numbers (the same seed is the
  same init stream and data order at every hyperparameter value and every K), so a replicate
  resamples the *seeds* with replacement, the same multiset for every (K, x) of a
  (pde, parametrization) group; averages the metric over the resampled seeds per (K, x) (+∞ if a
  resampled seed diverged there, as above); takes the fitted optimum per K in grid steps; and the
  drift from it.  Intervals are percentile intervals (90% by default) over the replicates; the
  point estimate uses every seed once (so it equals ``fit_drift_steps`` of :func:`drift_summary`).
  A replicate where every grid point at some K is +∞ has no optimum there (NaN); such replicates
  are counted (``n_boot_nan``) and left out of the interval.  With few seeds the percentile
  interval is somewhat too narrow (on synthetic sweeps with 8 seeds a nominal 90% interval covered
  the truth about 80% of the time; tests/test_analysis_bootstrap.py): read it as a lower bound on
  the uncertainty.  The generator is seeded with ``rng_seed`` afresh for every group: results are
  deterministic and do not depend on which other groups are in the table.
* **Theory's prediction** (:func:`predicted_drift_steps`): μP rescales the spectral weights' Adam
  LR by √(log K₀ / log K), so under SP the optimal *spectral-weight* LR should move by
  log10 √(log K_min / log K_max) decades from K_min to K_max (K 3→32: −2.0 eighth-decade steps;
  3→128: −2.6), and under μP by 0.  For one global LR (what our sweeps vary) this is an upper bound
  on the magnitude: the global optimum also depends on weights μP does not rescale (lifting,
  projection, skip connections).  Only learning-rate sweeps get a prediction.
* **Verdicts** (:func:`drift_verdict`), from the drift's interval, in this order: fewer than 3 seeds
  → "too few seeds"; the point estimate's grid optimum at an end of the grid at K_min or K_max →
  "at grid edge" (the true optimum may be outside; the interval is unreliable); the interval
  excludes 0 with the sign of the prediction → "moves as predicted"; excludes 0 with the opposite
  sign → "moves opposite to prediction"; contains 0 → "no resolved drift".  With no predicted
  movement (μP, or no prediction), an interval excluding 0 gives "moves (up)" / "moves (down)".
  Two more: "not estimable" (after "too few seeds": no optimum in the point estimate or in every
  replicate, e.g. all runs at one end diverged) and "one K only".
* **Success criterion** (:func:`meets_criterion`, declared by the project): the SP drift is at most
  −2 steps (point estimate) with its 90% interval excluding 0, and μP's 90% interval contains 0 or
  |μP drift| ≤ 1 step.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = [
    "optimum_table", "drift_summary", "describe_transfer", "describe_drift", "grid_step", "metric_label", "METRICS",
    "PAPER_REPORTED", "tail_train_loss", "add_tail_loss", "predicted_drift_steps", "bootstrap_optima",
    "bootstrap_drift", "drift_verdict", "meets_criterion",
]

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


# ---- noise: paired bootstrap over seeds -----------------------------------------------------
def predicted_drift_steps(K_min: int, K_max: int, parametrization: str, base_K: int = 3,
                          grid_step_log10: float = 1 / 8) -> float:
    """Theory's drift of the optimal LR from K_min to K_max, in grid steps (see module doc).

    SP: log10 √(log K_min / log K_max) / ``grid_step_log10`` (negative: the optimum moves down as K
    grows); μP: 0.  This is μP's rule for the *spectral* weights' LR (``base_K`` cancels in the
    ratio); for one global LR it bounds the magnitude from above, since the global optimum also
    depends on weights μP does not rescale.
    """
    from .parametrization import mup_ratio

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


def _interval(v: np.ndarray, ci: float):
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(v, [(1 - ci) / 2, 1 - (1 - ci) / 2])
    return float(lo), float(hi)


def bootstrap_optima(df, x: str = "lr", metric: str = "tail_train_loss", n_boot: int = 2000, ci: float = 0.90,
                     rng_seed: int = 0, by: Sequence[str] = ("pde", "parametrization")):
    """The fitted optimum per (group, K) with a paired-bootstrap interval over seeds (module doc).

    Columns: the ``by`` columns, ``K``, ``n_seeds``, ``opt`` / ``opt_lo`` / ``opt_hi`` (optimum and
    its ``ci`` interval in units of ``x``), ``opt_steps`` / ``opt_steps_lo`` / ``opt_steps_hi`` (the
    same in grid steps, coord(x) / grid step), ``best_x`` (grid optimum of the all-seed mean),
    ``edge`` (best_x at an end of this K's grid), ``edge_frac`` (share of replicates whose fitted
    optimum sits on an end of the grid) and ``n_boot_nan`` (replicates with no optimum at this K).
    """
    import pandas as pd

    _, inv = _coord(x)
    rows = []
    for keys, b, step in _boot_groups(df, x, metric, n_boot, ci, rng_seed, by):
        for k, K in enumerate(b.Ks):
            grid_t = b.t[b.present[k]]
            reps = b.reps[:, k]
            lo, hi = _interval(reps, ci)
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
    out.attrs.update(grid_step_log10=step, metric=metric, x=x, ci=ci, n_boot=int(n_boot))
    return out


def bootstrap_drift(df, x: str = "lr", metric: str = "tail_train_loss", n_boot: int = 2000, ci: float = 0.90,
                    rng_seed: int = 0, by: Sequence[str] = ("pde", "parametrization"), base_K: int = 3):
    """Drift of the fitted optimum from the smallest to the largest K, with a paired-bootstrap
    interval over seeds, theory's prediction and a verdict (module doc).

    One row per group; columns: the ``by`` columns, ``K_min``, ``K_max``, ``n_seeds``,
    ``opt_at_K_min`` / ``opt_at_K_max`` (fitted optima, units of ``x``), ``drift`` (point estimate
    from all seeds, grid steps), ``drift_lo`` / ``drift_hi`` (``ci`` percentile interval),
    ``predicted_drift`` (:func:`predicted_drift_steps`; NaN unless ``x`` is ``"lr"``),
    ``edge_K_min`` / ``edge_K_max`` (point estimate's grid optimum at an end of the grid),
    ``n_boot``, ``n_boot_nan`` (replicates without a drift, left out of the interval), ``ci`` and
    ``verdict`` (:func:`drift_verdict`).
    """
    import pandas as pd

    if "parametrization" not in by and x == "lr":
        raise ValueError("bootstrap_drift needs 'parametrization' in by (the prediction depends on it)")
    _, inv = _coord(x)
    rows = []
    for keys, b, step in _boot_groups(df, x, metric, n_boot, ci, rng_seed, by):
        drift_reps = b.reps[:, -1] - b.reps[:, 0]
        point = float(b.point[-1] - b.point[0])
        lo, hi = _interval(drift_reps, ci)
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
            n_boot_nan=int((~np.isfinite(drift_reps)).sum()), ci=float(ci), verdict=verdict,
        )
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs.update(grid_step_log10=step, metric=metric, x=x, ci=ci, n_boot=int(n_boot))
    return out


def drift_verdict(lo: float, hi: float, point: float, predicted: float, n_seeds: int, edge: bool) -> str:
    """The verdict on a drift interval [lo, hi] (grid steps), in the order of the module doc."""
    if n_seeds < 3:
        return "too few seeds"
    if not (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(point)):
        return "not estimable"
    if edge:
        return "at grid edge"
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


#: Optima the paper reports (learning rates of Adam; its own μP normalisation, see the README).
PAPER_REPORTED = {
    "navier_stokes": {"sp": {3: 1.8e-3, 24: 7.4e-4}, "mup": {"all K": 4.2e-3}},
    "darcy": {"sp": "shifts clearly with K", "mup": "stable across K"},
    "darcy_pino": {"mup": {"all K": 5.6e-3}},
    "darcy_batch": {"mup": {"all K": 20}, "sp": "moves with K"},
    "darcy_beta2": {"mup": {"all K": 0.98}, "sp": "moves with K"},
    "burgers": {"sp": "drifts with K (K = 3 to 512)", "mup": "stable"},
}


def _num(v: float, fmt: str = "+.1f") -> str:
    if not math.isfinite(v):
        return "n/a"
    text = format(v, fmt)
    return "0" if float(text) == 0 else text.replace("-", "−")


def describe_drift(boot, x_label: str = "learning rate") -> str:
    """One short sentence per row of :func:`bootstrap_drift`'s table, e.g. "SP: the optimal learning
    rate moved −2.3 steps from K=3 to K=128 (90% interval −3.1 to −1.2; theory −2.6; 5 seeds):
    moves as predicted." """
    lines = []
    several_pdes = "pde" in boot.columns and boot["pde"].nunique() > 1
    for r in boot.to_dict("records"):
        name = {"sp": "SP", "mup": "μP"}.get(r.get("parametrization"), str(r.get("parametrization", "")))
        if several_pdes:
            name = f"{r['pde']} {name}"
        ci = int(round(100 * float(r.get("ci", 0.9))))
        theory = f"; theory {_num(r['predicted_drift'])}" if math.isfinite(float(r.get("predicted_drift", float("nan")))) else ""
        edges = [f"K={r[k]}" for k, e in (("K_min", "edge_K_min"), ("K_max", "edge_K_max")) if r.get(e)]
        edge = f" (optimum at the grid edge at {' and '.join(edges)})" if edges else ""
        lines.append(
            f"{name}: the optimal {x_label} moved {_num(r['drift'])} steps from K={r['K_min']} to K={r['K_max']} "
            f"({ci}% interval {_num(r['drift_lo'])} to {_num(r['drift_hi'])}{theory}; {r['n_seeds']} seed"
            f"{'s' if r['n_seeds'] != 1 else ''}): {r['verdict']}{edge}."
        )
    return "\n".join(lines)


def describe_transfer(drift, x_label: str = "learning rate") -> str:
    """One plain sentence per parametrization, computed from :func:`drift_summary`'s table, or, for
    a table with bootstrap intervals (:func:`bootstrap_drift`, or :func:`mufno_lite.experiments.summarize`'s
    drift table), the short sentences of :func:`describe_drift`."""
    if "drift_lo" in drift.columns:
        return describe_drift(drift, x_label=x_label)
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
