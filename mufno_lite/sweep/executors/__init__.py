"""Executors: how a sweep's population tasks get run.

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
An executor that runs a population again because its worker process died calls
``context.on_retry(task, reason)`` (the sweep counts and reports it).
:class:`InProcessExecutor` is the default and the reference; a Ray executor would submit
``run_population_task`` remotely (a dataset factory that is a module-level function ships by
name), ``ray.wait`` on the futures and call ``on_result`` as they return.

The protocol is :class:`Executor` (with :class:`ExecutionContext`, in :mod:`.base`); the
implementations are siblings: :class:`InProcessExecutor` (:mod:`.inprocess`, the default and the
reference),
:class:`~mufno_lite.sweep.executors.pool.LocalPoolExecutor` (local processes) and
:class:`~mufno_lite.sweep.executors.ray.RayExecutor` (Ray; optional, imported on demand).
"""

from .base import ExecutionContext, Executor
from .inprocess import InProcessExecutor

__all__ = ["Executor", "ExecutionContext", "InProcessExecutor"]
