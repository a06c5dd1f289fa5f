"""Steady Darcy flow (FNO-2D benchmark) and its PINO residual.

Problem
-------
.. math:: -\\nabla\\cdot(a(x)\\nabla u(x)) = f(x), \\quad x\\in(0,1)^2, \\qquad u = 0 \\text{ on } \\partial(0,1)^2,

with :math:`f \\equiv 1` and the piecewise-constant coefficient
:math:`a = a_+ = 12` where :math:`\\psi \\ge 0`, :math:`a = a_- = 3` where
:math:`\\psi < 0`, :math:`\\psi \\sim N(0, (-\\Delta + 9 I)^{-2})` a zero-mean
Neumann-cosine GRF (:func:`.grf.cosine_grf`). The operator is :math:`a \\mapsto u`.

Conventions
-----------
* Node grid ``x_i = i h``, ``h = 1/(s-1)``, ``i = 0..s-1``: **both boundaries are
  included**; arrays are indexed ``[..., i, j] = value at (x_i, y_j)``.
* Subsampling from a fine grid of ``s_f`` nodes keeps every ``r``-th node,
  ``s = (s_f - 1)/r + 1`` (as FNO's 421 -> 211, 141, 106, 85).

Discretisation
--------------
Conservative 5-point finite volumes on the node-centred cells: for an interior node
:math:`P` with neighbours :math:`Q \\in \\{E,W,N,S\\}`

.. math:: \\frac{1}{h^2}\\sum_Q a_{PQ}(u_P - u_Q) = f_P, \\qquad
   a_{PQ} = \\frac{2 a_P a_Q}{a_P + a_Q} \\text{ (harmonic mean)},

which is symmetric positive definite. Each sample is solved with a sparse LU
(``scipy.sparse.linalg.splu``) on a sparsity pattern assembled once per grid.
:func:`darcy_residual` evaluates the same stencil in torch (differentiable).
"""
from __future__ import annotations

from typing import Optional, Union

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from ..validation import positive
from .grf import cosine_grf

__all__ = ["DarcySolver", "solve_darcy", "darcy_coefficient", "darcy_residual"]


def darcy_coefficient(noise: torch.Tensor, s: int, *, alpha: float = 2.0, tau: float = 3.0,
                      a_plus: float = 12.0, a_minus: float = 3.0) -> torch.Tensor:
    """Two-valued coefficient :math:`a = a_+ 1_{\\psi\\ge0} + a_- 1_{\\psi<0}`.

    Parameters
    ----------
    noise : torch.Tensor
        Cosine-mode coefficients ``(B, K, K)``.
    s : int
        Nodes per axis.
    alpha, tau : float
        GRF parameters of :math:`\\psi \\sim N(0, (-\\Delta+\\tau^2)^{-\\alpha})`.
    a_plus, a_minus : float
        The two values (> 0).

    Returns
    -------
    torch.Tensor
        ``(B, s, s)`` coefficient on the node grid.
    """
    psi = cosine_grf(noise, s, alpha=alpha, tau=tau)
    return torch.where(psi >= 0, torch.as_tensor(a_plus, dtype=psi.dtype),
                       torch.as_tensor(a_minus, dtype=psi.dtype))


