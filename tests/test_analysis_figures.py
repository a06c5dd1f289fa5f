"""Optimum detection, seed spread and drift on a synthetic results table whose optima are known;
the LR-curve figures (matplotlib and plotly) drawn from it; save_figure's manifest."""
import json

import numpy as np
import pandas as pd
import pytest

from mufno_lite.analysis import drift_summary, grid_step, optimum_table
from mufno_lite.figures import plot_hparam_curves, plotly_hparam_curves, read_manifest, save_figure

LRS = [10 ** (-3.25 + k / 8) for k in range(12)]


def synthetic(noise=0.0, diverge_top=True):
    """Loss = 0.01·(1 + (log10 lr − log10 lr*)²); lr* moves 3 grid steps down from K=3 to K=64
    under SP and stays under μP."""
    rng = np.random.default_rng(0)
    rows = []
    for par in ("sp", "mup"):
        for i, K in enumerate((3, 16, 64)):
            center = -2.5 - ({0: 0, 1: 1, 2: 3}[i] / 8 if par == "sp" else 0.0)
            for seed in (0, 1, 2):
                for k, lr in enumerate(LRS):
                    loss = 0.01 * (1 + (np.log10(lr) - center) ** 2 * 10) * (1 + noise * rng.standard_normal())
                    status = "diverged" if (diverge_top and k == 11 and par == "sp" and K == 64 and seed == 0) else "done"
                    rows.append(dict(pde="burgers", parametrization=par, K=K, lr=lr, seed=seed, status=status,
                                     final_train_loss=np.nan if status == "diverged" else loss, test_rel_l2=loss * 1.5,
                                     batch_size=20, beta2=0.999, steps=100, run_id=f"{par}{K}{seed}{k}"))
    return pd.DataFrame(rows)


def test_grid_step_is_an_eighth_decade():
    assert grid_step(LRS) == pytest.approx(1 / 8)


def test_optimum_and_drift_on_known_table():
    df = synthetic()
    opt = optimum_table(df)
    sp = opt[opt["parametrization"] == "sp"].set_index("K")["best_x"]
    mup = opt[opt["parametrization"] == "mup"].set_index("K")["best_x"]
    assert sp[3] == pytest.approx(10**-2.5) and sp[16] == pytest.approx(10**-2.625) and sp[64] == pytest.approx(10**-2.875)
    assert list(mup) == pytest.approx([10**-2.5] * 3)
    assert (opt["seed_spread_steps"] == 0).all()
    assert opt.set_index(["parametrization", "K"]).loc[("sp", 64), "n_diverged"] == 1
    drift = drift_summary(opt).set_index("parametrization")
    assert drift.loc["sp", "drift_steps"] == pytest.approx(-3)
    assert drift.loc["mup", "drift_steps"] == 0 and drift.loc["mup", "max_step_deviation"] == 0
    assert bool(drift.loc["sp", "resolved"]) and not bool(drift.loc["mup", "resolved"])


def test_diverged_runs_cannot_be_optimal():
    df = synthetic(diverge_top=False)
    best_lr = 10**-2.5
    hit = (df["parametrization"] == "mup") & (df["K"] == 3) & np.isclose(df["lr"], best_lr) & (df["seed"] == 1)
    df.loc[hit, "status"] = "diverged"
    opt = optimum_table(df).set_index(["parametrization", "K"])
    assert opt.loc[("mup", 3), "best_x"] != pytest.approx(best_lr)


def test_seed_spread_counts_grid_steps():
    df = synthetic(diverge_top=False)
    # make seed 2 prefer a learning rate two steps higher at (mup, K=16)
    sel = (df["parametrization"] == "mup") & (df["K"] == 16) & (df["seed"] == 2)
    df.loc[sel, "final_train_loss"] = 0.01 * (1 + (np.log10(df.loc[sel, "lr"]) + 2.25) ** 2 * 10)
    opt = optimum_table(df).set_index(["parametrization", "K"])
    assert opt.loc[("mup", 16), "seed_spread_steps"] == pytest.approx(2)


def test_errors():
    with pytest.raises(ValueError, match="empty"):
        optimum_table(pd.DataFrame())
    with pytest.raises(ValueError, match="no column 'beta2x'"):
        optimum_table(synthetic(), x="beta2x")


def test_matplotlib_figure_marks_optima(tmp_path):
    import matplotlib.pyplot as plt

    fig = plot_hparam_curves(synthetic(), title="synthetic")
    axes = fig.get_axes()
    assert len(axes) == 4
    stars = [l for l in axes[0].get_lines() if l.get_marker() == "*"]
    assert len(stars) == 3
    assert stars[2].get_xdata()[0] == pytest.approx(10**-2.875)
    paths = save_figure(fig, "test_curves", preset="smoke", notebook="nb", key_numbers={"best": np.float64(0.5), "nan": float("nan")}, directory=tmp_path)
    assert [p.name for p in paths] == ["test_curves.png", "test_curves.svg"]
    first = paths[1].read_bytes()
    save_figure(fig, "test_curves", preset="smoke", directory=tmp_path)
    assert paths[1].read_bytes() == first, "SVG output must be deterministic"
    man = read_manifest(tmp_path)
    assert man["test_curves"]["preset"] == "smoke" and man["test_curves"]["files"] == ["test_curves.png", "test_curves.svg"]
    plt.close(fig)
    with pytest.raises(ValueError, match="name must be"):
        save_figure(fig, "../escape", directory=tmp_path)


