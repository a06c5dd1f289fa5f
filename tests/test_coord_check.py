"""The coordinate check's machinery against closed forms; SP and μP coincide at K0 and differ
by the formulas elsewhere."""
import math

import numpy as np
import pandas as pd
import pytest
import torch

from mufno_lite.coord_check import coord_check, kernel_opnorm, plot_coord_check
from mufno_lite.fno import SpectralConv


def test_kernel_opnorm_closed_forms():
    layer = SpectralConv(4, 4, 3, 2)
    with torch.no_grad():
        layer.weight.zero_()
        # one block with known singular values 5, 2, 1, 0.5 (a unitary-rotated diagonal)
        q, _ = torch.linalg.qr(torch.randn(4, 4, dtype=torch.cfloat))
        block = q @ torch.diag(torch.tensor([5.0, 2.0, 1.0, 0.5], dtype=torch.cfloat)) @ q.conj().T
        layer.kernel[1, :, :, 2, 0] = block
        layer.kernel[0, :, :, 0, 1] = 3.0 * torch.eye(4, dtype=torch.cfloat)
    assert kernel_opnorm(layer.weight) == pytest.approx(5.0, rel=1e-5)
    with torch.no_grad():
        layer.weight.mul_(1j)
    assert kernel_opnorm(layer.weight) == pytest.approx(5.0, rel=1e-5)


@pytest.fixture(scope="module")
def table():
    return coord_check([3, 8, 32], d=1, width=16, steps=2, lr=1e-2, seeds=(0, 1), base_K=3)


def test_table_is_tidy(table):
    assert set(table.columns) >= {"K", "parametrization", "seed", "module", "step", "statistic", "value"}
    keys = ["K", "parametrization", "seed", "module", "step", "statistic"]
    assert not table.duplicated(keys).any()
    assert set(table["step"]) == {0, 1, 2}
    assert set(table["statistic"]) == {"act_rms", "act_delta_rms", "R_opnorm", "dR_opnorm", "dR_entry"}
    assert np.isfinite(table["value"]).all()


def test_first_adam_step_moves_each_real_coordinate_by_lr_times_c(table):
    """Adam's first update is lr·c(K)·g/(|g|+eps) per real coordinate: max |ΔR| = lr·c(K), up to
    eps/|g| (gradients here are ~1e-4, eps = 1e-8) and float32 rounding."""
    s = table[(table["statistic"] == "dR_entry") & (table["step"] == 1)]
    for _, row in s.iterrows():
        c = 1.0 if row["parametrization"] == "sp" else math.sqrt(math.log(3) / math.log(row["K"]))
        assert 1e-2 * c * (1 - 1e-3) < row["value"] < 1e-2 * c * (1 + 1e-5), row.to_dict()


def test_sp_and_mup_coincide_at_base_K_and_differ_elsewhere(table):
    piv = table.pivot_table(index=["K", "seed", "module", "step", "statistic"], columns="parametrization", values="value")
    at_base = piv.loc[3]
    assert (at_base["sp"] == at_base["mup"]).all()
    # at init, R's operator norm under μP is exactly √(log 3 / log K) times SP's (same random draws)
    init = table[(table["statistic"] == "R_opnorm") & (table["step"] == 0)]
    p = init.pivot_table(index=["K", "seed", "module"], columns="parametrization", values="value")
    for (K, seed, module), row in p.iterrows():
        assert row["mup"] / row["sp"] == pytest.approx(math.sqrt(math.log(3) / math.log(K)), rel=1e-5)
    other = piv.loc[32]
    assert (other["sp"] != other["mup"]).any()


def test_plot_has_sp_beside_mup(table):
    fig = plot_coord_check(table, statistics=["act_delta_rms", "dR_opnorm"])
    axes = fig.get_axes()
    assert len(axes) == 4
    assert axes[0].get_title().startswith("SP") and axes[1].get_title().startswith("μP")
    assert len(axes[0].get_lines()) == 6  # lifting, 4 layers, projection
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_errors():
    with pytest.raises(ValueError, match="steps must be >= 1"):
        coord_check([3], steps=0)
    with pytest.raises(ValueError, match="K must be an integer >= 2"):
        coord_check([1, 4], steps=1, width=4)
    with pytest.raises(ValueError, match="empty"):
        plot_coord_check(pd.DataFrame(columns=["step", "statistic", "parametrization", "module", "K", "value"]))


def test_summary_growth_ratios(table):
    from mufno_lite.coord_check import coord_check_summary

    s = coord_check_summary(table)
    # R's operator norm at the last step: μP/SP growth ratio is close to the init factor √(log 3/log 32)
    r = s.loc[("R_opnorm", "mean (geometric)")]
    assert r["mup"] < r["sp"]
    # dR_entry grows by exactly c(32)/c(3) under μP (Adam's sign-like first steps), 1 under SP
    e = s.loc[("dR_entry", "mean (geometric)")]
    assert e["sp"] == pytest.approx(1.0, rel=2e-3)
    assert e["mup"] == pytest.approx(math.sqrt(math.log(3) / math.log(32)), rel=0.05)


def test_coord_check_takes_data_inputs_and_says_which():
    import torch

    from mufno_lite.coord_check import coord_check

    white = coord_check([3, 6], ("sp",), d=1, width=8, n_layers=2, steps=1)
    assert set(white["inputs"]) == {"white noise"}
    x = torch.cumsum(torch.randn(4, 1, 32, generator=torch.Generator().manual_seed(0)), dim=-1)  # red spectrum
    data = coord_check([3, 6], ("sp",), d=1, width=8, n_layers=2, steps=1, inputs=x)
    assert set(data["inputs"]) == {"data"}
    a = white[(white.statistic == "act_rms") & (white.step == 0)]["value"].to_numpy()
    b = data[(data.statistic == "act_rms") & (data.step == 0)]["value"].to_numpy()
    assert a.shape == b.shape and not np.allclose(a, b)
    with pytest.raises(ValueError, match="inputs"):
        coord_check([3], ("sp",), d=1, width=8, n_layers=2, steps=1, inputs=torch.zeros(4, 32))
    with pytest.raises(ValueError, match="too small"):
        coord_check([30], ("sp",), d=1, width=8, n_layers=2, steps=1, inputs=torch.zeros(4, 1, 32))
