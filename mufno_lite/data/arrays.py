"""The data container :class:`PDEDataset` (train/test tensors, normalisers, metadata; what every
loader returns), and your own arrays as one: :func:`dataset_from_arrays` (also
``PDEDataset.from_arrays``) and :func:`as_channel_first`.

Decisions of the own-data path (issue 11), the defaults here and in :func:`~mufno_lite.data.load_files`
and the PDE registry; the built-in PDEs keep theirs (see :mod:`mufno_lite.data.dataset`):

* **Arrays.**  numpy arrays or torch tensors of any real dtype castable to float (bool, integers,
  float16/32/64), laid out ``(N, s…)`` (one channel) or ``(N, C, s…)`` (channel first).  ``d`` (the
  number of spatial axes) tells the two apart; left out it is ``x_train.ndim − 1`` (no channel
  axis), and a spatial axis of size 1 then raises, asking for ``d``.  Complex and object arrays are
  refused.  Everything is cast to float32.
* **Normalisation per channel** (``normalize="channel"``): one scalar mean and std per channel,
  fitted on the training split, valid at every resolution.  ``"pointwise"`` (the FNO reference
  code's, tied to the training grid; refuses another grid) and ``"none"`` on request.
* **Grid convention** (``grid="periodic"``): sample i of an n-point axis sits at ``i / n`` (a
  periodic grid, or data subsampled as ``[::k]``: neuraloperator's convention); ``"endpoint"``:
  at ``i / (n − 1)`` (nodes including both boundaries, e.g. the built-in Darcy data).  It is
  stored in ``meta["grid_convention"]``; the trainers and :func:`mufno_lite.train.evaluate` refuse a
  model whose ``grid_convention`` differs (build it with ``FNO(..., grid_convention=...)``).
* **Resolutions.**  The test split may sit on another grid than the training split (a zero-shot
  test); with ``normalize="pointwise"`` it may not.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np
import torch

from ..validation import choice
from .normalizers import NORMALIZATIONS, UnitGaussianNormalizer, make_normalizer

__all__ = ["PDEDataset", "GRIDS", "as_channel_first", "dataset_from_arrays", "check_values"]

#: the data grid conventions (the same names as :data:`mufno_lite.fno.GRID_CONVENTIONS`)
GRIDS = ("periodic", "endpoint")


# ----------------------------------------------------------------------------
# container
# ----------------------------------------------------------------------------
@dataclass
class PDEDataset:
    """Train/test tensors of one PDE data set (layouts: :mod:`mufno_lite.data.dataset`).

    Attributes
    ----------
    x_train, y_train, x_test, y_test : torch.Tensor
        float32 channel-first tensors.
    config : dict
        Full generation (or file-loading) config.
    x_normalizer, y_normalizer : UnitGaussianNormalizer
        Pointwise normalisers fitted on the training split.
    meta : dict
        Grid information (``h``, domain, time frames, ``nu``...), e.g. ``meta['h']``
        for :func:`~mufno_lite.data.darcy.darcy_residual`.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    config: dict
    x_normalizer: UnitGaussianNormalizer
    y_normalizer: UnitGaussianNormalizer
    meta: dict = field(default_factory=dict)

    @classmethod
    def from_arrays(cls, x_train, y_train, x_test, y_test, *, normalize: str = "channel", grid: str = "periodic",
                    d: Optional[int] = None, pde: str = "custom", device="cpu") -> "PDEDataset":
        """Your own arrays as a data set: ``(N, s…)`` or ``(N, C, s…)``, numpy or torch, any real dtype.

        Per-channel normalisation and the periodic grid convention by default (the own-data
        decisions, :mod:`mufno_lite.data.arrays`; :func:`~mufno_lite.data.arrays.dataset_from_arrays`).
        """
        return dataset_from_arrays(x_train, y_train, x_test, y_test, normalize=normalize, grid=grid, d=d, pde=pde,
                                   device=device)

    def spectrum(self, split: str = "train", *, exclude_mean: bool = False) -> Dict[str, np.ndarray]:
        """Fourier energy spectra of the inputs and targets of one split.

        Uses :func:`mufno_lite.spectra.energy_spectrum` over all spatial (and, for
        Navier--Stokes, time) axes of the raw, un-normalised tensors: ``d`` = 1 for
        Burgers, 2 for Darcy, 3 for Navier--Stokes ``(N, 1, s, s, n_t)``.

        Parameters
        ----------
        split : {"train", "test"}
            Which tensors.
        exclude_mean : bool
            Leave out the zero (mean) mode of every sample.

        Returns
        -------
        dict
            ``{"input": E_x, "target": E_y}``, energy per shell (``E[s-1]`` for shell ``s``,
            the smallest K of a spectral layer that keeps the mode); see
            :func:`mufno_lite.spectra.energy_beyond`.
        """
        from ..spectra import energy_spectrum

        choice("split", split, ("train", "test"))
        x, y = (self.x_train, self.y_train) if split == "train" else (self.x_test, self.y_test)
        d = x.ndim - 2
        return {"input": energy_spectrum(x, d, exclude_mean=exclude_mean),
                "target": energy_spectrum(y, d, exclude_mean=exclude_mean)}



