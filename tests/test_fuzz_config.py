"""Fuzzing sweep configs (issue 13): random hostile mutations of the smoke presets' configs.

The property, for every mutated config: either ``SweepConfig.from_dict`` refuses it quickly with a
``ValueError`` (a ``ConfigError``) whose one-line, short message names a key, or the config is
valid, its expansion (what ``--dry-run`` does) succeeds quickly, and what the run will check later
passes now: the data parameters (``make_config``), the model on the data's grid, the seeds as
SQLite integers, the dataset factory, the PINO residual's PDE and sizes that can be allocated.  A
small sample of the valid ones also trains one step (``run_sweep``) and must not record a failed row.

Derandomized (the same examples on every run, CI included).  With ``MUFNO_FUZZ_LOG=<file>`` the
suite records one JSON line per example (its class and any defect) instead of failing, which is
how the attempt/defect table of issue 13 is counted (against main and against the fix).
"""
from __future__ import annotations

import copy
import json
import math
import os
import sqlite3
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from mufno_lite import experiments
from mufno_lite.sweep import SweepConfig

BASES = {name: experiments.experiment_config(name, "smoke")
         for name in ("burgers_lr", "darcy_lr", "navier_stokes_lr")}
SETTINGS = settings(max_examples=int(os.environ.get("MUFNO_FUZZ_EXAMPLES", "100")), deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck), database=None)
LOG = os.environ.get("MUFNO_FUZZ_LOG")

#: where mutations land, by class (the classes of issue 13's table)
PATHS = {
    "data_params": ["data.params.nu", "data.params.ic_sigma", "data.params.f", "data.params.n_t", "data.params.cfl",
                    "data.params.dt_max", "data.params.solve_resolution", "data.params.forcing",
                    "data.params.chunk_size", "data.params.bogus", "data.params.a_plus", "data.params.t_final"],
    "pde_model": ["pde", "model.d", "data.resolution", "K", "train.pino_weight", "dataset_factory", "model.padding"],
    "sizes": ["model.width", "model.n_layers", "model.projection_width", "data.resolution", "data.n_train",
              "data.n_test", "seeds", "data.seed", "train.data_seed", "train.steps", "lr", "K", "batch_sizes",
              "max_population_size", "init_scales"],
    "types": ["name", "description", "lr", "train.betas", "train.eps", "train.weight_decay", "train.clip",
              "train.schedule", "beta2s", "init_scales", "device", "parametrizations", "base_K", "cache_dir",
              "train.optimizer", "model.grid", "unknown_top", "train.unknown", "model.unknown", "data.unknown"],
}


def _dag(levels, width):
    a = [1.0] * width
    for _ in range(levels):
        a = [a] * width
    return a


def _loop():
    a = []
    a.append({"x": a})
    return a


