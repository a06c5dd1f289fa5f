"""2-D incompressible Navier--Stokes in vorticity form (FNO-3D benchmark).

Problem
-------
.. math:: \\omega_t + \\mathbf u\\cdot\\nabla\\omega = \\nu\\Delta\\omega + f, \\qquad
   \\mathbf u = (\\psi_y, -\\psi_x), \\quad -\\Delta\\psi = \\omega,

on the torus :math:`[0, L)^2`. Forcings (``forcing=``):

* ``"kolmogorov"`` (default, the paper's Re = 500 flow): :math:`L = 2\\pi`,
  :math:`f = -4\\cos(4y)`, :math:`\\nu = 1/500`;
* ``"fno"`` (FNO's flow): :math:`L = 1`,
  :math:`f = 0.1(\\sin 2\\pi(x+y) + \\cos 2\\pi(x+y))`, :math:`\\nu = 10^{-3}`;
* ``"none"``: :math:`f = 0` (used for Taylor--Green checks).

Operator: :math:`\\omega(\\cdot, t_0) \\mapsto (\\omega(\\cdot, t_0 + j\\,T/n_t))_{j=1..n_t}`
(window :math:`(t_0, t_0 + T]`, ``t_start`` = :math:`t_0` burn-in, ``t_final`` = :math:`T`;
the initial frame itself is not part of the output).
Initial vorticity: zero-mean GRF :math:`N(0, \\sigma^2(-\\Delta + 49 I)^{-5/2})`,
:math:`\\sigma = 7^{3/2}`, with :math:`\\Delta` the Laplacian of :math:`[0,L)^2`
(pointwise-normalised, see :mod:`.grf`).

Conventions
-----------
* Grid ``x_i = i L / s``, ``i = 0..s-1`` (endpoint excluded); arrays are indexed
  ``[..., i, j] = omega(x_i, y_j)``; frames on the last axis.
* Spatial subsampling from a ``s_f`` solve grid keeps every ``s_f/s``-th point.

Method
------
Fourier pseudo-spectral, 2/3-rule dealiased advection, Crank--Nicolson diffusion
and Heun (explicit trapezoidal, 2nd order) advection and forcing:

.. math:: \\tilde\\omega = \\frac{(1 - \\tfrac{\\delta t}{2}\\nu k^2)\\hat\\omega^n + \\delta t(\\hat N^n + \\hat f)}{1 + \\tfrac{\\delta t}{2}\\nu k^2},\\quad
   \\hat\\omega^{n+1} = \\frac{(1 - \\tfrac{\\delta t}{2}\\nu k^2)\\hat\\omega^n + \\delta t(\\tfrac12(\\hat N^n + \\tilde N) + \\hat f)}{1 + \\tfrac{\\delta t}{2}\\nu k^2}.

Between two output frames the step is ``dt = min(dt_max, cfl * h / max|u|)``
(max over the batch, recomputed at every frame) rounded so the frame is hit exactly.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch

from ..validation import positive
from ..progress import LineProgress, progress_mode
from .grf import periodic_grf

__all__ = ["FORCINGS", "flow_defaults", "ns_initial_condition", "ns_forcing", "ns_advection",
           "solve_navier_stokes", "ns_diagnostics"]

FORCINGS = ("kolmogorov", "fno", "none")


def flow_defaults(forcing: str) -> dict:
    """Domain length, viscosity and window length of a named flow.

    Parameters
    ----------
    forcing : str
        One of :data:`FORCINGS`.

    Returns
    -------
    dict
        ``{"length": L, "nu": nu, "t_final": T}``.
    """
    if forcing == "kolmogorov":
        return {"length": 2 * math.pi, "nu": 1.0 / 500.0, "t_final": 1.0}
    if forcing == "fno":
        return {"length": 1.0, "nu": 1e-3, "t_final": 10.0}
    if forcing == "none":
        return {"length": 2 * math.pi, "nu": 1.0 / 500.0, "t_final": 1.0}
    raise ValueError(f"forcing={forcing!r} is invalid: allowed values are {FORCINGS}")


def _grid(s: int, length: float, dtype=torch.float64, device="cpu"):
    x = torch.arange(s, dtype=dtype, device=device) * (length / s)
    return torch.meshgrid(x, x, indexing="ij")


def ns_forcing(forcing: str, s: int, length: float, *, dtype=torch.float64, device="cpu") -> torch.Tensor:
    """Nodal forcing :math:`f(x_i, y_j)` of shape ``(s, s)`` (see module docstring)."""
    X, Y = _grid(s, length, dtype, device)
    if forcing == "kolmogorov":
        return -4.0 * torch.cos(4.0 * Y * (2 * math.pi / length))
    if forcing == "fno":
        z = 2 * math.pi * (X + Y) / length
        return 0.1 * (torch.sin(z) + torch.cos(z))
    if forcing == "none":
        return torch.zeros(s, s, dtype=dtype, device=device)
    raise ValueError(f"forcing={forcing!r} is invalid: allowed values are {FORCINGS}")


def ns_initial_condition(noise: torch.Tensor, *, length: float, alpha: float = 2.5, tau: float = 7.0,
                         sigma: Optional[float] = None) -> torch.Tensor:
    """Zero-mean random initial vorticity :math:`N(0, \\sigma^2(-\\Delta+\\tau^2)^{-\\alpha})`.

    Parameters
    ----------
    noise : torch.Tensor
        White noise ``(B, s, s)``.
    length : float
        Domain side ``L``.
    alpha, tau : float
        GRF parameters (FNO: 2.5, 7).
    sigma : float, optional
        Amplitude; default :math:`\\tau^{\\alpha-1}` (:math:`7^{3/2}`, FNO's choice).

    Returns
    -------
    torch.Tensor
        ``(B, s, s)`` vorticity.
    """
    if sigma is None:
        sigma = tau ** (alpha - 1.0)
    return periodic_grf(noise, alpha=alpha, tau=tau, sigma=sigma, length=length, zero_mean=True)


class _Spectral:
    def __init__(self, s: int, length: float, device, dealias: bool = True):
        dt = torch.float64
        m1 = torch.fft.fftfreq(s, d=1.0 / s, dtype=dt, device=device)
        m2 = torch.fft.rfftfreq(s, d=1.0 / s, dtype=dt, device=device)
        c = 2 * math.pi / length
        self.kx = (c * m1)[:, None].expand(s, m2.numel()).clone()
        self.ky = (c * m2)[None, :].expand(s, m2.numel()).clone()
        self.k2 = self.kx ** 2 + self.ky ** 2
        inv = torch.where(self.k2 > 0, 1.0 / torch.where(self.k2 > 0, self.k2, 1.0), 0.0)
        self.inv_k2 = inv
        # derivative multipliers with the Nyquist modes zeroed (odd derivatives)
        dkx, dky = self.kx.clone(), self.ky.clone()
        if s % 2 == 0:
            dkx[s // 2, :] = 0.0
            dky[:, -1] = 0.0
        self.ikx, self.iky = 1j * dkx, 1j * dky
        if dealias:
            cut = s / 3.0
            self.mask = ((m1.abs()[:, None] <= cut) & (m2[None, :] <= cut)).to(dt)
        else:
            self.mask = torch.ones_like(self.k2)
        self.s = s
        self.h = length / s


def ns_advection(w_hat: torch.Tensor, sp: "_Spectral", return_velocity: bool = False):
    """Dealiased :math:`-\\widehat{\\mathbf u\\cdot\\nabla\\omega}` from :math:`\\hat\\omega` (rfft2 layout)."""
    s = sp.s
    psi = w_hat * sp.inv_k2
    irf = lambda z: torch.fft.irfft2(z, s=(s, s))  # noqa: E731
    u = irf(sp.iky * psi)
    v = irf(-sp.ikx * psi)
    wx = irf(sp.ikx * w_hat)
    wy = irf(sp.iky * w_hat)
    nl = -torch.fft.rfft2(u * wx + v * wy) * sp.mask
    if return_velocity:
        return nl, u, v
    return nl


def solve_navier_stokes(w0: torch.Tensor, times: Sequence[float], *, nu: float, length: float,
                        forcing: Optional[torch.Tensor] = None, cfl: float = 0.5,
                        dt_max: float = 0.05, dealias: bool = True,
                        n_substeps: Optional[int] = None, progress: Optional[bool] = None) -> torch.Tensor:
    """Integrate the vorticity equation and record frames.

    Parameters
    ----------
    w0 : torch.Tensor
        Initial vorticity ``(B, s, s)`` at time 0 (computed in float64 on its device).
    times : sequence of float
        Increasing output times ``> 0``.
    nu : float
        Viscosity (> 0).
    length : float
        Domain side ``L``.
    forcing : torch.Tensor, optional
        Nodal forcing ``(s, s)``; ``None`` means zero.
    cfl : float
        Courant number for ``dt <= cfl * h / max(|u|, |v|)``.
    dt_max : float
        Upper bound of the step.
    dealias : bool
        2/3-rule dealiasing of the advection.
    n_substeps : int, optional
        Force this many equal steps between consecutive frames (convergence tests).
    progress : bool, optional
        ``False``: silent.  Default: in logs (:func:`mufno_lite.progress.progress_mode` ``'lines'``)
        a solve that takes longer than 30 s writes a line to stdout every 30 s (frames done, elapsed, ETA).

    Returns
    -------
    torch.Tensor
        ``(B, s, s, len(times))`` float64 vorticity frames.
    """
    positive("nu", nu)
    positive("length", length)
    positive("cfl", cfl)
    positive("dt_max", dt_max)
    w0 = w0.to(torch.float64)
    s = w0.shape[-1]
    dev = w0.device
    sp = _Spectral(s, length, dev, dealias)
    f_hat = torch.fft.rfft2(forcing.to(device=dev, dtype=torch.float64)) if forcing is not None else 0.0
    w_hat = torch.fft.rfft2(w0)
    out = torch.empty(*w0.shape, len(times), dtype=torch.float64, device=dev)
    t = 0.0
    lines = None
    if progress is not False and progress_mode() == "lines":
        lines = LineProgress(len(times), f"Navier-Stokes solve ({w0.shape[0] if w0.ndim > 2 else 1} samples, {s}x{s})",
                             unit="frames", interval=30.0, delay=30.0, step_fraction=1.0, min_gap=30.0)
    for j, t_next in enumerate(times):
        span = float(t_next) - t
        if span <= 0:
            raise ValueError(f"times must be increasing and > 0, got {list(times)}")
        nl, u, v = ns_advection(w_hat, sp, return_velocity=True)
        if n_substeps is None:
            umax = float(torch.maximum(u.abs().amax(), v.abs().amax())) if u.numel() else 0.0
            dt = dt_max if umax == 0 else min(dt_max, cfl * sp.h / umax)
            n_sub = max(1, math.ceil(span / dt - 1e-9))
        else:
            n_sub = int(n_substeps)
        dt = span / n_sub
        lhs = 1.0 + 0.5 * dt * nu * sp.k2
        rhs_lin = 1.0 - 0.5 * dt * nu * sp.k2
        for _ in range(n_sub):
            if nl is None:
                nl = ns_advection(w_hat, sp)
            w_tilde = (rhs_lin * w_hat + dt * (nl + f_hat)) / lhs
            nl2 = ns_advection(w_tilde, sp)
            w_hat = (rhs_lin * w_hat + dt * (0.5 * (nl + nl2) + f_hat)) / lhs
            nl = None
        out[..., j] = torch.fft.irfft2(w_hat, s=(s, s))
        t = float(t_next)
        if lines is not None:
            lines.update(1)
    if lines is not None:
        lines.close()
    return out


def ns_diagnostics(w: torch.Tensor, *, length: float, forcing: Optional[torch.Tensor] = None):
    """Energy, enstrophy and forcing work of vorticity fields (domain means).

    .. math:: E = \\tfrac12\\langle|\\mathbf u|^2\\rangle = \\tfrac12\\langle\\psi\\,\\omega\\rangle,\\quad
       Z = \\tfrac12\\langle\\omega^2\\rangle,\\quad W = \\langle\\psi f\\rangle,

    so that the exact budget is :math:`dE/dt = -2\\nu Z + W` on the torus.

    Parameters
    ----------
    w : torch.Tensor
        Vorticity ``(..., s, s)``.
    length : float
        Domain side.
    forcing : torch.Tensor, optional
        Nodal forcing ``(s, s)``.

    Returns
    -------
    tuple of torch.Tensor
        ``(E, Z, W)`` each of shape ``w.shape[:-2]``.
    """
    w = w.to(torch.float64)
    s = w.shape[-1]
    sp = _Spectral(s, length, w.device, dealias=False)
    psi = torch.fft.irfft2(torch.fft.rfft2(w) * sp.inv_k2, s=(s, s))
    E = 0.5 * (psi * w).mean(dim=(-2, -1))
    Z = 0.5 * (w * w).mean(dim=(-2, -1))
    W = (psi * forcing.to(w)).mean(dim=(-2, -1)) if forcing is not None else torch.zeros_like(E)
    return E, Z, W
