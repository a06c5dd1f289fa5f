"""Gaussian random fields used as random inputs of the PDE data sets.

Conventions
-----------
All fields are *pointwise* normalised: a field with covariance operator
:math:`C = \\sigma^2(-\\Delta + \\tau^2 I)^{-\\alpha}` is the Karhunen--Loeve sum

.. math:: g(x) = \\sum_k \\sqrt{\\lambda_k}\\, \\xi_k\\, \\phi_k(x),
   \\qquad \\lambda_k = \\sigma^2 (\\mu_k + \\tau^2)^{-\\alpha},
   \\qquad \\xi_k \\sim N(0, 1) \\text{ i.i.d.},

where :math:`(\\mu_k, \\phi_k)` are the eigenpairs of :math:`-\\Delta` and the
:math:`\\phi_k` are orthonormal for the *mean* inner product
:math:`\\langle f, g\\rangle = |D|^{-1}\\int_D f g`, so that the pointwise variance
is :math:`\\sum_k \\lambda_k` whatever the size of the domain :math:`D`.

* :func:`periodic_grf` -- torus :math:`[0, L)^d`, grid ``x_i = i L / n``
  (endpoint excluded), Fourier eigenfunctions, :math:`\\mu_k = (2\\pi/L)^2|k|^2`.
  Sampled exactly (up to grid truncation) by colouring white noise with an FFT.
* :func:`cosine_grf` -- unit square with Neumann eigenfunctions
  :math:`\\phi_k = c_{k_1} c_{k_2}\\cos(\\pi k_1 x)\\cos(\\pi k_2 y)`,
  :math:`\\mu_k = \\pi^2|k|^2`, evaluated on the node grid ``x_i = i/(s-1)``
  (both endpoints included); non-periodic, as in the FNO Darcy data.

Randomness comes from :func:`sample_noise`, which draws every sample from its own
``numpy`` stream keyed by ``(seed, stream, index)``: sample ``i`` of a split does not
depend on how many samples are drawn, nor on chunking.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import torch

__all__ = ["sample_noise", "periodic_grf", "cosine_grf"]


def sample_noise(seed: int, stream: int, indices: Iterable[int], shape: Sequence[int]) -> np.ndarray:
    """Standard normal noise, one independent stream per sample.

    Parameters
    ----------
    seed : int
        User seed.
    stream : int
        Stream identifier (e.g. 1 for train, 2 for test, plus a PDE salt).
    indices : iterable of int
        Sample indices within the stream.
    shape : sequence of int
        Shape of one sample's noise.

    Returns
    -------
    numpy.ndarray
        Array of shape ``(len(indices), *shape)``, float64.
    """
    out = []
    for i in indices:
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(stream), int(i)]))
        out.append(rng.standard_normal(tuple(shape)))
    if not out:
        return np.zeros((0, *shape))
    return np.stack(out)


def periodic_grf(noise: torch.Tensor, *, alpha: float, tau: float, sigma: float,
                 length: float = 1.0, zero_mean: bool = False) -> torch.Tensor:
    """Colour white noise into a periodic GRF, :math:`N(0, \\sigma^2(-\\Delta+\\tau^2)^{-\\alpha})`.

    Parameters
    ----------
    noise : torch.Tensor
        White noise on the grid, shape ``(B, n_1, ..., n_d)`` with ``d`` = 1 or 2
        (i.i.d. N(0,1) grid values).
    alpha, tau, sigma : float
        Smoothness, inverse length scale and amplitude of the covariance.
    length : float
        Side :math:`L` of the torus; eigenvalues of :math:`-\\Delta` are
        :math:`(2\\pi/L)^2 |k|^2`.
    zero_mean : bool
        Drop the constant mode :math:`k=0`.

    Returns
    -------
    torch.Tensor
        Real field, same shape and dtype as ``noise``. With ``n`` grid points, the
        FFT of white noise has variance ``n`` per mode, so
        ``g = sqrt(n) * ifft(sqrt(lambda) * fft(W))`` has pointwise variance
        :math:`\\sum_k \\lambda_k` over the resolved modes.
    """
    dims = tuple(range(1, noise.ndim))
    shape = noise.shape[1:]
    mu = torch.zeros((), dtype=noise.dtype, device=noise.device)
    for ax, n in enumerate(shape):
        if ax == len(shape) - 1:
            k = torch.fft.rfftfreq(n, d=1.0 / n, dtype=noise.dtype, device=noise.device)
        else:
            k = torch.fft.fftfreq(n, d=1.0 / n, dtype=noise.dtype, device=noise.device)
        view = [1] * len(shape)
        view[ax] = -1
        mu = mu + ((2 * math.pi / length) * k).reshape(view) ** 2
    sqrt_lam = sigma * (mu + tau ** 2) ** (-alpha / 2.0)
    if zero_mean:
        sqrt_lam = sqrt_lam.clone()
        sqrt_lam.reshape(-1)[0] = 0.0
    n_tot = math.prod(shape)
    spec = torch.fft.rfftn(noise, dim=dims) * sqrt_lam
    return math.sqrt(n_tot) * torch.fft.irfftn(spec, s=shape, dim=dims)


def cosine_grf(noise: torch.Tensor, s: int, *, alpha: float, tau: float, sigma: float = 1.0,
               zero_mean: bool = True) -> torch.Tensor:
    """Non-periodic GRF on the unit square in the Neumann cosine basis.

    Parameters
    ----------
    noise : torch.Tensor
        Coefficients :math:`\\xi_k`, shape ``(B, K, K)`` (``K`` modes per axis).
    s : int
        Number of nodes per axis; nodes ``x_i = i/(s-1)``, ``i = 0..s-1``.
    alpha, tau, sigma : float
        Covariance :math:`\\sigma^2(-\\Delta + \\tau^2)^{-\\alpha}` with
        :math:`\\mu_k = \\pi^2(k_1^2 + k_2^2)`.
    zero_mean : bool
        Drop the constant mode (as the FNO Darcy generator does).

    Returns
    -------
    torch.Tensor
        Field of shape ``(B, s, s)``, indexed ``[b, i, j] = g(x_i, y_j)``.
    """
    K = noise.shape[-1]
    dt, dev = noise.dtype, noise.device
    k = torch.arange(K, dtype=dt, device=dev)
    x = torch.linspace(0.0, 1.0, s, dtype=dt, device=dev)
    basis = torch.cos(math.pi * x[:, None] * k[None, :])  # (s, K)
    basis[:, 1:] *= math.sqrt(2.0)
    mu = math.pi ** 2 * (k[:, None] ** 2 + k[None, :] ** 2)
    coef = sigma * (mu + tau ** 2) ** (-alpha / 2.0)
    if zero_mean:
        coef[0, 0] = 0.0
    return basis @ (coef * noise) @ basis.T

