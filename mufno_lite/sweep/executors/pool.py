"""A process-pool executor: the populations of a sweep on all local cores, no cluster needed.

It implements the executor interface of :mod:`mufno_lite.sweep.executors` (``map_populations(tasks,
on_result, *, context)``) with :class:`concurrent.futures.ProcessPoolExecutor`: each worker process
trains one population at a time with ``threads`` torch threads (1 by default: on a small CPU, one
process per core beats several threads per process for these model sizes), and the rows come back
to the calling process, which writes them to the store.  Populations are submitted largest first so
that the last ones to finish are short.  The data set is generated once in the calling process
before the workers start (it lands in the on-disk cache, which the workers then read).

``context.trainer`` and ``context.dataset_factory`` go to the workers by pickling (module-level
functions travel by name); one that cannot be pickled is refused with a ``ValueError`` before
anything starts.  ``context.step_progress`` is not used (per-step bars are in-process only).

Stopping: ``context.should_stop()`` is checked as results arrive (at least every second); once it
is true, queued populations are cancelled, running ones are abandoned (their worker processes are
terminated) and :class:`mufno_lite.train.TrainingInterrupted` is raised, as the interface asks.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os

from ...validation import fail, positive_int

__all__ = ["LocalPoolExecutor"]


def _init_worker(threads: int) -> None:
    _die_with_parent()
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool
    import torch

    torch.set_num_threads(threads)


def _die_with_parent() -> None:
    """On Linux, ask the kernel to kill this worker if the process that started it dies (even by
    SIGKILL), so that no orphaned worker keeps training."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _run(task, dataset_factory, trainer=None):
    from ..tasks import run_population_task

    return run_population_task(task, dataset_factory, trainer=trainer)


def _check_picklable(what: str, obj) -> None:
    """The workers get ``obj`` by pickling (spawned processes): refuse early, and say why, if it cannot go."""
    if obj is None:
        return
    import pickle

    try:
        pickle.dumps(obj)
    except Exception as e:  # noqa: BLE001  (pickle raises several kinds)
        raise ValueError(
            f"LocalPoolExecutor ships context.{what} to its worker processes by pickling, but {obj!r} cannot be "
            f"pickled ({type(e).__name__}: {e}); use a module-level function (or a picklable object), or run "
            "with the in-process executor"
        ) from None


def _cost(task) -> float:
    """A rough relative cost: members × steps × grid points × K^d (ordering only)."""
    import math

    data = task.get("data", {})
    res = data.get("resolution", 1)
    d = task.get("model", {}).get("d", 1)
    K = task.get("model", {}).get("K", 1)
    steps = task.get("train", {}).get("steps", 1)
    return len(task.get("members", [])) * steps * float(res) ** d * math.log(K + 1)


class LocalPoolExecutor:
    """Run populations in ``workers`` local processes (default: all cores)."""

    def __init__(self, workers: int | None = None, threads: int = 1):
        n = workers if workers is not None else (os.cpu_count() or 1)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise fail("workers", workers, "a positive integer")
        positive_int("threads", threads)
        self.workers, self.threads = n, threads

    def __repr__(self) -> str:
        return f"LocalPoolExecutor(workers={self.workers}, threads={self.threads})"

    def map_populations(self, tasks, on_result, *, context) -> None:
        from ...data.memo import load_dataset_cached
        from ...train import TrainingInterrupted

        tasks = sorted(tasks, key=_cost, reverse=True)
        if not tasks:
            return
        _check_picklable("trainer", context.trainer)
        _check_picklable("dataset_factory", context.dataset_factory)
        # generate each data set here first (load_dataset_cached keeps one per data config), so that
        # the workers only read the on-disk cache
        for t in tasks:
            load_dataset_cached(t, context.dataset_factory)
        ctx = mp.get_context("spawn")
        pool = cf.ProcessPoolExecutor(max_workers=min(self.workers, len(tasks)), mp_context=ctx,
                                      initializer=_init_worker, initargs=(self.threads,))
        futures = {pool.submit(_run, t, context.dataset_factory, context.trainer): t for t in tasks}
        pending = set(futures)
        try:
            while pending:
                if context.should_stop():
                    raise TrainingInterrupted(0, 0)
                done, pending = cf.wait(pending, timeout=1.0, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    on_result(futures[fut], fut.result())
        except BaseException:
            for fut in pending:
                fut.cancel()
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
