"""Sweeps: declarative grids of training runs, their stable ids, populations, executors, resuming.

A sweep is a grid over parametrizations × K × batch size (one *population* per combination) and
learning rate × seed × β₂ × init scale (the *members* of a population, trained in lockstep by
:func:`mufno_lite.train.train_population`).  Results go into a :class:`mufno_lite.store.ResultsStore`.

The package, one job per module (each module's docstring has the details):

* :mod:`.config` — validation of a sweep config, :class:`SweepConfig`, :class:`RunSpec`, run
  identity (:func:`run_id_of`), :func:`lr_grid`;
* :mod:`.tasks` — population tasks (:func:`population_tasks`), training one
  (:func:`run_population_task`) and the store rows of its members (:func:`member_rows`);
* :mod:`.executors` — the :class:`~.executors.Executor` protocol (:mod:`.executors.base`) and, as siblings,
  :class:`InProcessExecutor` (:mod:`.executors.inprocess`),
  :mod:`.executors.pool` (local processes) and :mod:`.executors.ray` (Ray, optional);
* :mod:`.run` — :func:`run_sweep`, :class:`SweepReport`, signals, progress bars, :func:`sweep_status`,
  :func:`sweep_results`.

Everything public is importable from here (``from mufno_lite.sweep import run_sweep``).
"""

from ..data.memo import _DATASET_CACHE, _DATASET_LOCK, clear_dataset_cache, load_dataset_cached  # noqa: F401
from ..device import resolve_device
from .config import (  # noqa: F401  (private names kept for old callers)
    DEVICES, PARAM_KINDS, PDE_DIMS, SCHEMA_VERSION, RunSpec, SweepConfig, _canon_float, _canonical_json, _jsonable,
    _population_key, _train_fields, _validate_train, canonical_json, lr_grid, run_id_of,
)
from .executors import ExecutionContext, Executor, InProcessExecutor
from .run import SweepReport, _progress_enabled, _signal_handlers, _StepBar, _StopFlag, run_sweep, sweep_results, sweep_status  # noqa: F401
from .tasks import _base_row, member_rows, population_tasks, run_population_task  # noqa: F401

__all__ = [
    "SCHEMA_VERSION",
    "PDE_DIMS",
    "SweepConfig",
    "RunSpec",
    "run_id_of",
    "lr_grid",
    "population_tasks",
    "run_population_task",
    "member_rows",
    "Executor",
    "ExecutionContext",
    "InProcessExecutor",
    "SweepReport",
    "run_sweep",
    "sweep_status",
    "sweep_results",
    "resolve_device",
    "load_dataset_cached",
    "clear_dataset_cache",
]
