"""Batch reproduction: run the notebooks headless through papermill.

``python -m mufno_lite reproduce --preset auto`` (the README's main command) executes every notebook
in ``notebooks/`` with the ``preset`` and ``device`` parameters injected and writes everything to a
run directory, ``runs/<UTC time>-<preset>/`` under :func:`mufno_lite.paths.workspace_root` (the
checkout's root when you run inside it, else the working directory), or ``--out-dir``:

* the executed notebooks: ``<run>/<notebook>.ipynb``;
* the figures and their ``manifest.json``: ``<run>/figures/`` (the notebooks learn it from
  ``$MUFNO_FIGURES_DIR``, which this sets for their kernels).  The committed ``figures/`` is
  written only with ``--update-figures``.

The notebooks' kernels also get ``$MUFNO_PROGRESS=lines`` (progress as lines in the executed copies)
and, unless it is set, ``$MUFNO_THREADS=1``: their sweeps run in worker processes with one torch
thread each (one per core), and the kernels' own work is small, so one thread per process never
oversubscribes the cores (two torch threads on busy cores can be many times slower than one).
Before each notebook it prints its number and, after it, the elapsed time and an estimate for the
rest (the mean time per notebook so far, or a plan's estimates: see :func:`reproduce`'s ``estimate``).
A failing notebook is reported with its name, the failing cell and the error; the others still run,
and the exit status is non-zero.

Before anything runs, the command prints the plan's total for the preset on this device
(:func:`confirm_plan`, from :func:`mufno_lite.plan.reproduction_plan`) and refuses to start when it
is estimated above 2 hours here, unless ``--yes`` or ``$MUFNO_YES=1``; ``smoke`` is not planned.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .figures import FIGURES_ENV, committed_figures_dir
from .paths import repo_root, run_dir
from .presets import PRESETS, resolve_preset
from .progress import format_duration

__all__ = ["reproduce", "confirm_plan", "list_notebooks", "resolve_out_dir", "figures_dir_for_run", "remaining_estimate", "main"]


@dataclass
class NotebookRun:
    notebook: str
    status: str
    seconds: float
    output: str
    error: str = ""


def _repo_root() -> Path:
    """The source checkout's root, else the current directory."""
    return repo_root() or Path.cwd()


def list_notebooks(notebooks_dir: Path | None = None) -> list[Path]:
    nb_dir = Path(notebooks_dir) if notebooks_dir is not None else _repo_root() / "notebooks"
    return sorted(p for p in nb_dir.glob("*.ipynb") if not p.name.startswith("."))


def _select(notebooks: list[Path], only) -> list[Path]:
    if not only:
        return notebooks
    chosen = []
    for key in only:
        key = str(key)
        if key.isdigit():  # a notebook number: 4 or 04 selects 04_*, never 14_* or 40_*
            hits = [p for p in notebooks if p.stem.split("_", 1)[0].isdigit() and int(p.stem.split("_", 1)[0]) == int(key)]
        else:
            hits = [p for p in notebooks if p.stem == key or key in p.stem]
        if not hits:
            names = ", ".join(p.stem for p in notebooks)
            raise ValueError(f"only={key!r} matches no notebook; the notebooks are: {names}")
        chosen += [p for p in hits if p not in chosen]
    return sorted(chosen)


def resolve_out_dir(out_dir: Path | str | None, preset: str, *, cwd: Path | str | None = None) -> Path:
    """The run directory: ``out_dir`` (relative to ``cwd``), else ``runs/<UTC time>-<preset>`` under
    the workspace (:func:`mufno_lite.paths.run_dir`)."""
    base = Path(cwd) if cwd is not None else Path.cwd()
    if out_dir is not None:
        out = Path(out_dir).expanduser()
        return (out if out.is_absolute() else base / out).resolve()
    return run_dir(preset, cwd=base)


def figures_dir_for_run(out: Path, preset: str, update_figures: bool = False) -> Path:
    """Where a reproduce run's figures go: ``<out>/figures``, or the committed ``figures/``
    (:func:`mufno_lite.figures.committed_figures_dir`) with ``update_figures``."""
    return committed_figures_dir(preset) if update_figures else Path(out) / "figures"


def _plan_estimate() -> Callable | None:
    """The hook for a plan: ``mufno_lite.plan.notebook_seconds(notebook, preset, device)`` if that
    module exists (a planned duration in seconds, or ``None``), else ``None``."""
    try:
        plan = importlib.import_module(f"{__package__}.plan")
    except ImportError:
        return None
    return getattr(plan, "notebook_seconds", None)


