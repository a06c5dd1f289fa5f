"""Whether to show progress bars (one rule for the trainer, the sweep and data generation)."""

from __future__ import annotations

import os
import sys

__all__ = ["progress_enabled"]


def progress_enabled(progress: bool | None = None) -> bool:
    """``progress`` if it is given; otherwise on when stderr is a terminal and ``$CI`` is unset."""
    if progress is not None:
        return bool(progress)
    if os.environ.get("CI"):
        return False
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):
        return False
