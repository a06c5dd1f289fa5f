"""Presets: one switch that sets every size in a notebook.

``smoke``  CI: seconds per notebook, checks that everything runs (numbers are not meaningful).
``quick``  a 2-core laptop CPU: the whole set in about an hour, every figure meaningful.
``paper``  the paper's sizes, for a GPU.
``auto``   ``$MUFNO_PRESET`` if set, else ``paper`` where CUDA is available, else ``quick``.

Each notebook section reads its own block with :func:`section`.
"""
from __future__ import annotations

import copy
import os

PRESETS = ("smoke", "quick", "paper")

SECTIONS: dict[str, dict[str, dict]] = {
    "coord_check": {
        "smoke": dict(Ks_1d=[3, 8, 16], Ks_2d=[3, 6], width=16, steps=2, seeds=[0], lr=1e-2),
        "quick": dict(Ks_1d=[3, 8, 16, 32, 64, 128, 256], Ks_2d=[3, 6, 12, 24], width=64, steps=3, seeds=[0, 1], lr=1e-2),
        "paper": dict(Ks_1d=[3, 8, 16, 32, 64, 128, 256, 512], Ks_2d=[3, 6, 12, 24], width=64, steps=5, seeds=[0, 1, 2, 3], lr=1e-2),
    },
}


def resolve_preset(preset: str = "auto") -> str:
    """Turn ``auto`` into a concrete preset and validate the name."""
    name = str(preset).lower()
    if name == "auto":
        env = os.environ.get("MUFNO_PRESET")
        if env:
            name = env.lower()
        else:
            import torch

            name = "paper" if torch.cuda.is_available() else "quick"
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {PRESETS + ('auto',)}; got preset={preset!r}")
    return name


def section(name: str, preset: str = "auto") -> dict:
    """The settings of one notebook section under a preset (a copy: safe to edit)."""
    if name not in SECTIONS:
        raise ValueError(f"section must be one of {sorted(SECTIONS)}; got section={name!r}")
    return copy.deepcopy(SECTIONS[name][resolve_preset(preset)])
