"""A process-pool executor: the populations of a sweep on all local cores, no cluster needed.

It implements the executor interface of :mod:`mufno_lite.sweep.executors` (``map_populations(tasks,
on_result, *, context)``) with its own small pool of ``spawn``-ed worker processes: each worker
trains one population at a time with ``threads`` torch threads (1 by default: on a small CPU, one
process per core beats several threads per process for these model sizes), and the rows come back
to the calling process, which writes them to the store.  Populations are submitted largest first so
that the last ones to finish are short.  The data set is generated once in the calling process
before the workers start (it lands in the on-disk cache, which the workers then read).

``context.trainer`` and ``context.dataset_factory`` go to the workers by pickling (module-level
functions travel by name); one that cannot be pickled is refused with a ``ValueError`` before
anything starts.  ``context.step_progress`` is not used (per-step bars are in-process only).

On CUDA every worker trains on the same GPU, so each budgets 1/(workers running at once) of its
memory (:func:`gpu_share`, passed as ``$MUFNO_DEVICE_SHARE`` to :func:`mufno_lite.memory.device_budget`).

Faults (decision: like the Ray executor).  The pool knows which population each worker runs, so a
worker that dies (SIGKILL, the OOM killer, a segfault, ``os._exit``) costs only its own population:
that population is run again on a fresh worker, up to ``max_retries`` times (``context.on_retry``
is told each time), then its runs are recorded ``failed`` with the reason (exit code or signal);
the other populations go on.  An exception inside training is not a fault of the worker: it comes
back as ``failed`` rows (``run_population_task``) and is not retried here (re-running the sweep
retries failed runs).  (``concurrent.futures.ProcessPoolExecutor`` is not used: one dead worker
breaks its whole pool, and cancelling it on Ctrl-C can print ``InvalidStateError`` tracebacks.)

Stopping: ``context.should_stop()`` is checked as results arrive (at least every second); once it
is true, queued populations are dropped, running ones are abandoned (their worker processes are
terminated) and :class:`mufno_lite.train.TrainingInterrupted` is raised, as the interface asks.
Workers ignore SIGINT (the parent handles Ctrl-C) and die with the parent (``PR_SET_PDEATHSIG``).
"""
from __future__ import annotations

import multiprocessing as mp
import os

from ...validation import fail, integer, positive_int

#: the most worker processes one machine runs at once (``--workers``, ``$MUFNO_WORKERS``, ``plan``)
MAX_WORKERS = 1024


def check_workers(v, key: str = "workers") -> int:
    """A number of worker processes: an integer in ``[1, MAX_WORKERS]`` (a numeric string too, as
    ``$MUFNO_WORKERS`` gives it)."""
    if isinstance(v, str):
        try:
            v = int(v.strip())
        except ValueError:
            raise fail(key, v, f"an integer in [1, {MAX_WORKERS}]") from None
    return integer(key, v, lo=1, hi=MAX_WORKERS)


def env_workers() -> int:
    """The process count of ``$MUFNO_WORKERS`` (checked by name), else one per core."""
    env = os.environ.get("MUFNO_WORKERS")
    return check_workers(env, "$MUFNO_WORKERS") if env else min(os.cpu_count() or 1, MAX_WORKERS)

__all__ = ["LocalPoolExecutor"]


def _init_worker(threads: int, share: float | None = None) -> None:
    _die_with_parent()
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if share is not None:  # workers on one GPU: each budgets its share of the memory (memory.device_budget)
        from ...device import DEVICE_SHARE_ENV

        os.environ[DEVICE_SHARE_ENV] = repr(float(share))
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


def _worker_main(conn, threads: int, dataset_factory, trainer, share: float | None = None) -> None:
    """A worker: receive a task, send back ``("rows", rows)`` (or ``("interrupted", text)`` /
    ``("error", text)``); ``None`` ends it."""
    import traceback

    from ...train import TrainingInterrupted

    _init_worker(threads, share)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            msg = ("rows", _run(task, dataset_factory, trainer))
        except TrainingInterrupted as e:
            msg = ("interrupted", f"{type(e).__name__}: {e}")
        except BaseException:  # noqa: BLE001  (the parent decides; this worker stays usable)
            msg = ("error", traceback.format_exc()[-20000:])
        try:
            conn.send(msg)
        except (OSError, ValueError):
            return


class _Worker:
    """One worker process, its pipe, and the task it runs (``None`` when idle)."""

    def __init__(self, ctx, threads: int, dataset_factory, trainer, share: float | None = None):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, threads, dataset_factory, trainer, share), daemon=True,
                                name="mufno-pool-worker")
        self.proc.start()
        child.close()
        self.task = None

    def stop(self, *, force: bool) -> None:
        try:
            if force:
                self.proc.terminate()
            else:
                self.conn.send(None)
        except (OSError, ValueError, AttributeError):
            pass

    def reap(self, timeout: float = 5.0) -> None:
        self.proc.join(timeout)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5.0)
        self.conn.close()
        try:
            self.proc.close()
        except ValueError:
            pass