class DarcySolver:
    """Finite-volume Darcy solver on an ``s x s`` node grid (pattern built once).

    Parameters
    ----------
    s : int
        Nodes per axis including the boundary (``s >= 3``).
    """

    def __init__(self, s: int):
        positive("resolution", s, integer=True)
        if s < 3:
            raise ValueError(f"resolution={s} is invalid: the Darcy grid needs s >= 3 nodes per axis")
        self.s = s
        self.h = 1.0 / (s - 1)
        n = s - 2
        self.n = n
        idx = np.arange(n * n).reshape(n, n)
        # Off-diagonal couplings: x-faces between interior nodes (i, j)-(i+1, j),
        # interior indices i = 0..n-2 in the unknown numbering.
        rows_x, cols_x = idx[:-1, :].ravel(), idx[1:, :].ravel()
        rows_y, cols_y = idx[:, :-1].ravel(), idx[:, 1:].ravel()
        rows = np.concatenate([np.arange(n * n), rows_x, cols_x, rows_y, cols_y])
        cols = np.concatenate([np.arange(n * n), cols_x, rows_x, cols_y, rows_y])
        order = np.arange(rows.size, dtype=np.float64)
        coo = sp.coo_matrix((order + 1.0, (rows, cols)), shape=(n * n, n * n))
        csc = coo.tocsc()
        csc.sort_indices()
        self._perm = (csc.data - 1.0).astype(np.int64)  # position in `values` of each csc entry
        self._indices = csc.indices.copy()
        self._indptr = csc.indptr.copy()

    def face_coefficients(self, a: np.ndarray):
        """Harmonic-mean face coefficients ``(ax, ay)`` with shapes ``(s-1, s)``, ``(s, s-1)``."""
        ax = 2.0 * a[:-1, :] * a[1:, :] / (a[:-1, :] + a[1:, :])
        ay = 2.0 * a[:, :-1] * a[:, 1:] / (a[:, :-1] + a[:, 1:])
        return ax, ay

    def matrix(self, a: np.ndarray) -> sp.csc_matrix:
        """Assemble :math:`h^2 A` (the stencil without the ``1/h^2``) for one coefficient ``a (s, s)``."""
        ax, ay = self.face_coefficients(np.asarray(a, dtype=np.float64))
        diag = (ax[:-1, 1:-1] + ax[1:, 1:-1] + ay[1:-1, :-1] + ay[1:-1, 1:]).ravel()
        offx = -ax[1:-1, 1:-1].ravel()
        offy = -ay[1:-1, 1:-1].ravel()
        values = np.concatenate([diag, offx, offx, offy, offy])
        nn = self.n * self.n
        return sp.csc_matrix((values[self._perm], self._indices, self._indptr), shape=(nn, nn))

    def solve(self, a: np.ndarray, f: Union[float, np.ndarray] = 1.0) -> np.ndarray:
        """Solve for a batch of coefficients.

        Parameters
        ----------
        a : numpy.ndarray
            ``(B, s, s)`` or ``(s, s)`` positive coefficients on the node grid.
        f : float or numpy.ndarray
            Source, scalar or nodal values ``(s, s)`` / ``(B, s, s)``.

        Returns
        -------
        numpy.ndarray
            ``u`` with the same leading shape as ``a``, float64, zero on the boundary.
        """
        a = np.asarray(a, dtype=np.float64)
        single = a.ndim == 2
        if single:
            a = a[None]
        if a.shape[-2:] != (self.s, self.s):
            raise ValueError(f"a has shape {a.shape}, expected (B, {self.s}, {self.s})")
        if np.any(~(a > 0)):
            raise ValueError("a must be positive everywhere")
        fb = np.broadcast_to(np.asarray(f, dtype=np.float64), a.shape)
        out = np.zeros_like(a)
        h2 = self.h ** 2
        for b in range(a.shape[0]):
            lu = spla.splu(self.matrix(a[b]), permc_spec="MMD_AT_PLUS_A")
            rhs = h2 * fb[b, 1:-1, 1:-1].ravel()
            out[b, 1:-1, 1:-1] = lu.solve(rhs).reshape(self.n, self.n)
        return out[0] if single else out


def solve_darcy(a, f: Union[float, np.ndarray] = 1.0, solver: Optional[DarcySolver] = None) -> np.ndarray:
    """Convenience wrapper: ``DarcySolver(s).solve(a, f)`` (see :class:`DarcySolver`)."""
    a = np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
    solver = solver or DarcySolver(a.shape[-1])
    return solver.solve(a, f)


def darcy_residual(a: torch.Tensor, u: torch.Tensor, *, h: Optional[float] = None,
                   f: Union[float, torch.Tensor] = 1.0) -> torch.Tensor:
    """PINO residual :math:`-\\nabla_h\\cdot(a\\nabla_h u) - f` on interior nodes.

    Uses exactly the solver's stencil (harmonic-mean faces), so it vanishes (to
    round-off) on solver output and can serve as a physics loss; differentiable
    w.r.t. ``u`` (and ``a``) by autograd.

    Parameters
    ----------
    a, u : torch.Tensor
        Coefficient and solution on the node grid, shape ``(B, s, s)`` or
        ``(B, 1, s, s)`` (boundary nodes included; ``u``'s boundary values are used
        as given, the solver's are 0).
    h : float, optional
        Grid spacing, default ``1/(s-1)`` (``meta['h']`` of a data set).
    f : float or torch.Tensor
        Source (scalar, or broadcastable to the interior ``(B, s-2, s-2)``).

    Returns
    -------
    torch.Tensor
        Residual on the ``(s-2) x (s-2)`` interior nodes, shape ``(B, s-2, s-2)``
        or ``(B, 1, s-2, s-2)`` matching the input layout.
    """
    if a.shape != u.shape:
        raise ValueError(f"a and u must have the same shape, got {tuple(a.shape)} and {tuple(u.shape)}")
    if a.ndim not in (3, 4) or (a.ndim == 4 and a.shape[1] != 1):
        raise ValueError(f"expected shape (B, s, s) or (B, 1, s, s), got {tuple(a.shape)}")
    s = a.shape[-1]
    if h is None:
        h = 1.0 / (s - 1)
    ax = 2 * a[..., :-1, :] * a[..., 1:, :] / (a[..., :-1, :] + a[..., 1:, :])
    ay = 2 * a[..., :, :-1] * a[..., :, 1:] / (a[..., :, :-1] + a[..., :, 1:])
    fx = ax * (u[..., 1:, :] - u[..., :-1, :])  # flux-like differences on x faces
    fy = ay * (u[..., :, 1:] - u[..., :, :-1])
    div = (fx[..., 1:, 1:-1] - fx[..., :-1, 1:-1]) + (fy[..., 1:-1, 1:] - fy[..., 1:-1, :-1])
    return -div / h ** 2 - f
