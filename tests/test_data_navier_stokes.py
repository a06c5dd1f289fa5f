"""Navier-Stokes solver: advection term, Taylor-Green decay, energy budget, time order."""
import math

import numpy as np
import pytest
import torch

from mufno_lite.data import ns_diagnostics, ns_forcing, ns_initial_condition, sample_noise, solve_navier_stokes
from mufno_lite.data.navier_stokes import _Spectral, ns_advection

torch.set_num_threads(1)
L = 2 * math.pi


def _grid(s, length=L):
    x = torch.arange(s, dtype=torch.float64) * (length / s)
    return torch.meshgrid(x, x, indexing="ij")


def test_advection_term_analytic():
    # w = sin x + cos 2y -> psi = sin x + cos(2y)/4, u = psi_y, v = -psi_x, u.grad w = 1.5 cos x sin 2y
    s = 32
    X, Y = _grid(s)
    w = torch.sin(X) + torch.cos(2 * Y)
    nl = torch.fft.irfft2(ns_advection(torch.fft.rfft2(w), _Spectral(s, L, "cpu")), s=(s, s))
    assert torch.allclose(nl, -1.5 * torch.cos(X) * torch.sin(2 * Y), atol=1e-12)


def test_taylor_green_decay():
    s, nu = 32, 0.05
    X, Y = _grid(s)
    tg = 2 * torch.cos(X) * torch.cos(Y)
    out = solve_navier_stokes(tg[None], [0.5, 1.0, 2.0], nu=nu, length=L)
    for j, t in enumerate([0.5, 1.0, 2.0]):
        amp = out[0, ..., j].abs().max().item() / 2
        assert abs(amp - math.exp(-2 * nu * t)) < 1e-6
        assert torch.allclose(out[0, ..., j], tg * math.exp(-2 * nu * t), atol=1e-6)


def test_taylor_green_unit_domain_time_order():
    s, nu = 16, 0.01
    X, Y = _grid(s, 1.0)
    tg = torch.cos(2 * math.pi * X) * torch.cos(2 * math.pi * Y)
    ex = math.exp(-8 * math.pi ** 2 * nu * 1.0)
    errs = [abs(solve_navier_stokes(tg[None], [1.0], nu=nu, length=1.0, n_substeps=m)[0, 0, 0, 0].item() - ex)
            for m in (10, 20, 40)]
    orders = [math.log2(a / b) for a, b in zip(errs, errs[1:])]
    assert all(1.8 < p < 2.2 for p in orders)


def test_energy_budget_with_forcing():
    s, nu = 64, 1 / 500
    f = ns_forcing("kolmogorov", s, L)
    w0 = ns_initial_condition(torch.tensor(sample_noise(0, 5, range(2), (s, s))), length=L)
    dt = 0.01
    times = [dt * (j + 1) for j in range(100)]
    out = solve_navier_stokes(w0, times, nu=nu, length=L, forcing=f)
    w = torch.cat([w0[..., None], out], dim=-1).permute(0, 3, 1, 2)
    E, Z, W = ns_diagnostics(w, length=L, forcing=f)
    rate = -2 * nu * Z + W
    dE = E[:, 1:] - E[:, :-1]
    pred = 0.5 * (rate[:, 1:] + rate[:, :-1]) * dt
    rel = ((dE - pred).abs().max() / dE.abs().max()).item()
    print("NS energy-budget relative residual:", rel)
    assert rel < 1e-3
    assert (W.abs() > 0).all()
    # broken budget (wrong viscosity in the rate) must be detected
    bad = 0.5 * ((-4 * nu * Z + W)[:, 1:] + (-4 * nu * Z + W)[:, :-1]) * dt
    assert ((dE - bad).abs().max() / dE.abs().max()).item() > 1e-2


def test_fno_forcing_and_batch_consistency():
    s = 32
    f = ns_forcing("fno", s, 1.0)
    X, Y = _grid(s, 1.0)
    assert torch.allclose(f, 0.1 * (torch.sin(2 * math.pi * (X + Y)) + torch.cos(2 * math.pi * (X + Y))))
    w0 = ns_initial_condition(torch.tensor(sample_noise(1, 5, range(3), (s, s))), length=1.0)
    assert abs(w0.mean().item()) < 1e-12
    both = solve_navier_stokes(w0, [0.5, 1.0], nu=1e-3, length=1.0, forcing=f, n_substeps=20)
    one = solve_navier_stokes(w0[2:], [0.5, 1.0], nu=1e-3, length=1.0, forcing=f, n_substeps=20)
    assert torch.allclose(both[2:], one, atol=1e-12)


def test_bad_inputs():
    with pytest.raises(ValueError, match="nu"):
        solve_navier_stokes(torch.zeros(1, 8, 8), [1.0], nu=-1.0, length=L)
    with pytest.raises(ValueError, match="forcing"):
        ns_forcing("turbulent", 8, L)
