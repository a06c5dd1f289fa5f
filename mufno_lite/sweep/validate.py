"""Validation of a sweep config's parts with :mod:`mufno_lite.validation`'s checkers (its message
style, keys as paths: ``train.steps must be …; got train.steps=0``): lists, the learning-rate grid
(:func:`lr_grid`), the ``train`` block, the allowed keys, the data parameters, hostile input and
sizes."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Iterable, Mapping

from ..train import TrainConfig
from ..validation import ConfigError, boolean, fail, integer, known_keys, number, short, string
from .identity import _canon_float


#: the longest list a sweep key takes (K, lr, seeds, batch_sizes, beta2s, init_scales)
MAX_LIST = 10_000

_GRID_OWNED = {"lr": "the top-level `lr` grid", "batch_size": "the top-level `batch_sizes` list"}


# =============================================================================================
# lists and the learning-rate grid
# =============================================================================================


def _list(path, v, item, *, scalar_ok=True) -> list:
    if scalar_ok and not isinstance(v, (list, tuple)):
        v = [v]
    if not isinstance(v, (list, tuple)) or len(v) == 0:
        raise fail(path, v, "a non-empty list")
    if len(v) > MAX_LIST:
        raise fail(path, v, f"a non-empty list of at most {MAX_LIST} values (got {len(v)})")
    out = [item(f"{path}[{i}]", x) for i, x in enumerate(v)]
    seen, seen_list = set(), []
    for x in out:
        try:
            dup = x in seen
            seen.add(x)
        except TypeError:  # unhashable (a mapping): compare one by one
            dup = x in seen_list
            seen_list.append(x)
        if dup:
            raise fail(path, list(v), f"a list without duplicates ({short(x)} repeats)")
    return out


def lr_grid(spec) -> list[float]:
    """Learning rates from an explicit list or an eighth-decades spec.

    ``{start: a, stop: b, per_decade: n}`` gives 10^(a + k/n) for k = 0, 1, … while a + k/n ≤ b
    (b included up to 1e-9), e.g. ``{start: -3.25, stop: -1.875, per_decade: 8}`` → 12 values.
    """
    return _lr_spec("lr", spec)


def _lr_spec(path, spec) -> list[float]:
    if isinstance(spec, Mapping):
        known_keys(path, spec, ("start", "stop", "per_decade"))
        for k in ("start", "stop"):
            if k not in spec:
                raise fail(f"{path}.{k}", None, "a number (log10 of a learning rate) — required")
        a = number(f"{path}.start", spec["start"], lo=-30.0, hi=1.0, from_string=True)
        b = number(f"{path}.stop", spec["stop"], lo=-30.0, hi=1.0, from_string=True)
        n = integer(f"{path}.per_decade", spec.get("per_decade", 8), lo=1, hi=1000, from_float=True)
        if b < a:
            raise fail(f"{path}.stop", b, f"a number >= {path}.start={a}")
        count = int(math.floor((b - a) * n + 1e-9)) + 1
        if count > 10000:
            raise fail(path, dict(spec), "a grid of at most 10000 learning rates")
        return [_canon_float(10.0 ** (a + k / n)) for k in range(count)]
    vals = _list(path, spec, lambda p, x: _positive_float(p, x))
    return [_canon_float(v) for v in vals]




def _train_fields() -> dict[str, Any]:
    """TrainConfig's fields with their defaults."""
    out = {}
    for f in dataclasses.fields(TrainConfig):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            out[f.name] = f.default_factory()  # type: ignore[misc]
        else:
            out[f.name] = None
    return out


def _positive_float(path, v, allowed="a finite number > 0") -> float:
    """A learning rate, an init scale: a finite number > 0 (YAML's string spelling too)."""
    return number(path, v, lo=0.0, lo_open=True, allowed=allowed, from_string=True)


