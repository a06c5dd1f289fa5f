"""Validation of a sweep config's parts, in the sweep's message style (``invalid sweep config:
<key path>=<value>; allowed: …``): scalars, lists, the learning-rate grid (:func:`lr_grid`), the
``train`` block and the allowed keys."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Iterable, Mapping

from ..train import TrainConfig
from ..validation import ConfigError, choice, integer, number
from .identity import _canon_float


_GRID_OWNED = {"lr": "the top-level `lr` grid", "batch_size": "the top-level `batch_sizes` list"}


# =============================================================================================
# validation helpers
# =============================================================================================


def _bad(path: str, value, allowed: str) -> ConfigError:
    return ConfigError(f"invalid sweep config: {path}={value!r}; allowed: {allowed}", key=path, value=value,
                       allowed=allowed)


def _sweep_style(check, path, v, **kwargs):
    """``check`` from :mod:`mufno_lite.validation`, its error restated in the sweep's message style."""
    try:
        return check(path, v, **kwargs)
    except ConfigError as e:
        raise _bad(path, e.value, e.allowed) from None


def _int(path, v, lo=None, hi=None) -> int:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    allowed = "an integer" + (f" >= {lo}" if lo is not None else "") + (f" and <= {hi}" if hi is not None else "")
    return _sweep_style(integer, path, v, lo=lo, hi=hi, allowed=allowed)


def _num(path, v, *, lo=None, lo_open=False, hi=None, hi_open=False, allowed=None) -> float:
    if isinstance(v, str):
        try:  # YAML 1.1 reads "1e-3" as a string
            v = float(v)
        except ValueError:
            pass
    if isinstance(v, int) and not isinstance(v, bool):
        v = float(v)  # messages show the value as a float (lr.stop=-3.0)
    return _sweep_style(number, path, v, lo=lo, lo_open=lo_open, hi=hi, hi_open=hi_open, allowed=allowed)


def _bool(path, v) -> bool:
    if not isinstance(v, bool):
        raise _bad(path, v, "true or false")  # YAML spelling
    return v


def _str(path, v, choices=None) -> str:
    if not isinstance(v, str) or not v:
        raise _bad(path, v, f"one of {list(choices)}" if choices else "a non-empty string")
    if choices is not None:
        try:
            choice(path, v, choices)
        except ConfigError:
            raise _bad(path, v, f"one of {list(choices)}") from None
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
            raise ConfigError(f"invalid sweep config: unknown key {where!r} (value {d[k]!r}); allowed keys: {allowed}",
                              key=where, value=d[k], allowed=f"one of the keys {allowed}")


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
    try:
        TrainConfig(**out)
    except ConfigError as e:  # TrainConfig names the field; the sweep puts it under `train`
        where = e.under("train")
        raise ConfigError(f"invalid sweep config: {where}: {e}", key=where, value=e.value, allowed=e.allowed) from None
    except (ValueError, TypeError) as e:
        raise ConfigError(f"invalid sweep config: train: {e}", key="train") from None
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
    "pde_module",  # own data (sweep/owndata.py)
)
_DATA_KEYS = ("resolution", "n_train", "n_test", "seed", "params",
              "files", "normalize", "grid")  # own data (sweep/owndata.py)
_MODEL_KEYS = ("d", "width", "n_layers", "in_channels", "out_channels", "projection_width", "grid", "padding",
               "grid_convention")  # left out of a run's identity while "endpoint" (fno.OPTIONAL_MODEL_FIELDS)
