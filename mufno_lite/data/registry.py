"""Your own PDE in sweeps: :func:`register_pde` (a name, its spatial dimension and a loader) and
:func:`load_registered` (what a sweep task calls for a ``pde`` that is not built in).

A sweep with ``pde: <name>`` that is not one of :data:`mufno_lite.data.PDES` reads its data from
files named in ``data: {files: {train: …, test: …}}``.  Without registration the files are read
by :func:`default_loader` (:func:`~mufno_lite.data.read_pair`; give ``model: {d: …}``).
Registration adds a custom loader, the dimension, and the data's defaults (``grid``,
``normalize``); a sweep names the module that registers it in ``pde_module`` so every worker
process imports it first.

The loader contract::

    loader(files, *, n_train, n_test, resolution, seed, **params)
        -> (x_train, y_train, x_test, y_test)      # arrays, or a PDEDataset whose raw tensors are used

``files`` is the sweep's ``data.files`` as a dict of absolute paths (``{"train": …, "test": …}``;
a value may also be a pair ``[x_file, y_file]``); ``params`` are ``data.params``.  The arrays are
wrapped by :func:`~mufno_lite.data.arrays.dataset_from_arrays` with the sweep's ``data.normalize``
and ``data.grid`` (defaults: the registration's, per channel and periodic), and checked: ``d``
spatial axes at ``resolution`` points each, at least ``n_train`` / ``n_test`` samples (the first ones
are used).
"""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Callable, Dict, Mapping, Optional

__all__ = ["PDESpec", "register_pde", "unregister_pde", "get_pde", "registered_pdes", "default_loader",
           "load_registered", "import_pde_module", "check_loader_signature", "load_task_data"]


@dataclass(frozen=True)
class PDESpec:
    """A registered PDE: ``name``, spatial dimension ``d``, ``loader`` and its data defaults."""

    name: str
    d: int
    loader: Callable
    grid: str = "periodic"
    normalize: str = "channel"
    description: str = ""

    @property
    def loader_name(self) -> str:
        """``module:qualname`` of the loader (part of a run's identity)."""
        return f"{getattr(self.loader, '__module__', '?')}:{getattr(self.loader, '__qualname__', repr(self.loader))}"


_REGISTRY: Dict[str, PDESpec] = {}


def default_loader(files, *, n_train, n_test, resolution=None, seed=0, x_key=None, y_key=None):
    """The loader of an unregistered file PDE: x and y from ``files["train"]`` and ``files["test"]``
    (:func:`~mufno_lite.data.read_pair`; ``data.params`` may name ``x_key`` / ``y_key``)."""
    from .files import read_pair

    if not isinstance(files, Mapping) or "train" not in files or "test" not in files:
        raise ValueError(f"data.files must name a train and a test file ({{train: ..., test: ...}}); got {files!r}")
    xtr, ytr = read_pair(files["train"], x_key=x_key, y_key=y_key)
    xte, yte = read_pair(files["test"], x_key=x_key, y_key=y_key)
    return xtr, ytr, xte, yte


def register_pde(name: str, d: int, loader: Optional[Callable] = None, *, grid: str = "periodic",
                 normalize: str = "channel", description: str = "", replace: bool = False) -> PDESpec:
    """Register a PDE for sweeps (see the module docstring for the loader contract).

    Parameters
    ----------
    name : str
        The sweep's ``pde`` (not a built-in name).
    d : int
        Spatial dimensions, 1, 2 or 3.
    loader : callable, optional
        ``loader(files, *, n_train, n_test, resolution, seed, **params)``; default
        :func:`default_loader`.
    grid, normalize : str
        The data's grid convention and the default normalisation.
    replace : bool
        Allow registering a name again (otherwise a second registration with another loader raises).
    """
    from .arrays import GRIDS
    from .params import PDES
    from .normalizers import NORMALIZATIONS

    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name={name!r} is invalid: a PDE name is an identifier (letters, digits, _)")
    if name in PDES:
        raise ValueError(f"name={name!r} is a built-in PDE; pick another name")
    if isinstance(d, bool) or d not in (1, 2, 3):
        raise ValueError(f"d={d!r} is invalid: allowed values are 1, 2, 3")
    if grid not in GRIDS:
        raise ValueError(f"grid={grid!r} is invalid: allowed values are {GRIDS}")
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize={normalize!r} is invalid: allowed values are {NORMALIZATIONS}")
    loader = default_loader if loader is None else loader
    if not callable(loader):
        raise ValueError(f"loader={loader!r} is not callable")
    check_loader_signature(loader, name=name)
    spec = PDESpec(name, int(d), loader, grid, normalize, description)
    old = _REGISTRY.get(name)
    if old is not None and old != spec and not replace:
        raise ValueError(f"pde {name!r} is already registered (loader {old.loader_name}); pass replace=True")
    _REGISTRY[name] = spec
    return spec


def unregister_pde(name: str) -> None:
    """Forget a registration (tests)."""
    _REGISTRY.pop(name, None)


def registered_pdes() -> Dict[str, PDESpec]:
    """The registered PDEs by name."""
    return dict(_REGISTRY)


def get_pde(name: str) -> Optional[PDESpec]:
    """The registration of ``name``, or None."""
    return _REGISTRY.get(name)


