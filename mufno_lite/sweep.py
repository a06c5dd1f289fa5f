"""Sweeps: declarative grids of training runs, their stable ids, populations, executors, resuming.

A sweep is a grid over parametrizations × K × batch size (one *population* per combination) and
learning rate × seed × β₂ × init scale (the *members* of a population, trained in lockstep by
:func:`mufno_lite.train.train_population`).  Results go into a :class:`mufno_lite.store.ResultsStore`.

Configuration (YAML, JSON or a dict; see ``configs/burgers_smoke.yaml``)
-------------------------------------------------------------------------
::

    name: burgers_smoke            # required
    pde: burgers                   # required; d follows from it (burgers 1, darcy 2, navier_stokes 3)
    data: {resolution: 32, n_train: 40, n_test: 10, seed: 0, params: {nu: 0.1}}
    model: {width: 8, n_layers: 2, projection_width: 16, padding: 0}   # FNOConfig fields but K
    parametrizations: [sp, mup]    # or {kind: mup, base_K: 3}; plain strings use `base_K`
    base_K: 3
    K: [2, 3, 4]
    lr: {start: -3.25, stop: -1.875, per_decade: 8}    # 10^(start + k/8), k = 0, 1, … (stop included)
                                                       # or an explicit list [1e-3, 3e-3]
    seeds: [0, 1]
    batch_sizes: [20]
    beta2s: [0.999]                # default: train.betas[1]
    init_scales: [1.0]
    train: {steps: 400, schedule: cosine, clip: null, ...}   # TrainConfig fields but lr, batch_size
    max_population_size: 64
    device: cpu                    # cpu | cuda | auto
    dataset_factory: null          # optional "module:function" with load_dataset's signature
    cache_dir: null                # optional data cache folder (not part of a run's identity)

Everything is validated before anything runs: an unknown key, a wrong type or an out-of-range
value raises ``ValueError`` naming the key path (``train.steps``), the value and what is allowed.

Run identity
------------
A run's config is the canonical dict ``{schema, pde, data, model (the full FNOConfig incl. K),
parametrization {kind, base_K}, train (the full TrainConfig with this run's lr, batch_size and
betas = (β₁, β₂)), seed, init_scale}`` (plus ``dataset_factory`` when one is named); its id is the
sha256 of that dict's canonical JSON (sorted keys, no spaces).  So the same run in two sweeps
has the same id, and the store holds it once.  Decisions: learning rates are rounded to 12
significant digits (so 10^(−3.25 + k/8) gives one id whatever float noise); SP runs carry
``base_K = None`` (SP does not depend on it); the device, the cache folder and the population a
run was trained in are *not* part of its identity.  Adding a field to TrainConfig changes every id.

Populations and tasks
---------------------
Runs that share everything but (lr, seed, β₂, init_scale) form a population, chunked to
``max_population_size``.  A population *task* is a plain, picklable dict (see
:func:`population_tasks`); :func:`run_population_task` (top level, so it can be shipped to other
processes) trains one and returns one row dict per run, ready for
:meth:`ResultsStore.write_rows`.  A task that raises (anything but ``TrainingInterrupted``,
``KeyboardInterrupt``, ``SystemExit``) gives ``failed`` rows carrying the traceback; the sweep goes on.

Executors
---------
An executor is any object with::

    map_populations(tasks, on_result, *, context) -> None

It must run every task in ``tasks`` (a list of task dicts) — by calling
``run_population_task(task, dataset_factory=context.dataset_factory, trainer=context.trainer,
progress=…, should_stop=context.should_stop)`` in this or another process — and call
``on_result(task, rows)`` *in the calling process* as each finishes (in any order; the sweep
writes the rows to the store there, one transaction per population).  It must check
``context.should_stop()`` between tasks and return early once it is true, and let
``TrainingInterrupted`` (raised by the trainer when ``should_stop`` became true inside a task)
propagate after cancelling outstanding work.  ``context.step_progress(task)`` gives an optional
per-step progress callback for in-process execution (``None`` is fine elsewhere).
:class:`InProcessExecutor` is the default and the reference; a Ray executor would submit
``run_population_task`` remotely (a dataset factory that is a module-level function ships by
name), ``ray.wait`` on the futures and call ``on_result`` as they return.

Resuming and signals
--------------------
:func:`run_sweep` skips runs stored as done or diverged and retries failed ones.  SIGINT/SIGTERM
set a stop flag: the trainer finishes its current step and raises ``TrainingInterrupted``; the
population in flight is dropped (completed ones are already committed), a message says how to
resume, and the returned :class:`SweepReport` has ``status='interrupted'`` and ``exit_code`` 130
(SIGINT) or 143 (SIGTERM).  A second Ctrl-C raises ``KeyboardInterrupt`` at once.  A killed
process loses at most the population in flight.  Datasets are loaded once per (pde, data config,
device) per process and shared by the populations.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import importlib
import json
import math
import os
import signal
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from .fno import FNOConfig, max_modes
from .parametrization import Parametrization
from .store import ResultsStore, utc_now

__all__ = [
    "SCHEMA_VERSION",
    "PDE_DIMS",
    "SweepConfig",
    "RunSpec",
    "run_id_of",
    "lr_grid",
    "population_tasks",
    "run_population_task",
    "ExecutionContext",
    "InProcessExecutor",
    "SweepReport",
    "run_sweep",
    "sweep_status",
    "resolve_device",
    "load_dataset_cached",
    "clear_dataset_cache",
]

SCHEMA_VERSION = 2  # 2: spectral weights drawn on their own streams (common random numbers across K)
PDE_DIMS = {"burgers": 1, "darcy": 2, "navier_stokes": 3}
PARAM_KINDS = ("sp", "mup")
DEVICES = ("cpu", "cuda", "auto")

# TrainConfig defaults as the train module's spec states them; used only if it cannot be imported.
_TRAIN_FALLBACK: dict[str, Any] = dict(
    steps=400, batch_size=20, optimizer="adam", lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
    schedule="cosine", warmup_steps=0, clip=None, normalize_x=True, normalize_y=False, pino_weight=0.0,
    data_seed=0, curve_points=50,
)
_GRID_OWNED = {"lr": "the top-level `lr` grid", "batch_size": "the top-level `batch_sizes` list"}


# =============================================================================================
# validation helpers
# =============================================================================================


def _bad(path: str, value, allowed: str) -> ValueError:
    return ValueError(f"invalid sweep config: {path}={value!r}; allowed: {allowed}")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _int(path, v, lo=None, hi=None) -> int:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    allowed = "an integer" + (f" >= {lo}" if lo is not None else "") + (f" and <= {hi}" if hi is not None else "")
    if not _is_int(v) or (lo is not None and v < lo) or (hi is not None and v > hi):
        raise _bad(path, v, allowed)
    return int(v)


def _num(path, v, *, lo=None, lo_open=False, hi=None, hi_open=False, allowed=None) -> float:
    if isinstance(v, str):
        try:  # YAML 1.1 reads "1e-3" as a string
            v = float(v)
        except ValueError:
            pass
    desc = allowed or (
        "a finite number"
        + (f" {'>' if lo_open else '>='} {lo}" if lo is not None else "")
        + (f" and {'<' if hi_open else '<='} {hi}" if hi is not None else "")
    )
    if not _is_num(v) or not math.isfinite(v):
        raise _bad(path, v, desc)
    v = float(v)
    if lo is not None and (v <= lo if lo_open else v < lo):
        raise _bad(path, v, desc)
    if hi is not None and (v >= hi if hi_open else v > hi):
        raise _bad(path, v, desc)
    return v


def _bool(path, v) -> bool:
    if not isinstance(v, bool):
        raise _bad(path, v, "true or false")
    return v


def _str(path, v, choices=None) -> str:
    if not isinstance(v, str) or not v or (choices is not None and v not in choices):
        raise _bad(path, v, f"one of {list(choices)}" if choices else "a non-empty string")
    return v


def _mapping(path, v) -> dict:
    if not isinstance(v, Mapping):
        raise _bad(path, v, "a mapping (key: value)")
    return dict(v)


def _check_keys(path: str, d: Mapping, allowed: Iterable[str]) -> None:
    allowed = list(allowed)
    for k in d:
        if k not in allowed:
            where = f"{path}.{k}" if path else str(k)
            raise ValueError(f"invalid sweep config: unknown key {where!r} (value {d[k]!r}); allowed keys: {allowed}")


def _list(path, v, item, *, scalar_ok=True) -> list:
    if scalar_ok and not isinstance(v, (list, tuple)):
        v = [v]
    if not isinstance(v, (list, tuple)):
        raise _bad(path, v, "a non-empty list")
    if len(v) == 0:
        raise _bad(path, v, "a non-empty list")
    out = [item(f"{path}[{i}]", x) for i, x in enumerate(v)]
    seen = []
    for x in out:
        if x in seen:
            raise _bad(path, list(v), f"a list without duplicates ({x!r} repeats)")
        seen.append(x)
    return out


def _canon_float(x: float) -> float:
    """Round to 12 significant digits so that equal grids give equal ids despite float noise."""
    return float(f"{float(x):.12g}")


def lr_grid(spec) -> list[float]:
    """Learning rates from an explicit list or an eighth-decades spec.

    ``{start: a, stop: b, per_decade: n}`` gives 10^(a + k/n) for k = 0, 1, … while a + k/n ≤ b
    (b included up to 1e-9), e.g. ``{start: -3.25, stop: -1.875, per_decade: 8}`` → 12 values.
    """
    return _lr_spec("lr", spec)


def _lr_spec(path, spec) -> list[float]:
    if isinstance(spec, Mapping):
        _check_keys(path, spec, ("start", "stop", "per_decade"))
        for k in ("start", "stop"):
            if k not in spec:
                raise _bad(f"{path}.{k}", None, "a number (log10 of a learning rate) — required")
        a = _num(f"{path}.start", spec["start"], hi=1.0)
        b = _num(f"{path}.stop", spec["stop"], hi=1.0)
        n = _int(f"{path}.per_decade", spec.get("per_decade", 8), lo=1, hi=1000)
        if b < a:
            raise _bad(f"{path}.stop", b, f"a number >= {path}.start={a}")
        count = int(math.floor((b - a) * n + 1e-9)) + 1
        if count > 10000:
            raise _bad(path, dict(spec), "a grid of at most 10000 learning rates")
        return [_canon_float(10.0 ** (a + k / n)) for k in range(count)]
    vals = _list(path, spec, lambda p, x: _num(p, x, lo=0.0, lo_open=True, allowed="a finite number > 0"))
    return [_canon_float(v) for v in vals]


def _train_config_class():
    try:
        from .train import TrainConfig  # noqa: WPS433
    except ImportError:
        return None
    return TrainConfig


def _train_fields() -> dict[str, Any]:
    cls = _train_config_class()
    if cls is None:
        return dict(_TRAIN_FALLBACK)
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            out[f.name] = f.default_factory()  # type: ignore[misc]
        else:
            out[f.name] = None
    return out


def _optional_train_fields() -> dict[str, Any]:
    try:
        from .train import OPTIONAL_TRAIN_FIELDS
    except ImportError:  # pragma: no cover
        return {}
    return dict(OPTIONAL_TRAIN_FIELDS)


def _validate_train(train: Mapping) -> dict:
    """Type-check the train section and return the full TrainConfig dict (defaults filled)."""
    defaults = _train_fields()
    allowed = [k for k in defaults if k not in _GRID_OWNED]
    for k, owner in _GRID_OWNED.items():
        if k in train:
            raise _bad(f"train.{k}", train[k], f"not set here; use {owner}")
    _check_keys("train", train, allowed)
    out = dict(defaults)
    checks: dict[str, Callable] = {
        "steps": lambda p, v: _int(p, v, lo=1),
        "warmup_steps": lambda p, v: _int(p, v, lo=0),
        "data_seed": lambda p, v: _int(p, v, lo=0),
        "curve_points": lambda p, v: _int(p, v, lo=2),
        "optimizer": lambda p, v: _str(p, v, ("adam", "adamw")),
        "schedule": lambda p, v: _str(p, v),
        "eps": lambda p, v: _num(p, v, lo=0.0, lo_open=True),
        "weight_decay": lambda p, v: _num(p, v, lo=0.0),
        "pino_weight": lambda p, v: _num(p, v, lo=0.0),
        "clip": lambda p, v: None if v is None else _num(p, v, lo=0.0, lo_open=True, allowed="null or a number > 0"),
        "normalize_x": _bool,
        "normalize_y": _bool,
        "betas": _betas,
        "lr_group": lambda p, v: _str(p, v, ("all", "spectral", "other")),
        "lr_fixed": lambda p, v: None if v is None else _canon_float(_num(p, v, lo=0.0, lo_open=True, allowed="null or a number > 0")),
    }
    for k, v in train.items():
        out[k] = checks[k](f"train.{k}", v) if k in checks else v
    if "betas" in out and out["betas"] is not None:
        out["betas"] = tuple(out["betas"])
    if out.get("warmup_steps") is not None and out.get("steps") is not None and out["warmup_steps"] > out["steps"]:
        raise _bad("train.warmup_steps", out["warmup_steps"], f"an integer <= train.steps={out['steps']}")
    # let TrainConfig itself judge values this module does not know (e.g. the schedule names)
    cls = _train_config_class()
    if cls is not None:
        probe = dict(out)
        try:
            cls(**probe)
        except (ValueError, TypeError) as e:
            msg = str(e)
            word = msg.split(" ", 1)[0]
            where = f"train.{word}" if word in out else "train"
            raise ValueError(f"invalid sweep config: {where}: {msg}") from None
    return out


def _betas(path, v) -> tuple[float, float]:
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise _bad(path, v, "a pair [beta1, beta2], each in [0, 1)")
    return (
        _num(f"{path}[0]", v[0], lo=0.0, hi=1.0, hi_open=True),
        _num(f"{path}[1]", v[1], lo=0.0, hi=1.0, hi_open=True),
    )


# =============================================================================================
# the sweep config
# =============================================================================================

_TOP_KEYS = (
    "name", "description", "pde", "data", "model", "parametrizations", "base_K", "K", "lr", "seeds",
    "batch_sizes", "beta2s", "init_scales", "train", "max_population_size", "device", "dataset_factory",
    "cache_dir",
)
_DATA_KEYS = ("resolution", "n_train", "n_test", "seed", "params")
_MODEL_KEYS = ("d", "width", "n_layers", "in_channels", "out_channels", "projection_width", "grid", "padding")


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: its id, its canonical config and the population it trains in."""

    run_id: str
    config: dict
    population_key: str

    @property
    def lr(self) -> float:
        return self.config["train"]["lr"]

    @property
    def seed(self) -> int:
        return self.config["seed"]

    @property
    def beta2(self) -> float:
        return self.config["train"]["betas"][1]

    @property
    def init_scale(self) -> float:
        return self.config["init_scale"]


