"""Write the example own-data files of ``configs/heat1d_own_data.yaml`` (small; committed).

The 1-D heat equation u_t = ν u_xx on the periodic unit interval, solved exactly in Fourier
space: x = u(·, 0) (a random smooth field), y = u(·, T).  Grid x_i = i/s (the ``periodic``
convention).  Run ``python configs/own_data/make_heat1d.py`` to regenerate them.
"""
from __future__ import annotations

import pathlib

import numpy as np


def heat1d(n: int, s: int = 32, *, nu: float = 0.01, t_final: float = 0.5, seed: int = 0):
    rng = np.random.default_rng(seed)
    k = np.fft.rfftfreq(s, d=1.0 / s)
    amp = (1.0 + k) ** -2.0
    c = (rng.standard_normal((n, k.size)) + 1j * rng.standard_normal((n, k.size))) * amp
    c[:, 0] = rng.standard_normal(n)
    u0 = np.fft.irfft(c, n=s) * s
    u1 = np.fft.irfft(c * np.exp(-4 * np.pi**2 * nu * k**2 * t_final), n=s) * s
    return u0.astype(np.float32), u1.astype(np.float32)


def main(folder=pathlib.Path(__file__).resolve().parent):
    folder = pathlib.Path(folder)
    x, y = heat1d(48, seed=0)
    np.savez(folder / "heat1d_train.npz", x=x, y=y)
    x, y = heat1d(16, seed=1)
    np.savez(folder / "heat1d_test.npz", x=x, y=y)


if __name__ == "__main__":
    main()