def import_pde_module(module: Optional[str]) -> None:
    """Import the module that registers a sweep's PDE (its ``pde_module``); a clear error if it cannot."""
    if module is None:
        return
    try:
        importlib.import_module(module)
    except Exception as exc:
        raise ValueError(f"pde_module={module!r} cannot be imported ({type(exc).__name__}: {exc}); it must be "
                         "importable (on sys.path) in every process that trains") from exc


def check_loader_signature(loader: Callable, *, name: str = "?", params: Optional[Mapping] = None) -> None:
    """Raise ``ValueError`` unless ``loader(files, n_train=, n_test=, resolution=, seed=, **params)`` binds."""
    try:
        sig = inspect.signature(loader)
    except (TypeError, ValueError):
        return  # builtins without a signature: checked when called
    try:
        sig.bind({"train": "", "test": ""}, n_train=1, n_test=1, resolution=8, seed=0, **dict(params or {}))
    except TypeError as exc:
        raise ValueError(f"the loader of pde {name!r} ({getattr(loader, '__qualname__', loader)}) cannot be called as "
                         f"loader(files, *, n_train, n_test, resolution, seed, **params"
                         f"{' = ' + str(sorted(params)) if params else ''}): {exc}") from None


def load_registered(pde: str, files: Mapping, *, n_train: int, n_test: int, resolution: Optional[int] = None,
                    seed: int = 0, d: Optional[int] = None, normalize: Optional[str] = None,
                    grid: Optional[str] = None, device="cpu", params: Optional[Mapping] = None):
    """Load a non-built-in PDE's data set (registered, or read by :func:`default_loader`)."""
    from .arrays import PDEDataset, as_channel_first, dataset_from_arrays

    spec = get_pde(pde)
    if spec is None:
        if d is None:
            raise ValueError(f"pde={pde!r} is neither built in nor registered (register_pde); give its d")
        spec = PDESpec(pde, int(d), default_loader)
    elif d is not None and int(d) != spec.d:
        raise ValueError(f"pde {pde!r} is registered with d={spec.d}; got d={d}")
    try:
        out = spec.loader(dict(files), n_train=n_train, n_test=n_test, resolution=resolution, seed=seed,
                          **dict(params or {}))
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - the user's loader: one line naming it, the cause chained
        text = " ".join(str(exc).split())[:300]
        raise ValueError(f"the loader of pde {pde!r} ({spec.loader_name}) raised {type(exc).__name__}"
                         f"{': ' + text if text else ''}") from exc
    if isinstance(out, PDEDataset):
        out = (out.x_train, out.y_train, out.x_test, out.y_test)
    if isinstance(out, Mapping):
        missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in out]
        if missing:
            raise ValueError(f"the loader of pde {pde!r} returned a mapping without {missing}; it must hold "
                             "x_train, y_train, x_test and y_test")
        out = tuple(out[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    if not isinstance(out, (tuple, list)) or len(out) != 4:
        raise ValueError(f"the loader of pde {pde!r} must return (x_train, y_train, x_test, y_test); "
                         f"got {type(out).__name__}")
    arrs = [as_channel_first(a, spec.d, name=f"{n} (from the loader of pde {pde!r})")
            for a, n in zip(out, ("x_train", "y_train", "x_test", "y_test"))]
    for i, (n, name) in enumerate(((n_train, "train"), (n_test, "test"))):
        have = int(arrs[2 * i].shape[0])
        if have < n:
            raise ValueError(f"pde {pde!r}: the {name} data hold {have} samples; data.n_{name}={n}")
        arrs[2 * i], arrs[2 * i + 1] = arrs[2 * i][:n], arrs[2 * i + 1][:n]
    if resolution is not None:
        for a, name in zip(arrs, ("x_train", "y_train", "x_test", "y_test")):
            if any(int(s) != int(resolution) for s in a.shape[2:]):
                raise ValueError(f"pde {pde!r}: {name} is on the grid {tuple(a.shape[2:])}; "
                                 f"data.resolution={resolution} (set it to the files' resolution)")
    return dataset_from_arrays(*arrs, normalize=normalize or spec.normalize, grid=grid or spec.grid, d=spec.d,
                               pde=pde, device=device, config={"source": "registry", "loader": spec.loader_name,
                                                               "seed": seed, "params": dict(params or {})})


def load_task_data(task: Mapping):
    """The data set of a sweep task over file data (``task["files"]``: paths; ``task["data"]["files"]``:
    the ``sha256:`` digests its run ids hold).  A file changed since planning raises ``ValueError``."""
    from .files import hash_files

    import_pde_module(task.get("pde_module"))
    files, data = task["files"], task["data"]
    want = {k: ([h.split(":", 1)[1] for h in v] if isinstance(v, list) else v.split(":", 1)[1])
            for k, v in data["files"].items()}
    if hash_files(files) != want:
        raise ValueError(f"the data files of this sweep changed since it was planned ({files}); run the sweep "
                         "again so that its runs get the new files' ids")
    return load_registered(task["pde"], files, n_train=data["n_train"], n_test=data["n_test"],
                           resolution=data["resolution"], seed=data["seed"], d=task["model"]["d"],
                           normalize=data.get("normalize"), grid=data.get("grid"), device=task["device"],
                           params=data.get("params"))