def _canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def run_id_of(config: Mapping) -> str:
    """sha256 hex digest of a run config's canonical JSON."""
    return hashlib.sha256(_canonical_json(config).encode()).hexdigest()


def _jsonable(x):
    if isinstance(x, tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, list):
        return [_jsonable(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, float):
        return _canon_float(x)
    return x


@dataclass(frozen=True)
class SweepConfig:
    """A validated, normalised sweep (build with :meth:`from_dict` or :meth:`from_file`)."""

    name: str
    pde: str
    data: dict
    model: dict
    parametrizations: tuple
    K: tuple
    lrs: tuple
    seeds: tuple
    batch_sizes: tuple
    beta2s: tuple
    init_scales: tuple
    train: dict
    max_population_size: int = 64
    device: str = "cpu"
    dataset_factory: str | None = None
    cache_dir: str | None = None
    description: str = ""
    base_K: int = 3

    # ---- construction ------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, raw: Mapping) -> "SweepConfig":
        """Validate a plain dict (see the module docstring) and return a SweepConfig."""
        raw = _mapping("<config>", raw)
        _check_keys("", raw, _TOP_KEYS)
        for req in ("name", "pde", "data", "K", "lr"):
            if req not in raw:
                raise _bad(req, None, "a value (this key is required)")
        name = _str("name", raw["name"])
        pde = _str("pde", raw["pde"])

        data_raw = _mapping("data", raw["data"])
        _check_keys("data", data_raw, _DATA_KEYS)
        for req in ("resolution", "n_train", "n_test"):
            if req not in data_raw:
                raise _bad(f"data.{req}", None, "a positive integer (this key is required)")
        data = {
            "resolution": _int("data.resolution", data_raw["resolution"], lo=4),
            "n_train": _int("data.n_train", data_raw["n_train"], lo=1),
            "n_test": _int("data.n_test", data_raw["n_test"], lo=1),
            "seed": _int("data.seed", data_raw.get("seed", 0), lo=0),
            "params": _jsonable(_mapping("data.params", data_raw.get("params", {}) or {})),
        }

        model_raw = _mapping("model", raw.get("model", {}) or {})
        if "K" in model_raw:
            raise _bad("model.K", model_raw["K"], "not set here; use the top-level `K` list")
        _check_keys("model", model_raw, _MODEL_KEYS)
        d_default = PDE_DIMS.get(pde)
        if "d" in model_raw:
            d = _int("model.d", model_raw["d"], lo=1, hi=3)
            if d_default is not None and d != d_default:
                raise _bad("model.d", d, f"{d_default} (pde={pde!r} has {d_default} dimension(s))")
        elif d_default is None:
            raise _bad("model.d", None, f"1, 2 or 3 (required for pde={pde!r}; known pdes: {list(PDE_DIMS)})")
        else:
            d = d_default
        fno_defaults = FNOConfig().to_dict()
        model = {"d": d}
        for k in _MODEL_KEYS[1:]:
            v = model_raw.get(k, fno_defaults[k])
            if k == "grid":
                model[k] = _bool(f"model.{k}", v)
            elif k == "padding":
                if isinstance(v, (list, tuple)):
                    if len(v) != d:
                        raise _bad("model.padding", v, f"an integer >= 0 or a list of {d} integers >= 0")
                    model[k] = [_int(f"model.padding[{i}]", x, lo=0) for i, x in enumerate(v)]
                else:
                    model[k] = _int("model.padding", v, lo=0)
            else:
                model[k] = _int(f"model.{k}", v, lo=1)

        base_K = _int("base_K", raw.get("base_K", 3), lo=2)
        pars = []
        for i, p in enumerate(_list("parametrizations", raw.get("parametrizations", ["sp", "mup"]), lambda p, x: x)):
            path = f"parametrizations[{i}]"
            if isinstance(p, str):
                kind, bk = p.lower().replace("μ", "mu"), base_K
                if kind not in PARAM_KINDS:
                    raise _bad(path, p, f"one of {list(PARAM_KINDS)} or {{kind: ..., base_K: ...}}")
            elif isinstance(p, Mapping):
                _check_keys(path, p, ("kind", "base_K"))
                kind = _str(f"{path}.kind", str(p.get("kind", "")).lower().replace("μ", "mu"), PARAM_KINDS)
                bk = p.get("base_K")
                bk = base_K if bk is None else _int(f"{path}.base_K", bk, lo=2)
            else:
                raise _bad(path, p, f"one of {list(PARAM_KINDS)} or {{kind: ..., base_K: ...}}")
            entry = {"kind": kind, "base_K": None if kind == "sp" else bk}
            if entry in pars:
                raise _bad("parametrizations", raw.get("parametrizations"), f"a list without duplicates ({entry} repeats)")
            pars.append(entry)

        pads = model["padding"] if isinstance(model["padding"], list) else [model["padding"]] * d
        kmax = _max_K(d, data["resolution"], pads)
        K = _list("K", raw["K"], lambda p, x: _int(p, x, lo=2, hi=kmax))

        lrs = _lr_spec("lr", raw["lr"])
        seeds = _list("seeds", raw.get("seeds", [0]), lambda p, x: _int(p, x, lo=0))
        train = _validate_train(_mapping("train", raw.get("train", {}) or {}))
        bs_default = _train_fields().get("batch_size", 20) or 20
        batch_sizes = _list(
            "batch_sizes", raw.get("batch_sizes", [min(bs_default, data["n_train"])]),
            lambda p, x: _int(p, x, lo=1, hi=data["n_train"]),
        )
        beta1, beta2_default = train.get("betas") or (0.9, 0.999)
        beta2s = _list(
            "beta2s", raw.get("beta2s", [beta2_default]),
            lambda p, x: _canon_float(_num(p, x, lo=0.0, hi=1.0, hi_open=True, allowed="a number in [0, 1)")),
        )
        init_scales = _list(
            "init_scales", raw.get("init_scales", [1.0]),
            lambda p, x: _canon_float(_num(p, x, lo=0.0, lo_open=True, allowed="a finite number > 0")),
        )
        mps = _int("max_population_size", raw.get("max_population_size", 64), lo=1)
        device = _str("device", raw.get("device", "cpu"), DEVICES)
        factory = raw.get("dataset_factory")
        if factory is not None:
            factory = _str("dataset_factory", factory)
            if ":" not in factory:
                raise _bad("dataset_factory", factory, "null or 'package.module:function'")
        cache_dir = raw.get("cache_dir")
        if cache_dir is not None:
            cache_dir = _str("cache_dir", str(cache_dir))
        desc = raw.get("description", "")
        if not isinstance(desc, str):
            raise _bad("description", desc, "a string")
        return cls(
            name=name, pde=pde, data=data, model=model, parametrizations=tuple(pars), K=tuple(K),
            lrs=tuple(lrs), seeds=tuple(seeds), batch_sizes=tuple(batch_sizes), beta2s=tuple(beta2s),
            init_scales=tuple(init_scales), train=train, max_population_size=mps, device=device,
            dataset_factory=factory, cache_dir=cache_dir, description=desc, base_K=base_K,
        )

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "SweepConfig":
        """Load a sweep from a ``.yaml``/``.yml`` or ``.json`` file."""
        p = Path(path)
        if not p.is_file():
            raise ValueError(f"sweep config file not found: path={str(p)!r}")
        text = p.read_text()
        if p.suffix.lower() == ".json":
            raw = json.loads(text)
        elif p.suffix.lower() in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(text)
        else:
            raise ValueError(f"sweep config must be .yaml, .yml or .json; got path={str(p)!r}")
        return cls.from_dict(raw)

    def to_dict(self) -> dict:
        """A plain dict that :meth:`from_dict` turns back into this config."""
        train = {k: v for k, v in self.train.items() if k not in _GRID_OWNED}
        return _jsonable({
            "name": self.name, "description": self.description, "pde": self.pde, "data": self.data,
            "model": self.model, "parametrizations": [dict(p) for p in self.parametrizations],
            "base_K": self.base_K, "K": list(self.K), "lr": list(self.lrs), "seeds": list(self.seeds),
            "batch_sizes": list(self.batch_sizes), "beta2s": list(self.beta2s),
            "init_scales": list(self.init_scales), "train": train,
            "max_population_size": self.max_population_size, "device": self.device,
            "dataset_factory": self.dataset_factory, "cache_dir": self.cache_dir,
        })

    def replace(self, **changes) -> "SweepConfig":
        """A new, re-validated config with some top-level keys changed (``lr`` for the grid)."""
        d = self.to_dict()
        for k, v in changes.items():
            if k == "lrs":
                k = "lr"
            d[k] = copy.deepcopy(v)
        return SweepConfig.from_dict(d)

    # ---- expansion ---------------------------------------------------------------------------
    def run_config(self, *, parametrization: Mapping, K: int, batch_size: int, lr: float, seed: int,
                   beta2: float, init_scale: float) -> dict:
        """The canonical config of one run (what its id hashes)."""
        fno = FNOConfig(K=int(K), **{k: (tuple(v) if isinstance(v, list) else v) for k, v in self.model.items()})
        train = dict(self.train)
        for k, default in _optional_train_fields().items():  # absent from the id while at their default
            if k in train and train[k] == default:
                del train[k]
        beta1 = (train.get("betas") or (0.9, 0.999))[0]
        train.update(lr=_canon_float(lr), batch_size=int(batch_size), betas=[beta1, _canon_float(beta2)])
        cfg = {
            "schema": SCHEMA_VERSION,
            "pde": self.pde,
            "data": self.data,
            "model": fno.to_dict(),
            "parametrization": {"kind": parametrization["kind"], "base_K": parametrization["base_K"]},
            "train": train,
            "seed": int(seed),
            "init_scale": _canon_float(init_scale),
        }
        if self.dataset_factory is not None:
            cfg["dataset_factory"] = self.dataset_factory
        return _jsonable(cfg)

    def expand(self) -> list[RunSpec]:
        """All runs of the grid, in a deterministic order (population by population)."""
        runs = []
        for par in self.parametrizations:
            for K in self.K:
                for bs in self.batch_sizes:
                    for lr in self.lrs:
                        for seed in self.seeds:
                            for b2 in self.beta2s:
                                for s in self.init_scales:
                                    cfg = self.run_config(parametrization=par, K=K, batch_size=bs, lr=lr,
                                                          seed=seed, beta2=b2, init_scale=s)
                                    runs.append(RunSpec(run_id_of(cfg), cfg, _population_key(cfg)))
        return runs

    @property
    def n_runs(self) -> int:
        return (len(self.parametrizations) * len(self.K) * len(self.batch_sizes) * len(self.lrs)
                * len(self.seeds) * len(self.beta2s) * len(self.init_scales))


def _max_K(d: int, resolution: int, pads: Sequence[int]) -> int:
    """Largest K the grid allows on the spatial axes (the time axis of navier_stokes is not checked)."""
    if d == 1:
        return max_modes(resolution + pads[0], last_axis=True)
    n_space = 2 if d >= 2 else 1
    return min(max_modes(resolution + pads[i], last_axis=(i == d - 1)) for i in range(n_space))


def _population_key(cfg: Mapping) -> str:
    c = copy.deepcopy(dict(cfg))
    c.pop("seed"), c.pop("init_scale")
    c["train"].pop("lr")
    c["train"]["betas"] = c["train"]["betas"][:1]
    return _canonical_json(c)


# =============================================================================================
# population tasks
# =============================================================================================


def population_tasks(config: SweepConfig, runs: Sequence[RunSpec] | None = None, *, device: str | None = None) -> list[dict]:
    """Group runs into population tasks (plain dicts), each at most ``max_population_size`` runs.

    Task keys: ``task_id``, ``sweep``, ``pde``, ``data``, ``dataset_factory``, ``cache_dir``,
    ``model`` (FNOConfig dict with K), ``parametrization``, ``train`` (TrainConfig kwargs: betas
    carry the default β₂, members override it), ``device``, ``members`` (list of dicts with
    ``run_id``, ``lr``, ``seed``, ``beta2``, ``init_scale``, ``config``).
    """
    runs = config.expand() if runs is None else list(runs)
    groups: dict[str, list[RunSpec]] = {}
    for r in runs:
        groups.setdefault(r.population_key, []).append(r)
    dev = device or config.device
    tasks = []
    for key, members in groups.items():
        members = sorted(members, key=lambda r: (r.lr, r.seed, r.beta2, r.init_scale))
        m = config.max_population_size
        for i in range(0, len(members), m):
            chunk = members[i : i + m]
            c0 = chunk[0].config
            train = dict(c0["train"])
            train["betas"] = [train["betas"][0], config.beta2s[0]]
            tasks.append({
                "task_id": hashlib.sha256("".join(r.run_id for r in chunk).encode()).hexdigest()[:16],
                "sweep": config.name,
                "pde": c0["pde"],
                "data": c0["data"],
                "dataset_factory": config.dataset_factory,
                "cache_dir": config.cache_dir,
                "model": c0["model"],
                "parametrization": c0["parametrization"],
                "train": train,
                "device": dev,
                "members": [
                    {"run_id": r.run_id, "lr": r.lr, "seed": r.seed, "beta2": r.beta2, "init_scale": r.init_scale,
                     "config": r.config}
                    for r in chunk
                ],
            })
    return tasks


_DATASET_CACHE: dict = {}
_DATASET_LOCK = threading.Lock()


def clear_dataset_cache() -> None:
    """Forget the datasets this process has loaded."""
    with _DATASET_LOCK:
        _DATASET_CACHE.clear()


def _import_factory(spec: str) -> Callable:
    mod, _, fn = spec.partition(":")
    try:
        return getattr(importlib.import_module(mod), fn)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"dataset_factory={spec!r} cannot be imported ({e}); expected 'package.module:function'") from e


