"""The first cell of every notebook: seed everything, pick the device and threads, set paths.

``S.figures_dir`` is where the notebook's figures go (:func:`mufno_lite.figures.figures_dir`): the run
directory ``reproduce`` chose, or ``runs/interactive-<preset>/figures`` for a notebook opened by hand.

>>> S = setup(preset="auto", device="auto", seed=0)   # doctest: +SKIP
>>> S.preset, S.device, S.figures_dir                  # doctest: +SKIP
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import presets as _presets
from .device import configure_numerics, resolve_device  # noqa: F401  (re-exported: session.resolve_device)
from .paths import repo_root
from .figures import figures_dir
from .store import resolve_store_path


@dataclass
class Session:
    preset: str
    device: str
    seed: int
    threads: int
    figures_dir: Path
    results_store: Path
    notebook: str | None = None

    def section(self, name: str) -> dict:
        """Settings of a notebook section under this session's preset."""
        return _presets.section(name, self.preset)

    def __repr__(self) -> str:
        return (
            f"Session(preset={self.preset!r}, device={self.device!r}, seed={self.seed}, threads={self.threads}, "
            f"figures_dir='{self.figures_dir}', results_store='{self.results_store}')"
        )


def default_results_store() -> Path:
    """``$MUFNO_RESULTS``, else ``<repo>/results/results.sqlite`` for a source checkout (so notebooks
    run from ``notebooks/`` and the CLI run from the repo root share one store), else
    ``./results/results.sqlite``."""
    return resolve_store_path(base=repo_root() or Path.cwd())


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def setup(preset: str = "auto", device: str = "auto", seed: int = 0, threads: int | None = None, notebook: str | None = None) -> Session:
    """Seed python, numpy and torch; resolve preset and device; choose the torch thread count.

    Threads: ``threads`` if given, else ``$MUFNO_THREADS``, else all cores.  (On a 2-core machine
    where something else is busy, 1 thread can be many times faster than 2 on small operations.)
    """
    name = _presets.resolve_preset(preset)
    dev = resolve_device(device)
    n = threads if threads is not None else int(os.environ.get("MUFNO_THREADS", os.cpu_count() or 1))
    if n < 1:
        raise ValueError(f"threads must be >= 1; got threads={n!r}")
    torch.set_num_threads(n)
    configure_numerics(dev)  # TF32 off and CUDA determinism before any CUDA work (mufno_lite.device)
    seed_everything(seed)
    store = default_results_store()
    return Session(preset=name, device=dev, seed=seed, threads=n, figures_dir=figures_dir(name), results_store=store, notebook=notebook)
