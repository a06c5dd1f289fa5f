"""The figure style (mufno_lite.style), checked by rendering: tick labels never collide (their
bounding boxes from matplotlib's renderer), integer and learning-rate ticks read as plain numbers,
the legend sits outside the data, stars are drawn above bands, and an off-scale K is left out with
a note."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from mufno_lite import style  # noqa: E402
from mufno_lite.figures import plot_hparam_curves  # noqa: E402

FULL = [10 ** (-4 + k / 4) for k in range(17)]  # 1e-4 … 1e0 in quarter decades


def table(lrs, Ks=(3, 8, 16, 64), batch_sizes=(20,), worse=None):
    rows = []
    for par in ("sp", "mup"):
        for K in Ks:
            for bs in batch_sizes:
                for seed in (0, 1):
                    for lr in lrs:
                        loss = 0.01 * (1 + (np.log10(lr) + 2) ** 2) * (1 + 0.02 * seed) * (1 + 0.01 * bs)
                        if worse is not None and K == worse:
                            loss *= 1000.0
                        rows.append(dict(pde="burgers", parametrization=par, K=K, lr=lr, seed=seed, status="done",
                                         final_train_loss=loss, test_rel_l2=loss + 0.1, batch_size=bs, beta2=0.999))
    return pd.DataFrame(rows)


def labels(axis):
    return [t.get_text() for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]


@pytest.mark.parametrize("start,n", [(0, 17), (6, 3), (6, 4), (5, 5), (8, 6), (2, 9), (9, 2)])
def test_learning_rate_ticks_never_overlap_on_any_window_of_the_grid(start, n):
    fig = plot_hparam_curves(table(FULL[start:start + n]))
    try:
        for ax in fig.axes:
            assert style.tick_label_overlaps(ax) == [], (FULL[start], n, labels(ax.xaxis))
            shown = labels(ax.xaxis) + [t.get_text() for t in ax.xaxis.get_ticklabels(minor=True) if t.get_visible() and t.get_text()]
            if ax.get_subplotspec().is_last_row():  # shared x: only the bottom row is labelled
                assert shown, "at least one labelled learning rate"
            assert not any("10^" in s or "times" in s or "×" in s for s in shown), shown  # plain decimals
    finally:
        plt.close(fig)


def test_narrow_window_gets_at_least_two_labelled_learning_rates():
    fig = plot_hparam_curves(table(FULL[6:9]))  # 10^-2.5 … 10^-2: less than one decade
    try:
        ax = fig.axes[-1]
        fig.canvas.draw()
        lo, hi = ax.get_xlim()
        vis = [t for t in ax.xaxis.get_ticklabels() if t.get_visible() and t.get_text() and lo <= t.get_position()[0] <= hi]
        assert len(vis) >= 2, [t.get_text() for t in vis]
    finally:
        plt.close(fig)


def test_batch_size_axis_has_integer_ticks_at_the_swept_values():
    fig = plot_hparam_curves(table(FULL[6:9], batch_sizes=(10, 20, 30, 40, 80)), x="batch_size")
    try:
        ax = fig.axes[-1]
        assert set(labels(ax.xaxis)) <= {"10", "20", "30", "40", "80"}
        assert "10" in labels(ax.xaxis) and "80" in labels(ax.xaxis)
        for a in fig.axes:
            assert style.tick_label_overlaps(a) == []
    finally:
        plt.close(fig)


def test_int_axis_and_plain_numbers():
    assert [style.plain_number(v) for v in (1e-4, 2e-3, 0.05, 0.3, 1.0, 4.0, 2000.0, 0.0316)] == \
        ["0.0001", "0.002", "0.05", "0.3", "1", "4", "2000", "0.032"]
    fig, ax = plt.subplots(figsize=(2.0, 2.0))
    ax.plot([3, 4, 5, 6, 8, 64], [1, 2, 3, 4, 5, 6])
    style.int_axis(ax, [3, 4, 5, 6, 8, 64])
    style.declutter(ax)
    assert style.tick_label_overlaps(ax) == []  # 3 4 5 6 crowd a 2-inch log axis: some are hidden
    assert set(labels(ax.xaxis)) <= {"3", "4", "5", "6", "8", "64"} and "64" in labels(ax.xaxis)
    plt.close(fig)


def test_legend_outside_the_data_and_stars_above_bands():
    fig = plot_hparam_curves(table(FULL[4:12]))
    try:
        fig.canvas.draw()
        r = fig.canvas.get_renderer()
        for ax in fig.axes:
            leg = ax.get_legend()
            if leg is not None:
                assert leg.get_window_extent(r).x0 >= ax.get_window_extent(r).x1 - 1  # right of the axes
            stars = [ln for ln in ax.lines if ln.get_marker() == "*"]
            bands = ax.collections
            assert stars and bands
            assert min(s.get_zorder() for s in stars) > max(b.get_zorder() for b in bands)
            assert min(s.get_zorder() for s in stars) > max(ln.get_zorder() for ln in ax.lines if ln.get_marker() != "*")
            sizes = [s.get_markersize() for s in stars]
            assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[-1]  # later stars nest inside earlier
    finally:
        plt.close(fig)


def test_an_off_scale_K_is_left_out_with_a_note():
    fig = plot_hparam_curves(table(FULL[4:12], worse=3))
    try:
        ax = fig.axes[0]
        assert not any(ln.get_label() == "K=3" for ln in ax.lines)
        notes = [t.get_text() for t in ax.texts]
        assert any("off-scale" in n and "K=3" in n for n in notes), notes
        lo, hi = ax.get_ylim()
        assert hi / lo < 1e3  # the other K keep a readable range
    finally:
        plt.close(fig)
    assert style.offscale({"a": 1.0, "b": 2.0, "c": 100.0}, factor=30) == ["c"]
    assert style.offscale({"a": 1.0}) == []
