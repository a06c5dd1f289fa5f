"""The notebook explorers without a browser: ResultsExplorer's filters change what is drawn (and
the optimum table), bad selections raise ValueError naming the parameter, and LiveTraining trains
SP and μP side by side, identical at K = base_K and different elsewhere."""
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("plotly")

from mufno_lite.widgets import LiveTraining, ResultsExplorer, plotly_bundle  # noqa: E402

LRS = [10 ** (-3 + k / 4) for k in range(6)]


def table(batch_sizes=(20,)):
    """Loss = 0.01·(1 + 10·(log10 lr − c)²) with c moving down with K under SP only."""
    rows = []
    for par in ("sp", "mup"):
        for i, K in enumerate((3, 8, 16)):
            c = -2.0 - (0.25 * i if par == "sp" else 0.0)
            for bs in batch_sizes:
                for seed in (0, 1):
                    for lr in LRS:
                        loss = 0.01 * (1 + 10 * (np.log10(lr) - c) ** 2) * (1 + 0.01 * seed) * (bs / 20)
                        rows.append(dict(pde="burgers", parametrization=par, K=K, lr=lr, seed=seed, status="done",
                                         final_train_loss=loss, test_rel_l2=2 * loss + 0.1, batch_size=bs, beta2=0.999,
                                         init_scale=1.0, steps=50, run_id=f"{par}-{K}-{bs}-{seed}-{lr:.4g}",
                                         sweeps=["demo"]))
    return pd.DataFrame(rows)


def n_points(fig):
    return sum(len(t.x) for t in fig.data)


def test_explorer_filters_change_the_figure_and_the_optimum():
    ex = ResultsExplorer(table())
    assert ex.selection()["Ks"] == (3, 8, 16) and ex.selection()["x"] == "lr"
    full = len(ex.figure.data)
    assert full == 2 * 3 * 3  # per parametrization and K: mean line, run markers, optimum star
    assert len(ex.optimum) == 6
    best = ex.optimum.set_index(["parametrization", "K"])["best_x"]
    assert best[("mup", 16)] == pytest.approx(1e-2) and best[("sp", 16)] == pytest.approx(10**-2.5)

    ex.select(Ks=[3, 16])
    assert len(ex.figure.data) == 2 * 2 * 3 and sorted(ex.data["K"].unique()) == [3, 16]
    ex.select(parametrizations=["mup"])
    assert len(ex.figure.data) == 2 * 3 and set(ex.data["parametrization"]) == {"mup"}
    assert list(ex.optimum["parametrization"]) == ["mup", "mup"]
    y_before = np.concatenate([np.asarray(t.y, float) for t in ex.figure.data])
    ex.select(metric="test_rel_l2")
    y_after = np.concatenate([np.asarray(t.y, float) for t in ex.figure.data])
    assert "test" in ex.figure.layout.yaxis.title.text
    assert np.allclose(y_after, 2 * y_before + 0.1)
    assert "optimum per K" in ex._table.value and "drift" in ex._table.value


def test_explorer_controls_drive_the_same_update():
    ex = ResultsExplorer(table())
    ex.controls["Ks"].value = (8,)          # what a click in the browser does
    assert set(ex.data["K"]) == {8} and len(ex.figure.data) == 2 * 3
    ex.controls["metric"].value = "test_rel_l2"
    assert "test" in ex.figure.layout.yaxis.title.text
    bundle = plotly_bundle(ex.figure)
    assert len(bundle["application/vnd.plotly.v1+json"]["data"]) == 6
    assert ex._out.outputs[0]["data"]["application/vnd.plotly.v1+json"]["data"] == bundle["application/vnd.plotly.v1+json"]["data"]


def test_explorer_other_hyperparameter_on_x_fixes_the_learning_rate():
    ex = ResultsExplorer(table(batch_sizes=(10, 20, 40)))
    assert [v for _, v in ex.controls["x"].options] == ["lr", "batch_size"]
    assert ex.fixed["batch_size"].layout.display == ""  # lr on x: batch size is fixed
    n_lr = len(ex.data)
    ex.select(x="batch_size", fixed={"lr": LRS[2]})
    assert ex.fixed["lr"].layout.display == "" and ex.fixed["batch_size"].layout.display == "none"
    assert np.allclose(ex.data["lr"], LRS[2]) and sorted(ex.data["batch_size"].unique()) == [10, 20, 40]
    assert len(ex.data) == n_lr // len(LRS) * 3
    best = ex.optimum.set_index(["parametrization", "K"])["best_x"]
    assert (best == 10).all()  # loss grows with batch size in the synthetic table


