"""Running a sweep: :func:`run_sweep`, its :class:`SweepReport`, signals, progress bars, status.

Resuming and signals
--------------------
:func:`run_sweep` skips runs stored as done or diverged and retries failed ones.  SIGINT/SIGTERM
set a stop flag: the trainer finishes its current step and raises ``TrainingInterrupted``; the
population in flight is dropped (completed ones are already committed), a message says how to
resume, and the returned :class:`SweepReport` has ``status='interrupted'`` and ``exit_code`` 130
(SIGINT) or 143 (SIGTERM).  A second Ctrl-C raises ``KeyboardInterrupt`` at once.  A killed
process loses at most the population in flight.  Datasets are loaded once per (pde, data config,
device) per process and shared by the populations.

A changed config under an existing name
---------------------------------------
A sweep name lists the runs it was planned with.  When a config expands to a different *set of run
ids* than the one stored under its name (an edited grid, other sizes; a change that leaves every
run id as it was, e.g. the description, is no change), :func:`run_sweep` refuses before anything
runs (:class:`SweepChangedError`, a ``ValueError``) rather than mixing the two: give the sweep a new
name, or pass ``if_changed='replace'`` (CLI ``--replace``: the name then lists exactly this config's
runs; the stored rows of the old runs are kept, other sweeps still list them) or
``if_changed='extend'`` (CLI ``--extend``: add the new runs; only when the config keeps every old
run).  Experiments (``<experiment>@<preset>``) are named by the package, so
:func:`mufno_lite.experiments.run_experiment` replaces.

Faults
------
Row values that the store cannot hold (an integer beyond 64 bits, e.g. a seed of 2**70) are
refused before anything trains.  An executor that retried a population after its worker process
died reports it through ``context.on_retry``; the summary counts them (``n_retried``).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Mapping

from ..device import resolve_device
from ..progress import LineProgress, progress_enabled, progress_mode
from ..store import ResultsStore, check_row_values, check_sweep_name
from ..train import TrainingInterrupted
from .config import SweepConfig
from .executors import ExecutionContext, InProcessExecutor
from .tasks import member_rows, population_tasks

__all__ = ["SweepReport", "SweepChangedError", "run_sweep", "sweep_status", "sweep_results", "IF_CHANGED"]

#: what :func:`run_sweep` does when a name's stored runs differ from its config's
IF_CHANGED = ("refuse", "replace", "extend")


class SweepChangedError(ValueError):
    """The config under a stored sweep name expands to other runs than the stored sweep (see the module docs)."""


@dataclass
class SweepReport:
    """What :func:`run_sweep` did.  ``status``: complete | partial | interrupted | dry-run."""

    sweep: str
    store: str
    n_runs: int
    n_skipped: int
    n_populations: int
    n_done: int = 0
    n_diverged: int = 0
    n_failed: int = 0
    n_populations_run: int = 0
    status: str = "complete"
    signal: int | None = None
    wall_time_s: float = 0.0
    remaining: int = 0
    resume_command: str = ""
    n_retried: int = 0

    @property
    def exit_code(self) -> int:
        """0, or 128 + the signal number after an interruption (130 SIGINT, 143 SIGTERM)."""
        return 128 + int(self.signal) if self.status == "interrupted" and self.signal else 0

    def summary(self) -> str:
        return (
            f"sweep {self.sweep!r}: {self.status} — {self.n_runs} runs in {self.n_populations} populations; "
            f"{self.n_skipped} already stored; this session {self.n_done} done, {self.n_diverged} diverged, "
            f"{self.n_failed} failed ({self.n_populations_run} populations); {self.remaining} still to run; "
            + (f"{self.n_retried} population attempts retried after a worker process died; " if self.n_retried else "")
            + f"{self.wall_time_s:.1f} s; store {self.store}"
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def _record(self, rows) -> str | None:
        """Count one population's rows; the last line of the error of this session's first failure."""
        self.n_populations_run += 1
        first = None
        for r in rows:
            if r["status"] == "done":
                self.n_done += 1
            elif r["status"] == "diverged":
                self.n_diverged += 1
            else:
                self.n_failed += 1
                if self.n_failed == 1:
                    first = ((r.get("error") or "").strip().splitlines()[-1:] or [""])[0]
        self.remaining -= sum(1 for r in rows if r["status"] in ("done", "diverged"))
        return first


class _StopFlag:
    def __init__(self):
        self.signum: int | None = None

    def __call__(self) -> bool:
        return self.signum is not None


@contextmanager
def _signal_handlers(flag: _StopFlag, enabled: bool, log: Callable[[str], None]):
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = [signal.SIGINT, signal.SIGTERM]
    old = {}

    def handler(signum, frame):
        if flag.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        if flag.signum is None:
            flag.signum = signum
            log(f"\n[mufno_lite] {signal.Signals(signum).name} received: finishing the current step, "
                "then stopping (completed populations are saved; Ctrl-C again aborts now).")

    for s in sigs:
        old[s] = signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


_progress_enabled = progress_enabled  # the old private name


def _step_of(args, kwargs) -> int | None:
    """The step number a trainer's progress callback reports (``step=``, the first argument, or a
    mapping's ``"step"``), or None when it reports none (then one step passed)."""
    step = kwargs.get("step", args[0] if args else None)
    if isinstance(step, Mapping):
        step = step.get("step")
    return int(step) if isinstance(step, (int, float)) and not isinstance(step, bool) else None