def _validate_train(train: Mapping) -> dict:
    """Type-check the train section and return the full TrainConfig dict (defaults filled)."""
    defaults = _train_fields()
    allowed = [k for k in defaults if k not in _GRID_OWNED]
    for k, owner in _GRID_OWNED.items():
        if k in train:
            raise fail(f"train.{k}", train[k], f"left out here ({owner} sets it)")
    known_keys("train", train, allowed)
    out = dict(defaults)
    real = dict(from_string=True)
    checks: dict[str, Callable] = {
        "steps": lambda p, v: integer(p, v, lo=1, hi=LIMITS["train.steps"], from_float=True),
        "warmup_steps": lambda p, v: integer(p, v, lo=0, from_float=True),
        "data_seed": lambda p, v: integer(p, v, lo=0, hi=LIMITS["seed"], from_float=True),
        "curve_points": lambda p, v: integer(p, v, lo=2, from_float=True),
        "optimizer": lambda p, v: string(p, v, ("adam", "adamw")),
        "schedule": lambda p, v: string(p, v),
        "eps": lambda p, v: number(p, v, lo=0.0, lo_open=True, **real),
        "weight_decay": lambda p, v: number(p, v, lo=0.0, **real),
        "pino_weight": lambda p, v: number(p, v, lo=0.0, **real),
        "clip": lambda p, v: None if v is None else _positive_float(p, v, "null or a number > 0"),
        "normalize_x": boolean,
        "normalize_y": boolean,
        "betas": _betas,
        "lr_group": lambda p, v: string(p, v, ("all", "spectral", "other")),
        "lr_fixed": lambda p, v: None if v is None else _canon_float(_positive_float(p, v, "null or a number > 0")),
    }
    for k, v in train.items():
        out[k] = checks[k](f"train.{k}", v) if k in checks else v
    if "betas" in out and out["betas"] is not None:
        out["betas"] = tuple(out["betas"])
    if out.get("warmup_steps") is not None and out.get("steps") is not None and out["warmup_steps"] > out["steps"]:
        raise fail("train.warmup_steps", out["warmup_steps"], f"an integer <= train.steps={out['steps']}")
    # let TrainConfig itself judge values this module does not know (e.g. the schedule names)
    try:
        TrainConfig(**out)
    except ConfigError as e:  # TrainConfig names the field; the sweep puts it under `train`
        raise e.with_key_prefix("train") from None
    except (ValueError, TypeError) as e:
        raise ConfigError(f"train: {e}", key="train") from None
    return out


def _betas(path, v) -> tuple[float, float]:
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise fail(path, v, "a pair [beta1, beta2], each in [0, 1)")
    return (
        number(f"{path}[0]", v[0], lo=0.0, hi=1.0, hi_open=True, from_string=True),
        number(f"{path}[1]", v[1], lo=0.0, hi=1.0, hi_open=True, from_string=True),
    )


# =============================================================================================
# the sweep config
# =============================================================================================

_TOP_KEYS = (
    "name", "description", "pde", "data", "model", "parametrizations", "base_K", "K", "lr", "seeds",
    "batch_sizes", "beta2s", "init_scales", "train", "max_population_size", "device", "dataset_factory",
    "cache_dir", "epochs",
    "pde_module",  # own data (sweep/owndata.py)
)
_DATA_KEYS = ("resolution", "n_train", "n_test", "seed", "params",
              "files", "normalize", "grid")  # own data (sweep/owndata.py)
_MODEL_KEYS = ("d", "width", "n_layers", "in_channels", "out_channels", "projection_width", "grid", "padding",
               "grid_convention")  # left out of a run's identity while "endpoint" (fno.OPTIONAL_MODEL_FIELDS)


# =============================================================================================
# hostile input: plain data, the data set, the dataset factory, sizes
# =============================================================================================

#: upper bounds on a sweep's sizes, so an impossible sweep is refused before anything runs
#: (``--dry-run`` included); each far above what the presets use (the paper's largest in brackets)
LIMITS = {
    "model.width": 8192,             # (64)
    "model.projection_width": 16384,  # (128)
    "model.n_layers": 64,            # (4)
    "model.channels": 1024,          # in_channels, out_channels (1)
    "data.n": 1_000_000,             # n_train, n_test (1000)
    "data.points": 1 << 24,          # grid points per sample, time frames included (64² × 64)
    "data.values": 1 << 33,          # values of the data set, x and y of both splits (32 GiB in float32)
    "train.steps": 1_000_000,        # (5000)
    "epochs": 100_000,               # a sweep's data budget in passes over n_train
    "seed": (1 << 63) - 1,           # seeds are stored as SQLite's signed 64-bit integers
    "max_population_size": 100_000,
    "runs": 100_000,                 # runs of one sweep (a few thousand)
    "member_bytes": 256 << 30,       # estimated memory of one model in training (~60 GiB)
}


