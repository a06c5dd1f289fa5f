"""Reading your own data files: :func:`read_arrays` (one file, by extension) and :func:`load_files`
(train/test files → :class:`~mufno_lite.data.PDEDataset`, with the own-data defaults of
:mod:`mufno_lite.data.arrays`: per-channel normalisation, the ``periodic`` grid convention).

Formats, chosen by the file's extension (anything else raises ``ValueError`` naming these):

=================  ==========================================================================
``.pt``, ``.pth``  ``torch.load(path, weights_only=True)`` (no pickled code is ever run): a dict
                   of tensors, one tensor, or a pair (x, y)
``.npz``           ``numpy.load(allow_pickle=False)``: its named arrays
``.npy``           ``numpy.load(allow_pickle=False)``: one array (give x and y as two files)
``.mat``           MATLAB v5 via scipy; v7.3 (HDF5) via h5py (optional)
``.h5``, ``.hdf5`` h5py (optional; without it a clear ``ImportError`` says how to install it):
                   every dataset, by its path inside the file
=================  ==========================================================================

Keys: ``x_key`` / ``y_key`` name the input and target arrays; left out, the first present of
``x, a, coeff, input, inputs`` and ``y, u, sol, output, outputs`` is used (neuraloperator's
``.pt`` files use ``x``/``y``; the classic FNO ``.mat`` files ``coeff``/``sol`` or ``a``/``u``).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["FILE_FORMATS", "read_arrays", "read_pair", "load_files", "file_sha256", "hash_files"]

FILE_FORMATS = (".pt", ".pth", ".npz", ".npy", ".mat", ".h5", ".hdf5")
X_KEYS = ("x", "a", "coeff", "input", "inputs")
Y_KEYS = ("y", "u", "sol", "output", "outputs")
PathLike = Union[str, os.PathLike]


def file_sha256(path: PathLike, chunk: int = 1 << 22) -> str:
    """sha256 hex digest of a file's bytes (what a sweep's run identity records for file data)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def hash_files(files) -> dict:
    """``{name: sha256}`` of a mapping ``{name: path or [paths]}`` (lists give lists)."""
    return {k: ([file_sha256(p) for p in v] if isinstance(v, (list, tuple)) else file_sha256(v))
            for k, v in files.items()}


def _h5py(path):
    try:
        import h5py
    except ImportError as exc:
        raise ImportError(f"{path} is an HDF5 file; reading it needs h5py, which is not installed "
                          "(pip install h5py)") from exc
    return h5py


def _read_h5(path, transpose: bool = False) -> Dict[str, np.ndarray]:
    h5py = _h5py(path)
    out: Dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as fh:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                arr = np.asarray(obj)
                out[name] = np.transpose(arr, axes=range(arr.ndim - 1, -1, -1)) if transpose else arr
        fh.visititems(visit)
    return out


