"""Where things live: the source checkout's root, and where a user's outputs go (one definition for
figures, the store and ``reproduce``).

User outputs are resolved from the **working directory**, not from where the package is imported:
:func:`workspace_root` is the source checkout's root when the working directory is inside it (so a
notebook running in ``notebooks/`` and a shell at the repo root agree), else the working directory.
Runs go to ``<workspace>/runs/<UTC time>-<preset>/`` (:func:`run_dir`); the committed ``figures/``
is written only on request (``reproduce --update-figures``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

__all__ = ["repo_root", "workspace_root", "run_dir", "run_stamp"]


def repo_root() -> Path | None:
    """The repository root when the package runs from a source checkout (the folder holding
    ``pyproject.toml`` and ``mufno_lite/``), else ``None`` (an installed package)."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").exists() and (here / "mufno_lite").is_dir() else None


def workspace_root(cwd: Path | str | None = None, repo: Path | str | None = None) -> Path:
    """The folder user outputs go under: ``repo`` (default :func:`repo_root`) when ``cwd`` (default
    the working directory) is inside it, else ``cwd`` itself.

    >>> str(workspace_root("/tmp/course/notebooks", repo="/tmp/course"))
    '/tmp/course'
    >>> str(workspace_root("/home/student/work", repo="/tmp/course"))
    '/home/student/work'
    """
    here = Path(cwd).resolve() if cwd is not None else Path.cwd().resolve()
    root = Path(repo).resolve() if repo is not None else repo_root()
    if root is not None and (here == root or root in here.parents):
        return root
    return here


def run_stamp(when: datetime | None = None) -> str:
    """``20250101T120000Z``: a run directory's time stamp (UTC, sorts by time)."""
    return (when or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def run_dir(preset: str, *, when: datetime | None = None, cwd: Path | str | None = None,
            repo: Path | str | None = None) -> Path:
    """``<workspace>/runs/<UTC time>-<preset>`` (not created).

    >>> from datetime import datetime, timezone
    >>> run_dir("quick", when=datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc), cwd="/w", repo="/elsewhere").as_posix()
    '/w/runs/20250102T030405Z-quick'
    """
    return workspace_root(cwd, repo) / "runs" / f"{run_stamp(when)}-{preset}"