def check_values(a, name: str, *, min_ndim: int = 2):
    """Refuse (``ValueError`` naming ``name``) an array that is not one of real numbers with a sample
    axis and a spatial axis, or that holds NaN or ±inf (also where a float64 value exceeds float32's
    range, which the cast to float32 would turn into inf).  Returns ``a`` as a tensor or a numpy array.

    The one check of own data: :func:`dataset_from_arrays` (``from_arrays``), the file readers
    (``name`` then says which file) and the registered loaders all go through it."""
    if isinstance(a, torch.Tensor):
        t = a.detach()
        if t.is_complex():
            raise ValueError(f"{name} is complex ({t.dtype}); give real arrays (e.g. real and imaginary parts as "
                             "channels)")
        if t.is_sparse or t.layout != torch.strided:
            raise ValueError(f"{name} is a sparse tensor ({t.layout}); save it dense")
        shape, finite = tuple(t.shape), (lambda: torch.isfinite(t.to(torch.float32)) if t.is_floating_point()
                                         else torch.ones((), dtype=torch.bool))
    else:
        if type(a).__module__.startswith("scipy.sparse"):
            raise ValueError(f"{name} is a scipy sparse matrix ({type(a).__name__}); save it dense")
        a = np.asarray(a)
        if a.dtype == object or a.dtype.kind in "USVMm":
            raise ValueError(f"{name} must hold numbers; got an array of dtype {a.dtype}")
        if a.dtype.kind == "c":
            raise ValueError(f"{name} is complex ({a.dtype}); give real arrays (e.g. real and imaginary parts as "
                             "channels)")
        shape = a.shape
        finite = (lambda: torch.from_numpy(np.isfinite(a.astype(np.float32, copy=False)))) if a.dtype.kind == "f" \
            else (lambda: torch.ones((), dtype=torch.bool))
    if len(shape) < min_ndim:
        raise ValueError(f"{name} must have a sample axis and at least one spatial axis; got "
                         f"{'a scalar' if not shape else f'shape {shape}'}")
    with np.errstate(over="ignore", invalid="ignore"):
        ok = finite()
    if not bool(ok.all()):
        bad = int((~ok).sum())
        first = tuple(int(i) for i in np.unravel_index(int(torch.argmin(ok.reshape(-1).to(torch.uint8))), shape))
        raise ValueError(f"{name} holds {bad} value(s) that are NaN or infinite (or beyond float32's range), the "
                         f"first at index {first}: clean or drop those samples before training")
    return a


def _to_tensor(a, name: str) -> torch.Tensor:
    a = check_values(a, name)
    t = a.detach().cpu() if isinstance(a, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(a))
    return t.to(torch.float32)


def as_channel_first(a, d: Optional[int] = None, *, name: str = "x") -> torch.Tensor:
    """``a`` as a float32 tensor ``(N, C, s…)`` with ``d`` spatial axes (see the module docstring)."""
    t = _to_tensor(a, name)
    if d is None:
        d = t.ndim - 1
        if d > 3 or any(n == 1 for n in t.shape[1:]):
            raise ValueError(f"{name} has shape {tuple(t.shape)}: give d (the number of spatial axes) to say "
                             "whether axis 1 is a channel axis, e.g. d=1 for (N, C, s)")
    if d not in (1, 2, 3):
        raise ValueError(f"d must be 1, 2 or 3; got d={d!r}")
    if t.ndim == d + 1:
        t = t.unsqueeze(1)
    elif t.ndim != d + 2:
        raise ValueError(f"{name} must have shape (N, {', '.join(['s'] * d)}) or (N, C, {', '.join(['s'] * d)}) "
                         f"for d={d}; got {tuple(t.shape)}")
    return t.contiguous()