def _default_factory() -> Callable:
    from .data import load_dataset

    return load_dataset


def load_dataset_cached(task: Mapping, dataset_factory: Callable | None = None):
    """The dataset of a task, loaded once per (factory, pde, data config, device) in this process.

    The factory is called as ``factory(pde, resolution=…, n_train=…, n_test=…, seed=…,
    cache_dir=…, device=…, **params)`` (the signature of :func:`mufno_lite.data.load_dataset`).
    """
    if dataset_factory is None:
        dataset_factory = _import_factory(task["dataset_factory"]) if task.get("dataset_factory") else _default_factory()
    data = task["data"]
    key = (dataset_factory, _canonical_json({"pde": task["pde"], "data": data, "device": task["device"],
                                             "cache_dir": task.get("cache_dir")}))
    with _DATASET_LOCK:
        if key in _DATASET_CACHE:
            return _DATASET_CACHE[key]
    ds = dataset_factory(
        task["pde"], resolution=data["resolution"], n_train=data["n_train"], n_test=data["n_test"],
        seed=data["seed"], cache_dir=task.get("cache_dir"), device=task["device"], **data.get("params", {}),
    )
    with _DATASET_LOCK:
        _DATASET_CACHE[key] = ds
    return ds


def _versions() -> dict:
    import platform

    import torch

    from . import __version__

    return {"torch_version": torch.__version__, "mufno_lite_version": __version__,
            "python_version": platform.python_version()}


