"""Run a sweep's populations as Ray tasks, on a local Ray instance or on a Ray cluster.

:class:`RayExecutor` implements the executor interface of :mod:`mufno_lite.sweep.executors`
(``map_populations(tasks, on_result, *, context)``): every population task becomes one Ray task
that calls :func:`mufno_lite.sweep.run_population_task` on a worker, and the rows come back to the
driver, where ``on_result`` writes them to the SQLite store.  So the store lives on the driver
only; resuming, ``status`` and the figures work exactly as with :class:`~mufno_lite.sweep.InProcessExecutor`.

Ray is an optional extra (``pip install 'mufno-lite[cluster]'``).  This module does not import
Ray at import time; :class:`RayExecutor` imports it when constructed and raises an
``ImportError`` that says how to install it when it is missing.  Importing :mod:`mufno_lite`,
:mod:`mufno_lite.sweep` or :mod:`mufno_lite.cli` never imports Ray.

Conventions and decisions
-------------------------
* **Connecting.**  ``address=None`` starts a private local Ray instance on the first
  :meth:`RayExecutor.start` (called by ``map_populations``): ``num_cpus`` CPUs (default: all),
  no dashboard, bound to the loopback interface only (Ray resolves ``_node_ip_address='127.0.0.1'``
  to the machine's outward address on Linux unless its "cluster mode" is switched off, so both
  are done while ``ray.init`` runs), usage statistics off.  Any other address (``"auto"``,
  ``"host:6379"``, ``"ray://head:10001"``) joins that cluster.  If Ray is already initialised in
  this process (the caller ran ``ray.init`` itself) it is used as is and left running.
  :meth:`RayExecutor.close` (or leaving the ``with`` block) calls ``ray.shutdown()`` when this
  executor called ``ray.init``: that stops a local instance it started, and only disconnects
  from a cluster (the cluster keeps running).
* **Resources.**  Each task asks for ``cpus_per_task`` CPUs, ``num_gpus_per_task`` GPUs and
  ``memory_per_task`` bytes of memory (Ray's logical resources: they decide how many
  populations run at once on a node, they do not confine a process).  The worker sets
  ``torch.set_num_threads`` to ``torch_threads`` (default ``max(1, floor(cpus_per_task))``),
  so populations sharing a node do not oversubscribe its cores and CPU results are
  reproducible run to run.  With ``num_gpus_per_task > 0`` the task trains on ``"cuda"`` (the GPU
  Ray assigned, via ``CUDA_VISIBLE_DEVICES``) whatever device the driver resolved; the row's
  ``device`` column says so.  A ``device=`` argument overrides this.  A task on ``cuda`` must ask
  for a GPU: Ray hides the GPUs from a task that asked for none (``CUDA_VISIBLE_DEVICES`` empty),
  so :func:`gpus_per_task` gives a cuda sweep 1 GPU per task by default and refuses 0 in one line
  (as :class:`RayExecutor` and the ``sweep`` command do).  A fractional ``num_gpus_per_task``
  (several populations on one GPU) is also each task's share of the GPU's memory: the worker sets
  ``$MUFNO_DEVICE_SHARE`` to it, so :func:`mufno_lite.memory.device_budget` budgets only that share.
* **Failures.**  Two kinds, on purpose treated differently:

  - *Application errors* (an exception inside data loading or training) are caught by
    ``run_population_task`` on the worker and come back as ``failed`` rows with the traceback.
    They are deterministic (same config, same error), so Ray does not retry them
    (``retry_exceptions=False``); re-running the sweep retries failed runs (the sweep's resume
    logic skips only ``done`` and ``diverged`` runs).
  - *System failures* (the worker process died — segfault, ``os._exit``, OOM kill — or its node
    died or was lost) are retried by Ray up to ``max_retries`` times, possibly on another node.
    When the retries are used up, or the task cannot run at all (e.g. the task's code cannot be
    unpickled on the worker), the executor records the population's runs as ``failed`` with the
    Ray error as ``error`` and the sweep goes on.
* **Stopping.**  Between results the driver polls ``context.should_stop()`` (every
  ``poll_interval_s`` seconds while tasks run).  Once it is true, results that already finished
  are still handed to ``on_result``, every outstanding task is cancelled and
  ``map_populations`` returns; the sweep then reports ``interrupted``.  Cancelling is
  ``ray.cancel(ref, force=True)``: queued tasks never start and running ones lose their worker
  process, so the populations in flight are dropped (as in process, where the trainer stops after
  its step).  Decision: not ``force=False``, whose ``KeyboardInterrupt`` can land inside an
  ``import`` and leave a reused worker with a half-imported ``torch`` (seen in testing).  A
  ``TrainingInterrupted`` raised by a remote task (only a custom trainer can do that; workers
  get no ``should_stop``) and any exception in the driver (e.g. a second Ctrl-C, a store error)
  also cancel the outstanding tasks, then propagate.
  ``ray.init`` replaces the process's SIGTERM handler with one that exits; :meth:`RayExecutor.start`
  keeps the previous handler while Ray starts (and puts it back after), so the sweep's SIGINT/SIGTERM
  handling stays in charge during start-up too: a signal then stops the sweep with its summary
  and resume hint, and the CLI's ``close()`` (in a ``finally``) shuts down what Ray started.  A
  start that raises (a second Ctrl-C, a failed connection) calls ``ray.shutdown()`` itself.
* **Shipping code.**  The task dict, the context's ``dataset_factory`` and ``trainer`` are
  pickled (cloudpickle) to the workers: module-level functions travel by name and must be
  importable there (install ``mufno_lite`` and any factory module on every node, or use
  ``init_kwargs={'runtime_env': …}``); ``progress`` bars are driver-only and not shipped.
* All tasks are submitted at once; Ray queues those that do not fit the cluster's resources.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Mapping, Sequence

from ...validation import fail

__all__ = ["RayExecutor", "RAY_INSTALL_HINT", "import_ray"]

RAY_INSTALL_HINT = (
    "the Ray executor needs the optional dependency 'ray', which is not installed; install it with "
    "`pip install 'mufno-lite[cluster]'` (or `pip install 'ray[default]>=2.9'`), or use --executor inprocess"
)


def import_ray():
    """Import and return the ``ray`` module, or raise ``ImportError`` saying how to install it."""
    try:
        import ray  # noqa: PLC0415  (optional dependency, imported on demand)
    except ImportError as e:
        raise ImportError(RAY_INSTALL_HINT) from e
    return ray


def gpus_per_task(device: str | None, num_gpus: float | None) -> float:
    """GPUs each population task asks Ray for: ``num_gpus`` if given, else 1 when ``device`` is
    CUDA and 0 otherwise (``'auto'`` resolves on the worker: with no GPU asked for, that is the CPU).
    A CUDA device with 0 GPUs is refused (``ValueError``): Ray would hide every GPU from the task."""
    cuda = isinstance(device, str) and device.lower().startswith("cuda")
    if num_gpus is None:
        return 1.0 if cuda else 0.0
    if cuda and num_gpus == 0:
        raise ValueError(f"--ray-num-gpus 0 with device {device!r}: Ray hides the GPUs from a task that asks for "
                         f"none, so every population would fail; give --ray-num-gpus > 0 (e.g. 1, or 0.5 for two "
                         f"populations per GPU) or --device cpu")
    return num_gpus


def _run_population_remote(task: Mapping, dataset_factory, trainer, threads: int, device: str | None,
                           gpu_share: float = 0) -> list[dict]:
    """Body of a Ray task: pin torch's threads, set its share of the GPU, then train one population
    (see the module docs)."""
    import torch

    from ...device import DEVICE_SHARE_ENV
    from ..tasks import run_population_task

    if gpu_share > 0:  # a fraction of one GPU is this task's share of its memory
        os.environ[DEVICE_SHARE_ENV] = repr(min(1.0, float(gpu_share)))
    if threads and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    if device is not None and device != task.get("device"):
        task = dict(task, device=device)
    return run_population_task(task, dataset_factory=dataset_factory, trainer=trainer)


def _failed_rows(task: Mapping, error: str) -> list[dict]:
    """``failed`` rows for every member of ``task`` (as ``run_population_task`` writes them)."""
    from ...store import utc_now
    from ..tasks import member_rows

    return member_rows(task, status="failed", error=error[-20000:], created_at=utc_now(), population_wall_time_s=None)


@contextmanager
def _local_instance_env(loopback: bool):
    """Environment for starting a private local instance: loopback only, no usage statistics."""
    saved = {k: os.environ.get(k) for k in ("RAY_USAGE_STATS_ENABLED", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")}
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    consts, old_flag = None, None
    if loopback:
        # Ray's processes (started now, and the workers the raylet starts later) inherit this
        # variable; the module constant is patched because ray read it at import time.
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
        try:
            from ray._private import ray_constants as consts

            old_flag = consts.ENABLE_RAY_CLUSTER
            consts.ENABLE_RAY_CLUSTER = False
        except (ImportError, AttributeError):  # another Ray layout: _node_ip_address still asks for loopback
            consts = None
    try:
        yield
    finally:
        if consts is not None:
            consts.ENABLE_RAY_CLUSTER = old_flag
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def _keep_sigterm_handler(ray):
    """While ``ray.init`` runs, keep the process's SIGTERM handler (the sweep's clean stop): Ray's
    own handler calls ``sys.exit`` mid-start-up, which ended in a C++ abort (exit 134) and orphaned
    Ray processes.  (:meth:`RayExecutor.start` also turns that ``SystemExit`` into the signal, in
    case a Ray version installs its handler another way.)"""
    utils = getattr(getattr(ray, "_private", None), "utils", None)
    original = getattr(utils, "set_sigterm_handler", None)
    if original is None:
        yield
        return
    utils.set_sigterm_handler = lambda handler: None
    try:
        yield
    finally:
        utils.set_sigterm_handler = original


def _check_number(name: str, value, *, lo: float, integer: bool = False, allow_none: bool = False):
    if value is None and allow_none:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= lo
    if integer:
        ok = ok and float(value).is_integer()
    if not ok:
        kind = "an integer" if integer else "a number"
        raise fail(name, value, f"{kind} >= {lo}{' or None' if allow_none else ''}")
    return int(value) if integer else value


class RayExecutor:
    """Executor that runs each population task as a Ray task (see the module docstring).

    Parameters
    ----------
    address : str, optional
        ``None``: start a private local instance (loopback only, no dashboard).  ``"auto"``, a
        ``host:port`` of a running head node or ``"ray://host:10001"`` (Ray Client): join it.
    num_cpus : int, optional
        CPUs of the local instance (``address=None`` only; default: all of this machine's).
    num_gpus_per_task : float
        GPUs each population asks for (0: CPU training).
    cpus_per_task : float
        CPUs each population asks for (> 0; fractions allowed).
    memory_per_task : int, optional
        Bytes of memory each population asks for (Ray's ``memory`` resource).
    max_retries : int
        Retries of a task whose worker or node died (system failures), then it is recorded
        ``failed``.  Application exceptions are not retried (they become ``failed`` rows).
    init_kwargs : dict, optional
        More keyword arguments for ``ray.init`` (e.g. ``runtime_env``, ``object_store_memory``,
        ``namespace``); they override the executor's own.
    torch_threads : int, optional
        ``torch.set_num_threads`` in the workers (default ``max(1, floor(cpus_per_task))``).
    device : str, optional
        Device the workers train on (default: ``"cuda"`` if ``num_gpus_per_task > 0``, else the
        device in the task, i.e. the one the driver resolved).
    poll_interval_s : float
        How often the driver checks ``context.should_stop()`` while waiting for results.

    Raises
    ------
    ImportError
        Ray is not installed (the message says how to install it).
    ValueError
        A parameter is out of range (the message names it and its value).

    Examples
    --------
    >>> with RayExecutor(address="auto", cpus_per_task=4) as ex:          # doctest: +SKIP
    ...     run_sweep("configs/burgers_smoke.yaml", "results/r.sqlite", executor=ex)
    """

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None, num_gpus_per_task: float = 0,
                 cpus_per_task: float = 1, memory_per_task: int | None = None, max_retries: int = 2,
                 init_kwargs: Mapping[str, Any] | None = None, *, torch_threads: int | None = None,
                 device: str | None = None, poll_interval_s: float = 0.5):
        if address is not None and (not isinstance(address, str) or not address.strip()):
            raise ValueError(f"address must be None, 'auto', 'host:port' or 'ray://host:port'; got address={address!r}")
        self.address = address.strip() if isinstance(address, str) else None
        self.num_cpus = _check_number("num_cpus", num_cpus, lo=1, integer=True, allow_none=True)
        if self.num_cpus is not None and self.address is not None:
            raise ValueError(f"num_cpus applies to a local instance only (address=None); got num_cpus={num_cpus!r} "
                             f"with address={address!r} (give each node its CPUs with `ray start --num-cpus`)")
        self.num_gpus_per_task = _check_number("num_gpus_per_task", num_gpus_per_task, lo=0)
        self.cpus_per_task = _check_number("cpus_per_task", cpus_per_task, lo=0)
        if self.cpus_per_task == 0 and self.num_gpus_per_task == 0:
            raise ValueError("cpus_per_task must be > 0 when num_gpus_per_task is 0; got cpus_per_task=0")
        self.memory_per_task = _check_number("memory_per_task", memory_per_task, lo=1, integer=True, allow_none=True)
        self.max_retries = _check_number("max_retries", max_retries, lo=0, integer=True)
        if init_kwargs is not None and not isinstance(init_kwargs, Mapping):
            raise ValueError(f"init_kwargs must be a mapping or None; got init_kwargs={init_kwargs!r}")
        self.init_kwargs = dict(init_kwargs or {})
        self.torch_threads = _check_number("torch_threads", torch_threads, lo=1, integer=True, allow_none=True)
        if self.torch_threads is None:
            self.torch_threads = max(1, int(math.floor(self.cpus_per_task)))
        if device is not None and (not isinstance(device, str) or not (device in ("cpu", "cuda")
                                                                        or device.startswith("cuda:"))):
            raise ValueError(f"device must be None, 'cpu', 'cuda' or 'cuda:N'; got device={device!r}")
        if device is not None and device.startswith("cuda") and self.num_gpus_per_task == 0:
            raise ValueError(f"num_gpus_per_task must be > 0 with device={device!r} (Ray hides the GPUs from a task "
                             f"that asks for none); got num_gpus_per_task=0")
        self.device = device if device is not None else ("cuda" if self.num_gpus_per_task > 0 else None)
        self.poll_interval_s = _check_number("poll_interval_s", poll_interval_s, lo=0.001)
        self._ray = import_ray()
        self._owns_ray = False
        self._remote = None
        self.init_time_s: float | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        """Whether Ray is initialised in this process."""
        return bool(self._ray.is_initialized())

    def start(self) -> "RayExecutor":
        """Connect to the cluster or start the local instance (idempotent); returns ``self``."""
        ray = self._ray
        if not ray.is_initialized():
            t0 = time.perf_counter()
            kw: dict[str, Any] = {}
            if self.address is None:
                kw.update(num_cpus=self.num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1")
            else:
                kw["address"] = self.address
            kw.update(self.init_kwargs)
            loopback = self.address is None and kw.get("_node_ip_address") in ("127.0.0.1", "localhost")
            main = threading.current_thread() is threading.main_thread()
            old_sigterm = signal.getsignal(signal.SIGTERM) if main else None
            self._owns_ray = True  # from here on, close() shuts down whatever ray.init started
            try:
                with _keep_sigterm_handler(ray):
                    if self.address is None:
                        with _local_instance_env(loopback):
                            ray.init(**kw)
                    else:
                        ray.init(**kw)
            except SystemExit as e:
                # Ray's own SIGTERM handler (sys.exit(signum)) fired while it started: treat it as the
                # signal it was, so that the sweep stops cleanly with its summary and resume hint
                self.close()
                if main and e.code == signal.SIGTERM and callable(old_sigterm):
                    old_sigterm(signal.SIGTERM, None)
                    return self
                raise
            except Exception as e:  # a failed start (e.g. "node timed out during startup"): one line, nothing left
                self.close()
                where = "start the local Ray instance" if self.address is None else f"connect to Ray at {self.address!r}"
                raise ValueError(f"could not {where}: {type(e).__name__}: {' '.join(str(e).split())[:300]}") from e
            except BaseException:  # a second Ctrl-C: leave no Ray processes behind
                self.close()
                raise
            finally:
                if old_sigterm is not None:  # ray.init installs its own SIGTERM handler (sys.exit)
                    signal.signal(signal.SIGTERM, old_sigterm)
            self._owns_ray = True
            self.init_time_s = time.perf_counter() - t0
        if self._remote is None and ray.is_initialized():
            self._remote = ray.remote(_run_population_remote)
        return self

    def close(self) -> None:
        """``ray.shutdown()`` if this executor initialised Ray (stops a local instance it started)."""
        self._remote = None
        if self._owns_ray:
            self._owns_ray = False
            try:
                if self._ray.is_initialized():
                    self._ray.shutdown()
            except Exception:  # noqa: BLE001  (a half-started instance: shut down what there is)
                try:
                    self._ray.shutdown()
                except Exception:  # noqa: BLE001
                    pass

    def __enter__(self) -> "RayExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"RayExecutor(address={self.address!r}, num_cpus={self.num_cpus}, "
                f"cpus_per_task={self.cpus_per_task}, num_gpus_per_task={self.num_gpus_per_task}, "
                f"memory_per_task={self.memory_per_task}, max_retries={self.max_retries})")

    # -- the executor interface ------------------------------------------------------------

    def _options(self) -> dict:
        opts: dict[str, Any] = dict(num_cpus=self.cpus_per_task, num_gpus=self.num_gpus_per_task,
                                    max_retries=self.max_retries, retry_exceptions=False)
        if self.memory_per_task is not None:
            opts["memory"] = self.memory_per_task
        return opts

    def map_populations(self, tasks: Sequence[Mapping], on_result: Callable[[Mapping, list], None], *,
                        context) -> None:
        """Run every task as a Ray task and call ``on_result(task, rows)`` here as each returns."""
        tasks = list(tasks)
        if not tasks or context.should_stop():
            return
        self.check_tasks(tasks)
        self.start()
        if context.should_stop() or self._remote is None:  # SIGINT/SIGTERM while Ray started
            return
        ray = self._ray
        from ray.exceptions import RayError

        from ...train import TrainingInterrupted

        remote = self._remote.options(**self._options())
        pending: dict = {}
        for task in tasks:
            ref = remote.remote(task, context.dataset_factory, context.trainer, self.torch_threads, self.device,
                                self.num_gpus_per_task)
            pending[ref] = task

        def collect(ref):
            task = pending.pop(ref)
            try:
                rows = ray.get(ref)
            except RayError as e:
                cause = getattr(e, "cause", None)
                if isinstance(cause, TrainingInterrupted):
                    raise cause from e
                rows = _failed_rows(task, self._describe(e))
            on_result(task, rows)

        try:
            while pending:
                if context.should_stop():
                    done, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)
                    for ref in done:  # finished before the stop: keep them
                        collect(ref)
                    self._cancel(pending)
                    return
                done, _ = ray.wait(list(pending), num_returns=1, timeout=self.poll_interval_s)
                for ref in done:
                    collect(ref)
        except BaseException:  # a store error, TrainingInterrupted, a second Ctrl-C: stop the workers
            self._cancel(pending)
            raise

    def check_tasks(self, tasks: Sequence[Mapping]) -> None:
        """Refuse (``ValueError``, one line) tasks that would train on CUDA in a Ray task that asks
        for no GPU (Ray hides the GPUs from it: every population would fail)."""
        if self.num_gpus_per_task > 0 or (self.device is not None and not self.device.startswith("cuda")):
            return
        cuda = sorted({str(t.get("device")) for t in tasks if str(t.get("device", "")).startswith("cuda")})
        if cuda:
            raise ValueError(f"num_gpus_per_task=0 but the tasks train on {cuda[0]!r}: Ray hides the GPUs from a task "
                             f"that asks for none; use num_gpus_per_task > 0 (--ray-num-gpus) or device 'cpu'")

    # -- helpers ---------------------------------------------------------------------------

    def _cancel(self, pending: dict) -> None:
        for ref in list(pending):
            try:
                self._ray.cancel(ref, force=True)
            except Exception:  # already finished or its worker is gone
                pass
        pending.clear()

    def _describe(self, err: BaseException) -> str:
        system = getattr(err, "cause", None) is None  # RayTaskError carries the task's own exception
        head = f"ray: population task failed ({type(err).__name__})"
        if system:
            head += f" after {self.max_retries + 1} attempt(s) (max_retries={self.max_retries})"
        try:
            text = str(err)
        except Exception:  # pragma: no cover
            text = repr(err)
        return f"{head}\n{text}"