def remaining_estimate(done_seconds: Sequence[float], remaining: Sequence[str], *,
                       estimate: Callable[[str], float | None] | None = None,
                       done: Sequence[str] = ()) -> float | None:
    """Seconds the ``remaining`` notebooks will take: with ``estimate`` (planned seconds per notebook)
    the plan, scaled by how the finished notebooks compared with their plan; otherwise the mean time
    per finished notebook times the number left.  ``None`` before anything finished.

    >>> remaining_estimate([10.0, 30.0], ["c", "d", "e"])
    60.0
    >>> plan = {"a": 10, "b": 10, "c": 100}.get
    >>> remaining_estimate([40.0], ["b", "c"], estimate=plan, done=["a"])   # 4x slower than planned
    440.0
    """
    if not remaining:
        return 0.0
    if not done_seconds:
        return None
    elapsed = float(sum(done_seconds))
    if estimate is not None:
        planned_left = [estimate(n) for n in remaining]
        planned_done = [estimate(n) for n in done] if len(done) == len(done_seconds) else []
        if planned_left and all(p is not None for p in planned_left):
            scale = 1.0
            if planned_done and all(p is not None for p in planned_done) and sum(planned_done) > 0:
                scale = elapsed / float(sum(planned_done))
            return scale * float(sum(planned_left))
    return elapsed / len(done_seconds) * len(remaining)


@contextmanager
def _kernel_env(values: dict):
    """Set environment variables for the kernels papermill starts (they inherit ours); restore after."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update({k: str(v) for k, v in values.items()})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _describe_failure(exc) -> str:
    cell = getattr(exc, "exec_count", None)
    ename, evalue = getattr(exc, "ename", type(exc).__name__), getattr(exc, "evalue", str(exc))
    where = f"cell [{cell}]" if cell is not None else "a cell"
    return f"{where}: {ename}: {evalue}"


def confirm_plan(preset: str, device: str = "auto", *, yes: bool | None = None, log=print) -> None:
    """Print the plan's total for this preset on this device before a reproduction starts, and refuse
    (``ValueError``) when its estimated wall time exceeds :data:`mufno_lite.plan.CONFIRM_ABOVE_S`
    (2 hours) unless ``yes`` (default: ``$MUFNO_YES=1``).  ``smoke`` (CI) is never planned nor
    stopped.  The estimate covers every experiment of the preset (an upper bound with ``--only``)."""
    name = resolve_preset(preset)
    if name == "smoke":
        return
    from .plan import CONFIRM_ABOVE_S, reproduction_plan

    if yes is None:
        yes = os.environ.get("MUFNO_YES", "").strip().lower() in ("1", "true", "yes")
    plan = reproduction_plan(name, device)
    log(f"plan ({name} on {plan.device}, {plan.workers} worker{'s' if plan.workers > 1 else ''}): {plan.runs} runs in "
        f"{plan.populations} populations, {plan.flops:.2e} FLOPs; about {format_duration(plan.wall_s)} here, "
        f"{format_duration(plan.reference_time_s)} on the reference ({plan.reference.name}); "
        f"details: python -m mufno_lite plan --preset {name}")
    if plan.wall_s > CONFIRM_ABOVE_S and not yes:
        raise ValueError(
            f"the {name} preset is estimated at {format_duration(plan.wall_s)} on {plan.device}, more than "
            f"{format_duration(CONFIRM_ABOVE_S)}; pass --yes (or set MUFNO_YES=1) to start it anyway, or pick a "
            f"smaller preset (gpu on one GPU, quick on a CPU)")


def reproduce(preset: str = "auto", *, only=None, device: str = "auto", out_dir: Path | None = None,
              notebooks_dir: Path | None = None, kernel: str = "python3", fail_fast: bool = False,
              timeout: int | None = None, update_figures: bool = False,
              estimate: Callable[[str], float | None] | None = None, log=print) -> list[NotebookRun]:
    """Execute the selected notebooks with papermill; return one record per notebook.

    ``out_dir``: the run directory (default ``runs/<UTC time>-<preset>`` under the workspace, see
    :func:`resolve_out_dir`); figures go to ``<out_dir>/figures`` unless ``update_figures`` (then the
    committed ``figures/``).  ``estimate(notebook_name) -> seconds | None`` refines the estimate for
    the rest (default: ``mufno_lite.plan.notebook_seconds`` for this preset and device if that
    module exists, else the mean time per notebook so far).
    """
    import papermill as pm

    name = resolve_preset(preset)
    notebooks = _select(list_notebooks(notebooks_dir), only)
    if not notebooks:
        raise ValueError("no notebooks found to run")
    out = resolve_out_dir(out_dir, name)
    out.mkdir(parents=True, exist_ok=True)
    figs = figures_dir_for_run(out, name, update_figures)
    if estimate is None:
        plan = _plan_estimate()
        if plan is not None:
            def estimate(nb_name, _plan=plan):
                return _plan(nb_name, name, device)
    env = {FIGURES_ENV: str(figs), "MUFNO_PROGRESS": os.environ.get("MUFNO_PROGRESS") or "lines",
           "MUFNO_THREADS": os.environ.get("MUFNO_THREADS") or "1"}
    log(f"reproduce: preset={name} device={device} notebooks={len(notebooks)} -> {out}")
    log(f"figures -> {figs}" + ("  (the committed figures: --update-figures)" if update_figures else ""))
    runs: list[NotebookRun] = []
    t_start = time.perf_counter()
    with _kernel_env(env):
        for i, nb in enumerate(notebooks, 1):
            target = out / nb.name
            log(f"[{i}/{len(notebooks)}] {nb.name} ...")
            t0 = time.perf_counter()
            try:
                pm.execute_notebook(
                    str(nb), str(target), parameters={"preset": name, "device": device}, kernel_name=kernel,
                    progress_bar=False, cwd=str(nb.parent), execution_timeout=timeout,
                )
                runs.append(NotebookRun(nb.name, "ok", time.perf_counter() - t0, str(target)))
                log(f"    ok in {format_duration(runs[-1].seconds)}")
            except Exception as exc:  # papermill wraps kernel errors; report notebook and cell
                msg = _describe_failure(exc)
                runs.append(NotebookRun(nb.name, "FAILED", time.perf_counter() - t0, str(target), msg))
                log(f"    FAILED in {nb.name} at {msg}\n    executed copy with the traceback: {target}")
                if fail_fast:
                    break
            left = [p.name for p in notebooks[i:]]
            if left:
                eta = remaining_estimate([r.seconds for r in runs], left, estimate=estimate,
                                         done=[r.notebook for r in runs])
                log(f"    {i}/{len(notebooks)} done, {format_duration(time.perf_counter() - t_start)} elapsed"
                    + (f"; about {format_duration(eta)} for the {len(left)} left" if eta is not None else ""))
    log(_summary(runs))
    log(f"executed notebooks: {out}\nfigures: {figs}")
    return runs


def _summary(runs: list[NotebookRun]) -> str:
    width = max(len(r.notebook) for r in runs)
    lines = ["", f"{'notebook'.ljust(width)}  status  seconds", f"{'-' * width}  ------  -------"]
    for r in runs:
        lines.append(f"{r.notebook.ljust(width)}  {r.status:6s}  {r.seconds:7.1f}")
    total = sum(r.seconds for r in runs)
    failed = [r for r in runs if r.status != "ok"]
    lines.append(f"{len(runs) - len(failed)} ok, {len(failed)} failed, {total:.0f} s in all")
    for r in failed:
        lines.append(f"FAILED: {r.notebook} at {r.error}")
    return "\n".join(lines)


def _configure(p):
    """The ``reproduce`` subcommand's ``configure(parser) -> run`` (:mod:`mufno_lite.cli` registers it)."""
    _add_arguments(p)
    return _run_cli


