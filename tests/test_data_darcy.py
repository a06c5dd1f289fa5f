"""Darcy solver: manufactured solution (order 2), layered coefficient, PINO residual."""
import math

import numpy as np
import pytest
import torch

from mufno_lite.data import DarcySolver, darcy_coefficient, darcy_residual, sample_noise, solve_darcy

torch.set_num_threads(1)


def _mms_error(s):
    x = np.linspace(0, 1, s)
    X, Y = np.meshgrid(x, x, indexing="ij")
    a = 1 + 0.5 * np.sin(2 * np.pi * X) * np.cos(np.pi * Y) + 0.25 * X * Y
    a_x = np.pi * np.cos(2 * np.pi * X) * np.cos(np.pi * Y) + 0.25 * Y
    a_y = -0.5 * np.pi * np.sin(2 * np.pi * X) * np.sin(np.pi * Y) + 0.25 * X
    u = np.sin(np.pi * X) * np.sin(2 * np.pi * Y)
    u_x = np.pi * np.cos(np.pi * X) * np.sin(2 * np.pi * Y)
    u_y = 2 * np.pi * np.sin(np.pi * X) * np.cos(2 * np.pi * Y)
    f = -(a_x * u_x + a_y * u_y - 5 * np.pi ** 2 * a * u)  # -div(a grad u)
    return np.abs(solve_darcy(a, f) - u).max()


def test_manufactured_solution_second_order():
    errs = [_mms_error(s) for s in (17, 33, 65)]
    orders = [math.log2(a / b) for a, b in zip(errs, errs[1:])]
    print("Darcy MMS errors:", errs, "orders:", orders)
    assert errs[-1] < 1e-3
    assert all(abs(p - 2) < 0.15 for p in orders)


def _layered_error(s, a1=1.0, a2=10.0):
    """a = a1 (x < 1/2), a2 (x > 1/2); exact u = U(x) sin(pi y) with U the 1-D solution
    of -(a U')' = 1, U(0) = U(1) = 0 (piecewise quadratic, continuous flux)."""
    x = np.linspace(0, 1, s)
    X, Y = np.meshgrid(x, x, indexing="ij")
    a = np.where(X < 0.5, a1, a2)
    c = (1 / (8 * a1) + 3 / (8 * a2)) / (1 / (2 * a1) + 1 / (2 * a2))  # flux a U' = c - x
    U = np.where(x < 0.5, (c * x - x ** 2 / 2) / a1,
                 (c / 2 - 1 / 8) / a1 + (c * (x - 0.5) - (x ** 2 - 0.25) / 2) / a2)
    ue = U[:, None] * np.sin(np.pi * x)[None, :]
    f = np.sin(np.pi * Y) * (1 + np.pi ** 2 * a * U[:, None])
    return np.abs(solve_darcy(a, f) - ue).max() / np.abs(ue).max()


def test_layered_coefficient_exact_solution():
    # even s puts the interface x = 1/2 on a cell face
    errs = [_layered_error(s) for s in (16, 32, 64)]
    orders = [math.log2(a / b) for a, b in zip(errs, errs[1:])]
    print("Darcy layered errors:", errs, "orders:", orders)
    assert errs[-1] < 1e-3
    assert all(p > 1.8 for p in orders)


def test_one_dimensional_layered_flux_continuity():
    # pure 1-D check: interior x-rows away from y-boundaries are symmetric in y
    errs = _layered_error(32, a1=12.0, a2=3.0)
    assert errs < 5e-3


def _random_pair(n=3, s=33):
    a = darcy_coefficient(torch.tensor(sample_noise(0, 9, range(n), (s, s))), s).numpy()
    return a, DarcySolver(s).solve(a)


def test_coefficient_two_valued_and_solution_positive():
    a, u = _random_pair()
    assert set(np.unique(a)) <= {3.0, 12.0} and len(np.unique(a)) == 2
    assert (u[:, 1:-1, 1:-1] > 0).all() and np.all(u[:, 0] == 0) and np.all(u[:, :, -1] == 0)


def test_residual_vanishes_on_solver_output_and_is_differentiable():
    a, u = _random_pair()
    at, ut = torch.tensor(a), torch.tensor(u)
    r = darcy_residual(at, ut)
    assert r.shape == (3, 31, 31)
    assert r.abs().max() < 1e-8
    # channel layout, float32 as stored in data sets: small relative to f = 1
    r32 = darcy_residual(at[:, None].float(), ut[:, None].float())
    assert r32.shape == (3, 1, 31, 31) and r32.abs().max() < 1e-2
    # perturbed field: large residual, gradient flows
    up = (ut + 1e-3 * torch.randn_like(ut, generator=torch.Generator().manual_seed(0))).requires_grad_(True)
    loss = darcy_residual(at, up).pow(2).mean()
    assert loss.item() > 1.0
    loss.backward()
    assert up.grad is not None and torch.isfinite(up.grad).all() and up.grad.abs().sum() > 0
    # gradient check on a tiny problem
    a2 = torch.rand(1, 6, 6, dtype=torch.float64) + 1
    u2 = torch.rand(1, 6, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: darcy_residual(a2, v), (u2,))


def test_residual_matches_sparse_matrix():
    a, _ = _random_pair(1, 17)
    sol = DarcySolver(17)
    v = np.random.default_rng(0).standard_normal((17, 17))
    v[0] = v[-1] = v[:, 0] = v[:, -1] = 0
    Av = (sol.matrix(a[0]) @ v[1:-1, 1:-1].ravel()).reshape(15, 15) / sol.h ** 2
    r = darcy_residual(torch.tensor(a), torch.tensor(v[None]), f=0.0)[0].numpy()
    assert np.allclose(r, Av, rtol=1e-12, atol=1e-9)


def test_bad_inputs():
    with pytest.raises(ValueError, match="resolution"):
        DarcySolver(2)
    with pytest.raises(ValueError, match="positive"):
        solve_darcy(-np.ones((8, 8)))
