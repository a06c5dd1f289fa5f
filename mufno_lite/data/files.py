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

import contextlib
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


def _memory_bytes() -> int:
    """This machine's physical memory (bytes); a large number where the system does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return 1 << 50


class _Refused(ValueError):
    """A file refused by this module's own checks (passed on by :func:`_reading` as it is)."""


def _check_declared(path, name: str, shape, dtype, stored: Optional[int] = None) -> None:
    """Refuse, before anything is allocated, an array whose declared size is more than the file holds
    (``stored`` bytes, where the format stores it whole) or more than this machine's memory."""
    try:
        need = int(np.dtype(dtype).itemsize) * int(np.prod([int(n) for n in shape], dtype=object))
    except (TypeError, ValueError):
        return
    if stored is not None and need > stored:
        raise _Refused(f"cannot read {str(path)!r}: array {name!r} declares shape {tuple(shape)} of {np.dtype(dtype)} "
                         f"({need} bytes) but the file holds {stored} bytes for it (truncated or forged header)")
    if need > _memory_bytes():
        raise _Refused(f"cannot read {str(path)!r}: array {name!r} declares shape {tuple(shape)} of {np.dtype(dtype)} "
                         f"({need / 2 ** 30:.3g} GiB), more than this machine's memory")


def _npy_header(fh):
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fh)
    return np.lib.format.read_array_header_2_0(fh)


def _check_npy(path) -> None:
    """The header of a ``.npy`` file against its size, before ``numpy.load`` allocates the array."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        shape, _, dtype = _npy_header(fh)
        _check_declared(path, "array", shape, dtype, stored=size - fh.tell())


def _check_npz(path) -> None:
    """Every member header of a ``.npz`` file against the member's size."""
    import zipfile

    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with zf.open(info) as fh:
                shape, _, dtype = _npy_header(fh)
                _check_declared(path, info.filename[:-4], shape, dtype, stored=info.file_size - fh.tell())


@contextlib.contextmanager
def _reading(path, how: str):
    """Errors of the underlying reader (numpy, scipy, torch, h5py) as one ``ValueError`` naming the file."""
    try:
        yield
    except (ImportError, FileNotFoundError, _Refused):
        raise
    except MemoryError:
        raise ValueError(f"cannot read {str(path)!r} ({how}): its arrays do not fit in memory") from None
    except Exception as exc:  # noqa: BLE001 - a library's own error about a bad file
        raise ValueError(f"cannot read {str(path)!r} ({how}): {type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:300]}") from None


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
    with _reading(path, "HDF5 via h5py"), h5py.File(path, "r") as fh:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                _check_declared(path, name, obj.shape, obj.dtype)
                arr = np.asarray(obj)
                out[name] = np.transpose(arr, axes=range(arr.ndim - 1, -1, -1)) if transpose else arr
        fh.visititems(visit)
    return out


def read_mat_v5(path, variable_names=None) -> Optional[Dict[str, object]]:
    """A MATLAB file's variables via scipy (None for a v7.3 = HDF5 file); huge declared arrays and
    unknown file types refused naming the file; sparse matrices kept as scipy objects (refused when
    they are used as data)."""
    import scipy.io

    with _reading(path, "MATLAB via scipy.io.loadmat"):
        try:
            vars_ = scipy.io.whosmat(str(path))
        except NotImplementedError:
            return None
        for name, shape, kind in vars_:
            if variable_names is None or name in variable_names:
                dtype = {"double": np.float64, "single": np.float32, "logical": np.bool_}.get(kind, np.float64)
                _check_declared(path, name, shape, dtype)
        try:
            data = scipy.io.loadmat(str(path), variable_names=variable_names)
        except NotImplementedError:
            return None
    return {k: v for k, v in data.items() if not k.startswith("__")}


def read_arrays(path: PathLike) -> Dict[str, object]:
    """Every array of one file, by name (see the module docstring; a single array is ``"array"``).

    Values are numpy arrays or torch tensors, as stored.  A file the reader cannot read, an array
    declaring more than the file holds or the machine's memory, raise ``ValueError`` naming the file.
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
        except MemoryError:
            raise ValueError(f"cannot read {str(p)!r} with torch.load: its tensors do not fit in memory") from None
        except Exception as exc:  # torch refuses pickled objects other than tensors and containers
            text = " ".join(str(exc).split())
            raise ValueError(f"cannot read {str(p)!r} with torch.load(weights_only=True) (not a torch file, or it "
                             f"holds objects other than tensors and containers): {type(exc).__name__}: "
                             f"{text[:300] + ('...' if len(text) > 300 else '')}") from exc
        if isinstance(obj, torch.Tensor):
            return {"array": obj}
        if isinstance(obj, (tuple, list)) and len(obj) == 2:
            return {"x": obj[0], "y": obj[1]}
        if isinstance(obj, dict):
            return {str(k): v for k, v in obj.items() if isinstance(v, (torch.Tensor, np.ndarray))}
        raise ValueError(f"{str(p)!r} holds a {type(obj).__name__}; expected a dict of tensors, a tensor or a pair")
    if ext == ".npz":
        with _reading(p, "numpy.load"):
            _check_npz(p)
            with np.load(str(p), allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
    if ext == ".npy":
        with _reading(p, "numpy.load"):
            _check_npy(p)
            return {"array": np.load(str(p), allow_pickle=False)}
    if ext == ".mat":
        data = read_mat_v5(p)
        if data is None:  # MATLAB v7.3 = HDF5, column-major on disk
            return _read_h5(p, transpose=True)
        return {k: (v if type(v).__module__.startswith("scipy.sparse") else np.asarray(v)) for k, v in data.items()}
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


def _checked(arrays: dict, key, candidates, role: str, path, *, whole: bool = False):
    """The picked array (``whole``: a single-array file's one array), checked
    (:func:`~mufno_lite.data.arrays.check_values`) under the file's name."""
    from .arrays import check_values

    if whole and key is None and "array" in arrays:
        key = "array"
    arr = _pick(arrays, key, candidates, role, path)
    name = key if key is not None else next(k for k in candidates if k in arrays)
    return check_values(arr, f"the {role} array {name!r} of {str(path)!r}")


def read_pair(source, *, x_key: Optional[str] = None, y_key: Optional[str] = None) -> Tuple[object, object]:
    """``(x, y)`` from one file holding both, or from a pair of files ``(x_path, y_path)``; each
    checked (real numbers, a sample and a spatial axis, no NaN or inf), errors naming the file."""
    if isinstance(source, (tuple, list)):
        if len(source) != 2:
            raise ValueError(f"give one file or a pair (x_file, y_file); got {source!r}")
        xs, ys = read_arrays(source[0]), read_arrays(source[1])
        return (_checked(xs, x_key, X_KEYS, "input", source[0], whole=True),
                _checked(ys, y_key, Y_KEYS, "target", source[1], whole=True))
    arrs = read_arrays(source)
    return _checked(arrs, x_key, X_KEYS, "input", source), _checked(arrs, y_key, Y_KEYS, "target", source)


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