def _death_reason(code) -> str:
    import signal

    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


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


def gpu_share(tasks, workers: int) -> float | None:
    """Each worker's share of the GPU when the tasks train on CUDA: every worker uses the same
    device, so 1 / (the workers that run at once); None on a CPU (the budget does not apply)."""
    if not any(str(t.get("device", "")).startswith("cuda") for t in tasks):
        return None
    return 1.0 / max(1, min(workers, len(tasks)))


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
    """Run populations in ``workers`` local processes (default: all cores); a population whose worker
    died is run again up to ``max_retries`` times, then recorded ``failed``."""

    def __init__(self, workers: int | None = None, threads: int = 1, max_retries: int = 2):
        n = check_workers(workers if workers is not None else min(os.cpu_count() or 1, MAX_WORKERS))
        positive_int("threads", threads)
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise fail("max_retries", max_retries, "an integer >= 0")
        self.workers, self.threads, self.max_retries = n, threads, max_retries

    def __repr__(self) -> str:
        return f"LocalPoolExecutor(workers={self.workers}, threads={self.threads}, max_retries={self.max_retries})"

    def map_populations(self, tasks, on_result, *, context) -> None:
        from collections import deque
        from multiprocessing.connection import wait

        from ...data.memo import load_dataset_cached
        from ...train import TrainingInterrupted
        from ..tasks import member_rows

        tasks = sorted(tasks, key=_cost, reverse=True)
        if not tasks or context.should_stop():
            return
        _check_picklable("trainer", context.trainer)
        _check_picklable("dataset_factory", context.dataset_factory)
        # generate each data set here first (load_dataset_cached keeps one per data config), so that
        # the workers only read the on-disk cache
        for t in tasks:
            load_dataset_cached(t, context.dataset_factory)
        on_retry = getattr(context, "on_retry", None) or (lambda task, reason: None)
        ctx = mp.get_context("spawn")
        queue = deque(tasks)
        attempts: dict[int, int] = {}
        workers: list[_Worker] = []

        share = gpu_share(tasks, self.workers)

        def spawn() -> _Worker:
            w = _Worker(ctx, self.threads, context.dataset_factory, context.trainer, share)
            workers.append(w)
            return w

        def died(w: _Worker) -> None:
            task, w.task = w.task, None
            workers.remove(w)
            w.proc.join(5.0)
            reason = f"worker process {w.proc.pid} {_death_reason(w.proc.exitcode)}"
            w.reap(0)
            key = id(task)
            attempts[key] = attempts.get(key, 1) + 1
            if attempts[key] <= self.max_retries + 1:
                on_retry(task, f"{reason}; running it again (attempt {attempts[key]} of {self.max_retries + 1})")
                queue.appendleft(task)
            else:
                error = (f"pool: population task failed: {reason} on each of {self.max_retries + 1} attempt(s) "
                         f"(max_retries={self.max_retries})")
                from ...store import utc_now

                on_result(task, member_rows(task, status="failed", error=error, created_at=utc_now(),
                                            population_wall_time_s=None))

        try:
            for _ in range(min(self.workers, len(queue))):
                spawn()
            while queue or any(w.task is not None for w in workers):
                if context.should_stop():
                    raise TrainingInterrupted(0, 0)
                for w in workers:
                    if w.task is None and queue:
                        w.task = queue.popleft()
                        try:
                            w.conn.send(w.task)
                        except (OSError, ValueError):
                            pass  # the worker is dead: found below
                missing = min(self.workers, len(queue) + sum(w.task is not None for w in workers)) - len(workers)
                for _ in range(max(0, missing)):
                    spawn()
                busy = [w for w in workers if w.task is not None]
                if not busy:
                    continue
                ready = set(wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], timeout=1.0))
                for w in busy:
                    if w.conn not in ready and w.proc.sentinel not in ready:
                        continue
                    msg = None
                    try:
                        if w.conn.poll():
                            msg = w.conn.recv()
                    except (EOFError, OSError):
                        msg = None
                    if msg is None:
                        if not w.proc.is_alive():
                            died(w)
                        continue
                    task, w.task = w.task, None
                    kind, payload = msg
                    if kind == "rows":
                        on_result(task, payload)
                    elif kind == "interrupted":
                        raise TrainingInterrupted(0, 0)
                    else:  # a BaseException the task does not turn into rows (SystemExit in a trainer, …)
                        from ...store import utc_now

                        on_result(task, member_rows(task, status="failed", error=f"pool worker {w.proc.pid}: {payload}",
                                                    created_at=utc_now(), population_wall_time_s=None))
        except BaseException:
            for w in workers:
                w.stop(force=True)
            for w in workers:
                w.reap(5.0)
            raise
        for w in workers:
            w.stop(force=False)
        for w in workers:
            w.reap(10.0)
