"""Batch reproduction: run the notebooks headless through papermill.

``python -m mufno_lite reproduce --preset auto`` (the README's main command) executes every notebook
in ``notebooks/`` with the ``preset`` and ``device`` parameters injected, writes the executed
copies to a run directory (``runs/<UTC time>-<preset>/``), lets the notebooks write their figures
to ``figures/`` and prints a summary table.  A failing notebook is reported with its name, the
failing cell and the error; the others still run, and the exit status is non-zero.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .paths import repo_root
from .presets import PRESETS, resolve_preset

__all__ = ["reproduce", "list_notebooks", "main"]


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


def _describe_failure(exc) -> str:
    cell = getattr(exc, "exec_count", None)
    ename, evalue = getattr(exc, "ename", type(exc).__name__), getattr(exc, "evalue", str(exc))
    where = f"cell [{cell}]" if cell is not None else "a cell"
    return f"{where}: {ename}: {evalue}"


def reproduce(preset: str = "auto", *, only=None, device: str = "auto", out_dir: Path | None = None,
              notebooks_dir: Path | None = None, kernel: str = "python3", fail_fast: bool = False,
              timeout: int | None = None, log=print) -> list[NotebookRun]:
    """Execute the selected notebooks with papermill; return one record per notebook."""
    import papermill as pm

    name = resolve_preset(preset)
    notebooks = _select(list_notebooks(notebooks_dir), only)
    if not notebooks:
        raise ValueError("no notebooks found to run")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = Path(out_dir) if out_dir is not None else _repo_root() / "runs" / f"{stamp}-{name}"
    out.mkdir(parents=True, exist_ok=True)
    log(f"reproduce: preset={name} device={device} notebooks={len(notebooks)} -> {out}")
    runs: list[NotebookRun] = []
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
            log(f"    ok in {runs[-1].seconds:.1f} s")
        except Exception as exc:  # papermill wraps kernel errors; report notebook and cell
            msg = _describe_failure(exc)
            runs.append(NotebookRun(nb.name, "FAILED", time.perf_counter() - t0, str(target), msg))
            log(f"    FAILED in {nb.name} at {msg}\n    executed copy with the traceback: {target}")
            if fail_fast:
                break
    log(_summary(runs))
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
    p.add_argument("--preset", default="auto", choices=PRESETS + ("auto",), help="sizes (auto: $MUFNO_PRESET, GPU -> paper, CPU -> quick)")
    p.add_argument("--only", nargs="+", default=None, help="notebook numbers or name parts, e.g. --only 3 4")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--out-dir", type=Path, default=None, help="where executed notebooks go (default runs/<time>-<preset>)")
    p.add_argument("--kernel", default="python3")
    p.add_argument("--fail-fast", action="store_true")
    p.add_argument("--timeout", type=int, default=None, help="per-cell timeout in seconds")


def _run_cli(args) -> int:
    try:
        runs = reproduce(args.preset, only=args.only, device=args.device, out_dir=args.out_dir, kernel=args.kernel,
                         fail_fast=args.fail_fast, timeout=args.timeout)
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
