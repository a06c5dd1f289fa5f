"""Fourier energy spectra in the FNO's own unit: the *shell* of the smallest K that keeps a mode.

**The shell of a mode.**  :mod:`mufno_lite.fno` defines K (per axis): on the last (``rfft``) axis
the frequencies 0 … K−1 are kept, on every other axis the FFT index blocks ``[:K]`` and ``[-K:]``,
i.e. the signed frequencies −K … K−1.  The smallest K that keeps frequency k on one axis is
therefore

* last axis: ``k + 1``;
* other axes: ``k + 1`` for k ≥ 0 and ``|k|`` for k < 0,

and the shell of a d-dimensional mode is the maximum over its axes.  A K-mode spectral layer keeps
exactly the modes of shells 1 … K and removes every mode of a shell > K (``tests/test_spectra.py``
checks this against :class:`~mufno_lite.fno.SpectralConv`).  So :func:`energy_beyond` ``(E, K)``
is the fraction of the energy that a K-mode layer cannot represent.

**Normalisation (Parseval).**  :func:`energy_spectrum` counts the half spectrum of ``rfftn``
with weight 2 on the last-axis bins that stand for two conjugate modes (0 < j < n/2; the zero and,
for even n, Nyquist bins weigh 1) and divides by ``(n_1 ⋯ n_d)²``.  With that weighting, for every
field,

    sum over shells of E  =  mean over grid points of x²

(averaged over samples and channels): the spectrum splits the mean square of the field.  Both
conjugate halves of a mode share the mode's shell, because the shell only depends on the last-axis
frequency through ``j + 1`` and the conjugate of a last-axis bin j is the bin j itself.

Public names: :func:`mode_shell`, :func:`energy_spectrum`, :func:`energy_beyond`,
:func:`hidden_spectra`.
"""
from __future__ import annotations

from typing import List, Sequence

import numpy as np
import torch

__all__ = ["mode_shell", "energy_spectrum", "energy_beyond", "hidden_spectra"]


def mode_shell(shape: Sequence[int], spatial_shape: Sequence[int] | None = None) -> np.ndarray:
    """Shell (smallest K keeping it) of every mode of an ``rfftn`` grid.

    Parameters
    ----------
    shape : sequence of int
        Shape of the ``rfftn`` output over the spatial axes, ``(n_1, …, n_{d-1}, n_d // 2 + 1)``.
        The non-last axes have the lengths of the field; the last axis length alone does not
        say whether ``n_d`` was even or odd, which does not matter: last-axis bin j has shell j + 1.
    spatial_shape : sequence of int, optional
        Ignored apart from a consistency check: the field's spatial shape ``(n_1, …, n_d)``.

    Returns
    -------
    numpy.ndarray
        Integer array of shape ``shape``, values ≥ 1.  Non-last axes follow ``numpy.fft.fftfreq``
        (index i ≥ ceil(n/2) is the frequency i − n, so for even n the Nyquist index n/2 is −n/2,
        which the block ``[-K:]`` keeps from K = n/2 on).
    """
    shape = tuple(int(n) for n in shape)
    if not shape or any(n < 1 for n in shape):
        raise ValueError(f"shape must be a non-empty sequence of positive ints; got {shape!r}")
    if spatial_shape is not None:
        sp = tuple(int(n) for n in spatial_shape)
        if len(sp) != len(shape) or sp[:-1] != shape[:-1] or sp[-1] // 2 + 1 != shape[-1]:
            raise ValueError(f"rfft grid {shape} does not belong to a spatial grid {sp}")
    d = len(shape)
    shell = np.ones(shape, dtype=np.int64)
    for axis, n in enumerate(shape):
        if axis == d - 1:
            s_ax = np.arange(n) + 1
        else:
            k = np.rint(np.fft.fftfreq(n, d=1.0 / n)).astype(np.int64)
            s_ax = np.where(k >= 0, k + 1, -k)
        view = [1] * d
        view[axis] = n
        shell = np.maximum(shell, s_ax.reshape(view))
    return shell


