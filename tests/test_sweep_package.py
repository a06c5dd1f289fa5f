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


def test_executors_satisfy_the_protocol():
    from mufno_lite.sweep.executors.pool import LocalPoolExecutor
    from mufno_lite.sweep.executors.ray import RayExecutor

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
    from mufno_lite.sweep.executors.pool import LocalPoolExecutor

    with pytest.raises(ValueError, match="LocalPoolExecutor ships context.trainer .* cannot be pickled"):
        run_sweep(SweepConfig.from_dict(CFG), tmp_path / "r.sqlite", executor=LocalPoolExecutor(workers=1),
                  trainer=lambda *a, **k: [], verbose=False, progress=False, handle_signals=False)


def test_pool_runs_the_context_trainer(tmp_path):
    from _ray_helpers import refusing_trainer

    from mufno_lite.sweep.executors.pool import LocalPoolExecutor

    st = tmp_path / "r.sqlite"
    rep = run_sweep(SweepConfig.from_dict(CFG), st, executor=LocalPoolExecutor(workers=1), trainer=refusing_trainer,
                    verbose=False, progress=False, handle_signals=False)
    assert rep.n_failed == 2
    errors = load_results(st)["error"].tolist()
    assert len(errors) == 2
    assert all("refusing_trainer was called in process" in e for e in errors)
    assert all(f"process {os.getpid()}" not in e for e in errors)  # in a worker, not here


# ------------------------------------------------------------------------------------------------
# one validation layer
# ------------------------------------------------------------------------------------------------


def test_config_errors_carry_key_value_and_allowed():
    from mufno_lite.train import Member, TrainConfig
    from mufno_lite.validation import ConfigError

    with pytest.raises(ConfigError, match="steps must be a positive integer; got steps=0") as e:
        TrainConfig(steps=0)
    assert (e.value.key, e.value.value, e.value.allowed) == ("steps", 0, "a positive integer")
    assert isinstance(e.value, ValueError)
    with pytest.raises(ConfigError) as e:
        TrainConfig(schedule="warmup_cosine", warmup_steps=0)
    assert e.value.key == "warmup_steps"
    with pytest.raises(ConfigError) as e:
        Member(lr=1e-3, beta2=1.0)
    assert e.value.key == "beta2"


def test_sweep_prefixes_the_key_path_from_the_error_not_the_message():
    from mufno_lite.validation import ConfigError

    d = dict(CFG, train={"steps": 4, "schedule": "warmup_cosine"})
    with pytest.raises(ConfigError, match=r"train\.warmup_steps must be an integer >= 1 with schedule='warmup_cosine'; got train\.warmup_steps=0") as e:
        SweepConfig.from_dict(d)
    assert e.value.key == "train.warmup_steps"
    with pytest.raises(ConfigError) as e:
        SweepConfig.from_dict(dict(CFG, K=[1]))
    assert e.value.key == "K[0]" and e.value.value == 1


def test_one_rule_for_K():
    import numpy as np

    from mufno_lite.fno import check_K
    from mufno_lite.parametrization import mup_ratio

    assert check_K(4) == check_K(4.0) == check_K(np.int64(4)) == 4
    for bad in (1, 2.5, True, "4"):
        with pytest.raises(ValueError, match="K must be an integer >= 2"):
            check_K(bad)
    with pytest.raises(ValueError, match=r"base_K must be an integer >= 2.*base_K=1"):
        mup_ratio(4, 1)


def test_data_and_executor_checks_raise_config_errors():
    from mufno_lite.sweep.executors.pool import LocalPoolExecutor
    from mufno_lite.sweep.executors.ray import RayExecutor
    from mufno_lite.validation import ConfigError, positive

    with pytest.raises(ConfigError, match="nu must be a positive finite number; got nu=-1") as e:
        positive("nu", -1)
    assert e.value.key == "nu"
    with pytest.raises(ConfigError, match="threads must be a positive integer"):
        LocalPoolExecutor(workers=1, threads=0)
    with pytest.raises(ConfigError, match="max_retries must be an integer >= 0; got max_retries=-1"):
        RayExecutor(max_retries=-1)


# ------------------------------------------------------------------------------------------------
# one definition per concept
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [8, 9, 16, 32, 33])
def test_largest_K_data_check_and_model_limit(n):
    """check_resolution_for_modes takes max_modes(n, last_axis=False) on spatial axes (it leaves the
    Nyquist mode out), max_modes(n_t, last_axis=True) on the time axis; the model allows one more
    mode on its rFFT axis, and the sweep checks against the model's limit."""
    from mufno_lite.data import check_resolution_for_modes
    from mufno_lite.fno import max_modes

    k = max_modes(n, last_axis=False)
    check_resolution_for_modes("burgers", n, k)
    with pytest.raises(ValueError, match=f"modes must be an integer <= {k} .*for resolution={n}"):
        check_resolution_for_modes("burgers", n, k + 1)
    assert max_modes(n, last_axis=True) == k + 1
    check_resolution_for_modes("navier_stokes", 64, (8, 8, max_modes(n, last_axis=True)), n_t=n)
    with pytest.raises(ValueError, match="time axis"):
        check_resolution_for_modes("navier_stokes", 64, (8, 8, max_modes(n, last_axis=True) + 1), n_t=n)
    if n >= 5:  # the sweep's 1-D limit is the model's rFFT-axis limit
        d = dict(CFG, data=dict(CFG["data"], resolution=n), K=[max_modes(n, last_axis=True)])
        SweepConfig.from_dict(d)


