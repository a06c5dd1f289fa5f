"""ResultsExplorer on synthetic results tables: what it shows by default and what it refuses to mix.

Each test pins one behaviour a teacher hit with the explorer (issue 14): one sweep by default, no
average over runs that differ in more than the seed, a message when nothing is left to draw, K
options that exist in the current slice, the smallest and largest K drawn together (or a reason),
and a PDE switch that does not report optima "at grid edge" from a stray slice of the grid."""
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("plotly")

from mufno_lite.widgets import ResultsExplorer  # noqa: E402

GRID = [10 ** (-3 + k / 4) for k in range(9)]  # 1e-3 … 1e-1, optimum of the synthetic loss at 1e-2


def runs(sweep, *, pde="burgers", Ks=(3, 8), lrs=GRID, seeds=(0, 1), created="2026-01-01T00:00:00", config=None,
         status="done", **cols):
    """Rows of one sweep: loss 0.01·(1 + (log10 lr + 2)²)·(1 + 0.01·seed), K-independent optimum."""
    base = dict(batch_size=20, beta2=0.999, init_scale=1.0, width=8, steps=50, clip=1.0, n_layers=2, resolution=64)
    base.update(cols)
    out = []
    for par in ("sp", "mup"):
        for K in Ks:
            for seed in seeds:
                for lr in lrs:
                    loss = 0.01 * (1 + (np.log10(lr) + 2) ** 2) * (1 + 0.01 * seed) * (1 + 0.001 * K)
                    row = dict(pde=pde, parametrization=par, K=K, lr=lr, seed=seed, status=status,
                               final_train_loss=loss if status == "done" else np.nan,
                               test_rel_l2=2 * loss + 0.1 if status == "done" else np.nan,
                               run_id=f"{sweep}-{par}-{K}-{seed}-{lr:.4g}-{base}", sweeps=[sweep], created_at=created, **base)
                    if config is not None:
                        row["config"] = config(row)
                    out.append(row)
    return out


def frame(*parts):
    return pd.DataFrame([r for p in parts for r in p])


def names(fig):
    return [t.name for t in fig.data if t.showlegend is not False and t.name]


# ---- one sweep by default -------------------------------------------------------------------

def test_default_is_the_most_recent_sweep_or_the_one_given():
    t = frame(runs("old_sweep", Ks=(3, 8), created="2026-01-01T00:00:00"),
              runs("new_sweep", Ks=(4, 16), created="2026-02-01T00:00:00"))
    ex = ResultsExplorer(t)
    assert ex.selection()["sweep"] == "new_sweep"
    assert sorted(ex.data["K"].unique()) == [4, 16]
    ex = ResultsExplorer(t, sweep="old_sweep")  # a notebook passes its own sweep
    assert ex.selection()["sweep"] == "old_sweep" and sorted(ex.data["K"].unique()) == [3, 8]
    dar = frame(runs("burgers_sweep", created="2026-01-01T00:00:00"),
                runs("darcy_sweep", pde="darcy", created="2026-03-01T00:00:00"))
    assert ResultsExplorer(dar).selection()["pde"] == "darcy"               # the newest sweep's PDE
    assert ResultsExplorer(dar, sweep="burgers_sweep").selection()["pde"] == "burgers"


# ---- never average different configurations --------------------------------------------------

def test_runs_differing_in_width_are_drawn_apart_never_averaged():
    t = frame(runs("mixed", width=4), runs("mixed", width=8))
    ex = ResultsExplorer(t)
    assert ex.configs == ["width=4", "width=8"]
    assert sorted(set(ex.data["_config"])) == ["width=4", "width=8"]
    legend = names(ex.figure)
    assert "K=3 · width=4" in legend and "K=3 · width=8" in legend
    assert len(ex.optimum) == 2 * 2 * 2  # parametrization × K × width, one optimum each
    assert "width" in ex._status.value and "never averaged" in ex._status.value
    for tr in ex.figure.data:  # no curve mixes the two widths: each line's points come from one width
        if tr.mode == "markers" and tr.text is not None:
            assert len({("width=4" in h) for h in tr.text}) == 1


def test_runs_differing_only_in_their_config_dict_are_split_by_its_fields():
    def config(row, clip):
        return {"seed": row["seed"], "model": {"K": row["K"], "width": 8},
                "train": {"lr": row["lr"], "clip": clip, "steps": 50, "batch_size": 20, "betas": [0.9, 0.999]},
                "parametrization": {"kind": row["parametrization"], "base_K": 3}}
    t = frame(runs("clip", config=lambda r: config(r, 1.0)), runs("clip", config=lambda r: config(r, None), clip=np.nan))
    ex = ResultsExplorer(t)
    assert ex.configs == ["clip=1", "clip=none"]
    assert "clip" in ex._status.value