def test_plotly_figure_has_hover_config():
    fig = plotly_hparam_curves(synthetic())
    texts = [t for tr in fig.data if tr.text is not None for t in tr.text]
    assert any("K=64" in t and "seed=2" in t and "lr=" in t for t in texts)
    stars = [tr for tr in fig.data if tr.marker is not None and tr.marker.symbol == "star"]
    assert len(stars) == 6
    json.loads(fig.to_json())


def test_describe_transfer_sentence():
    from mufno_lite.analysis import describe_transfer

    text = describe_transfer(drift_summary(optimum_table(synthetic())))
    mup, sp = text.splitlines()
    assert sp.startswith("SP: optimal learning rate 0.00316 (K=3) → 0.00133 (K=64): -3 grid steps, fitted -")
    assert "resolved beyond the seed spread" in sp
    assert mup.startswith("μP: optimal learning rate") and "no move on the grid" in mup and "within the seed spread" in mup
    assert all(len(line) < 160 for line in (sp, mup))  # one short line per parametrization


def test_fitted_optimum_recovers_an_off_grid_minimum():
    """Loss = exp((log10 lr − c)²) with c between grid points: the parabola's vertex finds c."""
    rows = []
    c = -2.5 + 0.3 / 8  # 0.3 grid steps above a grid point
    for seed in (0, 1):
        for lr in LRS:
            rows.append(dict(pde="burgers", parametrization="mup", K=4, lr=lr, seed=seed, status="done",
                             final_train_loss=float(np.exp(40 * (np.log10(lr) - c) ** 2)), test_rel_l2=1.0))
    opt = optimum_table(pd.DataFrame(rows)).iloc[0]
    assert opt["best_x"] == pytest.approx(10**-2.5)
    assert np.log10(opt["fit_x"]) == pytest.approx(c, abs=1e-6)
    assert opt["fit_seed_spread_steps"] == pytest.approx(0, abs=1e-6)


def test_fitted_drift_on_known_table():
    drift = drift_summary(optimum_table(synthetic())).set_index("parametrization")
    assert drift.loc["sp", "fit_drift_steps"] == pytest.approx(-3, abs=0.05)
    assert drift.loc["mup", "fit_drift_steps"] == pytest.approx(0, abs=0.05)


def test_beta2_steps_count_on_log_one_minus_beta2():
    assert grid_step([0.9, 0.99, 0.999], "beta2") == pytest.approx(1.0)
    rows = []
    for par, best in (("sp", 0.99), ("mup", 0.99)):
        for K, shift in ((3, 0), (12, 1 if par == "sp" else 0)):
            target = [0.9, 0.99, 0.999][[0.9, 0.99, 0.999].index(best) + shift] if shift else best
            for seed in (0, 1):
                for b2 in (0.9, 0.99, 0.999):
                    rows.append(dict(pde="darcy", parametrization=par, K=K, beta2=b2, seed=seed, status="done",
                                     final_train_loss=1.0 + (0 if b2 == target else 1.0), test_rel_l2=1.0))
    drift = drift_summary(optimum_table(pd.DataFrame(rows), x="beta2")).set_index("parametrization")
    assert drift.loc["sp", "drift_steps"] == pytest.approx(1.0) and drift.loc["mup", "drift_steps"] == 0


def test_one_seed_has_no_spread_and_is_never_resolved():
    from mufno_lite.analysis import describe_transfer

    df = synthetic(diverge_top=False)
    one = df[df["seed"] == 0]
    opt = optimum_table(one)
    assert opt["seed_spread_steps"].isna().all() and opt["fit_seed_spread_steps"].isna().all()
    drift = drift_summary(opt)
    assert not drift["resolved"].any() and not drift["fit_resolved"].any()
    assert "one seed" in describe_transfer(drift)


def test_optimum_vs_K_figure_draws_points_intervals_and_theory(tmp_path):
    """Points with interval bars per K for SP and μP, theory's line through each first point (slope
    −1 / 0 in log lr against log √(log K)), and the measured slopes in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    from test_analysis_slope import planted

    from mufno_lite.analysis import bootstrap_optima, bootstrap_slope, log_sqrt_log_K
    from mufno_lite.figures import plot_optimum_vs_K

    df = pd.concat([planted(slope=-1.0, rng=0), planted(slope=0.0, par="mup", rng=1)])
    opt, slope = bootstrap_optima(df, n_boot=100), bootstrap_slope(df, n_boot=100)
    fig = plot_optimum_vs_K(opt, slope, title="synthetic")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    sp = slope.set_index("parametrization").loc["sp"]
    assert any(f"slope {sp['slope']:+.2f}" in t for t in labels) and any("theory, SP (standard) (slope -1)" in t for t in labels)
    theory = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(theory) == 2
    for line, par in zip(theory, ("sp", "mup")):
        K, y = line.get_xdata(), line.get_ydata()
        first = opt[(opt.parametrization == par)].sort_values("K").iloc[0]
        assert y[0] == pytest.approx(first["opt"])
        s = (np.log10(y[-1]) - np.log10(y[0])) / (log_sqrt_log_K([K[-1]])[0] - log_sqrt_log_K([K[0]])[0])
        assert s == pytest.approx(-1.0 if par == "sp" else 0.0, abs=1e-9)
    save_figure(fig, "slope_fig", directory=tmp_path)
    assert (tmp_path / "slope_fig.png").exists()
    with pytest.raises(ValueError, match="empty"):
        plot_optimum_vs_K(opt.iloc[0:0])
