"""Tests of the end-to-end muTransfer experiment (mufno_lite.mutransfer)."""
import math

import numpy as np
import pytest
import torch

from mufno_lite.mutransfer import mutransfer_experiment
from mufno_lite.store import ResultsStore, load_results
from mufno_lite.train import RunResult

torch.set_num_threads(1)

SMOKE = {
    "name": "mt_smoke",
    "pde": "burgers",
    "data": {"resolution": 32, "n_train": 20, "n_test": 6},
    "model": {"width": 8, "n_layers": 2, "projection_width": 16},
    "K": [2],
    "lr": [1e-3],
    "batch_sizes": [5],
    "train": {"steps": 20},
}
GRID = [1e-3, 3e-3, 1e-2, 3e-2]


def test_smoke_end_to_end_with_real_trainer(tmp_path):
    store = ResultsStore(tmp_path / "mt.sqlite")
    res = mutransfer_experiment(SMOKE, K_proxy=2, K_target=4, lr_grid=GRID, seeds=[0, 1], store=store)
    t = res.table
    assert list(t["method"]) == ["direct tuning on the target (K=4)", "μTransfer-FNO (K=2 -> 4)"]
    for c in ("test_rel_l2", "cost_ratio_wall", "cost_ratio_flops", "wall_time_s", "flops", "lr", "n_runs"):
        assert c in t.columns
    df = load_results(store)
    proxy = load_results(store, sweep=res.reports["proxy"].sweep)
    direct = load_results(store, sweep=res.reports["direct"].sweep)
    target = load_results(store, sweep=res.reports["transfer"].sweep)
    assert (len(proxy), len(direct), len(target)) == (8, 8, 2)
    assert set(proxy["K"]) == {2} and set(direct["K"]) == set(target["K"]) == {4}
    assert set(df["parametrization"]) == {"mup"}
    # the transferred LR is the proxy's best by mean final train loss, copied unchanged (muP)
    means = proxy.groupby("lr")["final_train_loss"].mean()
    assert res.transferred["lr"] == pytest.approx(means.idxmin())
    assert set(target["lr"]) == {means.idxmin()}
    assert res.transferred["spectral_lr_target"] == pytest.approx(res.transferred["spectral_lr_algorithm1"])
    ratio = math.sqrt(math.log(2) / math.log(4))
    assert res.transferred["spectral_lr_target"] / res.transferred["spectral_lr_proxy"] == pytest.approx(ratio)
    # the target run trained with the best proxy LR is the same run as in the direct grid
    assert set(target["run_id"]) <= set(direct["run_id"])
    # test errors and costs as the store has them
    assert t.loc[1, "test_rel_l2"] == pytest.approx(target["test_rel_l2"].mean())
    best_direct = direct.groupby("lr")["final_train_loss"].mean().idxmin()
    assert t.loc[0, "test_rel_l2"] == pytest.approx(direct[direct.lr == best_direct]["test_rel_l2"].mean())
    assert t.loc[0, "cost_ratio_wall"] == 1.0 and t.loc[0, "cost_ratio_flops"] == 1.0
    flops = (proxy["flops"].sum() + target["flops"].sum()) / direct["flops"].sum()
    wall = (proxy["wall_time_s"].sum() + target["wall_time_s"].sum()) / direct["wall_time_s"].sum()
    assert t.loc[1, "cost_ratio_flops"] == pytest.approx(flops) and 0 < flops < 2
    assert t.loc[1, "cost_ratio_wall"] == pytest.approx(wall)
    assert set(res.selection["by"]) == {"train loss", "test error"}
    assert len(res.proxy_grid) == len(res.direct_grid) == 4
    assert "μTransfer-FNO" in res.summary()
    # a re-run reuses every stored run
    created = df.set_index("run_id")["created_at"]
    res2 = mutransfer_experiment(SMOKE, K_proxy=2, K_target=4, lr_grid=GRID, seeds=[0, 1], store=store)
    assert all(r.n_done == 0 and r.n_skipped == r.n_runs for r in res2.reports.values())
    again = load_results(store).set_index("run_id")["created_at"]
    assert again.equals(created)
    assert res2.table.drop(columns=[]).equals(res.table)


