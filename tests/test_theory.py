import math

import pytest

from mufno_lite.theory import max_of_gaussians


def test_max_of_gaussians_grows_like_sqrt_2_d_log_K():
    df = max_of_gaussians([4, 64, 1024], d=1, trials=200, seed=0)
    assert df["mean_max"].is_monotonic_increasing
    # E max|g| over n variables approaches √(2 log n) from below (measured 0.85 → 0.93 here)
    assert all(0.8 < r < 1.0 for r in df["ratio"])
    assert df["ratio"].iloc[-1] > df["ratio"].iloc[0]
    # d enters only through n = K^d: (d=2, K=32) has the same n as (d=1, K=1024)
    df2 = max_of_gaussians([32], d=2, trials=200, seed=1)
    assert df2["n"].iloc[0] == 1024
    assert df2["mean_max"].iloc[0] == pytest.approx(df["mean_max"].iloc[-1], rel=0.05)
    assert df2["sqrt_2dlogK"].iloc[0] == pytest.approx(math.sqrt(2 * math.log(1024)))


def test_errors():
    with pytest.raises(ValueError, match="K must be an integer >= 2"):
        max_of_gaussians([1])
    with pytest.raises(ValueError, match="d must be 1, 2 or 3"):
        max_of_gaussians([4], d=5)