class _StepBar:
    """Adapter from the trainer's progress callback to an inner tqdm bar over steps."""

    def __init__(self, total: int, desc: str):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=desc, leave=False, unit="step", dynamic_ncols=True)
        self.n = 0

    def __call__(self, *args, **kwargs):
        step = _step_of(args, kwargs)
        if step is not None:
            target = step
            if target > self.n:
                self.bar.update(target - self.n)
                self.n = target
        else:
            self.bar.update(1)
            self.n += 1
        loss = kwargs.get("loss")
        if isinstance(loss, (int, float)):
            self.bar.set_postfix(loss=f"{loss:.3g}", refresh=False)

    def close(self):
        self.bar.close()


class _StepLines(_StepBar):
    """The same callback as :class:`_StepBar`, writing throttled lines (stdout) instead of a bar."""

    def __init__(self, total: int, desc: str, *, interval: float = 60.0):
        self.bar = LineProgress(total, desc, unit="steps", interval=interval, delay=interval,
                                step_fraction=1.0, min_gap=interval)
        self.n = 0

    def __call__(self, *args, **kwargs):
        step = _step_of(args, kwargs)
        if step is not None:
            self.bar.set(step)
        else:
            self.bar.update(1)
        self.n = self.bar.n


def sweep_status(config: SweepConfig, store: ResultsStore | str | os.PathLike | None = None):
    """A DataFrame of the sweep's runs with their stored status (``pending`` if not stored)."""
    import pandas as pd

    st = store if isinstance(store, ResultsStore) else ResultsStore(store)
    runs = config.expand()
    stat = st.statuses([r.run_id for r in runs]) if st.path.exists() else {}
    rows = []
    for r in runs:
        c = r.config
        rows.append({
            "run_id": r.run_id, "parametrization": c["parametrization"]["kind"],
            "base_K": c["parametrization"]["base_K"], "K": c["model"]["K"], "batch_size": c["train"]["batch_size"],
            "lr": r.lr, "seed": r.seed, "beta2": r.beta2, "init_scale": r.init_scale,
            "status": stat.get(r.run_id, "pending"),
        })
    return pd.DataFrame(rows)


def sweep_results(config: SweepConfig, store: ResultsStore | str | os.PathLike | None = None):
    """The stored rows of exactly this config's runs (a DataFrame, as :func:`mufno_lite.store.load_results`).

    A sweep name keeps listing the runs of earlier versions of its config; this keeps only the
    runs the config expands to now.  (The one definition of "rows of exactly this config".)
    """
    from ..store import load_results

    st = store if isinstance(store, ResultsStore) else ResultsStore(store)
    ids = {r.run_id for r in config.expand()}
    df = load_results(st, sweep=config.name, missing_ok=True)  # a sweep not run yet: no rows
    return df[df["run_id"].isin(ids)].reset_index(drop=True)


def _check_membership(name: str, ids: set, st: ResultsStore, if_changed: str) -> bool:
    """Refuse (or allow, per ``if_changed``) a config whose runs differ from those stored under its
    name; returns whether the sweep's membership is to be replaced."""
    old = set(st.sweep_run_ids(name))
    if not old or old == ids:
        return False
    if if_changed == "replace":
        return True
    common = len(old & ids)
    if if_changed == "extend":
        if old <= ids:
            return False
        raise SweepChangedError(
            f"cannot extend sweep {name!r} in {str(st.path)!r}: this config drops {len(old - ids)} of its {len(old)} "
            f"stored runs (extend only adds runs); use --replace (if_changed='replace') or a new sweep name")
    raise SweepChangedError(
        f"sweep {name!r} in {str(st.path)!r} was run with a different config ({len(old)} runs stored under the name, "
        f"this config has {len(ids)}, {common} in common); refusing to merge them: give the sweep a new name, or "
        f"pass --replace (if_changed='replace': the name lists only this config's runs, stored rows are kept) or "
        f"--extend (if_changed='extend': add the new runs, when the config keeps every old one)")