def dataset_from_arrays(x_train, y_train, x_test, y_test, *, normalize: str = "channel", grid: str = "periodic",
                        d: Optional[int] = None, pde: str = "custom", device="cpu", config: Optional[dict] = None,
                        meta: Optional[dict] = None):
    """A :class:`~mufno_lite.data.PDEDataset` from your own arrays (see the module docstring).

    Parameters
    ----------
    x_train, y_train, x_test, y_test : array-like
        Inputs and targets, ``(N, s…)`` or ``(N, C, s…)``, numpy or torch, any real dtype.
    normalize : {"channel", "pointwise", "none"}
        The normalisers fitted on the training split (per channel by default).
    grid : {"periodic", "endpoint"}
        Where the samples sit on the unit domain (``i/n`` or ``i/(n−1)``).
    d : int, optional
        Spatial dimensions (needed when axis 1 is a channel axis).
    pde : str
        A name for ``config["pde"]``.
    device : str or torch.device
        Where the tensors live.
    config, meta : dict, optional
        Extra entries for ``config`` and ``meta``.
    """
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize={normalize!r} is invalid: allowed values are {NORMALIZATIONS}")
    if grid not in GRIDS:
        raise ValueError(f"grid={grid!r} is invalid: allowed values are {GRIDS}")
    xtr = as_channel_first(x_train, d, name="x_train")
    d = xtr.ndim - 2
    ytr = as_channel_first(y_train, d, name="y_train")
    xte = as_channel_first(x_test, d, name="x_test")
    yte = as_channel_first(y_test, d, name="y_test")
    for a, b, split in ((xtr, ytr, "train"), (xte, yte, "test")):
        if a.shape[0] != b.shape[0]:
            raise ValueError(f"x_{split} has {a.shape[0]} samples and y_{split} {b.shape[0]}; they must match")
        if a.shape[0] == 0:
            raise ValueError(f"the {split} split is empty")
        if a.shape[2:] != b.shape[2:]:
            raise ValueError(f"x_{split} is on the grid {tuple(a.shape[2:])} and y_{split} on {tuple(b.shape[2:])}")
    if xte.shape[1] != xtr.shape[1] or yte.shape[1] != ytr.shape[1]:
        raise ValueError("the test split must have the training split's channels")
    if normalize == "pointwise" and xte.shape[2:] != xtr.shape[2:]:
        raise ValueError(f"normalize='pointwise' needs the test split on the training grid {tuple(xtr.shape[2:])}; "
                         f"got {tuple(xte.shape[2:])} (use normalize='channel')")
    if grid == "endpoint":
        for t, split in ((xtr, "x_train"), (xte, "x_test")):
            if min(t.shape[2:]) < 2:
                raise ValueError(f"grid='endpoint' places n points at i/(n-1), so every axis needs at least 2; "
                                 f"{split} is on the grid {tuple(t.shape[2:])}")
    dev = torch.device(device)
    xtr, ytr, xte, yte = (t.to(dev) for t in (xtr, ytr, xte, yte))
    spatial = tuple(int(n) for n in xtr.shape[2:])
    cfg = {"pde": pde, "source": "arrays", "d": d, "resolution": spatial[0] if len(set(spatial)) == 1 else list(spatial),
           "n_train": int(xtr.shape[0]), "n_test": int(xte.shape[0]), "normalize": normalize, "grid": grid,
           **(config or {})}
    h = [1.0 / n if grid == "periodic" else 1.0 / (n - 1) for n in spatial]
    mt = {"grid_convention": grid, "h": h[0] if len(set(h)) == 1 else h, "periodic": grid == "periodic",
          "domain": [0.0, 1.0] if d == 1 else [[0.0, 1.0]] * d, **(meta or {})}
    return PDEDataset(xtr, ytr, xte, yte, cfg, make_normalizer(normalize, xtr), make_normalizer(normalize, ytr), mt)