@pytest.mark.parametrize("n", [8, 9, 16, 32, 33])
def test_why_the_data_limit_leaves_out_one_rfft_mode(n):
    """The one mode the model's rFFT axis allows beyond the data check: on an even grid it is the
    Nyquist frequency, whose sine vanishes on the samples (so data cannot exercise it fully); on an
    odd grid it is fully resolved, and the data check is conservative there on purpose: it equals
    the model's non-rFFT limit, so data that pass it fit the model on every axis."""
    import numpy as np

    from mufno_lite.fno import max_modes

    extra = max_modes(n, last_axis=True) - 1  # the frequency of the extra mode
    assert extra == n // 2
    x = np.arange(n) / n
    sine = np.sin(2 * np.pi * extra * x)
    if n % 2 == 0:
        assert np.allclose(sine, 0.0)  # Nyquist: only its cosine survives sampling
    else:
        coef = np.fft.rfft(sine)
        assert abs(coef[extra].imag) == pytest.approx(n / 2)  # fully resolved: no aliasing on odd grids
    for d in (2, 3):  # the data limit is the model's limit on an n^d grid (its non-rFFT axes bind)
        assert max_modes(n, last_axis=False) == min(max_modes(n, last_axis=(ax == d - 1)) for ax in range(d))


def test_one_resolve_device(monkeypatch):
    from mufno_lite import device, session

    assert session.resolve_device is device.resolve_device is sweep.resolve_device
    assert device.resolve_device(None) == "cpu" and device.resolve_device("CPU") == "cpu"
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert device.resolve_device("auto") == "cpu"
    with pytest.raises(ValueError, match="CUDA is not available"):
        device.resolve_device("cuda:0")
    with pytest.raises(ValueError, match="device must be one of"):
        device.resolve_device("tpu")


def test_one_repo_root_and_store_default(monkeypatch, tmp_path):
    from pathlib import Path

    from mufno_lite import figures, paths, reproduce, session, store

    root = paths.repo_root()
    assert root == Path(__file__).resolve().parent.parent
    assert figures._repo_root() == reproduce._repo_root() == root
    monkeypatch.delenv("MUFNO_RESULTS", raising=False)
    assert session.default_results_store() == root / "results" / "results.sqlite"
    assert store.resolve_store_path() == Path("results/results.sqlite")
    monkeypatch.setenv("MUFNO_RESULTS", str(tmp_path / "x.sqlite"))
    assert session.default_results_store() == store.resolve_store_path() == tmp_path / "x.sqlite"


def test_one_progress_rule(monkeypatch):
    from mufno_lite.progress import progress_enabled

    assert progress_enabled(True) and not progress_enabled(False)
    monkeypatch.setenv("CI", "1")
    assert not progress_enabled()


def test_one_canonical_json():
    from mufno_lite.canonical import canonical_json
    from mufno_lite.data.cache import _canonical
    from mufno_lite.store.rows import _json_text

    obj = {"b": [1, 2.5], "a": {"μ": None}}
    assert canonical_json(obj) == _canonical(obj) == '{"a":{"\\u03bc":null},"b":[1,2.5]}'
    assert _json_text(obj) == canonical_json(obj)


def test_sweep_results_keeps_only_this_configs_runs(tmp_path):
    from _ray_helpers import refusing_trainer

    from mufno_lite.sweep import sweep_results

    st = tmp_path / "r.sqlite"
    old = SweepConfig.from_dict(dict(CFG, lr=[1e-1]))
    extended = SweepConfig.from_dict(dict(CFG, lr=[1e-3, 1e-2, 1e-1]))  # a name lists more runs only when extended
    new = SweepConfig.from_dict(CFG)
    for c, how in ((old, "refuse"), (extended, "extend")):
        run_sweep(c, st, trainer=refusing_trainer, verbose=False, progress=False, handle_signals=False, if_changed=how)
    assert len(load_results(st, sweep="pkg_test")) == 3
    df = sweep_results(new, st)
    assert sorted(df["run_id"]) == sorted(r.run_id for r in new.expand())


def test_figures_all_lists_every_public_function():
    import inspect

    from mufno_lite import figures

    public = {n for n, f in vars(figures).items()
              if inspect.isfunction(f) and not n.startswith("_") and f.__module__ == figures.__name__}
    assert public == set(figures.__all__)
