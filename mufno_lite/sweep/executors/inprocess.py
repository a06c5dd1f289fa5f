"""The default executor: populations one after the other, in this process (the reference implementation)."""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

from ..tasks import run_population_task
from .base import ExecutionContext

__all__ = ["InProcessExecutor"]


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
