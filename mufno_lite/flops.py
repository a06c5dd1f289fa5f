"""The FLOP model: forward FLOPs of an FNO batch, and the cost of a training run built from it.

Both trainers report ``flops`` = 3 × forward FLOPs per training batch × steps (forward + backward;
the PINO residual is neglected) + forward FLOPs of every evaluation pass (:func:`training_flops`).
"""

from __future__ import annotations

import math
from typing import Sequence

from .fno import FNOConfig

__all__ = ["estimate_flops", "training_flops"]


def estimate_flops(fno_config: FNOConfig, spatial_shape: Sequence[int], batch_size: int) -> float:
    """Forward FLOPs of one batch through an FNO (one model).

    Counting: a real matmul (m×k)(k×n) is 2mnk; a complex one 4× that; an FFT of N complex points
    5 N log₂N (a real FFT of N points half of it), on the padded grid; bias additions, the
    residual sum and GELU count 1, 1 and 8 FLOPs per element.  A training step costs ≈ 3× the
    forward (forward + backward).
    """
    cfg = fno_config
    if len(spatial_shape) != cfg.d:
        raise ValueError(f"spatial_shape must have d={cfg.d} entries; got spatial_shape={tuple(spatial_shape)}")
    B, m, P = int(batch_size), cfg.width, cfg.projection_width
    N = float(math.prod(spatial_shape))
    Np = float(math.prod(n + p for n, p in zip(spatial_shape, cfg.pads_at(spatial_shape))))
    gelu = 8.0
    f = 2 * B * N * cfg.lifting_in * m + B * N * m  # lifting
    modes = (2 ** (cfg.d - 1)) * cfg.K**cfg.d
    fft = 2 * 2.5 * Np * math.log2(max(Np, 2.0))  # rfft + irfft per channel
    per_layer = (
        B * m * fft  # forward and inverse transforms of m channels
        + 4 * 2 * B * m * m * modes  # complex per-mode matmuls
        + 2 * B * Np * m * m + B * Np * m  # pointwise W with bias
        + B * Np * m * (1 + gelu)  # sum and GELU
    )
    f += cfg.n_layers * per_layer
    f += 2 * B * N * m * P + B * N * P * (1 + gelu)  # projection 1 + GELU
    f += 2 * B * N * P * cfg.out_channels + B * N * cfg.out_channels
    return float(f)


def training_flops(fno_config: FNOConfig, spatial_shape: Sequence[int], *, batch_size: int, steps: int, n_test: int,
                   n_evals: int, n_train_eval: int = 0) -> float:
    """FLOPs of one model's run: ``steps`` training batches of ``batch_size`` (3× forward each),
    ``n_evals`` forward passes over the ``n_test`` test samples, and one over ``n_train_eval``
    training samples (the final train loss; 0 when the run diverged)."""
    fwd = estimate_flops(fno_config, spatial_shape, 1)
    flops = 3 * fwd * batch_size * steps + fwd * n_test * n_evals
    if n_train_eval:
        flops += fwd * n_train_eval
    return float(flops)