def fake_trainer(opt_by_K):
    """Loss minimal at log10(lr) = opt_by_K[K]; lr > 0.05 diverges."""

    def train(fno_config, parametrization, dataset, members, train, *, device="cpu", progress=None, should_stop=None):
        out = []
        for m in members:
            if m.lr > 0.05:
                out.append(RunResult("diverged", float("nan"), float("nan"), [(1, 1.0)], [], 3, 0.1, 0.1, 1e3, 10))
                continue
            loss = (math.log10(m.lr) - opt_by_K[fno_config.K]) ** 2 + 0.01 * m.seed
            out.append(RunResult("done", loss, 1 + loss, [(1, loss)], [(train.steps, 1 + loss)], None,
                                 0.1 * fno_config.K, 0.1, 1e3 * fno_config.K, 10))
        return out

    return train


def fake_data(pde, **kw):
    return None


def test_selection_transfer_and_costs_with_a_known_optimum(tmp_path):
    grid = [1e-3, 3e-3, 1e-2, 3e-2, 1e-1]
    res = mutransfer_experiment(SMOKE, 2, 8, grid, seeds=[0, 1, 2], store=tmp_path / "f.sqlite",
                                trainer=fake_trainer({2: -2.0, 8: -2.5}), dataset_factory=fake_data)
    assert res.transferred["lr"] == pytest.approx(1e-2)  # proxy optimum; diverged 0.1 never picked
    t = res.table.set_index("K_tuned")
    assert t.loc[8, "lr"] == pytest.approx(3e-3)  # the target's own optimum differs here
    assert t.loc[2, "lr"] == pytest.approx(1e-2)
    # costs: proxy 5 lr x 3 seeds at K=2 (0.2 s, 2e3 FLOPs) + 3 target runs at K=8 (0.8 s, 8e3);
    # direct: 4 finite lr x 3 seeds at K=8 plus 3 diverged runs (0.1 s, 1e3 each)
    direct_wall, direct_flops = 12 * 0.8 + 3 * 0.1, 12 * 8e3 + 3 * 1e3
    mt_wall, mt_flops = 12 * 0.2 + 3 * 0.1 + 3 * 0.8, 12 * 2e3 + 3 * 1e3 + 3 * 8e3
    assert t.loc[2, "cost_ratio_wall"] == pytest.approx(mt_wall / direct_wall)
    assert t.loc[2, "cost_ratio_flops"] == pytest.approx(mt_flops / direct_flops)
    assert t.loc[8, "test_rel_l2"] == pytest.approx(1 + (math.log10(3e-3) + 2.5) ** 2 + 0.01)
    grid_p = res.proxy_grid.set_index("lr")
    assert np.isinf(grid_p.loc[1e-1, "train_loss"]) and grid_p.loc[1e-1, "n_ok"] == 0
    assert any("differs" in n for n in res.notes)


def test_sp_is_labelled_naive_and_bad_arguments(tmp_path):
    res = mutransfer_experiment(SMOKE, 2, 4, [1e-3, 1e-2], seeds=[0], store=tmp_path / "s.sqlite",
                                parametrization="sp", trainer=fake_trainer({2: -2.0, 4: -2.0}),
                                dataset_factory=fake_data)
    assert res.table.loc[1, "method"].startswith("naive transfer (SP)")
    assert "naive" in res.transferred["rule"]
    with pytest.raises(ValueError, match="K_proxy must differ"):
        mutransfer_experiment(SMOKE, 4, 4, [1e-3], store=tmp_path / "s.sqlite")
    with pytest.raises(ValueError, match=r"K\[0\]=99"):
        mutransfer_experiment(SMOKE, 2, 99, [1e-3], store=tmp_path / "s.sqlite")
