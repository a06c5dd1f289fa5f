"""Datasets loaded once per process: the in-memory cache a sweep's populations share.

(The on-disk cache of generated arrays is :mod:`mufno_lite.data.cache`; this one keeps the loaded
:class:`~mufno_lite.data.PDEDataset` objects, keyed by factory and data config, for this process.)
"""

from __future__ import annotations

import importlib
import threading
from typing import Callable, Mapping

from ..canonical import canonical_json

__all__ = ["load_dataset_cached", "clear_dataset_cache"]

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


def check_factory_signature(factory: Callable, params: Mapping | None = None, *, name: str = "dataset_factory") -> None:
    """Raise ``ValueError`` unless ``factory`` accepts the call :func:`load_dataset_cached` makes:
    ``factory(pde, resolution=, n_train=, n_test=, seed=, cache_dir=, device=, **params)``."""
    import inspect

    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return  # no signature to read (some builtins): checked when called
    try:
        sig.bind("pde", resolution=8, n_train=1, n_test=1, seed=0, cache_dir=None, device="cpu", **dict(params or {}))
    except TypeError as exc:
        raise ValueError(f"{name} {getattr(factory, '__qualname__', factory)!s} cannot be called as factory(pde, *, "
                         f"resolution, n_train, n_test, seed, cache_dir, device, **data.params"
                         f"{' = ' + str(sorted(params)) if params else ''}) (load_dataset's signature): {exc}") from None


def _default_factory() -> Callable:
    from .dataset import load_dataset

    return load_dataset


def load_dataset_cached(task: Mapping, dataset_factory: Callable | None = None):
    """The dataset of a task, loaded once per (factory, pde, data config, device) in this process.

    The factory is called as ``factory(pde, resolution=…, n_train=…, n_test=…, seed=…,
    cache_dir=…, device=…, **params)`` (the signature of :func:`mufno_lite.data.load_dataset`).
    """
    if dataset_factory is None and task.get("files") and not task.get("dataset_factory"):
        from .registry import load_task_data  # own data: a registered or file-read pde

        key = (load_task_data, canonical_json({"pde": task["pde"], "data": task["data"], "device": task["device"]}))
        with _DATASET_LOCK:
            if key in _DATASET_CACHE:
                return _DATASET_CACHE[key]
        ds = load_task_data(task)
        with _DATASET_LOCK:
            _DATASET_CACHE[key] = ds
        return ds
    if dataset_factory is None:
        dataset_factory = _import_factory(task["dataset_factory"]) if task.get("dataset_factory") else _default_factory()
    data = task["data"]
    key = (dataset_factory, canonical_json({"pde": task["pde"], "data": data, "device": task["device"],
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