def _add_arguments(p) -> None:
    p.add_argument("--preset", default="auto", choices=PRESETS + ("auto",), help="sizes (auto: $MUFNO_PRESET, GPU -> gpu, CPU -> quick)")
    p.add_argument("--only", nargs="+", default=None, help="notebook numbers or name parts, e.g. --only 3 4")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--out-dir", "--out", type=Path, default=None,
                   help="the run directory: executed notebooks and figures/ (default runs/<UTC time>-<preset> "
                        "under the checkout when you run inside it, else under the working directory)")
    p.add_argument("--update-figures", action="store_true",
                   help="write the figures to the committed figures/ (and its manifest.json) instead of the run directory")
    p.add_argument("--kernel", default="python3")
    p.add_argument("--fail-fast", action="store_true")
    p.add_argument("--timeout", type=int, default=None, help="per-cell timeout in seconds")
    p.add_argument("--yes", action="store_true",
                   help="start even when the plan estimates more than 2 hours on this device (or MUFNO_YES=1)")


def _run_cli(args) -> int:
    try:
        confirm_plan(args.preset, args.device, yes=True if getattr(args, "yes", False) else None)
        runs = reproduce(args.preset, only=args.only, device=args.device, out_dir=args.out_dir, kernel=args.kernel,
                         fail_fast=args.fail_fast, timeout=args.timeout, update_figures=args.update_figures)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0 if all(r.status == "ok" for r in runs) else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m mufno_lite.reproduce", description=__doc__.splitlines()[0])
    _add_arguments(p)
    return _run_cli(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
