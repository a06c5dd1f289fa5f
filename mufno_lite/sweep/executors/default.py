"""Which executor a named preset's sweeps run on when the caller says ``executor="auto"``
(:func:`mufno_lite.experiments.run_experiment`, :func:`mufno_lite.search.run_search`)."""

from __future__ import annotations

__all__ = ["default_executor"]


def default_executor(preset: str, device: str | None):
    """All local cores for real sweeps on a CPU (one process per core, one torch thread each);
    in-process for ``smoke`` (CI) and on a GPU.  ``$MUFNO_WORKERS`` sets the process count."""
    from .pool import env_workers

    workers = env_workers()
    if preset == "smoke" or workers < 2 or (device or "cpu").startswith("cuda"):
        return None
    if device in (None, "auto"):
        import torch

        if torch.cuda.is_available():
            return None
    from .pool import LocalPoolExecutor

    return LocalPoolExecutor(workers=workers, threads=1)
