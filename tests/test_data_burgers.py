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


# ---------------------------------------------------------------------------
# zero-mean data and small viscosity
# ---------------------------------------------------------------------------
from mufno_lite.data import burgers_initial_condition, load_dataset, make_config, sample_noise  # noqa: E402
from mufno_lite.data.cache import config_key  # noqa: E402
from mufno_lite.data.params import burgers_default_solve_resolution  # noqa: E402

CLASSIC = dict(alpha=2.5, tau=7.0, sigma=49.0)


@pytest.mark.parametrize("nu,amp,t", [(0.05, 1.5, 0.3), (0.02, 2.0, 0.5), (0.1, 1.0, 1.0), (0.05, 1.5, 0.01)])
def test_cole_hopf_quadrature_matches_bessel_sum(nu, amp, t):
    x = np.arange(200) / 200
    b = burgers_cole_hopf_sine(x, t, nu=nu, amplitude=amp, method="bessel")
    q = burgers_cole_hopf_sine(x, t, nu=nu, amplitude=amp, method="quadrature")
    assert np.abs(b - q).max() < 1e-12 * np.abs(b).max()


def test_cole_hopf_quadrature_is_converged_at_small_viscosity():
    # a = 1/(4 pi 1e-4) ~ 800: the Bessel denominator would cancel to e^{-625}; the quadrature
    # (log-sum-exp) stays finite, odd in x, and bounded by the initial amplitude
    x = np.arange(512) / 512
    u = burgers_cole_hopf_sine(x, 1.0, nu=1e-4)
    assert np.all(np.isfinite(u)) and np.abs(u).max() <= 1.0
    assert np.abs(u[1:] + u[1:][::-1]).max() < 1e-12  # u(1 - x) = -u(x)


@pytest.mark.parametrize("nu,n,bound", [(1e-2, 1024, 1e-8), (3e-3, 1024, 1e-7), (1e-3, 2048, 1e-7),
                                        (3e-4, 6912, 1e-7)])
def test_zero_mean_sine_at_small_viscosity_matches_cole_hopf(nu, n, bound):
    # zero-mean u0 = sin(2 pi x), T = 1, automatic step; n = the default solve grid max(1024, 2/nu)
    assert n == burgers_default_solve_resolution(256, nu)
    x = np.arange(n) / n
    u = solve_burgers(torch.tensor(np.sin(2 * np.pi * x))[None], nu=nu, t_final=1.0).numpy()[0]
    ue = burgers_cole_hopf_sine(x, 1.0, nu=nu)
    rel = np.linalg.norm(u - ue) / np.linalg.norm(ue)
    print(f"Cole-Hopf nu={nu:g} n={n}: rel L2 error {rel:.2e}")
    assert rel < bound


def _fourier_upsample(u, m):
    return torch.fft.irfft(torch.fft.rfft(u), n=m) * (m / u.shape[-1])


@pytest.mark.parametrize("nu", [1e-2, 1e-3])
def test_classic_zero_mean_ic_self_convergence_at_default_solve_grid(nu):
    # the same random initial data (classic FNO measure, zero mean) solved on the default grid n and
    # on 2n, and with twice the time steps; difference at the 256 training points
    n = burgers_default_solve_resolution(256, nu)
    u0 = burgers_initial_condition(torch.as_tensor(sample_noise(0, 101, range(4), (n,))), zero_mean=True, **CLASSIC)
    a = solve_burgers(u0, nu=nu)[:, :: n // 256]
    b = solve_burgers(_fourier_upsample(u0, 2 * n), nu=nu)[:, :: 2 * n // 256]
    rel_space = float(((a - b).norm(dim=1) / b.norm(dim=1)).max())
    steps = math.ceil(1.0 / min(2e-3, 1.0 / (float(u0.abs().max()) * min(2 * math.pi * (n // 2) * 2 / 3,
                                                                         float(u0.abs().max()) / nu))))
    c = solve_burgers(u0, nu=nu, n_steps=2 * steps)[:, :: n // 256]
    rel_time = float(((a - c).norm(dim=1) / c.norm(dim=1)).max())
    print(f"classic IC nu={nu:g}: n={n} vs 2n rel L2 {rel_space:.1e}; {steps} vs {2 * steps} steps {rel_time:.1e}")
    assert rel_space < 1e-8 and rel_time < 1e-6


def test_default_solve_resolution_rule():
    assert burgers_default_solve_resolution(256, 0.1) == 1024  # unchanged data at the default nu
    assert burgers_default_solve_resolution(256, 1e-3) == 2048
    assert burgers_default_solve_resolution(2048, 0.1) == 2048
    assert make_config("burgers", 256, nu=1e-3)["solve_resolution"] == 2048
    assert make_config("burgers", 64)["solve_resolution"] == 1024


def test_zero_mean_initial_condition_and_data():
    w = torch.as_tensor(sample_noise(0, 1, range(3), (256,)))
    u_plain = burgers_initial_condition(w)
    u_zero = burgers_initial_condition(w, zero_mean=True)
    assert u_zero.mean(1).abs().max() < 1e-14
    assert torch.allclose(u_plain - u_plain.mean(1, keepdim=True), u_zero, atol=1e-12)
    # solve grid = data grid, so the grid mean is the spatial mean (a subsample's mean is not)
    ds = load_dataset("burgers", resolution=128, n_train=3, n_test=2, cache_dir=False, solve_resolution=128,
                      ic_zero_mean=True)
    assert ds.config["ic_zero_mean"] is True
    for t in (ds.x_train, ds.y_train, ds.x_test, ds.y_test):
        assert t.mean(-1).abs().max() < 1e-6  # mean conserved: the target is zero-mean too
    assert make_config("burgers", 64)["ic_zero_mean"] is False


def test_zero_mean_enters_the_cache_key_and_is_validated():
    a, b = make_config("burgers", 64), make_config("burgers", 64, ic_zero_mean=True)
    assert config_key(a) != config_key(b)
    for bad in ("yes", 1, None):
        with pytest.raises(ValueError, match="ic_zero_mean.*True or False"):
            make_config("burgers", 64, ic_zero_mean=bad)
