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
:class:`InProcessExecutor` is the default and the reference; a Ray executor would submit
``run_population_task`` remotely (a dataset factory that is a module-level function ships by
name), ``ray.wait`` on the futures and call ``on_result`` as they return.

The protocol is :class:`Executor`; the implementations are siblings here:
:class:`InProcessExecutor` (this module, the default and the reference),
:class:`~mufno_lite.sweep.executors.pool.LocalPoolExecutor` (local processes) and
:class:`~mufno_lite.sweep.executors.ray.RayExecutor` (Ray; optional, imported on demand).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Protocol, Sequence, runtime_checkable

from ..tasks import run_population_task

__all__ = ["Executor", "ExecutionContext", "InProcessExecutor"]


@dataclass
class ExecutionContext:
    """What an executor needs besides the tasks (see the module docstring)."""

    dataset_factory: Callable | None = None
    trainer: Callable | None = None
    should_stop: Callable[[], bool] = lambda: False
    step_progress: Callable[[Mapping], Callable | None] = lambda task: None



@runtime_checkable
class Executor(Protocol):
    """Anything that runs population tasks and hands their rows back (see the module docstring)."""

    def map_populations(self, tasks: Sequence[Mapping], on_result: Callable[[Mapping, list], None], *,
                        context: ExecutionContext) -> None:
        ...


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
