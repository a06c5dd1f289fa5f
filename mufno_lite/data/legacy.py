"""Loaders for the classic FNO / PINO data files (nothing is ever downloaded).

Supported files
---------------
* Burgers, FNO ``burgers_data_R10.mat``: keys ``'a'`` (:math:`u_0`) and ``'u'``
  (:math:`u(\\cdot,1)`), shape ``(N, 8192)`` on ``x_i = i/8192``; subsampled by
  ``r = 8192 / resolution``.
* Darcy, FNO ``piececonst_r421_N1024_smooth{1,2}.mat``: keys ``'coeff'`` (:math:`a`)
  and ``'sol'`` (:math:`u`), shape ``(N, 421, 421)`` on nodes including the boundary;
  ``resolution = (421 - 1)/r + 1``.
* Navier--Stokes, PINO ``NS_fft_Re500_T4000.npy`` style: vorticity of shape
  ``(N, T+1, S, S)``, time on axis 1 with frame 0 the initial condition, domain
  :math:`[0, 2\\pi)^2` (Kolmogorov flow). Several parts are concatenated along ``N``.
  ``x`` is frame 0 repeated ``n_t`` times, ``y`` the frames ``T/n_t, 2T/n_t, ..., T``
  (``n_t`` must divide ``T``), both subsampled in space by ``S / resolution``.

MATLAB v5 files are read with :func:`scipy.io.loadmat`; v7.3 (HDF5) files need
``h5py`` (optional; a clear ``ImportError`` says so). ``.npy`` files are read with
``allow_pickle=False`` (memory-mapped).

Splits: with one file, train = the first ``n_train`` samples, test = the last
``n_test`` (FNO convention, they must not overlap); with two ``.mat`` files, train
comes from the first file and test from the second (FNO's smooth1/smooth2 usage).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, Optional, Sequence, Union

import numpy as np
import torch

from ..validation import positive
from .arrays import PDEDataset, check_values
from .files import _check_npy, _reading
from .normalizers import UnitGaussianNormalizer
from .params import _check_pde

__all__ = ["read_mat", "load_classic"]

_KEYS = {"burgers": ("a", "u"), "darcy": ("coeff", "sol")}


def read_mat(path: Union[str, Path], keys: Sequence[str]) -> Dict[str, np.ndarray]:
    """Read ``keys`` from a MATLAB file (v5 via scipy, v7.3 via h5py if installed).

    Parameters
    ----------
    path : path-like
        ``.mat`` file.
    keys : sequence of str
        Variables to read.

    Returns
    -------
    dict of str to numpy.ndarray
        Arrays in MATLAB's logical (row-major as written by ``scipy.io.savemat``) order.
    """
    from .files import read_mat_v5

    path = Path(path)
    data = read_mat_v5(path, variable_names=list(keys))
    if data is None:  # MATLAB v7.3 = HDF5
        try:
            import h5py
        except ImportError as exc:
            raise ImportError(f"{path} is a MATLAB v7.3 (HDF5) file; install h5py to read it "
                              "(pip install h5py)") from exc
        out = {}
        with h5py.File(path, "r") as fh:
            for k in keys:
                if k not in fh:
                    raise KeyError(f"{path} has no variable {k!r}; found {sorted(fh.keys())}")
                arr = np.asarray(fh[k])
                out[k] = np.transpose(arr, axes=range(arr.ndim - 1, -1, -1))  # column-major on disk
        return out
    missing = [k for k in keys if k not in data]
    if missing:
        found = sorted(k for k in data if not k.startswith("__"))
        raise KeyError(f"{path} lacks variable(s) {missing}; found {found}")
    return {k: np.asarray(check_values(data[k], f"variable {k!r} of {str(path)!r}")) for k in keys}


def _split(arrs_per_file, n_train, n_test, names):
    if len(arrs_per_file) == 1:
        x, y = arrs_per_file[0]
        n = x.shape[0]
        if n_train + n_test > n:
            raise ValueError(f"n_train + n_test = {n_train + n_test} exceeds the {n} samples in {names[0]}")
        return x[:n_train], y[:n_train], x[n - n_test:], y[n - n_test:]
    (x1, y1), (x2, y2) = arrs_per_file
    if n_train > x1.shape[0]:
        raise ValueError(f"n_train={n_train} exceeds the {x1.shape[0]} samples in {names[0]}")
    if n_test > x2.shape[0]:
        raise ValueError(f"n_test={n_test} exceeds the {x2.shape[0]} samples in {names[1]}")
    return x1[:n_train], y1[:n_train], x2[x2.shape[0] - n_test:], y2[y2.shape[0] - n_test:]


def _from_mat(pde, paths, names, resolution, n_train, n_test, meta):
    """The classic FNO ``.mat`` files of Burgers or Darcy: the splits at ``resolution`` (``meta``
    completed with the grid)."""
    if len(paths) > 2:
        raise ValueError(f"files has {len(paths)} entries: give one file or two (train, test) for {pde}")
    kx, ky = _KEYS[pde]
    loaded = [tuple(read_mat(p, (kx, ky))[k] for k in (kx, ky)) for p in paths]
    n_file = loaded[0][0].shape[-1]
    if pde == "burgers":
        s = resolution or n_file
        if n_file % s:
            raise ValueError(f"resolution={s} is invalid: must divide the file resolution {n_file}")
        r = n_file // s
        sub = lambda z: z[:, None, ::r]  # noqa: E731
        meta.update(domain=[0.0, 1.0], periodic=True, h=1.0 / s, grid="x_i = i/s, i=0..s-1")
    else:
        s = resolution or n_file
        if s < 2 or (n_file - 1) % (s - 1):
            raise ValueError(f"resolution={s} is invalid: need (file resolution - 1) = {n_file - 1} "
                             f"divisible by (resolution - 1)")
        r = (n_file - 1) // (s - 1)
        sub = lambda z: z[:, None, ::r, ::r]  # noqa: E731
        meta.update(domain=[[0.0, 1.0], [0.0, 1.0]], periodic=False, h=1.0 / (s - 1), f=1.0,
                    grid="nodes x_i = i/(s-1), i=0..s-1 (boundary included)", boundary="u = 0")
    return _split([(sub(x), sub(y)) for x, y in loaded], n_train, n_test, names)


def _from_npy(paths, names, resolution, n_train, n_test, n_t, length, t_final, nu, meta):
    """PINO's Navier--Stokes ``.npy`` parts, ``(N, T+1, S, S)`` vorticity: ``(n_t, splits)`` at
    ``resolution`` with ``n_t`` frames (``meta`` completed with the grid and the times)."""
    parts = []
    for p in paths:
        with _reading(p, "numpy.load"):
            _check_npy(p)
            arr = np.load(p, mmap_mode="r", allow_pickle=False)
        if arr.ndim != 4 or arr.shape[-1] != arr.shape[-2]:
            raise ValueError(f"{p} has shape {arr.shape}; expected (N, T+1, S, S) vorticity")
        parts.append(arr)
    T = parts[0].shape[1] - 1
    S = parts[0].shape[-1]
    if any(a.shape[1:] != parts[0].shape[1:] for a in parts):
        raise ValueError(f"NS parts have inconsistent shapes {[a.shape for a in parts]}")
    n_t = n_t or T
    positive("n_t", n_t, integer=True)
    if T % n_t:
        raise ValueError(f"n_t={n_t} is invalid: must divide the {T} time steps of the file")
    s = resolution or S
    if S % s:
        raise ValueError(f"resolution={s} is invalid: must divide the file resolution {S}")
    r, q = S // s, T // n_t
    data = np.concatenate([a[:, ::q, ::r, ::r] for a in parts])  # (N, n_t+1, s, s)
    data = np.moveaxis(data, 1, -1)[:, None]  # (N, 1, s, s, n_t+1)
    x = np.repeat(data[..., :1], n_t, axis=-1)
    y = data[..., 1:]
    meta.update(domain=[[0.0, length], [0.0, length]], periodic=True, h=length / s, length=length,
                grid="x_i = i L/s, i=0..s-1", nu=nu, t_start=0.0,
                times=[t_final * (j + 1) / n_t for j in range(n_t)])
    return n_t, _split([(x, y)], n_train, n_test, names)


def load_classic(pde: str, files: Union[str, Path, Sequence[Union[str, Path]]], *, resolution: Optional[int] = None,
                 n_train: int, n_test: int, n_t: Optional[int] = None, length: float = 2 * math.pi,
                 t_final: float = 1.0, nu: Optional[float] = None, device="cpu"):
    """Load classic FNO/PINO files into a :class:`~mufno_lite.data.PDEDataset`.

    Parameters
    ----------
    pde : {"burgers", "darcy", "navier_stokes"}
        Problem.
    files : path or sequence of paths
        One file (split head/tail) or, for ``.mat``, two files (train, test); for
        Navier--Stokes any number of ``.npy`` parts (concatenated, then split head/tail).
    resolution : int, optional
        Output resolution (default: the file's).
    n_train, n_test : int
        Split sizes.
    n_t : int, optional
        Navier--Stokes frames kept (default ``T``).
    length, t_final, nu : float
        Navier--Stokes metadata (domain side, window length, viscosity; PINO Re500:
        :math:`2\\pi`, 1, 1/500).
    device : str or torch.device
        Device of the returned tensors.

    Returns
    -------
    PDEDataset
    """
    _check_pde(pde)
    positive("n_train", n_train, integer=True)
    positive("n_test", n_test, integer=True)
    paths = [Path(files)] if isinstance(files, (str, Path)) else [Path(f) for f in files]
    if not paths:
        raise ValueError("files=[] is invalid: give at least one file path")
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"data file {p} does not exist (files are never downloaded)")
        if p.suffix.lower() not in (".mat", ".npy"):
            raise ValueError(f"{str(p)!r}: load_classic reads the classic FNO .mat and PINO .npy files only; "
                             "read other data (.pt, .npz, .h5, ...) with mufno_lite.data.load_files")
    names = [str(p) for p in paths]
    meta: dict = {"files": names}

    if pde in _KEYS:
        xtr, ytr, xte, yte = _from_mat(pde, paths, names, resolution, n_train, n_test, meta)
    else:
        n_t, (xtr, ytr, xte, yte) = _from_npy(paths, names, resolution, n_train, n_test, n_t, length, t_final, nu, meta)
        for z, split in zip((xtr, ytr, xte, yte), ("x_train", "y_train", "x_test", "y_test")):
            check_values(z, f"{split} (vorticity) of {', '.join(repr(n) for n in names)}")
    t = [torch.from_numpy(np.ascontiguousarray(z, dtype=np.float32)).to(device) for z in (xtr, ytr, xte, yte)]
    config = {"pde": pde, "source": "classic", "files": names, "resolution": int(t[0].shape[-1] if pde != "navier_stokes"
                                                                                 else t[0].shape[-2]),
              "n_train": n_train, "n_test": n_test}
    if pde == "navier_stokes":
        config["n_t"] = n_t
    return PDEDataset(t[0], t[1], t[2], t[3], config, UnitGaussianNormalizer(t[0]),
                      UnitGaussianNormalizer(t[1]), meta)
