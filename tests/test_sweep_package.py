"""The sweep package's layout: re-exports, the executor protocol, member rows, the pool and context.trainer."""
import os

import pytest

import mufno_lite.sweep as sweep
from mufno_lite.store import load_results
from mufno_lite.sweep import Executor, SweepConfig, member_rows, population_tasks, run_sweep

CFG = dict(name="pkg_test", pde="burgers", data={"resolution": 16, "n_train": 8, "n_test": 4, "seed": 0},
           model={"width": 4, "n_layers": 1, "projection_width": 8}, parametrizations=["sp"], base_K=2,
           K=[2], lr=[1e-3, 1e-2], seeds=[0], batch_sizes=[8], train={"steps": 2}, device="cpu")


def test_every_public_name_is_importable_from_the_package():
    for name in sweep.__all__:
        assert getattr(sweep, name) is not None, name


def test_compatibility_modules_re_export_the_same_objects():
    from mufno_lite import pool_executor, ray_executor
    from mufno_lite.sweep.executors import pool, ray

    assert pool_executor.LocalPoolExecutor is pool.LocalPoolExecutor
    assert ray_executor.RayExecutor is ray.RayExecutor and ray_executor.import_ray is ray.import_ray


def test_executors_satisfy_the_protocol():
    from mufno_lite.pool_executor import LocalPoolExecutor
    from mufno_lite.ray_executor import RayExecutor

    assert isinstance(sweep.InProcessExecutor(), Executor)
    assert isinstance(LocalPoolExecutor(workers=1), Executor)
    assert hasattr(RayExecutor, "map_populations")
    assert not isinstance(object(), Executor)


def test_member_rows_one_per_member_with_identity_columns():
    (task,) = population_tasks(SweepConfig.from_dict(CFG), device="cpu")
    rows = member_rows(task, status="failed", error="boom", created_at="now")
    assert [r["run_id"] for r in rows] == [m["run_id"] for m in task["members"]]
    for r, m in zip(rows, task["members"]):
        assert r["status"] == "failed" and r["error"] == "boom" and r["lr"] == m["lr"]
        assert r["population_id"] == task["task_id"] and r["population_size"] == 2 and r["config"] == m["config"]


def test_pool_refuses_a_trainer_it_cannot_ship(tmp_path):
    from mufno_lite.pool_executor import LocalPoolExecutor

    with pytest.raises(ValueError, match="LocalPoolExecutor ships context.trainer .* cannot be pickled"):
        run_sweep(SweepConfig.from_dict(CFG), tmp_path / "r.sqlite", executor=LocalPoolExecutor(workers=1),
                  trainer=lambda *a, **k: [], verbose=False, progress=False, handle_signals=False)


def test_pool_runs_the_context_trainer(tmp_path):
    from _ray_helpers import refusing_trainer

    from mufno_lite.pool_executor import LocalPoolExecutor

    st = tmp_path / "r.sqlite"
    rep = run_sweep(SweepConfig.from_dict(CFG), st, executor=LocalPoolExecutor(workers=1), trainer=refusing_trainer,
                    verbose=False, progress=False, handle_signals=False)
    assert rep.n_failed == 2
    errors = load_results(st)["error"].tolist()
    assert len(errors) == 2
    assert all("refusing_trainer was called in process" in e for e in errors)
    assert all(f"process {os.getpid()}" not in e for e in errors)  # in a worker, not here