hostile_scalars = st.one_of(
    st.sampled_from([0, -1, 1, 3, 4, 7, 2, 8, 10 ** 9, 2 ** 63, 2 ** 70, -2 ** 70, 10 ** 30, True, False, None,
                     math.nan, math.inf, -math.inf, 1e308, -0.0, 0.5, 1.5, 1e-12, 1e4, 1e6, "", "x", "1e-3", "nan",
                     "burgers", "heat", "mup", "no.such.module:f", "mufno_lite.validation:short",
                     "mufno_lite.validation:MAX_VALUE_CHARS", "a" * 5000]),
    st.integers(min_value=-10 ** 20, max_value=10 ** 20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
hostile_values = st.one_of(
    hostile_scalars,
    st.lists(hostile_scalars, max_size=4),
    st.dictionaries(st.text(max_size=5), hostile_scalars, max_size=3),
    st.builds(_dag, st.integers(1, 5), st.integers(2, 10)),
    st.just("loop"),
)


def _set(cfg: dict, path: str, value) -> None:
    *head, last = path.split(".")
    node = cfg
    for k in head:
        if not isinstance(node.get(k), dict):
            node[k] = {}
        node = node[k]
    node[last] = _loop() if value == "loop" else value


def _record(cls: str, defect: str | None, detail: str = "", accepted: bool | None = None) -> None:
    if LOG:
        with open(LOG, "a") as f:
            f.write(json.dumps({"suite": "config", "class": cls, "defect": defect, "detail": detail[:200],
                                "accepted": accepted}) + "\n")
    else:
        assert defect is None, f"{cls}: {defect}: {detail[:500]}"


def _names_a_key(msg: str, paths) -> bool:
    keys = {p.split(".")[-1] for p in paths} | {p.split(".")[0] for p in paths}
    return any(k in msg for k in keys) or "=" in msg or "key" in msg


def _runtime_problem(cfg: SweepConfig) -> str | None:
    """What a run would hit later (the run-time checks of main), or None."""
    from mufno_lite.data import make_config
    from mufno_lite.fno import FNOConfig, count_parameters
    from mufno_lite.fno.spectral import _check_grid

    if cfg.dataset_factory is not None:
        from mufno_lite.data.memo import _import_factory
        try:
            if not callable(_import_factory(cfg.dataset_factory)):
                return "dataset_factory is not callable"
        except Exception as e:
            return f"dataset_factory: {e}"
        n_t = None
    else:
        try:
            full = make_config(cfg.pde, cfg.data["resolution"], **cfg.data["params"])
        except Exception as e:
            return f"make_config: {type(e).__name__}: {e}"
        n_t = full.get("n_t") if cfg.pde == "navier_stokes" else None
    if cfg.train.get("pino_weight") and cfg.pde != "darcy":
        return "pino_weight on a PDE other than darcy"
    d = cfg.model["d"]
    s = cfg.data["resolution"]
    spatial = [s] * d if n_t is None else [s, s, n_t]
    pads = cfg.model["padding"] if isinstance(cfg.model["padding"], list) else [cfg.model["padding"]] * d
    for K in cfg.K:
        try:
            fc = FNOConfig(K=K, **{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.model.items()})
            _check_grid(K, [n + p for n, p in zip(spatial, pads)])
        except Exception as e:
            return f"model at K={K}: {e}"
        n = count_parameters(fc)
        if 16 * (2 * n["spectral"] + n["other"]) > 1 << 40:
            return f"a model of {n['total']} parameters (over 1 TiB in training)"
    if math.prod(spatial) * (cfg.data["n_train"] + cfg.data["n_test"]) > 1 << 36:
        return "a data set over 2**36 values"
    if cfg.train["steps"] > 10 ** 7:
        return f"train.steps={cfg.train['steps']} (the loss log alone is too large)"
    con = sqlite3.connect(":memory:")
    try:
        con.execute("CREATE TABLE t (a INTEGER)")
        for v in list(cfg.seeds) + [cfg.data["seed"], cfg.train.get("data_seed", 0)]:
            con.execute("INSERT INTO t VALUES (?)", (v,))
    except OverflowError as e:
        return f"seed does not fit SQLite: {e}"
    finally:
        con.close()
    if cfg.n_runs > 10 ** 6:
        return f"{cfg.n_runs} runs"
    return None


def check_config(cls: str, raw: dict, paths) -> tuple[str | None, str, SweepConfig | None]:
    t0 = time.perf_counter()
    try:
        cfg = SweepConfig.from_dict(raw)
    except ValueError as e:
        dt = time.perf_counter() - t0
        msg = str(e)
        if dt > 3.0:
            return "slow refusal", f"{dt:.1f} s", None
        if "\n" in msg or len(msg) > 1000:
            return "message not one short line", f"{len(msg)} chars", None
        if not _names_a_key(msg, paths):
            return "message names no key", msg, None
        return None, "", None
    except Exception as e:  # MemoryError, RecursionError, OverflowError, TypeError, ...
        return "crash in validation", f"{type(e).__name__}: {str(e)[:300]}", None
    if time.perf_counter() - t0 > 3.0:
        return "slow validation", "", None
    if cfg.n_runs <= 200_000:
        t1 = time.perf_counter()
        try:
            cfg.expand()
        except Exception as e:
            return "expansion failed", f"{type(e).__name__}: {e}", None
        if time.perf_counter() - t1 > 5.0:
            return "dry-run too slow", f"{cfg.n_runs} runs", None
    else:
        return "dry-run would hang", f"{cfg.n_runs} runs", None
    problem = _runtime_problem(cfg)
    if problem:
        return "accepted, fails at run time", problem, None
    return None, "", cfg


@st.composite
def mutated(draw, classes):
    base = draw(st.sampled_from(sorted(BASES)))
    cfg = copy.deepcopy(BASES[base])
    cls = draw(st.sampled_from(classes))
    paths = draw(st.lists(st.sampled_from(PATHS[cls]), min_size=1, max_size=2, unique=True))
    for p in paths:
        _set(cfg, p, draw(hostile_values))
    return cls, cfg, paths


@SETTINGS
@given(case=mutated(["data_params", "pde_model"]))
def test_fuzz_data_and_pde(case):
    cls, cfg, paths = case
    defect, detail, ok = check_config(cls, cfg, paths)
    _record(cls, defect, detail, ok is not None)


@SETTINGS
@given(case=mutated(["sizes"]))
def test_fuzz_sizes(case):
    cls, cfg, paths = case
    defect, detail, ok = check_config(cls, cfg, paths)
    _record(cls, defect, detail, ok is not None)


@SETTINGS
@given(case=mutated(["types"]))
def test_fuzz_types_and_garbage(case):
    cls, cfg, paths = case
    defect, detail, ok = check_config(cls, cfg, paths)
    _record(cls, defect, detail, ok is not None)


# ---- valid configs run: a small sample trains one step ----------------------------------------

VALID_PARAMS = {
    "burgers_lr": [("nu", 0.05), ("nu", 1e-3), ("ic_sigma", 10.0), ("cfl", 0.5), ("ic_zero_mean", False)],
    "darcy_lr": [("f", 2.0), ("f", -1.0), ("psi_tau", 5.0), ("a_minus", 1.0)],
    "navier_stokes_lr": [("n_t", 6), ("forcing", "fno"), ("cfl", 0.25)],
}


@st.composite
def small_changes(draw):
    base = draw(st.sampled_from(sorted(BASES)))
    return {"base": base, "param": draw(st.sampled_from(VALID_PARAMS[base])), "K": draw(st.integers(2, 3)),
            "seed": draw(st.sampled_from([0, 7, 2 ** 63 - 1]))}


@settings(max_examples=int(os.environ.get("MUFNO_FUZZ_RUNS", "4")), deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck), database=None)
@given(change=small_changes())
def test_fuzz_valid_configs_train_one_step(change, tmp_path_factory):
    from mufno_lite.store import load_results, ResultsStore
    from mufno_lite.sweep import run_sweep

    cfg = copy.deepcopy(BASES[change["base"]])
    k, v = change["param"]
    cfg["data"]["params"] = dict(cfg["data"].get("params") or {}, **{k: v})
    cfg.update(K=[change["K"]], seeds=[change["seed"]], lr=[1e-3], name="fuzz_one_step")
    cfg["train"] = dict(cfg.get("train") or {}, steps=1)
    cfg["data"].update(n_train=4, n_test=2)
    cfg["batch_sizes"] = [2]
    cfg["parametrizations"] = ["mup"]
    defect, detail, sweep = check_config("valid_run", cfg, ["data.params." + k, "K", "seeds"])
    if defect is None and sweep is not None:
        path = tmp_path_factory.mktemp("fuzz") / "s.sqlite"
        try:
            run_sweep(sweep, ResultsStore(path), verbose=False, handle_signals=False)
            df = load_results(path)
            bad = df[(df.status == "failed") | ((df.status == "done") & df.test_rel_l2.isna())]
            if len(df) == 0:
                defect, detail = "run stored nothing", ""
            elif len(bad):
                defect, detail = "accepted, failed at run time", str(bad.iloc[0].get("error"))[-300:]
        except ValueError:
            pass  # refused by name at run time (allowed: the config check could not know)
        except Exception as e:
            defect, detail = "run crashed", f"{type(e).__name__}: {e}"
    _record("valid_run", defect, detail, sweep is not None)


@pytest.mark.parametrize("levels", [3, 5])
def test_alias_bomb_shaped_values_everywhere(levels):
    """Shared nested lists (what a YAML alias bomb builds) in every key: refused fast."""
    bomb = _dag(levels, 10)
    for path in sorted({p for ps in PATHS.values() for p in ps}):
        cfg = copy.deepcopy(BASES["burgers_lr"])
        _set(cfg, path, bomb)
        defect, detail, _ = check_config("huge_values", cfg, [path])
        _record("huge_values", defect, f"{path}: {detail}")