def _as_config(config, config_path: str | None) -> tuple[SweepConfig, str | None]:
    """A sweep given as a SweepConfig, a dict or a file path, as a SweepConfig (and the file, for
    the resume hint)."""
    if isinstance(config, (str, os.PathLike)):
        return SweepConfig.from_file(config), config_path or str(config)
    return (config if isinstance(config, SweepConfig) else SweepConfig.from_dict(config)), config_path


class _SweepProgress:
    """What a sweep shows while it trains (``mode`` of :func:`mufno_lite.progress.progress_mode`): a
    bar over the runs (and one per population's steps), or throttled lines with an ETA, or nothing."""

    def __init__(self, name: str, tasks: list, report: SweepReport, mode: str, verbose: bool):
        self.show = mode in ("bar", "widget")
        self.outer = self.lines = None
        self.report = report
        if self.show:
            from tqdm.auto import tqdm

            self.outer = tqdm(total=report.remaining, desc=f"{name}", unit="run", dynamic_ncols=True)
        elif mode == "lines" and tasks:
            n_pop = len(tasks)
            self.lines = LineProgress(sum(len(t["members"]) for t in tasks),
                                      f"sweep {name}", unit="runs",
                                      extra=lambda: f"{report.n_populations_run}/{n_pop} populations"
                                      + (f", {report.n_diverged} diverged" if report.n_diverged else "")
                                      + (f", {report.n_failed} failed" if report.n_failed else ""))
            if verbose:
                print(f"sweep {name}: {self.lines.total} runs to train in {n_pop} populations"
                      f" ({report.n_skipped} already stored)", flush=True)

    def step_progress(self, task):
        p = task["parametrization"]
        desc = f"{p['kind']} K={task['model']['K']}"
        steps = int(task["train"].get("steps") or 0)
        if self.show:
            return _StepBar(steps, desc)
        if self.lines is not None and steps > 0:
            # only populations that run longer than a minute print (one line a minute at most)
            return _StepLines(steps, f"  population {desc}")
        return None

    def update(self, n_rows: int) -> None:
        r = self.report
        if self.outer is not None:
            self.outer.update(n_rows)
            self.outer.set_postfix(done=r.n_done, div=r.n_diverged, failed=r.n_failed, refresh=False)
        if self.lines is not None:
            self.lines.update(n_rows)

    def close(self) -> None:
        if self.outer is not None:
            self.outer.close()
        if self.lines is not None:
            self.lines.close()


def _plan(config: SweepConfig, st: ResultsStore, dev: str, if_changed: str, config_path: str | None):
    """What is left to run: (runs, population tasks of the pending runs, whether the name's stored
    runs are replaced, the report so far); refuses a changed sweep and row values the store cannot
    hold before anything trains."""
    runs = config.expand()
    all_tasks = population_tasks(config, runs, device=dev)
    replace = _check_membership(config.name, {r.run_id for r in runs}, st, if_changed)
    stored = st.statuses([r.run_id for r in runs])
    pending = [r for r in runs if stored.get(r.run_id) not in ("done", "diverged")]
    tasks = population_tasks(config, pending, device=dev)
    for t in tasks:  # values the store cannot hold are refused now, not after training
        for row in member_rows(t, status="failed"):
            check_row_values(row)
    resume = f"python -m mufno_lite sweep {config_path or '<CONFIG>'} --store {st.path}"
    report = SweepReport(sweep=config.name, store=str(st.path), n_runs=len(runs), n_skipped=len(runs) - len(pending),
                         n_populations=len(all_tasks), remaining=len(pending), resume_command=resume)
    return runs, tasks, replace, report


