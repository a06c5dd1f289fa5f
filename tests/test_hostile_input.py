"""Issue 13, part A: hostile config, API and data input, refused by name before anything runs.

One test (or one parametrized case) per defect class; each failed on main before the fix.  The
fuzz suites (``test_fuzz_config.py``, ``test_fuzz_api.py``) keep the classes fixed at random.
"""
import copy
import math
import time

import numpy as np
import pytest
import torch

from mufno_lite import experiments
from mufno_lite.sweep import SweepConfig
from mufno_lite.validation import ConfigError


def _smoke(name="burgers_lr"):
    return experiments.experiment_config(name, "smoke")


def _refused(cfg, key, seconds=5.0):
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as e:
        SweepConfig.from_dict(cfg)
    assert time.perf_counter() - t0 < seconds
    msg = str(e.value)
    assert key in msg and "\n" not in msg and len(msg) < 600, msg
    return msg


# ---- 1. config errors that passed validation and failed at run time --------------------------------

@pytest.mark.parametrize("params, key", [
    ({"nu": -1}, "data.params.nu"), ({"nu": "x"}, "data.params.nu"), ({"nu": math.nan}, "data.params.nu"),
    ({"viscosity": 0.1}, "data.params.viscosity"), ({"ic_zero_mean": 1}, "data.params.ic_zero_mean"),
    ({"solve_resolution": 100}, "data.params.solve_resolution"), ({"ic_sigma": 1e4}, "data.params.ic_sigma"),
])
def test_bad_data_params_are_refused_at_config_time(params, key):
    cfg = _smoke()
    cfg["data"]["params"] = dict(cfg["data"].get("params") or {}, **params)
    _refused(cfg, key)


def test_data_params_use_the_same_checks_as_load_dataset():
    from mufno_lite.data import make_config
    from mufno_lite.data.params import PARAMS

    assert set(PARAMS) == {"burgers", "darcy", "navier_stokes"}
    with pytest.raises(ConfigError) as run_time:
        make_config("darcy", 16, f=math.nan)
    cfg = _smoke("darcy_lr")
    cfg["data"]["params"] = {"f": math.nan}
    assert run_time.value.key == "f" and "data.params.f" in _refused(cfg, "data.params.f")


@pytest.mark.parametrize("res", [4, 5, 7])
def test_resolution_below_the_generators_minimum_is_refused(res):
    cfg = _smoke()
    cfg["data"]["resolution"], cfg["K"] = res, [2]
    _refused(cfg, "data.resolution")


def test_unknown_pde_needs_a_dataset_factory():
    cfg = _smoke()
    cfg["pde"], cfg["model"] = "heat", dict(cfg.get("model") or {}, d=1)
    _refused(cfg, "pde")


def test_pino_weight_only_for_darcy():
    cfg = _smoke()
    cfg["train"] = dict(cfg.get("train") or {}, pino_weight=0.1)
    _refused(cfg, "train.pino_weight")
    ok = _smoke("darcy_lr")
    ok["train"] = dict(ok.get("train") or {}, pino_weight=0.1)
    SweepConfig.from_dict(ok)


