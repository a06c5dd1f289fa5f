"""The Fourier modes a grid holds: the largest K per axis (the one definition in the package).

>>> max_modes(32, last_axis=True), max_modes(32, last_axis=False)
(17, 16)
"""

from __future__ import annotations

__all__ = ["max_modes"]


def max_modes(grid_size: int, last_axis: bool) -> int:
    """Largest K a grid of ``grid_size`` points allows on one axis.

    On the rfft (last) axis there are ``grid_size // 2 + 1`` non-negative frequencies; on the
    other axes the blocks ``[:K]`` and ``[-K:]`` must not overlap, so ``2K ≤ grid_size``.
    This is the model's hard limit, the one definition in the package; the data module's
    :func:`~mufno_lite.data.check_resolution_for_modes` recommends ``last_axis=False`` on every
    spatial axis: on an even grid that leaves out exactly the Nyquist mode (cosine only on
    the samples), on an odd grid it is one mode conservative (see there for why it is kept).
    """
    return grid_size // 2 + 1 if last_axis else grid_size // 2
