"""Compatibility module: the pool executor lives in :mod:`mufno_lite.sweep.executors.pool`."""

from .sweep.executors.pool import LocalPoolExecutor, _cost, _init_worker, _run  # noqa: F401

__all__ = ["LocalPoolExecutor"]