def test_too_many_configurations_are_refused_naming_the_fields():
    t = frame(*[runs("zoo", width=w, steps=s) for w in (4, 8, 16, 32) for s in (50, 100)])
    ex = ResultsExplorer(t)
    assert ex.message is not None and "width" in ex.message and "steps" in ex.message and "never averaged" in ex.message
    assert ex.optimum is None and not [tr for tr in ex.figure.data]


def test_runs_differing_only_in_seed_make_one_curve_per_K():
    ex = ResultsExplorer(frame(runs("plain", seeds=(0, 1, 2))))
    assert ex.configs == [] and names(ex.figure) == ["K=3", "K=8"] and "3 seeds" in ex._status.value


# ---- a message when nothing is left ----------------------------------------------------------

def test_a_selection_with_no_finite_loss_says_so():
    t = frame(runs("s", Ks=(3,)), runs("s", Ks=(8,), status="diverged"))
    ex = ResultsExplorer(t)
    ex.select(Ks=[8])
    assert ex.message is not None and "nothing to plot" in ex.message and "diverged" in ex.message
    assert "nothing to plot" in ex.figure.layout.annotations[0].text
    ex.select(Ks=[3])
    assert ex.message is None and len(ex.figure.data) > 0


# ---- options only from the current slice; smallest and largest K -----------------------------

def batch_table():
    """Batch sizes 10, 20 (most runs), 40; K = 64 was only ever run at batch size 40."""
    return frame(runs("bs", Ks=(2, 3, 16), batch_size=20), runs("bs", Ks=(3,), batch_size=10, lrs=GRID[3:6]),
                 runs("bs", Ks=(3, 64), batch_size=40, lrs=GRID[3:6]))


def test_K_options_are_those_of_the_current_batch_size():
    ex = ResultsExplorer(batch_table())
    assert ex.selection()["fixed"] == {"batch_size": 20}  # the value most runs have
    assert [v for _, v in ex.controls["Ks"].options] == [2, 3, 16]  # K=64 exists only at batch size 40
    assert set(ex.selection()["Ks"]) == {2, 3, 16}
    ex.select(fixed={"batch_size": 40})
    assert [v for _, v in ex.controls["Ks"].options] == [3, 64] and sorted(ex.data["K"].unique()) == [3, 64]


def test_smallest_and_largest_K_are_plotted_together_or_the_reason_is_given():
    ex = ResultsExplorer(batch_table())
    opts = [v for _, v in ex.controls["Ks"].options]
    ex.select(Ks=[min(opts), max(opts)])
    assert sorted(ex.data["K"].unique()) == [2, 16] and {"K=2", "K=16"} <= set(names(ex.figure))
    with pytest.raises(ValueError, match=r"K=64 has no runs at batch size = 20 \(it has batch size 40\)"):
        ex.select(Ks=[2, 64])
    with pytest.raises(ValueError, match="has no runs at K=999"):
        ex.select(Ks=[999])


def test_control_clicks_narrow_the_K_list():
    ex = ResultsExplorer(batch_table())
    ex.fixed["batch_size"].value = 10  # what a click in the browser does
    assert [v for _, v in ex.controls["Ks"].options] == [3] and set(ex.data["K"]) == {3}


# ---- switching PDE re-derives the grid -------------------------------------------------------

def test_switching_pde_does_not_flag_a_false_grid_edge():
    burgers = runs("burgers_lr", Ks=(3, 8), created="2026-01-01T00:00:00")
    darcy_lr = runs("darcy_lr", pde="darcy", Ks=(3, 6, 12), seeds=(0,), created="2026-01-02T00:00:00")
    # a β₂ sweep at three learning rates below the optimum (1e-2): its own optimum sits at its grid's edge
    darcy_b2 = [r for b2 in (0.9, 0.99, 0.999)
                for r in runs("darcy_beta2", pde="darcy", Ks=(3, 6, 12), seeds=(0,), lrs=GRID[:3], beta2=b2,
                              created="2026-01-03T00:00:00")]
    ex = ResultsExplorer(frame(burgers, darcy_lr, darcy_b2), pde="burgers")
    assert not ex.optimum["edge"].any()
    ex.select(pde="darcy", sweep="(all)")
    assert ex.selection()["fixed"]["beta2"] == pytest.approx(0.999)  # the base config's β₂, not the middle of the grid
    assert sorted(ex.data["lr"].unique()) == pytest.approx(GRID)
    assert not ex.optimum["edge"].any(), ex.optimum
    assert "at grid edge" not in ex._table.value
    ex.controls["pde"].value = "burgers"  # and back, by the dropdown
    assert ex.selection()["sweep"] == "(all)" and not ex.optimum["edge"].any()  # "(all)", as chosen
