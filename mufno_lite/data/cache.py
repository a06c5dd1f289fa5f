"""On-disk cache of generated data sets.

* Location: ``cache_dir`` argument, else ``$MUFNO_CACHE_DIR``, else
  ``~/.cache/mufno_lite/data``; ``cache_dir=False`` disables caching.
* Key: SHA-256 of the canonical JSON of the full generation config (which
  includes :data:`SOLVER_VERSION`, and ``generated_on`` for data generated off the CPU:
  :func:`mufno_lite.data.dataset.cache_config`), file ``<pde>-<key[:24]>.npz``.
* Format: a plain ``.npz`` of numeric arrays plus ``__config__`` (UTF-8 JSON
  bytes as ``uint8``) and ``__sha256__`` (hex digest of every array's name, dtype,
  shape and bytes). Loading uses ``allow_pickle=False``: object arrays are refused.
* Writes are atomic: a temporary file in the same directory, ``fsync``, then
  ``os.replace``. A missing, truncated, corrupted, pickled or mismatching file is
  reported with :func:`warnings.warn` (naming the file) and regenerated.
* Before any array is allocated, every member's ``.npy`` header is checked against the member's
  size in the archive (shape × itemsize + header = size): a header that declares a huge shape
  (a tampered or damaged file) is a :class:`CacheError`, so the file is discarded and regenerated
  instead of raising ``MemoryError`` on every run.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Callable, Dict, Optional, Union

import numpy as np

from ..canonical import canonical_json

__all__ = ["SOLVER_VERSION", "CacheError", "default_cache_dir", "resolve_cache_dir", "config_key",
           "arrays_checksum", "save_arrays", "load_arrays", "cached_arrays"]

SOLVER_VERSION = "mufno_lite.data/1.0"
_CONFIG = "__config__"
_SHA = "__sha256__"


class CacheError(RuntimeError):
    """A cache file is unreadable, corrupted or does not match the request."""


def default_cache_dir() -> Path:
    """``$MUFNO_CACHE_DIR`` if set, else ``~/.cache/mufno_lite/data``."""
    env = os.environ.get("MUFNO_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mufno_lite" / "data"


def resolve_cache_dir(cache_dir: Union[None, bool, str, os.PathLike]) -> Optional[Path]:
    """Map the ``cache_dir`` argument to a directory (``None`` when disabled).

    Parameters
    ----------
    cache_dir : None, False, str or path-like
        ``None`` -> :func:`default_cache_dir`; ``False`` -> no cache.
    """
    if cache_dir is False:
        return None
    if cache_dir is None:
        return default_cache_dir()
    if cache_dir is True:
        return default_cache_dir()
    return Path(cache_dir).expanduser()


def _canonical(config: dict) -> str:
    return canonical_json(config, default=str)


def config_key(config: dict) -> str:
    """SHA-256 hex digest of the canonical JSON of ``config``."""
    return hashlib.sha256(_canonical(config).encode()).hexdigest()


def arrays_checksum(arrays: Dict[str, np.ndarray]) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of ``arrays`` (sorted by name)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        if a.dtype.hasobject:
            raise CacheError(f"array {name!r} has an object dtype")
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save_arrays(path: Union[str, os.PathLike], arrays: Dict[str, np.ndarray], config: dict) -> Path:
    """Atomically write ``arrays`` and ``config`` with a checksum to ``path``.

    Parameters
    ----------
    path : path-like
        Destination ``.npz`` file (its directory is created).
    arrays : dict of str to numpy.ndarray
        Numeric arrays (no object dtype).
    config : dict
        JSON-serialisable generation config.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    payload[_CONFIG] = np.frombuffer(_canonical(config).encode(), dtype=np.uint8)
    digest = arrays_checksum(payload)
    payload[_SHA] = np.frombuffer(digest.encode(), dtype=np.uint8)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def _check_headers(path: Path) -> None:
    """Refuse (``CacheError``) an archive whose ``.npy`` headers do not match their members' sizes,
    before anything is allocated."""
    from numpy.lib import format as npformat

    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                raise CacheError(f"cache file {path} has an unexpected member {info.filename[:80]!r}")
            with zf.open(info) as fh:
                version = npformat.read_magic(fh)
                if version == (1, 0):
                    shape, _, dtype = npformat.read_array_header_1_0(fh)
                elif version == (2, 0):
                    shape, _, dtype = npformat.read_array_header_2_0(fh)
                else:
                    raise CacheError(f"cache file {path}: member {info.filename[:80]!r} has .npy version {version}")
                header = fh.tell()
            if dtype.hasobject:
                raise CacheError(f"cache file {path}: member {info.filename[:80]!r} has an object dtype")
            count = 1
            for n in shape:
                count *= int(n)
            need = count * dtype.itemsize + header
            if need != info.file_size:
                raise CacheError(f"cache file {path}: member {info.filename[:80]!r} declares shape "
                                 f"{str(shape)[:80]} ({need} bytes with its header) but holds {info.file_size} bytes")


def load_arrays(path: Union[str, os.PathLike], config: Optional[dict] = None) -> Dict[str, np.ndarray]:
    """Load and verify a cache file written by :func:`save_arrays`.

    Parameters
    ----------
    path : path-like
        ``.npz`` file.
    config : dict, optional
        If given, the stored config must equal it.

    Returns
    -------
    dict of str to numpy.ndarray
        The data arrays (without the bookkeeping entries).

    Raises
    ------
    CacheError
        Unreadable/truncated file, object arrays, checksum or config mismatch.
    """
    path = Path(path)
    try:
        _check_headers(path)
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except CacheError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError, RuntimeError, MemoryError,
            SyntaxError, TypeError) as exc:
        raise CacheError(f"cannot read cache file {path}: {exc}") from exc
    if _SHA not in arrays or _CONFIG not in arrays:
        raise CacheError(f"cache file {path} lacks its checksum/config entries")
    stored = bytes(arrays.pop(_SHA)).decode(errors="replace")
    if arrays_checksum(arrays) != stored:
        raise CacheError(f"checksum mismatch in cache file {path}")
    cfg = bytes(arrays.pop(_CONFIG)).decode()
    if config is not None and cfg != _canonical(config):
        raise CacheError(f"cache file {path} was generated with a different config")
    return arrays


def cached_arrays(cache_dir: Optional[Path], name: str, config: dict,
                  generate: Callable[[], Dict[str, np.ndarray]]) -> Dict[str, np.ndarray]:
    """Return arrays for ``config`` from the cache, generating (and storing) them if needed.

    Parameters
    ----------
    cache_dir : pathlib.Path or None
        Cache directory; ``None`` disables the cache.
    name : str
        File-name prefix (e.g. the PDE name).
    config : dict
        Full generation config (hashed into the file name).
    generate : callable
        Zero-argument function producing the arrays.
    """
    if cache_dir is None:
        return generate()
    path = Path(cache_dir) / f"{name}-{config_key(config)[:24]}.npz"
    if path.exists():
        try:
            return load_arrays(path, config)
        except CacheError as exc:
            warnings.warn(f"discarding corrupted cache file {path} ({exc}); regenerating", RuntimeWarning,
                          stacklevel=3)
    arrays = generate()
    try:
        save_arrays(path, arrays, config)
    except OSError as exc:  # read-only location etc.: keep the data, skip the cache
        warnings.warn(f"could not write cache file {path}: {exc}", RuntimeWarning, stacklevel=3)
    return arrays