def _half_spectrum_weights(n_last: int, n_bins: int) -> np.ndarray:
    w = np.full(n_bins, 2.0)
    w[0] = 1.0
    if n_last % 2 == 0:
        w[-1] = 1.0  # Nyquist bin is its own conjugate
    return w


def energy_spectrum(x, d: int, *, exclude_mean: bool = False) -> np.ndarray:
    """Energy per shell, averaged over samples and channels.

    Parameters
    ----------
    x : torch.Tensor or numpy.ndarray
        Fields of shape ``(N, C, n_1, …, n_d)`` (any leading axes are averaged over; at least one).
    d : int
        Number of spatial axes (the last ``d`` axes of ``x``).
    exclude_mean : bool
        Leave out the zero mode (the spatial mean of each sample and channel), so the spectrum
        splits the variance about each field's own mean instead of the mean square.

    Returns
    -------
    numpy.ndarray
        ``E`` of length ``max shell``, float64; ``E[s - 1]`` is the energy of shell ``s``.
        ``E.sum()`` equals the mean (over samples, channels and grid points) of ``x²``
        (of ``(x − mean_x x)²`` with ``exclude_mean``).
    """
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"d must be a positive int (number of spatial axes); got d={d!r}")
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    t = t.detach().to("cpu", torch.float64)
    if t.ndim < d + 1:
        raise ValueError(f"x must have shape (N, ..., n_1, ..., n_{d}) with at least one leading axis; "
                         f"got shape {tuple(t.shape)} for d={d}")
    spatial = tuple(t.shape[-d:])
    dims = tuple(range(t.ndim - d, t.ndim))
    power = torch.fft.rfftn(t, dim=dims).abs().square()
    power = power.reshape(-1, *power.shape[-d:]).mean(0).numpy()  # mean over samples/channels
    power = power * _half_spectrum_weights(spatial[-1], power.shape[-1]) / float(np.prod(spatial)) ** 2
    if exclude_mean:
        power.reshape(-1)[0] = 0.0
    shell = mode_shell(power.shape)
    return np.bincount(shell.reshape(-1) - 1, weights=power.reshape(-1), minlength=int(shell.max()))


def energy_beyond(spectrum, K: int) -> float:
    """Fraction of the energy in shells > K, i.e. not representable by a K-mode spectral layer.

    Decreasing in K, 1 at K = 0 and 0 for K ≥ ``len(spectrum)``; 0 for an all-zero spectrum.
    """
    e = np.asarray(spectrum, dtype=np.float64)
    if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 0:
        raise ValueError(f"K must be an integer >= 0; got K={K!r}")
    total = float(e.sum())
    if total <= 0.0:
        return 0.0
    return float(e[int(K):].sum() / total)


def hidden_spectra(model, x: torch.Tensor, *, exclude_mean: bool = False) -> List[np.ndarray]:
    """Energy spectra of the hidden features entering every spectral layer of an FNO.

    Runs ``model(x)`` without gradients, with forward pre-hooks on each
    :class:`~mufno_lite.fno.SpectralConv` (``model.layers[l].spectral``) that capture its input
    (after lifting and, if configured, padding).  For a population (``members=M``) the member
    axis is averaged over like the sample axis.

    Parameters
    ----------
    model : mufno_lite.fno.FNO
        The model (its training mode is left unchanged).
    x : torch.Tensor
        Model input, ``(B, C_in, *spatial)`` (already normalised as the model expects).
    exclude_mean : bool
        See :func:`energy_spectrum`.

    Returns
    -------
    list of numpy.ndarray
        One spectrum per Fourier layer, in layer order, each of length ``max shell`` of the
        (padded) hidden grid.
    """
    d = model.config.d
    layers = [layer.spectral for layer in model.layers]  # no import of the model: spectra sits below it
    captured: list = [None] * len(layers)

    def make_hook(i):
        def hook(module, args):
            captured[i] = args[0].detach()
        return hook

    handles = [m.register_forward_pre_hook(make_hook(i)) for i, m in enumerate(layers)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return [energy_spectrum(h, d, exclude_mean=exclude_mean) for h in captured]
