"""Burgers solver: exact Cole-Hopf comparison, convergence in grid and time step."""
import math

import numpy as np
import pytest
import torch

from mufno_lite.data import burgers_cole_hopf_sine, solve_burgers

torch.set_num_threads(1)


def _err(n, nu, amp, t, n_steps=None):
    x = np.arange(n) / n
    u0 = torch.tensor(amp * np.sin(2 * np.pi * x))[None]
    u = solve_burgers(u0, nu=nu, t_final=t, n_steps=n_steps).numpy()[0]
    ue = burgers_cole_hopf_sine(x, t, nu=nu, amplitude=amp)
    return np.abs(u - ue).max() / np.abs(ue).max()


def test_cole_hopf_formula_matches_initial_condition_and_fine_fft_heat_solution():
    nu, amp = 0.05, 1.5
    x = np.arange(64) / 64
    assert np.allclose(burgers_cole_hopf_sine(x, 0.0, nu=nu, amplitude=amp), amp * np.sin(2 * np.pi * x), atol=1e-12)
    # independent route: heat equation for phi by FFT on a very fine grid, u = -2 nu phi_x / phi
    n, t = 4096, 0.3
    xf = np.arange(n) / n
    phi0 = np.exp(-amp / (4 * np.pi * nu) * (1 - np.cos(2 * np.pi * xf)))
    k = 2 * np.pi * np.fft.rfftfreq(n, 1.0 / n)
    ph = np.fft.rfft(phi0) * np.exp(-nu * k ** 2 * t)
    u_fft = -2 * nu * np.fft.irfft(1j * k * ph, n) / np.fft.irfft(ph, n)
    assert np.abs(u_fft - burgers_cole_hopf_sine(xf, t, nu=nu, amplitude=amp)).max() < 1e-10


def test_default_problem_matches_exact_solution():
    # nu = 0.1, T = 1 (the data-set setting), automatic step
    assert _err(1024, 0.1, 1.0, 1.0) < 1e-9


def test_spatial_convergence_reported():
    errs = [_err(n, 0.02, 2.0, 0.5, n_steps=2000) for n in (32, 64, 128, 256)]
    print("Burgers spatial errors (n=32..256):", errs)
    assert all(e2 < e1 for e1, e2 in zip(errs, errs[1:]))
    assert errs[0] > 1e-3 and errs[-1] < 1e-8  # spectral: orders of magnitude


def test_temporal_convergence_fourth_order():
    errs = [_err(256, 0.02, 2.0, 0.5, n_steps=m) for m in (50, 100, 200)]
    orders = [math.log2(a / b) for a, b in zip(errs, errs[1:])]
    print("Burgers ETDRK4 errors:", errs, "orders:", orders)
    assert all(3.3 < p < 4.7 for p in orders)


def test_automatic_step_accurate_and_batched_equals_single():
    nu, amp = 0.02, 2.0
    assert _err(256, nu, amp, 0.5) < 1e-6
    g = torch.Generator().manual_seed(0)
    u0 = torch.randn(3, 128, generator=g, dtype=torch.float64)
    u0 = torch.fft.irfft(torch.fft.rfft(u0) * (torch.arange(65) < 6), n=128)
    both = solve_burgers(u0, nu=0.1, n_steps=200)
    one = solve_burgers(u0[1:2], nu=0.1, n_steps=200)
    assert torch.allclose(both[1:2], one, atol=1e-13)


def test_mean_is_conserved():
    u0 = torch.tensor(0.3 + np.sin(2 * np.pi * np.arange(128) / 128))[None]
    u = solve_burgers(u0, nu=0.05, t_final=0.5)
    assert abs(u.mean().item() - 0.3) < 1e-12


@pytest.mark.parametrize("bad", [0.0, -0.1])
def test_bad_viscosity(bad):
    with pytest.raises(ValueError, match="nu"):
        solve_burgers(torch.zeros(1, 32), nu=bad)
