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

The public names (``__all__``) are importable from here (``from mufno_lite.sweep import run_sweep``); anything
else from its own module.
"""

from ..data.memo import clear_dataset_cache, load_dataset_cached
from ..device import resolve_device
from .config import PDE_DIMS, SweepConfig
from .identity import SCHEMA_VERSION, RunSpec, run_id_of
from .validate import lr_grid
from .executors import ExecutionContext, Executor, InProcessExecutor
from .run import SweepReport, run_sweep, sweep_results, sweep_status
from .tasks import member_rows, population_tasks, run_population_task

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
