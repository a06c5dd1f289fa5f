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


@runtime_checkable
class Executor(Protocol):
    """Anything that runs population tasks and hands their rows back (the contract: :mod:`mufno_lite.sweep.executors`)."""

    def map_populations(self, tasks: Sequence[Mapping], on_result: Callable[[Mapping, list], None], *,
                        context: ExecutionContext) -> None:
        ...