def _base_row(member: Mapping, task: Mapping) -> dict:
    cfg = member["config"]
    tr, md, dt = cfg["train"], cfg["model"], cfg["data"]
    return {
        "run_id": member["run_id"], "pde": cfg["pde"], "d": md["d"], "K": md["K"],
        "parametrization": cfg["parametrization"]["kind"], "base_K": cfg["parametrization"]["base_K"],
        "lr": tr["lr"], "seed": cfg["seed"], "batch_size": tr["batch_size"], "beta2": tr["betas"][1],
        "init_scale": cfg["init_scale"], "resolution": dt["resolution"], "n_train": dt["n_train"],
        "n_test": dt["n_test"], "data_seed": tr.get("data_seed"), "width": md["width"], "n_layers": md["n_layers"],
        "steps": tr.get("steps"), "optimizer": tr.get("optimizer"), "schedule": tr.get("schedule"),
        "clip": tr.get("clip"), "weight_decay": tr.get("weight_decay"), "pino_weight": tr.get("pino_weight"),
        "population_size": len(task["members"]), "population_id": task["task_id"], "device": task["device"],
        "config": cfg, **_versions(),
    }


def _get(res, name, default=None):
    if isinstance(res, Mapping):
        return res.get(name, default)
    return getattr(res, name, default)