def run_sweep(
    config: SweepConfig | Mapping | str | os.PathLike,
    store: ResultsStore | str | os.PathLike | None = None,
    *,
    executor=None,
    dataset_factory: Callable | None = None,
    trainer: Callable | None = None,
    device: str | None = None,
    max_populations: int | None = None,
    dry_run: bool = False,
    progress: bool | None = None,
    handle_signals: bool = True,
    verbose: bool = True,
    config_path: str | None = None,
    if_changed: str = "refuse",
) -> SweepReport:
    """Run (or resume) a sweep and record every run in the store.

    Parameters
    ----------
    config : SweepConfig, dict or path
        The sweep (validated before anything runs).
    store : ResultsStore or path, optional
        Default: ``$MUFNO_RESULTS`` or ``results/results.sqlite``.
    executor : optional
        Anything with ``map_populations`` (default :class:`InProcessExecutor`).
    dataset_factory, trainer : callable, optional
        Override the data loader and :func:`mufno_lite.train.train_population` (tests).
    device : str, optional
        Overrides the config's device ('cpu', 'cuda', 'auto').
    max_populations : int, optional
        Stop after this many populations (status ``partial``).
    dry_run : bool
        Plan only: count runs and populations still to run, train nothing.
    progress : bool, optional
        ``False``: none; ``True``: bars; ``None`` (default): :func:`mufno_lite.progress.progress_mode`
        decides — tqdm widgets in Jupyter, bars on a terminal, throttled lines on stdout with
        runs done / total, populations and an ETA in papermill, CI logs and pipes.
    handle_signals : bool
        Turn SIGINT/SIGTERM into a clean stop (main thread only).
    verbose : bool
        Print the final summary line to stdout (warnings, failures and the resume hint to stderr).
    config_path : str, optional
        The config's file, for the resume hint.
    if_changed : {'refuse', 'replace', 'extend'}
        When the store lists other runs under this sweep's name (see the module docs).

    Returns
    -------
    SweepReport
    """
    t0 = time.perf_counter()
    config, config_path = _as_config(config, config_path)
    if max_populations is not None and (isinstance(max_populations, bool) or not isinstance(max_populations, int)
                                        or max_populations < 1):
        raise ValueError(f"max_populations must be a positive integer or None; got max_populations={max_populations!r}")
    if if_changed not in IF_CHANGED:
        raise ValueError(f"if_changed must be one of {IF_CHANGED}; got if_changed={if_changed!r}")
    check_sweep_name(config.name)
    dev = resolve_device(device or config.device)
    st = store if isinstance(store, ResultsStore) else ResultsStore(store)
    log = (lambda msg: print(msg, file=sys.stdout, flush=True)) if verbose else (lambda msg: None)
    warn = (lambda msg: print(msg, file=sys.stderr, flush=True)) if verbose else (lambda msg: None)

    if dataset_factory is not None:  # refused before anything runs, as a config's dataset_factory is
        from ..data.memo import check_factory_signature

        check_factory_signature(dataset_factory, config.data.get("params"))
    runs, tasks, replace, report = _plan(config, st, dev, if_changed, config_path)
    if dry_run:
        from .owndata import dry_run_check  # own data: call the loader once, check what it returns

        line = dry_run_check(config) if dataset_factory is None else None
        if line:
            log(line)
        report.status = "dry-run"
        report.wall_time_s = time.perf_counter() - t0
        log(report.summary())
        return report

    st.register_sweep(config.name, [r.run_id for r in runs], config.to_dict(), replace=replace)
    if max_populations is not None:
        tasks = tasks[:max_populations]
    executor = executor or InProcessExecutor()
    flag = _StopFlag()
    shown = _SweepProgress(config.name, tasks, report, progress_mode(progress), verbose)

    def on_result(task, rows):
        st.write_rows(rows, sweeps=[config.name])
        failure = report._record(rows)
        if failure is not None:
            warn(f"[mufno_lite] population {task['task_id']} failed: {failure}")
        shown.update(len(rows))

    def on_retry(task, reason):
        report.n_retried += 1
        warn(f"[mufno_lite] population {task['task_id']}: {reason}")

    ctx = ExecutionContext(dataset_factory=dataset_factory, trainer=trainer, should_stop=flag,
                           step_progress=shown.step_progress, on_retry=on_retry)
    try:
        with _signal_handlers(flag, handle_signals, warn):
            try:
                executor.map_populations(tasks, on_result, context=ctx)
            except TrainingInterrupted:
                if flag.signum is None:
                    raise
            except Exception as e:  # noqa: BLE001
                if flag.signum is None:
                    raise
                # stopped by a signal while the executor failed (e.g. Ray's start-up, which a signal
                # does not cut short): the stop is what the user asked for; the failure is said once
                warn(f"[mufno_lite] while stopping: {' '.join(str(e).split())[:300]}")
    finally:
        shown.close()
    report.wall_time_s = time.perf_counter() - t0
    if flag.signum is not None:
        report.status, report.signal = "interrupted", int(flag.signum)
    elif report.remaining > 0 or report.n_failed:
        report.status = "partial"
    log(report.summary())
    if report.status == "interrupted":
        warn(f"[mufno_lite] interrupted by {signal.Signals(report.signal).name}; {report.remaining} runs still to run. "
            f"Resume with: {report.resume_command}")
    return report
