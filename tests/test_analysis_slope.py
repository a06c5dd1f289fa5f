"""The pooled slope of the optimal log-LR against log √(log K): estimator, interval calibration on
synthetic sweeps with a planted slope, verdicts, the criterion and Student's t quantiles."""
import math

import numpy as np
import pandas as pd
import pytest

from mufno_lite.analysis import bootstrap_slope, log_sqrt_log_K, meets_slope_criterion, theory_slope
from mufno_lite.analysis.slope import slope_interval, slope_verdict, t_quantile

STEP = 1 / 8
LRS = [10 ** (-3.25 + k * STEP) for k in range(14)]
KS = (3, 8, 24, 64)


def planted(slope=-1.0, n_seeds=4, seed_K_shift=0.5, point_noise=0.05, par="sp", rng=0, Ks=KS, center=-2.5):
    """Loss = 0.01·(1 + 0.2·(t − c)²)·(1 + point_noise·ε), t = log10(lr)/step, with the optimum
    c(K) = center + slope·(u(K) − u(K_min)) in log10 LR (u = log10 √(ln K)) plus a per-(seed, K)
    shift of ``seed_K_shift`` grid steps."""
    g = np.random.default_rng(rng)
    u = log_sqrt_log_K(Ks)
    rows = []
    for K, uk in zip(Ks, u):
        for s in range(n_seeds):
            c = (center + slope * (uk - u[0])) / STEP + g.normal(0, seed_K_shift)
            for lr in LRS:
                t = math.log10(lr) / STEP
                loss = 0.01 * (1 + 0.2 * (t - c) ** 2) * (1 + point_noise * g.standard_normal())
                rows.append(dict(pde="burgers", parametrization=par, K=K, lr=lr, seed=s, status="done",
                                 tail_train_loss=loss))
    return pd.DataFrame(rows)


def one(df, **kw):
    out = bootstrap_slope(df, n_boot=kw.pop("n_boot", 400), **kw)
    assert len(out) == 1
    return out.iloc[0]


def test_t_quantile_matches_tables():
    for p, dof, ref in [(0.95, 2, 2.919986), (0.95, 3, 2.353363), (0.95, 5, 2.015048), (0.975, 10, 2.228139),
                        (0.05, 4, -2.131847)]:
        assert t_quantile(p, dof) == pytest.approx(ref, abs=1e-4)
    with pytest.raises(ValueError, match="dof"):
        t_quantile(0.9, 0)


def test_regressor_and_theory():
    assert log_sqrt_log_K([math.e])[0] == pytest.approx(0.0)
    assert theory_slope("sp") == -1.0 and theory_slope("mup") == 0.0
    with pytest.raises(ValueError, match="K must be >= 2"):
        log_sqrt_log_K([1, 3])
    with pytest.raises(ValueError, match="parametrization"):
        theory_slope("ntk")


def test_noise_free_planted_slope_is_recovered():
    r = one(planted(slope=-1.5, seed_K_shift=0.0, point_noise=0.0))
    assert r["slope"] == pytest.approx(-1.5, abs=0.05)
    assert r["Ks"] == list(KS) and r["n_K"] == 4 and r["n_seeds"] == 4


def test_planted_slope_falls_and_flat_slope_is_flat():
    sp = one(planted(slope=-1.0, n_seeds=6, seed_K_shift=0.3, rng=1))
    assert sp["slope_lo"] < -1.0 < sp["slope_hi"] and sp["slope_hi"] < 0
    assert sp["verdict"] == "falls with K"
    mup = one(planted(slope=0.0, n_seeds=6, seed_K_shift=0.3, par="mup", rng=2))
    assert mup["slope_lo"] < 0 < mup["slope_hi"] and mup["verdict"] == "flat within noise"
    assert meets_slope_criterion(sp, mup) and not meets_slope_criterion(mup, sp)


def test_interval_coverage_on_planted_slopes():
    """40 synthetic sweeps (4 K, 4 seeds, per-(seed, K) optimum noise 0.5 steps): the t-interval's
    nominal 90% covers the planted slope in at least 80% (200 sweeps, outside CI: 89.5% at 4 seeds,
    93% at 3, 91% at 6), the percentile interval's in fewer (measured 72% at 4 seeds, 66% at 3, 82%
    at 6): the reason the t-interval is the default."""
    hit_t = hit_p = 0
    n = 40
    for rng in range(n):
        df = planted(slope=-1.0, rng=rng)
        t = one(df, n_boot=200)
        p = one(df, n_boot=200, method="percentile")
        hit_t += t["slope_lo"] < -1.0 < t["slope_hi"]
        hit_p += p["slope_lo"] < -1.0 < p["slope_hi"]
        assert t["slope"] == p["slope"]  # one point estimate, two intervals
    assert hit_t >= 0.8 * n
    assert hit_p < hit_t


def test_interval_methods_and_errors():
    reps = np.array([-1.2, -1.0, -0.8, np.nan])
    lo, hi = slope_interval(-1.0, reps, 4, 0.9, "t")
    half = t_quantile(0.95, 3) * math.sqrt(4 / 3) * np.std(reps[:3], ddof=1)
    assert (lo, hi) == pytest.approx((-1.0 - half, -1.0 + half))
    with pytest.raises(ValueError, match="method"):
        slope_interval(-1.0, reps, 4, 0.9, "bca")
    df = planted()
    with pytest.raises(ValueError, match="x must be 'lr'"):
        bootstrap_slope(df, x="batch_size")
    with pytest.raises(ValueError, match="method"):
        bootstrap_slope(df, method="studentised")


def test_verdicts():
    assert slope_verdict(-2, -1, -1.5, "sp", 4, 2, False) == "fewer than 3 K"
    assert slope_verdict(-2, -1, -1.5, "sp", 2, 4, False) == "too few seeds"
    assert slope_verdict(float("nan"), -1, -1.5, "sp", 4, 4, False) == "not estimable"
    assert slope_verdict(-2, -1, -1.5, "sp", 4, 4, True) == "at grid edge"
    assert slope_verdict(-2, 1, -0.5, "sp", 4, 4, False) == "flat within noise"
    assert slope_verdict(0.5, 1, 0.7, "mup", 4, 4, False) == "rises with K"
    assert one(planted(Ks=(3, 64)))["verdict"] == "fewer than 3 K"
    # an optimum at the grid's end at some K is flagged
    r = one(planted(slope=-12.0, seed_K_shift=0.2))
    assert r["verdict"] == "at grid edge" and 64 in r["edge_Ks"]


def test_criterion_truth_table():
    def row(v, lo, hi):
        return {"slope": v, "slope_lo": lo, "slope_hi": hi}

    assert meets_slope_criterion(row(-0.6, -1.0, -0.2), row(0.1, -0.3, 0.5))
    assert meets_slope_criterion(row(-0.6, -1.0, -0.2), row(0.2, 0.1, 0.3))  # |μP| < |SP|/2
    assert not meets_slope_criterion(row(-0.6, -1.0, -0.2), row(0.4, 0.1, 0.7))
    assert not meets_slope_criterion(row(-0.6, -1.0, 0.1), row(0.0, -0.3, 0.3))  # SP interval holds 0
    assert not meets_slope_criterion(row(float("nan"), -1, 0), row(0.0, -0.3, 0.3))
