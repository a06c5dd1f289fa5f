"""Sweeps over your own PDE's data: the ``data.files`` / ``data.normalize`` / ``data.grid`` /
``pde_module`` parts of a sweep config, checked before anything runs.

::

    name: heat_own
    pde: heat1d                      # not built in: registered (register_pde) or read from files
    pde_module: my_pdes              # optional: imported first (it calls register_pde); on sys.path
    data:
      files: {train: heat_train.pt, test: heat_test.pt}   # relative to the config file's folder
      resolution: 32                 # the files' grid (checked when they are loaded)
      n_train: 40
      n_test: 10
      normalize: channel             # channel (default here) | pointwise | none
      grid: periodic                 # periodic (default here) | endpoint; the model's grid_convention follows it
    model: {d: 1, padding: 0.125}    # d: required unless registered; padding as a fraction of the axis

Decisions:

* **Identity.**  A file-based run's identity holds the sha256 of every data file's *content*
  (not its path) and, for a registered loader, its ``module:qualname``, plus ``normalize`` and
  ``grid``: a changed file gives new run ids, a moved one the same.  Built-in PDEs are unchanged:
  ``data.normalize`` is left out of their identity while it holds their default ``pointwise``.
* **Checks.**  Validation imports ``pde_module``, finds the loader, binds its signature to the
  call it will get, and hashes the files (which must exist); ``--dry-run`` also calls the loader
  once and checks the arrays (:func:`dry_run_check`).  Files are hashed again when a task loads
  them (:func:`mufno_lite.data.registry.load_task_data`), and a file changed since the sweep was
  planned fails the task with that message.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from ..data.arrays import GRIDS
from ..data.normalizers import NORMALIZATIONS
from ..data.registry import check_loader_signature, default_loader, get_pde, import_pde_module
from ..validation import fail, string

__all__ = ["BUILTIN_NORMALIZE", "FILE_NORMALIZE", "prepare_data", "identity_data", "dry_run_check"]

#: the built-in PDEs' normalisation (the FNO reference code's), left out of their runs' identity
BUILTIN_NORMALIZE = "pointwise"
#: the own-data default
FILE_NORMALIZE = "channel"


def padding_value(path: str, v, resolution: int | None = None):
    """A padding entry: an int in [0, resolution] (grid points at the training resolution) or a float
    in (0, 1) (a fraction of the axis)."""
    top = "" if resolution is None else f" and <= data.resolution={resolution}"
    allowed = f"an integer >= 0{top} (grid points) or a number in (0, 1) (a fraction of the axis)"
    if isinstance(v, float) and not v.is_integer():
        if not 0.0 < v < 1.0:
            raise fail(path, v, allowed)
        return float(v)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or (resolution is not None and v > resolution):
        raise fail(path, v, allowed)
    return int(v)


def _resolve_files(files, base_dir: Path) -> dict:
    if not isinstance(files, Mapping) or not files:
        raise fail("data.files", files, "a mapping {train: path, test: path} (a value may be [x_path, y_path])")
    out = {}
    for k, v in files.items():
        paths = v if isinstance(v, (list, tuple)) else [v]
        if not paths or len(paths) > 2 or not all(isinstance(p, (str, os.PathLike)) and str(p) for p in paths):
            raise fail(f"data.files.{k}", v, "a path or a pair [x_path, y_path]")
        res = []
        for p in paths:
            q = Path(os.path.expanduser(str(p)))
            q = q if q.is_absolute() else (base_dir / q)
            if not q.is_file():
                raise fail(f"data.files.{k}", str(p), f"an existing file (looked for {str(q)!r})")
            res.append(str(q.resolve()))
        out[str(k)] = res if isinstance(v, (list, tuple)) else res[0]
    return out


def _hashes(files: Mapping) -> dict:
    from ..data.files import hash_files

    return hash_files(files)


def prepare_data(pde: str, raw: Mapping, data_raw: Mapping, data: dict, base_dir=None) -> dict:
    """Check the own-data parts of a sweep and complete ``data``; returns the extra facts the
    config keeps: ``d`` (or None), ``pde_module``, ``file_hashes``, ``loader`` (or None)."""
    from ..data import PDES

    pde_module = raw.get("pde_module")
    if pde_module is not None:
        pde_module = string("pde_module", pde_module)
        try:
            import_pde_module(pde_module)
        except ValueError as e:
            raise fail("pde_module", pde_module, f"an importable module ({e})") from None
    builtin = pde in PDES
    spec = None if builtin else get_pde(pde)
    if "normalize" in data_raw:
        data["normalize"] = string("data.normalize", data_raw["normalize"], NORMALIZATIONS)
    if builtin:
        for k in ("files", "grid"):
            if k in data_raw:
                raise fail(f"data.{k}", data_raw[k], f"left out for the built-in pde {pde!r} (own data only)")
        if data.get("normalize") == BUILTIN_NORMALIZE:
            del data["normalize"]  # the built-in default: out of the identity
        return {"d": None, "pde_module": pde_module, "file_hashes": None, "loader": None}
    if "files" not in data_raw:
        if spec is None and "grid" not in data_raw:
            # no own data: a pde that a dataset_factory serves (a config key or run_sweep's argument)
            return {"d": None, "pde_module": pde_module, "file_hashes": None, "loader": None}
        raise fail("data.files", None, f"the data files of pde {pde!r} ({{train: ..., test: ...}}; it is not "
                                       f"built in: {list(PDES)})")
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    data["files"] = _resolve_files(data_raw["files"], base)
    if spec is None and not {"train", "test"} <= set(data["files"]):
        raise fail("data.files", data_raw["files"], "a mapping with a train and a test file")
    data.setdefault("normalize", spec.normalize if spec else FILE_NORMALIZE)
    data["grid"] = string("data.grid", data_raw.get("grid", spec.grid if spec else "periodic"), GRIDS)
    loader = spec.loader if spec else default_loader
    try:
        check_loader_signature(loader, name=pde, params=data.get("params"))
    except ValueError as e:
        raise fail("data.params" if data.get("params") else "pde", pde, str(e)) from None
    return {"d": spec.d if spec else None, "pde_module": pde_module, "file_hashes": _hashes(data["files"]),
            "loader": spec.loader_name if spec is not None and loader is not default_loader else None}


def check_model_grid(pde: str, data: Mapping, model_raw: Mapping, model: dict) -> None:
    """The model's grid channel follows the data's stated grid (own data); the default is that grid."""
    if "grid" not in data:
        return
    if "grid_convention" in model_raw and model["grid_convention"] != data["grid"]:
        raise fail("model.grid_convention", model["grid_convention"],
                   f"{data['grid']!r}, the grid of pde {pde!r}'s data (data.grid)")
    model["grid_convention"] = data["grid"]


def identity_data(data: Mapping, file_hashes, loader) -> dict:
    """The ``data`` part of a run's identity: file contents, not paths."""
    if not file_hashes:
        return dict(data)
    out = {**data, "files": {k: (["sha256:" + h for h in v] if isinstance(v, list) else "sha256:" + v)
                             for k, v in file_hashes.items()}}
    if loader:
        out["loader"] = loader
    return out


def dry_run_check(config) -> str | None:
    """Load a file-based sweep's data once (the loader called for real); a line saying what it holds."""
    if not getattr(config, "file_hashes", None):
        return None
    from ..data.registry import load_registered

    import_pde_module(config.pde_module)
    data = config.data
    ds = load_registered(config.pde, data["files"], n_train=data["n_train"], n_test=data["n_test"],
                         resolution=data["resolution"], seed=data["seed"], d=config.model["d"],
                         normalize=data.get("normalize"), grid=data.get("grid"), params=data.get("params"))
    return (f"data of {config.pde!r}: x_train {tuple(ds.x_train.shape)}, y_train {tuple(ds.y_train.shape)}, "
            f"x_test {tuple(ds.x_test.shape)}, normalize={data.get('normalize')}, grid={data.get('grid')}")
