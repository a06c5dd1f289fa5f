"""Where things live: the source checkout's root (one definition for figures, the store, reproduce)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["repo_root"]


def repo_root() -> Path | None:
    """The repository root when the package runs from a source checkout (the folder holding
    ``pyproject.toml`` and ``mufno_lite/``), else ``None`` (an installed package)."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").exists() and (here / "mufno_lite").is_dir() else None