def read_arrays(path: PathLike) -> Dict[str, object]:
    """Every array of one file, by name (see the module docstring; a single array is ``"array"``).

    Values are numpy arrays or torch tensors, as stored.
    """
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in FILE_FORMATS:
        raise ValueError(f"cannot read {str(p)!r}: unknown extension {ext or '(none)'!r}; "
                         f"supported: {', '.join(FILE_FORMATS)}")
    if not p.is_file():
        raise FileNotFoundError(f"data file not found: {str(p)!r}")
    if ext in (".pt", ".pth"):
        import torch

        try:
            obj = torch.load(str(p), map_location="cpu", weights_only=True)
        except Exception as exc:  # torch refuses pickled objects other than tensors and containers
            raise ValueError(f"cannot read {str(p)!r} with torch.load(weights_only=True): {exc}") from exc
        if isinstance(obj, torch.Tensor):
            return {"array": obj}
        if isinstance(obj, (tuple, list)) and len(obj) == 2:
            return {"x": obj[0], "y": obj[1]}
        if isinstance(obj, dict):
            return {str(k): v for k, v in obj.items() if isinstance(v, (torch.Tensor, np.ndarray))}
        raise ValueError(f"{str(p)!r} holds a {type(obj).__name__}; expected a dict of tensors, a tensor or a pair")
    if ext == ".npz":
        with np.load(str(p), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    if ext == ".npy":
        return {"array": np.load(str(p), allow_pickle=False)}
    if ext == ".mat":
        import scipy.io

        try:
            data = scipy.io.loadmat(str(p))
        except NotImplementedError:  # MATLAB v7.3 = HDF5, column-major on disk
            return _read_h5(p, transpose=True)
        return {k: np.asarray(v) for k, v in data.items() if not k.startswith("__")}
    return _read_h5(p)


def _pick(arrays: dict, key: Optional[str], candidates: Sequence[str], role: str, path) -> object:
    if key is not None:
        if key not in arrays:
            raise KeyError(f"{str(path)!r} has no array {key!r} ({role}); found {sorted(arrays)}")
        return arrays[key]
    for k in candidates:
        if k in arrays:
            return arrays[k]
    raise KeyError(f"{str(path)!r}: no {role} array among {list(candidates)}; found {sorted(arrays)} "
                   f"(name it with {'x_key' if role == 'input' else 'y_key'}=...)")


def read_pair(source, *, x_key: Optional[str] = None, y_key: Optional[str] = None) -> Tuple[object, object]:
    """``(x, y)`` from one file holding both, or from a pair of files ``(x_path, y_path)``."""
    if isinstance(source, (tuple, list)):
        if len(source) != 2:
            raise ValueError(f"give one file or a pair (x_file, y_file); got {source!r}")
        xs, ys = read_arrays(source[0]), read_arrays(source[1])
        x = xs["array"] if (x_key is None and "array" in xs) else _pick(xs, x_key, X_KEYS, "input", source[0])
        y = ys["array"] if (y_key is None and "array" in ys) else _pick(ys, y_key, Y_KEYS, "target", source[1])
        return x, y
    arrs = read_arrays(source)
    return _pick(arrs, x_key, X_KEYS, "input", source), _pick(arrs, y_key, Y_KEYS, "target", source)


def _take(a, n: Optional[int], name: str, *, last: bool = False):
    total = int(a.shape[0])
    if n is None:
        return a
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name}={n!r} is invalid: allowed values are positive integers")
    if n > total:
        raise ValueError(f"{name}={n} is more than the {total} samples in the file")
    return a[total - n:] if last else a[:n]


def load_files(train, test=None, *, x_key: Optional[str] = None, y_key: Optional[str] = None,
               n_train: Optional[int] = None, n_test: Optional[int] = None, d: Optional[int] = None,
               normalize: str = "channel", grid: str = "periodic", pde: str = "custom", device="cpu"):
    """Read train/test files into a :class:`~mufno_lite.data.PDEDataset`.

    Parameters
    ----------
    train : path or (x_path, y_path)
        The training file (holding x and y), or two single-array files.
    test : path or (x_path, y_path), optional
        The test file(s).  Left out, the training file is split: the first ``n_train`` samples
        train, the last ``n_test`` test (both required then, and they must not overlap).
    x_key, y_key : str, optional
        Array names (see the module docstring for the defaults).
    n_train, n_test : int, optional
        Use the first ``n_train`` (``n_test``) samples of each file.
    d, normalize, grid, pde, device
        As in :func:`~mufno_lite.data.arrays.dataset_from_arrays` (defaults: per-channel
        normalisation, periodic grid).
    """
    from .arrays import dataset_from_arrays

    xtr, ytr = read_pair(train, x_key=x_key, y_key=y_key)
    if test is None:
        if n_train is None or n_test is None:
            raise ValueError("with one file (no test=...), give n_train and n_test to split it")
        if n_train + n_test > int(xtr.shape[0]):
            raise ValueError(f"n_train + n_test = {n_train + n_test} exceeds the {int(xtr.shape[0])} samples "
                             f"in {train!r} (the splits must not overlap)")
        xte, yte = _take(xtr, n_test, "n_test", last=True), _take(ytr, n_test, "n_test", last=True)
    else:
        xte, yte = read_pair(test, x_key=x_key, y_key=y_key)
        xte, yte = _take(xte, n_test, "n_test"), _take(yte, n_test, "n_test")
    xtr, ytr = _take(xtr, n_train, "n_train"), _take(ytr, n_train, "n_train")
    names = {"train": [str(p) for p in train] if isinstance(train, (tuple, list)) else str(train)}
    if test is not None:
        names["test"] = [str(p) for p in test] if isinstance(test, (tuple, list)) else str(test)
    return dataset_from_arrays(xtr, ytr, xte, yte, normalize=normalize, grid=grid, d=d, pde=pde, device=device,
                               config={"source": "files", "files": names})