def _plain(path: str, v, *, max_nodes: int = 10_000, max_depth: int = 8) -> None:
    """Refuse anything but plain JSON data (None, bool, int, float, str, lists, mappings with
    string keys) and structures larger than ``max_nodes`` values, deeper than ``max_depth`` or
    self-referential — walked iteratively, so a YAML alias bomb is refused at once."""
    stack = [(path, v, 0, ())]
    nodes = 0
    while stack:
        p, x, depth, ancestors = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            raise fail(path, v, f"plain data of at most {max_nodes} values")
        if depth > max_depth:
            raise fail(p, x, f"plain data nested at most {max_depth} levels deep")
        if x is None or isinstance(x, (bool, int, float)):
            if isinstance(x, int) and not isinstance(x, bool) and abs(x) > LIMITS["seed"]:
                raise fail(p, x, "an integer that fits in 64 bits")
            continue
        if isinstance(x, str):
            if len(x) > 10_000:
                raise fail(p, x, "a string of at most 10000 characters")
            continue
        if id(x) in ancestors:
            raise fail(p, x, "plain data (this value contains itself)")
        if isinstance(x, (list, tuple)):
            if len(x) > max_nodes:
                raise fail(p, x, f"a list of at most {max_nodes} values")
            for i, y in enumerate(x):
                stack.append((f"{p}[{i}]", y, depth + 1, ancestors + (id(x),)))
        elif isinstance(x, Mapping):
            if len(x) > max_nodes:
                raise fail(p, x, f"a mapping of at most {max_nodes} keys")
            for k, y in x.items():
                if not isinstance(k, str):
                    raise fail(f"{p}.{short(k, 40)}", k, "a string key")
                stack.append((f"{p}.{k[:40]}", y, depth + 1, ancestors + (id(x),)))
        else:
            raise fail(p, x, "plain data (null, true/false, a number, a string, a list or a mapping)")


def _data_params(pde: str, resolution: int, params: Mapping) -> None:
    """The data set's parameters through the same checks as at run time
    (:func:`mufno_lite.data.params.resolve_params`, which ``load_dataset`` uses), under ``data.params``
    (``data.resolution`` for the grid)."""
    from ..data.params import check_resolution, resolve_params

    try:
        check_resolution(pde, resolution)
        resolve_params(pde, resolution, params)
    except ConfigError as e:
        raise e.with_key_prefix("data" if e.key == "resolution" else "data.params") from None


def _factory(spec: str, params: Mapping | None = None) -> None:
    """``dataset_factory``: ``'package.module:function'`` that imports, is callable and accepts the
    call it will get (imported now, as the run would; its signature bound to that call)."""
    import importlib

    from ..data.memo import check_factory_signature

    mod, _, fn = spec.partition(":")
    if not mod or not fn:
        raise fail("dataset_factory", spec, "null or 'package.module:function'")
    try:
        obj = getattr(importlib.import_module(mod), fn)
    except Exception as e:  # ImportError, AttributeError, or the module failing as it imports
        reason = " ".join(f"{type(e).__name__}: {e}".split())[:160]
        raise fail("dataset_factory", spec, f"'package.module:function' that can be imported ({reason})") from None
    if not callable(obj):
        raise fail("dataset_factory", spec, f"a callable (got a {type(obj).__name__})")
    try:
        check_factory_signature(obj, params)
    except ValueError as e:
        raise fail("dataset_factory", spec, f"a function with load_dataset's signature ({e})") from None


def _member_bytes(model: Mapping, K: int, spatial: Iterable[int], batch_size: int) -> int:
    """Estimated memory of one model in training (float32): :func:`mufno_lite.memory.estimate_config_memory`
    for one member (weights, gradients, Adam's two moments and the activations kept for backward)."""
    from ..fno import FNOConfig
    from ..memory import estimate_config_memory

    cfg = FNOConfig.from_dict(model, K=int(K))
    return estimate_config_memory(cfg, tuple(int(n) for n in spatial), int(batch_size), 1).total


def _sizes(*, pde: str, data: Mapping, model: Mapping, K: Iterable[int], batch_sizes: Iterable[int],
           n_runs: int, spatial: list[int]) -> None:
    """The sweep's sizes against :data:`LIMITS` (an estimate, stated in the message)."""
    pts = math.prod(spatial)
    if pts > LIMITS["data.points"]:
        raise fail("data.resolution", data["resolution"],
                   f"a grid of at most {LIMITS['data.points']} points per sample (got {pts})")
    values = 2 * (data["n_train"] + data["n_test"]) * pts
    if values > LIMITS["data.values"]:
        raise fail("data.n_train", data["n_train"],
                   f"a data set of at most {LIMITS['data.values']} values (got {values} = 2 × (n_train + n_test) × {pts} points)")
    if n_runs > LIMITS["runs"]:
        raise fail("lr", n_runs, f"a sweep of at most {LIMITS['runs']} runs (the grid has {n_runs})")
    est = _member_bytes(model, max(K), spatial, max(batch_sizes))
    if est > LIMITS["member_bytes"]:
        raise fail("model.width", model["width"],
                   f"a model that fits in {LIMITS['member_bytes'] >> 30} GiB in training (estimated "
                   f"{est / 2 ** 30:.3g} GiB at K={max(K)}, batch {max(batch_sizes)}: weights, gradients, Adam state "
                   f"and activations)")
