"""Bootstrap intervals on the optimum and its drift, theory's predicted drift, verdicts, the tail
training loss and the success criterion, on synthetic tables whose truth is known."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from mufno_lite.analysis.bootstrap import _fitted_optima_steps
from mufno_lite.analysis.optimum import _fitted_optimum
from mufno_lite.analysis import (
    add_tail_loss, bootstrap_drift, bootstrap_optima, describe_drift,
    describe_transfer, drift_summary, drift_verdict, meets_criterion, optimum_table, predicted_drift_steps,
    tail_train_loss,
)

STEP = 1 / 8
LRS = [10 ** (-3.25 + k * STEP) for k in range(14)]  # steps −26 … −13
KS = (3, 16, 64)
CENTER = -2.5  # log10 of the optimum at K_min: step −20, in the middle of the grid


def planted(drift=-3.0, n_seeds=8, point_noise=0.02, seed_shift=0.0, seed_K_shift=0.0, par="sp", rng=0, center=CENTER):
    """Loss = 0.01·(1 + 0.2·(t − c)²)·(1 + point_noise·ε) with t = log10(lr)/step and c the optimum in
    steps: it moves linearly in log K by ``drift`` steps from K=3 to K=64, plus a per-seed shift common
    to every K (``seed_shift``, common random numbers) and a per-(seed, K) shift (``seed_K_shift``)."""
    g = np.random.default_rng(rng)
    common = g.normal(0, seed_shift, n_seeds) if seed_shift else np.zeros(n_seeds)
    rows = []
    for K in KS:
        frac = (math.log(K) - math.log(KS[0])) / (math.log(KS[-1]) - math.log(KS[0]))
        for s in range(n_seeds):
            c = center / STEP + drift * frac + common[s] + (g.normal(0, seed_K_shift) if seed_K_shift else 0.0)
            for lr in LRS:
                t = math.log10(lr) / STEP
                loss = 0.01 * (1 + 0.2 * (t - c) ** 2) * (1 + point_noise * g.standard_normal())
                rows.append(dict(pde="burgers", parametrization=par, K=K, lr=lr, seed=s, status="done",
                                 tail_train_loss=loss, final_train_loss=loss, test_rel_l2=loss))
    return pd.DataFrame(rows)


def one(df, **kw):
    out = bootstrap_drift(df, n_boot=kw.pop("n_boot", 1000), **kw)
    assert len(out) == 1
    return out.iloc[0]


# ---- theory -------------------------------------------------------------------------------------
def test_predicted_drift_steps():
    assert predicted_drift_steps(3, 32, "sp") == pytest.approx(-1.996, abs=1e-3)
    assert predicted_drift_steps(3, 128, "sp") == pytest.approx(-2.580, abs=1e-3)
    assert predicted_drift_steps(3, 32, "sp") == pytest.approx(math.log10(math.sqrt(math.log(3) / math.log(32))) * 8)
    assert predicted_drift_steps(3, 128, "mup") == 0.0
    assert predicted_drift_steps(3, 3, "sp") == 0.0
    # base_K cancels; a coarser grid gives fewer steps
    assert predicted_drift_steps(3, 128, "sp", base_K=8) == pytest.approx(predicted_drift_steps(3, 128, "sp"))
    assert predicted_drift_steps(3, 128, "sp", grid_step_log10=1 / 4) == pytest.approx(-1.290, abs=1e-3)
    with pytest.raises(ValueError):
        predicted_drift_steps(3, 128, "ntk")


# ---- tail loss -----------------------------------------------------------------------------------
def test_tail_train_loss_from_a_curve():
    curve = [[8 * (i + 1), float(10 - i)] for i in range(10)]  # 10 bins of 8 steps: 10, 9, …, 1
    assert tail_train_loss(curve) == pytest.approx(1.5)  # last 2 bins: 2, 1
    assert tail_train_loss(json.dumps(curve)) == pytest.approx(1.5)
    assert tail_train_loss(curve, fraction=0.5) == pytest.approx(3.0)  # 5, 4, 3, 2, 1
    assert tail_train_loss(curve[:3], fraction=0.2) == pytest.approx(8.0)  # ⌈0.6⌉ = 1 bin
    assert math.isnan(tail_train_loss(None)) and math.isnan(tail_train_loss([]))
    assert tail_train_loss([[1, 1.0], [2, float("nan")]], fraction=0.5) == math.inf
    with pytest.raises(ValueError):
        tail_train_loss(curve, fraction=0)


def test_add_tail_loss_handles_status_and_json():
    curve = [[10 * (i + 1), float(5 - i)] for i in range(5)]
    df = pd.DataFrame(dict(status=["done", "done", "diverged", "failed"],
                           train_curve=[curve, json.dumps(curve), curve, None]))
    out = add_tail_loss(df)
    assert "tail_train_loss" not in df.columns
    assert list(out["tail_train_loss"][:3]) == [1.0, 1.0, math.inf] and math.isnan(out["tail_train_loss"][3])
    assert "tail_train_loss" in __import__("mufno_lite.analysis", fromlist=["METRICS"]).METRICS


# ---- the vectorised fit is the scalar one -----------------------------------------------------
def test_vectorised_fit_matches_fitted_optimum():
    rng = np.random.default_rng(1)
    xs = np.asarray(LRS)
    t = np.log10(xs) / STEP
    Y = np.exp(rng.normal(size=(500, len(xs))) + 0.1 * (np.arange(len(xs)) - rng.integers(0, len(xs), (500, 1))) ** 2)
    Y[rng.random(Y.shape) < 0.15] = np.inf
    Y[rng.random(Y.shape) < 0.05] = np.nan
    Y[:3] = np.inf
    v = _fitted_optima_steps(t, Y)
    s = np.array([np.log10(_fitted_optimum(xs, y, STEP)) / STEP for y in Y])
    assert np.isnan(v[:3]).all() and np.isnan(s[:3]).all()
    np.testing.assert_allclose(v[3:], s[3:], atol=1e-8)


# ---- intervals and verdicts on planted drifts -----------------------------------------------------
def test_planted_sp_drift_is_found_with_an_interval_containing_it():
    r = one(planted(drift=-3.0, point_noise=0.02, rng=0))
    assert r["K_min"] == 3 and r["K_max"] == 64 and r["n_seeds"] == 8
    assert r["drift_lo"] < -3 < r["drift_hi"] < 0
    assert r["drift"] == pytest.approx(-3, abs=0.2)
    assert r["verdict"] == "moves as predicted"
    assert r["predicted_drift"] == pytest.approx(predicted_drift_steps(3, 64, "sp"))
    assert not r["edge_K_min"] and not r["edge_K_max"] and r["n_boot_nan"] == 0
    assert r["opt_at_K_min"] == pytest.approx(10 ** CENTER, rel=0.15)


def test_interval_coverage_over_many_synthetic_sweeps():
    """Over 40 independent synthetic sweeps (8 seeds), the default (t) 90% interval covers the planted
    drift and the null (0) most of the time (a bootstrap that does not resample, or resamples wrongly,
    fails); the percentile interval, which the search's criterion was declared with, under-covers
    (63% at 3 seeds, 82% at 6 on 200 planted sweeps: bootstrap_drift's docstring)."""
    hit_planted = hit_null = 0
    widths = []
    for rng in range(40):
        r = one(planted(drift=-3.0, point_noise=0.05, seed_K_shift=0.3, rng=rng), n_boot=400)
        hit_planted += r["drift_lo"] < -3 < r["drift_hi"]
        widths.append(r["drift_hi"] - r["drift_lo"])
        r0 = one(planted(drift=0.0, point_noise=0.05, seed_K_shift=0.3, rng=100 + rng), n_boot=400)
        hit_null += r0["drift_lo"] < 0 < r0["drift_hi"]
    assert hit_planted >= 26 and hit_null >= 26  # ≥ 65%
    # the true sd of the drift estimate is about 0.3·√(2/8) = 0.15 steps: a 90% interval ~0.5 wide
    assert 0.3 < np.median(widths) < 0.9


def test_per_K_optimum_t_interval_covers_about_its_nominal_rate():
    """The per-K optimum's interval (the figures' error bars), over 30 synthetic sweeps × 3 K with
    3 seeds and 0.5-step per-(seed, K) optimum noise: the default t-interval's nominal 90% covers
    the planted optimum in at least 80% of the 90 cases, the percentile interval in fewer (measured
    on 200 sweeps: see ``bootstrap_optima``'s docstring)."""
    hit_t = hit_p = 0
    cases = 0
    for rng in range(30):
        df = planted(drift=-3.0, n_seeds=3, point_noise=0.05, seed_K_shift=0.5, rng=rng)
        t = bootstrap_optima(df, n_boot=200)
        p = bootstrap_optima(df, n_boot=200, method="percentile")
        assert (t["opt_steps"] == p["opt_steps"]).all()  # one point estimate, two intervals
        for k, K in enumerate(KS):
            frac = (math.log(K) - math.log(KS[0])) / (math.log(KS[-1]) - math.log(KS[0]))
            truth = CENTER / STEP - 3.0 * frac
            hit_t += t["opt_steps_lo"].iloc[k] < truth < t["opt_steps_hi"].iloc[k]
            hit_p += p["opt_steps_lo"].iloc[k] < truth < p["opt_steps_hi"].iloc[k]
            cases += 1
    assert hit_t >= 0.8 * cases
    assert hit_p < hit_t
    with pytest.raises(ValueError, match="method"):
        bootstrap_optima(df, n_boot=10, method="bca")


def test_point_estimate_is_drift_summarys_fitted_drift():
    df = planted(drift=-3.0, point_noise=0.05, seed_K_shift=0.5)
    r = one(df, n_boot=50)
    fit = drift_summary(optimum_table(df, metric="tail_train_loss")).iloc[0]["fit_drift_steps"]
    assert r["drift"] == pytest.approx(fit, abs=0.006)


def test_pure_noise_gives_no_resolved_drift():
    df = planted(drift=0.0, point_noise=0.05, seed_K_shift=1.5, rng=3)
    r = one(df)
    assert r["drift_lo"] < 0 < r["drift_hi"]
    assert r["verdict"] == "no resolved drift"
    mup = one(df.assign(parametrization="mup"))
    assert mup["verdict"] == "no resolved drift" and mup["predicted_drift"] == 0


def test_planted_upward_drift_is_opposite_to_prediction():
    r = one(planted(drift=+2.0, point_noise=0.02, rng=0))
    assert 0 < r["drift_lo"] < 2 < r["drift_hi"]
    assert r["verdict"] == "moves opposite to prediction"
    assert one(planted(drift=+2.0, par="mup", seed_K_shift=0.3))["verdict"] == "moves (up)"
    assert one(planted(drift=-2.0, par="mup", seed_K_shift=0.3))["verdict"] == "moves (down)"


def test_two_seeds_are_too_few():
    r = one(planted(drift=-3.0, n_seeds=2))
    assert r["n_seeds"] == 2 and r["verdict"] == "too few seeds"


def test_optimum_at_the_grid_edge_is_flagged():
    # the optimum at K=64 is 9 steps below step −20: below the grid's lowest point (−26)
    r = one(planted(drift=-9.0, seed_K_shift=0.3))
    assert r["edge_K_max"] and not r["edge_K_min"]
    assert r["verdict"] == "at grid edge"
    per_K = bootstrap_optima(planted(drift=-9.0, seed_K_shift=0.3), n_boot=200).set_index("K")
    assert per_K.loc[64, "edge"] and not per_K.loc[3, "edge"]
    assert per_K.loc[64, "best_x"] == pytest.approx(min(LRS))


def test_paired_resampling_cancels_a_seed_effect_common_to_all_K():
    """Each seed shifts the optimum by the same amount at every K (common random numbers): the
    per-K intervals are wide, the drift's is narrow, because every K gets the same resampled seeds."""
    df = planted(drift=-2.0, point_noise=0.0, seed_shift=2.0, rng=5)
    r = one(df)
    assert r["drift_hi"] - r["drift_lo"] < 0.3 and r["drift"] == pytest.approx(-2, abs=0.2)
    per_K = bootstrap_optima(df, n_boot=1000)
    assert (per_K["opt_steps_hi"] - per_K["opt_steps_lo"] > 1.0).all()


def test_bootstrap_optima_columns_and_units():
    df = planted(drift=-3.0, point_noise=0.02, seed_K_shift=0.3)
    t = bootstrap_optima(df, n_boot=300)
    assert list(t["K"]) == list(KS)
    np.testing.assert_allclose(np.log10(t["opt"]) / STEP, t["opt_steps"], atol=1e-9)
    np.testing.assert_allclose(np.log10(t["opt_lo"]) / STEP, t["opt_steps_lo"], atol=1e-9)
    assert (t["opt_steps_lo"] <= t["opt_steps"] + 1e-9).all() and (t["opt_steps"] <= t["opt_steps_hi"] + 1e-9).all()
    d = bootstrap_drift(df, n_boot=300).iloc[0]
    assert d["drift"] == pytest.approx(t["opt_steps"].iloc[-1] - t["opt_steps"].iloc[0])


def test_deterministic_given_rng_seed_and_independent_of_other_groups():
    df = planted(drift=0.0, point_noise=0.05, seed_K_shift=1.5, rng=3)
    a, b = one(df, rng_seed=7), one(df, rng_seed=7)
    c = one(df, rng_seed=8)
    assert (a["drift_lo"], a["drift_hi"]) == (b["drift_lo"], b["drift_hi"])
    assert (a["drift_lo"], a["drift_hi"]) != (c["drift_lo"], c["drift_hi"])
    both = bootstrap_drift(pd.concat([df, planted(par="mup")]), n_boot=1000, rng_seed=7).set_index("parametrization")
    assert both.loc["sp", "drift_lo"] == a["drift_lo"] and both.loc["sp", "drift_hi"] == a["drift_hi"]


def test_diverged_runs_are_penalised_and_empty_replicates_counted():
    df = planted(drift=-3.0, n_seeds=4, seed_K_shift=0.3)
    # seed 0 diverged at every LR at K=64: any replicate that draws seed 0 has no optimum there
    bad = (df["K"] == 64) & (df["seed"] == 0)
    df.loc[bad, "status"] = "diverged"
    df.loc[bad, "tail_train_loss"] = np.inf
    r = one(df, n_boot=400)
    expected_nan = 1 - (3 / 4) ** 4  # share of replicates containing seed 0
    assert r["n_boot_nan"] / 400 == pytest.approx(expected_nan, abs=0.08)
    assert math.isnan(r["drift"]) and r["verdict"] == "not estimable"
    # a diverged run at the optimum's LR pushes the optimum away from it
    df2 = planted(drift=0.0, n_seeds=4, point_noise=0.0)
    hit = (df2["K"] == 3) & (df2["seed"] == 1) & np.isclose(df2["lr"], 10 ** CENTER)
    df2.loc[hit, "status"] = "diverged"
    per_K = bootstrap_optima(df2, n_boot=50).set_index("K")
    assert per_K.loc[3, "best_x"] != pytest.approx(10 ** CENTER)


def test_drift_verdict_rules():
    assert drift_verdict(-3, -1, -2, -2.6, 2, False) == "too few seeds"
    assert drift_verdict(-3, -1, -2, -2.6, 5, True) == "at grid edge"
    assert drift_verdict(-3, -1, -2, -2.6, 5, False) == "moves as predicted"
    assert drift_verdict(1, 3, 2, -2.6, 5, False) == "moves opposite to prediction"
    assert drift_verdict(-1, 1, 0, -2.6, 5, False) == "no resolved drift"
    assert drift_verdict(-3, 0.0, -1, -2.6, 5, False) == "no resolved drift"
    assert drift_verdict(0.5, 1, 0.7, 0.0, 5, False) == "moves (up)"
    assert drift_verdict(-1, -0.5, -0.7, 0.0, 5, False) == "moves (down)"
    assert drift_verdict(-1, 1, 0, 0.0, 5, False) == "no resolved drift"
    assert drift_verdict(float("nan"), float("nan"), float("nan"), -2.6, 5, False) == "not estimable"


def test_meets_criterion_truth_table():
    def row(d, lo, hi):
        return {"drift": d, "drift_lo": lo, "drift_hi": hi}

    mup_flat = row(0.2, -0.8, 1.1)  # interval contains 0
    assert meets_criterion(row(-2.5, -3.4, -1.2), mup_flat)
    assert meets_criterion(row(-2.0, -3.0, -0.5), mup_flat)  # exactly −2 counts
    assert not meets_criterion(row(-1.9, -3.0, -0.5), mup_flat)  # moved less than 2 steps
    assert not meets_criterion(row(-2.5, -4.0, 0.3), mup_flat)  # SP interval contains 0
    assert not meets_criterion(row(+2.5, 1.0, 4.0), mup_flat)  # wrong direction
    assert meets_criterion(row(-2.5, -3.4, -1.2), row(0.9, 0.4, 1.5))  # μP resolved but |drift| ≤ 1
    assert not meets_criterion(row(-2.5, -3.4, -1.2), row(1.5, 0.4, 2.5))  # μP moves: fails
    assert not meets_criterion(row(-2.5, -3.4, -1.2), row(-1.2, -2.0, -0.3))
    assert not meets_criterion(row(float("nan"), float("nan"), float("nan")), mup_flat)
    # rows of bootstrap_drift work as they are
    sp = one(planted(drift=-3.0, seed_K_shift=0.3))
    mup = one(planted(drift=0.0, par="mup", point_noise=0.05, seed_K_shift=1.5, rng=3))
    assert meets_criterion(sp, mup) and not meets_criterion(mup, sp)


def test_describe_drift_sentences():
    df = pd.concat([planted(drift=-3.0, seed_K_shift=0.3), planted(drift=0.0, par="mup", point_noise=0.05, seed_K_shift=1.5, rng=3)])
    boot = bootstrap_drift(df, n_boot=500)
    text = describe_drift(boot)
    mup, sp = text.splitlines()
    sp_row = boot.set_index("parametrization").loc["sp"]
    assert sp.startswith(f"SP: the optimal learning rate moved −{abs(sp_row['drift']):.1f} steps from K=3 to K=64 (90% interval −")
    assert "theory −2.3; 8 seeds): moves as predicted." in sp
    assert mup.startswith("μP: ") and mup.endswith("no resolved drift.")
    assert describe_transfer(boot) == text  # a bootstrap table is described by describe_drift
    assert "grid steps" in describe_transfer(drift_summary(optimum_table(df, metric="tail_train_loss")))


def test_tail_metric_is_added_from_curves_when_missing():
    df = planted(drift=-3.0, seed_K_shift=0.3).drop(columns=["tail_train_loss"])
    df["train_curve"] = [[[10, 1.0], [20, v]] for v in df["final_train_loss"]]
    r = bootstrap_drift(df, n_boot=200).iloc[0]  # tail of 2 bins at 20% = the last bin = the loss
    ref = bootstrap_drift(df.assign(tail_train_loss=df["final_train_loss"]).drop(columns=["train_curve"]), n_boot=200).iloc[0]
    assert r["drift"] == ref["drift"] and r["drift_lo"] == ref["drift_lo"]


def test_bootstrap_is_fast():
    import time

    df = pd.concat([planted(drift=-3.0), planted(drift=0.0, par="mup")])
    t0 = time.perf_counter()
    bootstrap_drift(df, n_boot=2000)
    assert time.perf_counter() - t0 < 2.0  # two groups, 3 K × 14 LRs × 8 seeds
