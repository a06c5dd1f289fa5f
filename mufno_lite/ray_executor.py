"""Compatibility module: the Ray executor lives in :mod:`mufno_lite.sweep.executors.ray`.

Importing this module does not import Ray (see there).
"""

from .sweep.executors.ray import RAY_INSTALL_HINT, RayExecutor, import_ray  # noqa: F401
from .sweep.executors.ray import _failed_rows, _run_population_remote  # noqa: F401

__all__ = ["RayExecutor", "RAY_INSTALL_HINT", "import_ray"]