def test_K_beyond_the_navier_stokes_time_axis_is_refused():
    cfg = _smoke("navier_stokes_lr")
    n_t = cfg["data"]["params"]["n_t"]
    cfg["K"] = [n_t // 2 + 2]
    assert "n_t" in _refused(cfg, "K[0]")


@pytest.mark.parametrize("spec", ["no_such_module_13a:f", "mufno_lite.validation:no_such_function",
                                  "mufno_lite.validation:MAX_VALUE_CHARS"])
def test_dataset_factory_is_imported_and_must_be_callable(spec):
    cfg = _smoke()
    cfg["dataset_factory"] = spec
    _refused(cfg, "dataset_factory")


# ---- 2. YAML and huge values ------------------------------------------------------------------------

def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_yaml_alias_bomb_fails_fast(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    lines += ["name: bomb", "pde: burgers", "description: *a9",
              "data: {resolution: 32, n_train: 4, n_test: 2, params: {nu: *a9}}", "K: [2]", "lr: *a9"]
    p = _write(tmp_path, "bomb.yaml", "\n".join(lines) + "\n")
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="bomb.yaml.*more than"):
        SweepConfig.from_file(p)
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize("name, text, word", [
    ("dup.yaml", "name: a\nname: b\n", "duplicate key 'name'"),
    ("dup.json", '{"name": "a", "name": "b"}', "duplicate key 'name'"),
    ("tag.yaml", "name: !!python/object/apply:os.system ['echo hi']\n", "python/object"),
    ("garbage.yaml", "name: [unclosed\n  : : :\n", "line 2"),
    ("rec.yaml", "a: &a [*a]\n", "contains itself"),
    ("list.yaml", "- 1\n- 2\n", "not a mapping"),
    ("bad.json", '{"name": ', "line 1"),
])
def test_bad_config_files_give_one_line_naming_the_file(tmp_path, name, text, word):
    p = _write(tmp_path, name, text)
    with pytest.raises(ConfigError) as e:
        SweepConfig.from_file(p)
    msg = str(e.value)
    assert name in msg and word in msg and "\n" not in msg, msg


def _set(cfg, path, value):
    *head, last = path.split(".")
    node = cfg
    for k in head:
        if not isinstance(node.get(k), dict):
            node[k] = {}
        node = node[k]
    node[last] = value


def _dag(levels=6, width=10):
    a = [1.0] * width
    for _ in range(levels):
        a = [a] * width
    return a


@pytest.mark.parametrize("where", ["description", "lr", "name", "data.params.nu", "data.params.x", "K",
                                   "train.schedule", "model.width"])
def test_huge_values_are_refused_quickly_with_a_short_message(where):
    cfg = _smoke()
    _set(cfg, where, _dag())
    msg = _refused(cfg, where.split(".")[0], seconds=2.0)
    assert len(msg) < 400


def test_self_referential_params_are_refused():
    cfg = _smoke()
    loop = []
    loop.append(loop)
    cfg["data"]["params"] = {"x": loop}
    _refused(cfg, "data.params")


def test_short_is_bounded():
    from mufno_lite.validation import short

    a = []
    a.append(a)
    for v in (_dag(7), "x" * 10 ** 6, 2 ** 100000, a, {"k" * 1000: 1}):
        t0 = time.perf_counter()
        s = short(v)
        assert len(s) <= 80 and "\n" not in s and time.perf_counter() - t0 < 0.5


# ---- 3. NaN / inf data ------------------------------------------------------------------------------

@pytest.mark.parametrize("f", [math.nan, math.inf, -math.inf])
def test_load_dataset_refuses_a_non_finite_source(f):
    from mufno_lite.data import load_dataset

    with pytest.raises(ConfigError, match="f="):
        load_dataset("darcy", resolution=8, n_train=2, n_test=2, cache_dir=False, f=f)


def test_generated_data_are_checked_finite_before_caching(tmp_path, monkeypatch):
    from mufno_lite.data import dataset, load_dataset

    real = dataset._CHUNK["darcy"]

    def poisoned(*args, **kwargs):
        x, y = real(*args, **kwargs)
        y = y.clone()
        y.view(-1)[0] = float("nan")
        return x, y

    monkeypatch.setitem(dataset._CHUNK, "darcy", poisoned)
    with pytest.raises(ConfigError, match="darcy data are not finite"):
        load_dataset("darcy", resolution=8, n_train=2, n_test=2, cache_dir=tmp_path)
    assert not any(tmp_path.rglob("*.npz")) and not any(p.is_file() for p in tmp_path.rglob("*"))


def test_burgers_unstable_step_is_refused_by_the_maximum_principle():
    from mufno_lite.data.burgers import solve_burgers

    x = torch.linspace(0, 1, 257)[:-1].double()
    u0 = (2.0 * torch.sin(2 * math.pi * x) + 0.5 * torch.cos(6 * math.pi * x))[None]
    ok = solve_burgers(u0, nu=0.1, t_final=0.5)
    assert ok.abs().max() <= u0.abs().max()
    with pytest.raises(ConfigError, match="maximum principle.*smaller dt_max or cfl"):
        solve_burgers(u0, nu=1e-3, t_final=1.0, n_steps=2)


def test_nan_in_test_inputs_is_refused_not_reported_done():
    from mufno_lite.data import load_dataset
    from mufno_lite.fno import FNOConfig
    from mufno_lite.train import Member, TrainConfig, train_population

    ds = load_dataset("burgers", resolution=16, n_train=4, n_test=2, cache_dir=False)
    ds.x_test[0, 0, 3] = float("nan")
    with pytest.raises(ValueError, match="x_test.*NaN"):
        train_population(FNOConfig(d=1, K=2, width=4, n_layers=1, projection_width=4), "sp", ds,
                         [Member(lr=1e-3)], TrainConfig(steps=1, batch_size=2))


# ---- 4. upper bounds ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path, value", [
    ("model.n_layers", 10 ** 6), ("model.width", 10 ** 6), ("data.resolution", 10 ** 9),
    ("data.n_train", 10 ** 9), ("seeds", [2 ** 70]), ("data.seed", 2 ** 70), ("train.data_seed", 2 ** 64),
    ("train.steps", 10 ** 12), ("lr", {"start": -1e308, "stop": 0.0, "per_decade": 8}),
    ("lr", [1e-3 * (1 + i) for i in range(20_000)]), ("max_population_size", 10 ** 12),
])
def test_impossible_sizes_are_refused_before_anything_runs(path, value):
    cfg = _smoke()
    _set(cfg, path, value)
    _refused(cfg, path.split(".")[0] if path in ("seeds", "lr") else path)