def test_explorer_rejects_bad_selections_by_name():
    with pytest.raises(ValueError, match="metric.*bogus"):
        ResultsExplorer(table(), metric="bogus")
    ex = ResultsExplorer(table())
    with pytest.raises(ValueError, match="metric.*'loss'"):
        ex.select(metric="loss")
    with pytest.raises(ValueError, match="Ks.*999"):
        ex.select(Ks=[999])
    with pytest.raises(ValueError, match="x must be a hyperparameter varied"):
        ex.select(x="beta2")  # present but not varied
    with pytest.raises(ValueError, match="pde.*darcy"):
        ex.select(pde="darcy")
    with pytest.raises(ValueError, match="empty"):
        ResultsExplorer(table().iloc[:0])


def test_explorer_reads_a_store_filters_sweeps_and_reloads(tmp_path):
    from mufno_lite.store import ResultsStore

    store = ResultsStore(tmp_path / "r.sqlite")
    cols = ["run_id", "pde", "parametrization", "K", "lr", "seed", "status", "final_train_loss", "test_rel_l2", "batch_size", "beta2"]

    def rows(df):
        return [dict({c: (r[c].item() if hasattr(r[c], "item") else r[c]) for c in cols}, config={"id": r["run_id"]})
                for _, r in df.iterrows()]

    t = table()
    store.write_rows(rows(t[t["K"] != 16]), sweeps=["small"])
    ex = ResultsExplorer(store)
    assert set(ex.data["K"]) == {3, 8} and ex.controls["sweep"].options == ("(all)", "small")
    assert ex.selection()["sweep"] == "small"  # one sweep by default, never "(all)"
    store.write_rows(rows(t[t["K"] == 16]), sweeps=["big"])
    ex.reload()
    assert ex.selection()["sweep"] == "small" and set(ex.data["K"]) == {3, 8}  # a reload keeps the choice
    ex.select(sweep="(all)")
    assert set(ex.data["K"]) == {3, 8, 16}
    ex.select(sweep="big")
    assert set(ex.data["K"]) == {16} and ex.selection()["Ks"] == (16,)
    with pytest.raises(ValueError, match="reload needs"):
        ResultsExplorer(t).reload()


@pytest.fixture(scope="module")
def live():
    return LiveTraining("burgers", width=16, n_layers=2, projection_width=32, steps=20, n_train=32, n_test=8, batch_size=8)


def test_live_training_sp_and_mup_coincide_exactly_at_base_K(live):
    res = live.train(K=live.base_K, log10_lr=-2.0)
    assert set(res) == {"sp", "mup"} and len(res["sp"].train_curve) == 10
    assert res["sp"].train_curve == res["mup"].train_curve
    assert res["sp"].final_train_loss == res["mup"].final_train_loss
    assert len(live.figure.data) == 2
    ys = [list(t.y) for t in live.figure.data]
    assert ys[0] == ys[1] and "identical" in live._status.value


def test_live_training_separates_away_from_base_K_and_keeps_history(live):
    live.sliders["K"].value = 12
    live.sliders["log10_lr"].value = -1.5
    live.keep.value = True
    live._on_click()  # what the button does
    assert live.button.description == "Train" and not live.button.disabled
    sp, mu = live.last["sp"], live.last["mup"]
    assert sp.train_curve != mu.train_curve
    assert [t.meta for t in live.figure.data if t.meta != "diverged"][-2:] == ["current", "current"]
    assert sum(t.meta == "current" for t in live.figure.data) == 2
    assert live.history[-1]["K"] == 12 and live.history[-1]["lr"] == pytest.approx(10**-1.5)
    assert "12" in live._table.value


def test_live_training_rejects_bad_input(live):
    with pytest.raises(ValueError, match="K must be an integer in \\[2, 16\\].*K=40"):
        live.train(K=40)
    with pytest.raises(ValueError, match="pde must be one of.*'heat'"):
        LiveTraining("heat")
    with pytest.raises(ValueError, match="batch_size"):
        LiveTraining(n_train=8, batch_size=16)
    live.sliders["K"].value = 2
    live.sliders["log10_lr"].value = -2.0
    live._dataset_backup, live._dataset = live._dataset, None
    live.pde_params = {"nu": -1.0}  # the loader refuses it: the error is shown, not raised in the callback
    try:
        live._on_click()
    finally:
        live._dataset = live._dataset_backup
    assert "Error" in live._status.value and not live.button.disabled
