"""Numerical companions to the paper's theory.

Why √(d log K)?  Width-μP rests on averages (a sum of m terms, central-limit size √m).  The
operator norm of an FNO kernel integral is instead a *maximum*: over the K^d kept modes, of the norm
of each mode's block.  The maximum of n i.i.d. sub-Gaussian variables grows like √(2 log n), so
for n = K^d like √(2 d log K).  :func:`max_of_gaussians` measures that.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["max_of_gaussians"]


def max_of_gaussians(Ks: Sequence[int], d: int = 1, trials: int = 200, seed: int = 0, max_n: int = 2_000_000):
    """E[max_i |g_i|] over n = K^d i.i.d. standard Gaussians, against √(2 d log K).

    Returns a DataFrame with columns K, d, n, mean_max, std_max, sqrt_2dlogK, ratio.  Trials are
    reduced for large n so that at most ``max_n`` numbers are drawn at once per trial batch.
    """
    import pandas as pd

    if d not in (1, 2, 3):
        raise ValueError(f"d must be 1, 2 or 3; got d={d!r}")
    rng = np.random.default_rng(seed)
    rows = []
    for K in Ks:
        if K < 2:
            raise ValueError(f"K must be an integer >= 2; got K={K!r}")
        n = int(K) ** d
        per = max(1, min(trials, max_n // n))
        maxima = []
        while len(maxima) < trials:
            t = min(per, trials - len(maxima))
            maxima.extend(np.abs(rng.standard_normal((t, n))).max(axis=1).tolist())
        m = np.asarray(maxima)
        ref = math.sqrt(2 * d * math.log(K))
        rows.append({"K": int(K), "d": d, "n": n, "mean_max": m.mean(), "std_max": m.std(ddof=1), "sqrt_2dlogK": ref, "ratio": m.mean() / ref})
    return pd.DataFrame(rows)