def test_memory_estimate_refuses_a_model_that_cannot_fit():
    cfg = _smoke()
    cfg["data"]["resolution"], cfg["K"] = 1 << 16, [1 << 15]
    cfg["model"] = dict(cfg.get("model") or {}, width=4096, n_layers=64)
    assert "GiB" in _refused(cfg, "model.width")


def test_a_grid_of_too_many_runs_is_refused():
    cfg = _smoke()
    cfg["seeds"] = list(range(5000))
    cfg["lr"] = [1e-3 * (1 + i) for i in range(100)]
    _refused(cfg, "runs", seconds=10.0)


# ---- 5. API -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, key", [
    (dict(seed=1.5), "seed"), (dict(seed="0"), "seed"), (dict(seed=2 ** 70), "seed"), (dict(d=2.0), "d"),
    (dict(d=True), "d"), (dict(init_scale=math.nan), "init_scale"), (dict(width=2.0), "width"),
])
def test_fno_arguments_are_checked_by_name(kwargs, key):
    from mufno_lite.fno import FNO

    with pytest.raises(ConfigError) as e:
        FNO(**{"K": 2, "width": 4, "n_layers": 1, "projection_width": 4, **kwargs})
    assert e.value.key == key and f"{key}=" in str(e.value)


def test_float_K_is_kept_as_int():
    from mufno_lite.fno import FNO, FNOConfig

    assert type(FNOConfig(K=4.0).K) is int and type(FNO(K=np.int64(3), width=4).config.K) is int


@pytest.mark.parametrize("value", [math.nan, -1.0, 0.0, math.inf, "1e-3"])
def test_transfer_refuses_bad_values(value):
    from mufno_lite.parametrization import transfer

    with pytest.raises(ConfigError, match=r"hparams\['lr'\]"):
        transfer({"lr": value}, 3, 8)
    assert transfer({"lr": 1e-3, "batch_size": 20}, 3, 3) == {"lr": 1e-3, "batch_size": 20}


@pytest.mark.parametrize("kwargs, key", [
    (dict(weight_decay=math.inf), "weight_decay"), (dict(eps=0.0), "eps"), (dict(eps=math.nan), "eps"),
    (dict(lr="1e-3"), "lr"), (dict(lr=math.inf), "lr"), (dict(betas=(0.9,)), "betas"),
    (dict(betas=(0.9, 0.99, 0.999)), "betas"), (dict(betas=(0.9, math.nan)), "beta2"), (dict(betas="ab"), "betas"),
])
def test_make_optimizer_checks_its_arguments_by_name(kwargs, key):
    from mufno_lite.fno import FNO
    from mufno_lite.parametrization import make_optimizer

    model = FNO(K=2, width=4, n_layers=1, projection_width=4)
    with pytest.raises(ConfigError) as e:
        make_optimizer(model, **{"lr": 1e-3, **kwargs})
    assert e.value.key == key


@pytest.mark.parametrize("filters, key", [
    (dict(K="abc"), "K"), (dict(status="DONE"), "status"), (dict(status=["done", "ok"]), "status"),
    (dict(lr="x"), "lr"), (dict(pde=1), "pde"), (dict(seed=2 ** 70), "seed"), (dict(K=True), "K"),
])
def test_load_results_refuses_wrong_filters_by_name(tmp_path, filters, key):
    from mufno_lite.store import load_results

    path = tmp_path / "never" / "made.sqlite"
    with pytest.raises(ConfigError) as e:
        load_results(path, **filters)
    assert e.value.key == key and not (tmp_path / "never").exists()