def run_population_task(
    task: Mapping,
    dataset_factory: Callable | None = None,
    *,
    trainer: Callable | None = None,
    progress: Callable | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[dict]:
    """Train one population task and return one store row per member (in member order).

    ``trainer`` defaults to :func:`mufno_lite.train.train_population`.  Any exception but
    ``TrainingInterrupted`` (and ``KeyboardInterrupt``/``SystemExit``) turns into ``failed``
    rows whose ``error`` holds the traceback.
    """
    t0 = time.perf_counter()
    members = task["members"]
    if task.get("device") in (None, "auto"):
        # resolved where the task runs (a Ray worker may have a GPU the driver lacks)
        task = {**task, "device": resolve_device(task.get("device"))}
    try:
        from .train import Member, TrainConfig, TrainingInterrupted  # noqa: F401
    except ImportError:  # only with an injected trainer
        Member = TrainConfig = None
        TrainingInterrupted = _NeverRaised
    try:
        if trainer is None:
            from .train import train_population as trainer
        ds = load_dataset_cached(task, dataset_factory)
        md = dict(task["model"])
        if isinstance(md.get("padding"), list):
            md["padding"] = tuple(md["padding"])
        fno_cfg = FNOConfig(**md)
        p = task["parametrization"]
        par = Parametrization(p["kind"], p["base_K"] if p["base_K"] is not None else 3)
        tr = dict(task["train"])
        tr["betas"] = tuple(tr["betas"])
        train_cfg = TrainConfig(**tr) if TrainConfig is not None else tr
        mk = Member if Member is not None else (lambda **kw: kw)
        mem = [mk(lr=m["lr"], seed=m["seed"], beta2=m["beta2"], init_scale=m["init_scale"]) for m in members]
        results = trainer(fno_cfg, par, ds, mem, train_cfg, device=task["device"], progress=progress,
                          should_stop=should_stop)
        if len(results) != len(members):
            raise RuntimeError(f"trainer returned {len(results)} results for {len(members)} members")
    except TrainingInterrupted:
        raise
    except Exception:  # recorded, the sweep goes on
        err = traceback.format_exc()
        now = utc_now()
        wall = time.perf_counter() - t0
        return [dict(_base_row(m, task), status="failed", error=err[-20000:], created_at=now,
                     population_wall_time_s=wall) for m in members]
    now = utc_now()
    rows = []
    for m, res in zip(members, results):
        row = _base_row(m, task)
        status = _get(res, "status", "done")
        row.update(
            status=status if status in ("done", "diverged") else "failed",
            final_train_loss=_get(res, "final_train_loss"), test_rel_l2=_get(res, "test_rel_l2"),
            train_curve=_get(res, "train_curve"), test_curve=_get(res, "test_curve"),
            diverged_at_step=_get(res, "diverged_at_step"), wall_time_s=_get(res, "wall_time_s"),
            population_wall_time_s=_get(res, "population_wall_time_s"), flops=_get(res, "flops"),
            n_params=_get(res, "n_params"), created_at=now,
            error=None if status in ("done", "diverged") else f"trainer returned status={status!r}",
        )
        rows.append(row)
    return rows


class _NeverRaised(Exception):
    """Placeholder when the train module is absent (nothing raises it)."""


# =============================================================================================
# executors
# =============================================================================================


@dataclass
class ExecutionContext:
    """What an executor needs besides the tasks (see the module docstring)."""

    dataset_factory: Callable | None = None
    trainer: Callable | None = None
    should_stop: Callable[[], bool] = lambda: False
    step_progress: Callable[[Mapping], Callable | None] = lambda task: None


class InProcessExecutor:
    """Runs populations one after the other in this process (the default executor)."""

    name = "in-process"

    def map_populations(self, tasks: Sequence[Mapping], on_result: Callable[[Mapping, list], None], *,
                        context: ExecutionContext) -> None:
        for task in tasks:
            if context.should_stop():
                return
            cb = context.step_progress(task)
            try:
                rows = run_population_task(task, dataset_factory=context.dataset_factory, trainer=context.trainer,
                                           progress=cb, should_stop=context.should_stop)
            finally:
                if cb is not None and hasattr(cb, "close"):
                    cb.close()
            on_result(task, rows)


# =============================================================================================
# running a sweep
# =============================================================================================


def resolve_device(device: str | None) -> str:
    """'auto' → 'cuda' if available else 'cpu'; 'cpu'/'cuda' pass (cuda must be available)."""
    if device is None:
        return "cpu"
    if device not in DEVICES and not str(device).startswith("cuda:"):
        raise ValueError(f"device must be one of {list(DEVICES)}; got device={device!r}")
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but CUDA is not available; allowed here: ['cpu', 'auto']")
    return device


@dataclass
class SweepReport:
    """What :func:`run_sweep` did.  ``status``: complete | partial | interrupted | dry-run."""

    sweep: str
    store: str
    n_runs: int
    n_skipped: int
    n_populations: int
    n_done: int = 0
    n_diverged: int = 0
    n_failed: int = 0
    n_populations_run: int = 0
    status: str = "complete"
    signal: int | None = None
    wall_time_s: float = 0.0
    remaining: int = 0
    resume_command: str = ""

    @property
    def exit_code(self) -> int:
        """0, or 128 + the signal number after an interruption (130 SIGINT, 143 SIGTERM)."""
        return 128 + int(self.signal) if self.status == "interrupted" and self.signal else 0

    def summary(self) -> str:
        return (
            f"sweep {self.sweep!r}: {self.status} — {self.n_runs} runs in {self.n_populations} populations; "
            f"{self.n_skipped} already stored; this session {self.n_done} done, {self.n_diverged} diverged, "
            f"{self.n_failed} failed ({self.n_populations_run} populations); {self.remaining} still to run; "
            f"{self.wall_time_s:.1f} s; store {self.store}"
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class _StopFlag:
    def __init__(self):
        self.signum: int | None = None

    def __call__(self) -> bool:
        return self.signum is not None


@contextmanager
def _signal_handlers(flag: _StopFlag, enabled: bool, log: Callable[[str], None]):
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = [signal.SIGINT, signal.SIGTERM]
    old = {}

    def handler(signum, frame):
        if flag.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        if flag.signum is None:
            flag.signum = signum
            log(f"\n[mufno_lite] {signal.Signals(signum).name} received: finishing the current step, "
                "then stopping (completed populations are saved; Ctrl-C again aborts now).")

    for s in sigs:
        old[s] = signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _progress_enabled(progress: bool | None) -> bool:
    if progress is not None:
        return bool(progress)
    if os.environ.get("CI"):
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _StepBar:
    """Adapter from the trainer's progress callback to an inner tqdm bar over steps."""

    def __init__(self, total: int, desc: str):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=desc, leave=False, unit="step", dynamic_ncols=True)
        self.n = 0

    def __call__(self, *args, **kwargs):
        step = kwargs.get("step", args[0] if args else None)
        if isinstance(step, Mapping):
            step = step.get("step")
        if isinstance(step, (int, float)) and not isinstance(step, bool):
            target = int(step)
            if target > self.n:
                self.bar.update(target - self.n)
                self.n = target
        else:
            self.bar.update(1)
            self.n += 1
        loss = kwargs.get("loss")
        if isinstance(loss, (int, float)):
            self.bar.set_postfix(loss=f"{loss:.3g}", refresh=False)

    def close(self):
        self.bar.close()


def sweep_status(config: SweepConfig, store: ResultsStore | str | os.PathLike | None = None):
    """A DataFrame of the sweep's runs with their stored status (``pending`` if not stored)."""
    import pandas as pd

    st = store if isinstance(store, ResultsStore) else ResultsStore(store)
    runs = config.expand()
    stat = st.statuses([r.run_id for r in runs]) if st.path.exists() else {}
    rows = []
    for r in runs:
        c = r.config
        rows.append({
            "run_id": r.run_id, "parametrization": c["parametrization"]["kind"],
            "base_K": c["parametrization"]["base_K"], "K": c["model"]["K"], "batch_size": c["train"]["batch_size"],
            "lr": r.lr, "seed": r.seed, "beta2": r.beta2, "init_scale": r.init_scale,
            "status": stat.get(r.run_id, "pending"),
        })
    return pd.DataFrame(rows)


def run_sweep(
    config: SweepConfig | Mapping | str | os.PathLike,
    store: ResultsStore | str | os.PathLike | None = None,
    *,
    executor=None,
    dataset_factory: Callable | None = None,
    trainer: Callable | None = None,
    device: str | None = None,
    max_populations: int | None = None,
    dry_run: bool = False,
    progress: bool | None = None,
    handle_signals: bool = True,
    verbose: bool = True,
    config_path: str | None = None,
) -> SweepReport:
    """Run (or resume) a sweep and record every run in the store.

    Parameters
    ----------
    config : SweepConfig, dict or path
        The sweep (validated before anything runs).
    store : ResultsStore or path, optional
        Default: ``$MUFNO_RESULTS`` or ``results/results.sqlite``.
    executor : optional
        Anything with ``map_populations`` (default :class:`InProcessExecutor`).
    dataset_factory, trainer : callable, optional
        Override the data loader and :func:`mufno_lite.train.train_population` (tests).
    device : str, optional
        Overrides the config's device ('cpu', 'cuda', 'auto').
    max_populations : int, optional
        Stop after this many populations (status ``partial``).
    dry_run : bool
        Plan only: count runs and populations still to run, train nothing.
    progress : bool, optional
        Progress bars; default on when stderr is a terminal and ``$CI`` is unset.
    handle_signals : bool
        Turn SIGINT/SIGTERM into a clean stop (main thread only).
    verbose : bool
        Print the final summary line (and the resume hint) to stderr.

    Returns
    -------
    SweepReport
    """
    t0 = time.perf_counter()
    if isinstance(config, (str, os.PathLike)):
        config_path = config_path or str(config)
        config = SweepConfig.from_file(config)
    elif not isinstance(config, SweepConfig):
        config = SweepConfig.from_dict(config)
    if max_populations is not None and (isinstance(max_populations, bool) or not isinstance(max_populations, int)
                                        or max_populations < 1):
        raise ValueError(f"max_populations must be a positive integer or None; got max_populations={max_populations!r}")
    dev = resolve_device(device or config.device)
    st = store if isinstance(store, ResultsStore) else ResultsStore(store)
    log = (lambda msg: print(msg, file=sys.stderr, flush=True)) if verbose else (lambda msg: None)

    runs = config.expand()
    all_tasks = population_tasks(config, runs, device=dev)
    stored = st.statuses([r.run_id for r in runs]) if (st.path.exists() or not dry_run) else {}
    pending = [r for r in runs if stored.get(r.run_id) not in ("done", "diverged")]
    tasks = population_tasks(config, pending, device=dev)
    resume = f"python -m mufno_lite sweep {config_path or '<CONFIG>'} --store {st.path}"
    report = SweepReport(sweep=config.name, store=str(st.path), n_runs=len(runs), n_skipped=len(runs) - len(pending),
                         n_populations=len(all_tasks), remaining=len(pending), resume_command=resume)
    if dry_run:
        report.status = "dry-run"
        report.wall_time_s = time.perf_counter() - t0
        log(report.summary())
        return report

    st.register_sweep(config.name, [r.run_id for r in runs], config.to_dict())
    if max_populations is not None:
        tasks = tasks[:max_populations]
    executor = executor or InProcessExecutor()
    flag = _StopFlag()
    show = _progress_enabled(progress)
    outer = None
    if show:
        from tqdm.auto import tqdm

        outer = tqdm(total=len(pending), desc=f"{config.name}", unit="run", dynamic_ncols=True)

    def step_progress(task):
        if not show:
            return None
        p = task["parametrization"]
        return _StepBar(int(task["train"].get("steps") or 0), f"{p['kind']} K={task['model']['K']}")

    def on_result(task, rows):
        st.write_rows(rows, sweeps=[config.name])
        report.n_populations_run += 1
        for r in rows:
            if r["status"] == "done":
                report.n_done += 1
            elif r["status"] == "diverged":
                report.n_diverged += 1
            else:
                report.n_failed += 1
                if report.n_failed == 1:
                    last = (r.get("error") or "").strip().splitlines()[-1:] or [""]
                    log(f"[mufno_lite] population {task['task_id']} failed: {last[0]}")
        report.remaining -= sum(1 for r in rows if r["status"] in ("done", "diverged"))
        if outer is not None:
            outer.update(len(rows))
            outer.set_postfix(done=report.n_done, div=report.n_diverged, failed=report.n_failed, refresh=False)

    try:
        from .train import TrainingInterrupted
    except ImportError:
        TrainingInterrupted = _NeverRaised
    ctx = ExecutionContext(dataset_factory=dataset_factory, trainer=trainer, should_stop=flag,
                           step_progress=step_progress)
    try:
        with _signal_handlers(flag, handle_signals, log):
            try:
                executor.map_populations(tasks, on_result, context=ctx)
            except TrainingInterrupted:
                if flag.signum is None:
                    raise
    finally:
        if outer is not None:
            outer.close()
    report.wall_time_s = time.perf_counter() - t0
    if flag.signum is not None:
        report.status, report.signal = "interrupted", int(flag.signum)
    elif report.remaining > 0 or report.n_failed:
        report.status = "partial"
    log(report.summary())
    if report.status == "interrupted":
        log(f"[mufno_lite] interrupted by {signal.Signals(report.signal).name}; {report.remaining} runs still to run. "
            f"Resume with: {resume}")
    return report
