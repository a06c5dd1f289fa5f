"""The executor protocol (:class:`Executor`) and what the sweep hands every executor (:class:`ExecutionContext`).

The contract is in :mod:`mufno_lite.sweep.executors`' docstring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Protocol, Sequence, runtime_checkable

__all__ = ["Executor", "ExecutionContext"]


@dataclass
class ExecutionContext:
    """What an executor needs besides the tasks (the contract: :mod:`mufno_lite.sweep.executors`)."""

    dataset_factory: Callable | None = None
    trainer: Callable | None = None
    should_stop: Callable[[], bool] = lambda: False
    step_progress: Callable[[Mapping], Callable | None] = lambda task: None
    #: called as ``on_retry(task, reason)`` when an executor runs a population again because its
    #: worker process died (the sweep counts and reports it)
    on_retry: Callable[[Mapping, str], None] = lambda task, reason: None


@runtime_checkable
class Executor(Protocol):
    """Anything that runs population tasks and hands their rows back (the contract: :mod:`mufno_lite.sweep.executors`)."""

    def map_populations(self, tasks: Sequence[Mapping], on_result: Callable[[Mapping, list], None], *,
                        context: ExecutionContext) -> None:
        ...
